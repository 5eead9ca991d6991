// The errors of a fit from its final Hessian: the covariance, whether the fit converged (the estimated distance to
// the minimum), and the check that the NLL is the Hessian's parabola over ±1σ.
import { type CovarianceResult, type HessianResult, covarianceFromHessian } from '../fit/hessian.ts';
import type { StartResult } from '../fit/minimize.ts';
import { type Bounds, type EvaluationCounts, evaluateBatch } from '../fit/objective.ts';
import { type FitContext, addCounts } from './fit-settings.ts';
import type { MixtureLikelihood } from './mixture.ts';

/**
 * Final Hessian step in units of σ. Spline flows give a log-density whose θ-gradient is not smooth: as θ moves,
 * events cross spline knots, where the gradient changes slope and can even jump (by 50 % for one toy event, where a
 * knot crossed it: docs/weighted-fits.md), so gradient differences over small steps are rough even in float64 (on
 * the shipped toy models the estimates at 0.1σ and 0.2σ differ by 4–15 %). Steps of 0.3σ and 0.6σ average over that
 * roughness and stay well inside the region where a Gaussian likelihood is quadratic.
 */
export const FINAL_HESSIAN_STEP = 0.3;
/**
 * Where the NLL one error away from the best fit rises by r instead of ½, the ΔNLL = ½ edge lies about √(½/r)
 * errors away. A warning says so when that is off by more than this fraction on either side: with the true edge at
 * 0.8 or 1.2 errors, the quoted ±1σ covers about 79% or 60% of outcomes on that side's account instead of 68%.
 */
const PARABOLA_TOLERANCE = 0.2;
/** Estimated distance to the minimum below which a fit that stopped on its budget counts as converged. */
export const EDM_TOLERANCE = 1e-3;
/**
 * Largest relative difference between the errors √C_ii that two Hessian estimates imply; null when either is not
 * positive definite.
 */
export function errorSpread(a: Float64Array, b: Float64Array): number | null {
  const ca = covarianceFromHessian(a);
  const cb = covarianceFromHessian(b);
  if (!ca.positiveDefinite || !cb.positiveDefinite) return null;
  return Math.max(...ca.errors.map((e, i) => Math.abs(e - cb.errors[i]) / (0.5 * (e + cb.errors[i]))));
}

/**
 * ΔNLL one error below and above the best fit along each free parameter, the others held (null where a bound is
 * nearer than one error), in one values-only evaluate call.
 */
export async function deltaNllAtErrors(
  likelihood: MixtureLikelihood,
  best: { x: Float64Array; value: number },
  errors: Float64Array,
  bounds: Bounds,
): Promise<{ rises: [number | null, number | null][]; evaluations: EvaluationCounts }> {
  const P = best.x.length;
  const probes: { j: number; side: 0 | 1; x: Float64Array }[] = [];
  for (let j = 0; j < P; j++) {
    ([-1, 1] as const).forEach((sign, side) => {
      const x = Float64Array.from(best.x);
      x[j] += sign * errors[j];
      if (x[j] >= bounds.lower[j] && x[j] <= bounds.upper[j]) probes.push({ j, side: side as 0 | 1, x });
    });
  }
  const evaluations: EvaluationCounts = { calls: 0, points: 0 };
  const rises = Array.from({ length: P }, (): [number | null, number | null] => [null, null]);
  if (probes.length === 0) return { rises, evaluations };
  const points = new Float64Array(probes.length * P);
  probes.forEach((probe, n) => points.set(probe.x, n * P));
  const { values } = await evaluateBatch(likelihood, points, probes.length, false, evaluations);
  probes.forEach((probe, n) => (rises[probe.j][probe.side] = values[n] - best.value));
  return { rises, evaluations };
}

/** ½ gᵀ C g: the NLL still to gain if the NLL is quadratic with covariance C (the Hessian's inverse). */
export function estimatedDistanceToMinimum(gradient: Float64Array, covariance: Float64Array, P: number): number {
  let edm = 0;
  for (let i = 0; i < P; i++) for (let j = 0; j < P; j++) edm += gradient[i] * covariance[i * P + j] * gradient[j];
  return 0.5 * edm;
}

/** The covariance from the final Hessian, with how uncertain its errors are. */
export interface ErrorEstimate {
  cov: CovarianceResult;
  /** Only the smaller step's Hessian was positive definite. */
  smallStepOnly: boolean;
}

