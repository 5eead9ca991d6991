// A complete fit of a mixture likelihood: multi-start minimisation, Hessian errors and correlations,
// optional profile-likelihood intervals and the local significance against the background-only hypothesis.
import { covarianceFromHessian, hessian } from '../fit/hessian.ts';
import { type MinimizeMethod, type MinimizeProgress, minimize } from '../fit/minimize.ts';
import type { EvaluationCounts } from '../fit/objective.ts';
import { profileLikelihood } from '../fit/profile.ts';
import { localSignificance } from '../fit/significance.ts';
import { Rng } from '../random.ts';
import { type DataSummary, type MixtureLikelihood, yieldName } from './mixture.ts';

export interface FitOptions {
  method?: MinimizeMethod;
  /** Starting point by parameter name (missing ones: the middle of their bounds, or a yield guess). */
  start?: Record<string, number>;
  /** Number of starts evaluated together (the first is `start`, the others uniform in the bounds). */
  starts?: number;
  seed?: number;
  /** Profile-likelihood intervals at ΔNLL = 0.5 and 2.0 for every free parameter. */
  profile?: boolean;
  /** Component whose absence is the background-only hypothesis (for the significance). */
  signal?: string;
  onProgress?: (stage: string, progress: MinimizeProgress) => void;
  /**
   * Convergence on the projected-gradient norm in scaled units (scale ≈ 1% of each parameter's range) and on
   * ΔNLL per iteration. On float32 graphs (WebGPU, browsers) NLL sums over 10^5 events are noisy at ~1e-4 and
   * gradients at ~1e-2 per scale unit, so tighter tolerances only burn evaluations in line searches; the CPU's
   * float64 graphs are exact, but spline flows' gradients are rough on that scale too (see FINAL_HESSIAN_STEP).
   */
  gtol?: number;
  ftolAbs?: number;
  /** Called when a stage ends (fit, hessian, profile, background-only fit) with its cost. */
  onStage?: (stage: string, calls: number, seconds: number) => void;
}

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
  /** Profile-likelihood intervals (value ranges where ΔNLL ≤ level). */
  intervals?: { level: number; lower: number; upper: number; lowerOpen: boolean; upperOpen: boolean }[];
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
  significance?: { z: number; q0: number; nllBackgroundOnly: number; signal: string };
  data: DataSummary;
  /** Graph evaluations: objective calls (each = one batched run per component), points, and wall time. */
  evaluations: { calls: number; points: number; graphRuns: number };
  wallMs: number;
  warnings: string[];
}

function defaultStart(likelihood: MixtureLikelihood, start: Record<string, number>): Float64Array {
  const { lower, upper } = likelihood.bounds();
  const names = likelihood.freeNames;
  const components = likelihood.componentNames();
  return Float64Array.from(names, (name, j) => {
    if (name in start) {
      const v = start[name];
      if (!(v >= lower[j] && v <= upper[j])) {
        throw new Error(`start value ${name} = ${v} lies outside its bounds [${lower[j]}, ${upper[j]}]`);
      }
      return v;
    }
    const yieldOf = components.find((c) => yieldName(c) === name);
    if (yieldOf) return likelihood.data.sumWeights / components.length;
    return 0.5 * (lower[j] + upper[j]);
  });
}

/**
 * Final Hessian step in units of σ. Spline flows give a log-density that is C¹ in θ but not C²: as θ moves, events
 * cross spline knots and their gradients change slope, so gradient differences over small steps are rough even in
 * float64 (on the shipped toy models the estimates at 0.1σ and 0.2σ differ by 4–15 %). Steps of 0.3σ and 0.6σ
 * average over that roughness and stay well inside the region where a Gaussian likelihood is quadratic.
 */
const FINAL_HESSIAN_STEP = 0.3;
/** Relative uncertainty of the errors (from the two Hessian estimates) above which they are flagged. */
const ERROR_UNCERTAINTY_LIMIT = 0.05;
/** Estimated distance to the minimum below which a fit that stopped on its budget counts as converged. */
const EDM_TOLERANCE = 1e-3;

/**
 * Largest relative difference between the errors √C_ii that two Hessian estimates imply; null when either is not
 * positive definite.
 */
function errorSpread(a: Float64Array, b: Float64Array): number | null {
  const ca = covarianceFromHessian(a);
  const cb = covarianceFromHessian(b);
  if (!ca.positiveDefinite || !cb.positiveDefinite) return null;
  return Math.max(...ca.errors.map((e, i) => Math.abs(e - cb.errors[i]) / (0.5 * (e + cb.errors[i]))));
}

