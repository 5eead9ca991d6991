// The result of fitLikelihood (fit.ts): its types, and every parameter's row at the best fit.
import type { MinimizeMethod, StartResult } from '../fit/minimize.ts';
import type { profileLikelihood } from '../fit/profile.ts';
import type { deltaNllAtErrors } from './fit-errors.ts';
import type { FitContext } from './fit-settings.ts';
import type { DataSummary } from './mixture.ts';

export interface FittedParameter {
  name: string;
  unit: string;
  component: string;
  value: number;
  /** √(H⁻¹)_jj; absent when fixed or when the Hessian is not positive definite. */
  error?: number;
  fixed: boolean;
  atBound: 'free' | 'lower' | 'upper';
  bounds: [number, number];
  trainingRange: [number, number] | null;
  /**
   * ΔNLL at value − error and value + error (null where a bound is nearer): ½ on both sides where the NLL is the
   * parabola that the Hessian describes.
   */
  deltaNllAtErrors?: [number | null, number | null];
  /** Profile-likelihood intervals (value ranges where ΔNLL ≤ level). */
  intervals?: { level: number; lower: number; upper: number; lowerOpen: boolean; upperOpen: boolean }[];
  /**
   * Every profile point the interval searches computed (the others re-minimised at each value), sorted by value,
   * the best fit included at ΔNLL 0: the profile curve of the report.
   */
  profile?: { values: number[]; deltaNll: number[] };
}

/** A local minimum other than the best that some start ended in. */
export interface OtherMinimum {
  nll: number;
  /** nll minus the best fit's NLL (≥ 0). */
  deltaNll: number;
  /** The minimum's free parameters by name. */
  point: Record<string, number>;
  /** Starts that ended there. */
  starts: number;
}

/** The global search and how the starts of the gradient stage ended (docs/fitting.md). */
export interface MultistartSummary {
  /** Sobol' points scanned before the gradient stage (0 without the global search). */
  searchPoints: number;
  starts: number;
  /**
   * Starts that ended at the best minimum (within MINIMUM_POINT_TOLERANCE·σ and MINIMUM_NLL_TOLERANCE of it), or
   * that stopped on its basin's slope where the NLL falls all the way to it (no second minimisation needed).
   */
  reachedBest: number;
  /** Starts dropped after SCREEN_ITERATIONS iterations, their NLL then more than KEEP_MARGIN above the lowest start's. */
  abandoned: number;
  /** Starts that stopped (budget, line search, slow progress) on the best minimum's slope, short of it. */
  stoppedShort: number;
  /** Distinct local minima other than the best, lowest first. */
  otherMinima: OtherMinimum[];
}

export interface FitResult {
  method: MinimizeMethod;
  nll: number;
  converged: boolean;
  reason: string;
  parameters: FittedParameter[];
  /** Free parameter names, in the order of covariance and correlation. */
  freeNames: string[];
  covariance?: number[][];
  correlation?: number[][];
  hessianMessage?: string;
  /**
   * Relative uncertainty of the errors: half the largest relative difference between the errors that the Hessian
   * estimates with steps FINAL_HESSIAN_STEP·σ and twice that imply (warned about above ERROR_UNCERTAINTY_WARNING).
   */
  errorUncertainty?: number;
  multistart: MultistartSummary;
  significance?: { z: number; q0: number; nllBackgroundOnly: number; signal: string };
  data: DataSummary;
  /** Graph evaluations: objective calls (each = one batched run per component), points, and wall time. */
  evaluations: { calls: number; points: number; graphRuns: number };
  wallMs: number;
  warnings: string[];
}

/** Every parameter of the likelihood at the best fit, with its error, ±1σ rises and profile intervals. */
export function fittedParameters(
  ctx: FitContext,
  best: StartResult,
  errors: Float64Array | undefined,
  parabola: Awaited<ReturnType<typeof deltaNllAtErrors>> | null,
  profiles: Awaited<ReturnType<typeof profileLikelihood>> | null,
): FittedParameter[] {
  const { likelihood } = ctx;
  const full = likelihood.fullPoint(best.x);
  return likelihood.parameters.map((p, i) => {
    const j = likelihood.free.indexOf(i);
    const fitted: FittedParameter = {
      name: p.name,
      unit: p.unit,
      component: p.component,
      value: full[i],
      fixed: j < 0,
      atBound: j < 0 ? 'free' : best.atBound[j],
      bounds: p.bounds,
      trainingRange: p.trainingRange,
    };
    if (j >= 0 && errors) fitted.error = errors[j];
    if (j >= 0 && parabola) fitted.deltaNllAtErrors = parabola.rises[j];
    const profile = profiles?.parameters.find((q) => q.index === j);
    if (profile) {
      fitted.intervals = profile.intervals.map((iv) => ({
        level: iv.level,
        lower: iv.lower.value,
        upper: iv.upper.value,
        lowerOpen: iv.lower.open,
        upperOpen: iv.upper.open,
      }));
      fitted.profile = { values: Array.from(profile.scan.values), deltaNll: Array.from(profile.scan.deltaNll) };
    }
    if (j >= 0 && p.trainingRange && (full[i] < p.trainingRange[0] || full[i] > p.trainingRange[1])) {
      ctx.warnings.push(`${p.name} = ${full[i]} lies outside the training range [${p.trainingRange.join(', ')}]: the flow extrapolates there`);
    }
    return fitted;
  });
}

/**
 * What a computation on a finished fit needs of it (the sandwich, an ensemble's training spread): the free
 * parameters' names, the best free point and the covariance. Refuses the fit of another likelihood, and a fit
 * without a covariance; `purpose` says what needed it, e.g. "the sandwich needs H⁻¹".
 */
export function fittedPointAndCovariance(likelihood: { readonly freeNames: string[] }, fit: FitResult, purpose: string): { names: string[]; best: Float64Array; covariance: number[][] } {
  const names = likelihood.freeNames;
  if (names.join('\u0000') !== fit.freeNames.join('\u0000')) {
    throw new Error(`the fit's free parameters (${fit.freeNames.join(', ')}) are not the likelihood's (${names.join(', ')}): pass the likelihood that was fitted`);
  }
  if (!fit.covariance) throw new Error(`the fit has no Hessian covariance (${fit.hessianMessage ?? 'not computed'}): ${purpose}`);
  const best = Float64Array.from(names, (name) => fit.parameters.find((p) => p.name === name)!.value);
  return { names, best, covariance: fit.covariance };
}