/**
 * The two estimates of the final Hessian (steps s·σ and 2s·σ) are averaged; the errors of the mean are uncertain by
 * about half the difference between the errors each estimate implies. Where the NLL is far from quadratic over
 * ±2s·σ (a weakly constrained parameter next to its bound: the toy's Γ = 3.8 ± 2.2 in [0.5, 5]), the larger step's
 * estimate can lose positive definiteness and drag the mean with it; the smaller step's estimate is then the local
 * curvature, and its errors are given (and flagged).
 */
export function covarianceOf(h: HessianResult): ErrorEstimate {
  const curvature = h.stepCheck ? Float64Array.from(h.hessian, (v, i) => 0.5 * (v + h.stepCheck!.hessian[i])) : h.hessian;
  const cov = covarianceFromHessian(curvature);
  const smallStepOnly = !cov.positiveDefinite && h.stepCheck !== null && covarianceFromHessian(h.hessian).positiveDefinite;
  return { cov: smallStepOnly ? covarianceFromHessian(h.hessian) : cov, smallStepOnly };
}

/**
 * Whether the fit converged: the minimiser's verdict, or, for a minimiser that ran out of budget at the noise floor of
 * the gradient, an estimated distance to the minimum EDM = ½ gᵀ C g (MINUIT's measure) far below the 0.5 of one σ.
 * The threshold 1e-3 (√(2·EDM) ≈ 0.045σ) is looser than MIGRAD's default 1e-4: float32 graphs resolve no better.
 */
export function convergence(ctx: FitContext, best: StartResult, h: HessianResult, cov: CovarianceResult): { converged: boolean; reason: string } {
  if (best.converged) return { converged: true, reason: best.reason };
  let edmText = '';
  if (cov.positiveDefinite) {
    const edm = estimatedDistanceToMinimum(h.gradient, cov.covariance, ctx.likelihood.dimension);
    if (edm < EDM_TOLERANCE) return { converged: true, reason: `edm ${edm.toExponential(1)} < ${EDM_TOLERANCE} after ${best.reason}` };
    edmText = ` Estimated distance to the minimum ½gᵀCg = ${edm.toExponential(1)} (NLL units; converged below ${EDM_TOLERANCE}).`;
  }
  const { budgets, tolerances } = ctx;
  ctx.warnings.push(
    `the minimiser stopped without converging (${best.reason}): ${best.message}${edmText} The settings now: maxEvaluations = ${budgets.stage1Evaluations} ` +
      `per start, gtol = ${tolerances.gtol}, ftolAbs = ${tolerances.ftolAbs} (scan request fields of these names; flowscan scan --max-evaluations, --gtol, --ftol-abs).`,
  );
  return { converged: false, reason: best.reason };
}

/** ΔNLL at ±1σ along each parameter, with a warning where the NLL is not the Hessian's parabola there. */
export async function parabolaCheck(ctx: FitContext, best: StartResult, errors: Float64Array): Promise<Awaited<ReturnType<typeof deltaNllAtErrors>>> {
  const parabola = await deltaNllAtErrors(ctx.likelihood, best, errors, ctx.bounds);
  addCounts(ctx.counts, parabola.evaluations);
  const skewed = ctx.likelihood.freeNames.flatMap((name, j) => {
    const edges = parabola.rises[j].map((r) => (r === null ? null : Math.sqrt(0.5 / Math.max(r, 0))));
    if (!edges.some((e) => e !== null && !(Math.abs(e - 1) <= PARABOLA_TOLERANCE))) return [];
    const [below, above] = parabola.rises[j].map((r) => (r === null ? 'beyond a bound' : r.toFixed(2)));
    const where = edges.map((e) => (e === null ? '?' : Number.isFinite(e) ? `${e.toFixed(2)}σ` : 'no edge')).join(' and ');
    return [`${name} (ΔNLL ${below} at −1σ and ${above} at +1σ: the ΔNLL = ½ edges lie ${where} away)`];
  });
  if (skewed.length > 0) {
    ctx.warnings.push(
      `the NLL is not the Hessian's parabola over ±1σ along ${skewed.join(', ')}: the ± errors misstate the 68% interval ` +
        'there; profile intervals (the profile option, scan --profile) give it',
    );
  }
  return parabola;
}