/** ½ gᵀ C g: the NLL still to gain if the NLL is quadratic with covariance C (the Hessian's inverse). */
export function estimatedDistanceToMinimum(gradient: Float64Array, covariance: Float64Array, P: number): number {
  let edm = 0;
  for (let i = 0; i < P; i++) for (let j = 0; j < P; j++) edm += gradient[i] * covariance[i * P + j] * gradient[j];
  return 0.5 * edm;
}

/** Natural scales (≈ expected errors) so all coordinates are comparable inside the minimiser. */
function parameterScales(likelihood: MixtureLikelihood): Float64Array {
  const { lower, upper } = likelihood.bounds();
  const components = likelihood.componentNames();
  return Float64Array.from(likelihood.freeNames, (name, j) =>
    components.some((c) => yieldName(c) === name) ? Math.sqrt(likelihood.data.sumWeights + 1) : Math.max((upper[j] - lower[j]) / 100, 1e-12),
  );
}

function addCounts(total: EvaluationCounts, more: EvaluationCounts): void {
  total.calls += more.calls;
  total.points += more.points;
}

export async function fitLikelihood(likelihood: MixtureLikelihood, options: FitOptions = {}): Promise<FitResult> {
  const t0 = performance.now();
  const method = options.method ?? 'lbfgsb';
  const K = options.starts ?? 1;
  if (!(Number.isInteger(K) && K >= 1 && K <= 4096)) throw new Error(`starts must be an integer in [1, 4096], got ${K}`);
  const bounds = likelihood.bounds();
  const P = likelihood.dimension;
  const first = defaultStart(likelihood, options.start ?? {});
  const rng = new Rng(options.seed ?? 1);
  const starts = new Float64Array(K * P);
  starts.set(first);
  for (let k = 1; k < K; k++) {
    for (let j = 0; j < P; j++) {
      const lo = bounds.lower[j];
      const hi = Number.isFinite(bounds.upper[j]) ? bounds.upper[j] : 2 * first[j] + 1;
      starts[k * P + j] = lo + (hi - lo) * rng.uniform();
    }
  }
  const scales = parameterScales(likelihood);
  const counts: EvaluationCounts = { calls: 0, points: 0 };
  const runs0 = likelihood.graphRuns;
  const warnings: string[] = [];

  const tolerances = { gtol: options.gtol ?? 2e-2, ftolAbs: options.ftolAbs ?? 2e-4 };
  // Stage 1 only has to reach the basin of the minimum: a coarser ΔNLL tolerance on the coarse scales, and a
  // budget, so that the noise floor of the gradient (float32 graphs) does not keep its line searches busy. The refinement in
  // units of σ below applies `tolerances`.
  const coarseFit = (from: Float64Array, maxEvaluations: number) =>
    minimize(likelihood, {
      method,
      starts: from,
      bounds,
      scales,
      gtol: tolerances.gtol,
      ftolAbs: 5 * tolerances.ftolAbs,
      maxEvaluations,
      onProgress: (p) => options.onProgress?.('fit', p),
    } as Parameters<typeof minimize>[1]);
  const result = await coarseFit(starts, 30);
  addCounts(counts, result.evaluations);
  options.onStage?.('fit', result.evaluations.calls, result.wallMs / 1000);
  let best = result.best;

  // Refinement: a coarse Hessian (no step check: it only gives σ) gives σ; the minimiser then restarts from the
  // best point in units of σ, where its tolerances mean the same for every parameter (a width known to ±0.3 GeV
  // and a slope known to ±1e-4 are otherwise scaled very differently), and the final Hessian uses steps of
  // FINAL_HESSIAN_STEP·σ (see there).
  let coarse = await hessian(likelihood, best.x, { bounds, scales, relativeStep: 5e-2, check: false });
  addCounts(counts, coarse.evaluations);
  let coarseCov = covarianceFromHessian(coarse.hessian);
  if (!coarseCov.positiveDefinite && !best.converged) {
    // Stage 1 ran out of budget short of the basin (the NLL is not yet convex there): continue with twice the
    // budget before estimating σ.
    const more = await coarseFit(best.x, 60);
    addCounts(counts, more.evaluations);
    options.onStage?.('fit (continued)', more.evaluations.calls, more.wallMs / 1000);
    if (more.best.value <= best.value) best = more.best;
    coarse = await hessian(likelihood, best.x, { bounds, scales, relativeStep: 5e-2, check: false });
    addCounts(counts, coarse.evaluations);
    coarseCov = covarianceFromHessian(coarse.hessian);
  }
  let sigmaScales = scales;
  let h = coarse;
  if (coarseCov.positiveDefinite) {
    sigmaScales = Float64Array.from(coarseCov.errors, (e, j) => (e > 0 && Number.isFinite(e) ? e : scales[j]));
    // No polish when stage 1 converged and the coarse Hessian puts the minimum within EDM_TOLERANCE (≈ 0.045σ).
    const atMinimum = best.converged && estimatedDistanceToMinimum(coarse.gradient, coarseCov.covariance, P) < EDM_TOLERANCE;
    if (!atMinimum) {
      const refined = await minimize(likelihood, {
        method,
        starts: best.x,
        bounds,
        scales: sigmaScales,
        ...tolerances,
        // A polish from the minimum: once the gradient is at its noise floor (float32 graphs, spline roughness)
        // more iterations only wander within it.
        maxIterations: 15,
        maxEvaluations: 40,
        onProgress: (p) => options.onProgress?.('refine', p),
      } as Parameters<typeof minimize>[1]);
      addCounts(counts, refined.evaluations);
      options.onStage?.('refine', refined.evaluations.calls, refined.wallMs / 1000);
      if (refined.best.value <= best.value) best = refined.best;
    }
    h = await hessian(likelihood, best.x, { bounds, scales: sigmaScales, relativeStep: FINAL_HESSIAN_STEP });
    addCounts(counts, h.evaluations);
  }
  // The two estimates of the final Hessian (steps s·σ and 2s·σ) are averaged; the errors of the mean are uncertain
  // by about half the difference between the errors each estimate implies.
  const curvature = h.stepCheck ? Float64Array.from(h.hessian, (v, i) => 0.5 * (v + h.stepCheck!.hessian[i])) : h.hessian;
  const cov = covarianceFromHessian(curvature);
  // A minimiser that ran out of budget at the noise floor of the gradient has still converged when the
  // estimated distance to the minimum, EDM = ½ gᵀ C g (MINUIT's measure), is far below the 0.5 of one σ. The
  // threshold 1e-3 (√(2·EDM) ≈ 0.045σ) is looser than MIGRAD's default 1e-4: float32 graphs resolve no better.
  let converged = best.converged;
  let reason: string = best.reason;
  let edmText = '';
  if (!converged && cov.positiveDefinite) {
    const edm = estimatedDistanceToMinimum(h.gradient, cov.covariance, P);
    if (edm < EDM_TOLERANCE) {
      converged = true;
      reason = `edm ${edm.toExponential(1)} < ${EDM_TOLERANCE} after ${best.reason}`;
    }
    edmText = ` Estimated distance to the minimum ½gᵀCg = ${edm.toExponential(1)} (NLL units; converged below ${EDM_TOLERANCE}).`;
  }
  if (!converged) warnings.push(`the minimiser stopped without converging (${best.reason}): ${best.message}${edmText}`);
  options.onStage?.('hessian', coarse.evaluations.calls + (h !== coarse ? h.evaluations.calls : 0), (coarse.wallMs + (h !== coarse ? h.wallMs : 0)) / 1000);
  if (!h.stepCheck) {
    warnings.push(`the Hessian at the first stage's minimum is not positive definite (${coarseCov.positiveDefinite ? '' : coarseCov.message}): no refinement and no errors`);
  } else {
    const steps = `${FINAL_HESSIAN_STEP}σ and ${2 * FINAL_HESSIAN_STEP}σ`;
    const spread = errorSpread(h.hessian, h.stepCheck.hessian);
    if (spread === null) {
      warnings.push(`the Hessian estimates with steps ${steps} are not both positive definite: errors are uncertain`);
    } else if (spread / 2 > ERROR_UNCERTAINTY_LIMIT) {
      warnings.push(
        `errors are uncertain by ${(50 * spread).toFixed(1)}% (the Hessian estimates with steps ${steps} give errors that ` +
          `differ by up to ${(100 * spread).toFixed(1)}%)`,
      );
    }
  }
  const errors = cov.positiveDefinite ? cov.errors : undefined;
  const square = (m: Float64Array): number[][] => Array.from({ length: P }, (_, i) => Array.from(m.subarray(i * P, (i + 1) * P)));

  let profiles: Awaited<ReturnType<typeof profileLikelihood>> | null = null;
  if (options.profile) {
    profiles = await profileLikelihood(likelihood, {
      best: best.x,
      nllMin: best.value,
      bounds,
      scales: sigmaScales,
      ...(cov.positiveDefinite ? { covariance: cov.covariance } : {}),
    });
    addCounts(counts, profiles.evaluations);
    options.onStage?.('profile', profiles.evaluations.calls, profiles.wallMs / 1000);
    warnings.push(...profiles.warnings);
  }

  let significance: FitResult['significance'];
  let backgroundRuns = 0;
  if (options.signal) {
    const signal = options.signal;
    if (!likelihood.componentNames().includes(signal)) {
      throw new Error(`unknown signal component "${signal}": components are ${likelihood.componentNames().join(', ')}`);
    }
    // Background only: the signal's yield (extended) or fraction (fixed fractions) is zero; its shape
    // parameters then do not matter and are held at the best fit.
    const fullBest = likelihood.fullPoint(best.x);
    const signalParams = Object.fromEntries(
      likelihood.parameters.map((p, i) => [p, i] as const).filter(([p]) => p.component === signal).map(([p, i]) => [p.name, fullBest[i]]),
    );
    let background: MixtureLikelihood;
    if (likelihood.yields === 'extended') {
      background = likelihood.variant({ fixed: { ...signalParams, [yieldName(signal)]: 0 } });
    } else {
      const fractions = likelihood.fractions();
      const rest = 1 - fractions[signal];
      if (!(rest > 0)) throw new Error('the background-only hypothesis needs a non-signal fraction > 0');
      const scaled = Object.fromEntries(Object.entries(fractions).map(([c, f]) => [c, c === signal ? 0 : f / rest]));
      background = likelihood.variant({ fixed: signalParams, fractions: scaled });
    }
    const bStart = Float64Array.from(background.freeNames, (name) => fullBest[likelihood.parameters.findIndex((p) => p.name === name)]);
    // A background without free parameters (an unconditional flow) needs no fit: evaluate it once.
    const bFit = background.dimension === 0
      ? { best: { value: (await background.evaluate(new Float64Array(0), 1, false)).values[0] }, evaluations: { calls: 1, points: 1 }, wallMs: 0 }
      : await minimize(background, {
      method,
      starts: bStart,
      bounds: background.bounds(),
      ...tolerances,
      scales: Float64Array.from(background.freeNames, (name) => scales[likelihood.freeNames.indexOf(name)]),
      onProgress: (p) => options.onProgress?.('background-only fit', p),
    } as Parameters<typeof minimize>[1]);
    addCounts(counts, bFit.evaluations);
    options.onStage?.('background-only fit', bFit.evaluations.calls, bFit.wallMs / 1000);
    backgroundRuns = background.graphRuns;
    const signalYield = likelihood.yields === 'extended' ? fullBest[likelihood.parameters.findIndex((p) => p.name === yieldName(signal))] : undefined;
    const s = localSignificance(bFit.best.value, best.value, signalYield);
    significance = { z: s.z, q0: s.q0, nllBackgroundOnly: bFit.best.value, signal };
  }

  const full = likelihood.fullPoint(best.x);
  const parameters: FittedParameter[] = likelihood.parameters.map((p, i) => {
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
    const profile = profiles?.parameters.find((q) => q.index === j);
    if (profile) {
      fitted.intervals = profile.intervals.map((iv) => ({
        level: iv.level,
        lower: iv.lower.value,
        upper: iv.upper.value,
        lowerOpen: iv.lower.open,
        upperOpen: iv.upper.open,
      }));
    }
    if (j >= 0 && p.trainingRange && (full[i] < p.trainingRange[0] || full[i] > p.trainingRange[1])) {
      warnings.push(`${p.name} = ${full[i]} lies outside the training range [${p.trainingRange.join(', ')}]: the flow extrapolates there`);
    }
    return fitted;
  });

  return {
    method,
    nll: best.value,
    converged,
    reason,
    parameters,
    freeNames: likelihood.freeNames,
    ...(cov.positiveDefinite ? { covariance: square(cov.covariance), correlation: square(cov.correlation) } : { hessianMessage: cov.message }),
    ...(significance ? { significance } : {}),
    data: likelihood.data,
    evaluations: { calls: counts.calls, points: counts.points, graphRuns: likelihood.graphRuns - runs0 + backgroundRuns },
    wallMs: performance.now() - t0,
    warnings,
  };
}
