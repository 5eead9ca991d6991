// The refinement after stage 1: a coarse Hessian gives σ, the best minimum (and the other minima close to it) are
// polished in units of σ, and the final Hessian is estimated there with two steps, whose difference says how far
// the errors can be trusted.
import { type CovarianceResult, type HessianResult, covarianceFromHessian, hessian } from '../fit/hessian.ts';
import { type StartResult, minimize } from '../fit/minimize.ts';
import { sameMinimum } from '../fit/search.ts';
import { EDM_TOLERANCE, type ErrorEstimate, FINAL_HESSIAN_STEP, errorSpread, estimatedDistanceToMinimum } from './fit-errors.ts';
import { type FitContext, MINIMUM_NLL_TOLERANCE, MINIMUM_POINT_TOLERANCE, OTHER_MINIMUM_WARNING, addCounts, minimizerOptions } from './fit-settings.ts';
import type { CoarseFit, FirstStage } from './fit-stage1.ts';

/**
 * Relative uncertainty of the errors (from the two Hessian estimates) above which a warning says so; below it the
 * number is only recorded (errorUncertainty). At 10% a quoted ±1σ interval covers between 63% and 73% instead of
 * 68% (±2σ: 92% to 97%), which is still what a reader takes "±1σ" to mean; spline flows routinely give a few
 * percent (see FINAL_HESSIAN_STEP), which says nothing about the fit.
 */
const ERROR_UNCERTAINTY_WARNING = 0.1;
/** After stage 1 and the refinement: every start's end, the best one, and the final Hessian there. */
export interface Refined {
  ends: StartResult[];
  bestStart: number;
  best: StartResult;
  /** The final Hessian (with its step check), or the coarse one when that was not positive definite. */
  h: HessianResult;
  coarseCov: CovarianceResult;
  /** Errors of the coarse Hessian where it has them, the natural scales otherwise: the units of the refinement. */
  sigmaScales: Float64Array;
  hessianCost: { calls: number; seconds: number };
}

/**
 * The refinement: a coarse Hessian (no step check: it only gives σ) gives σ; the minimiser then restarts from the
 * best point in units of σ, where its tolerances mean the same for every parameter (a width known to ±0.3 GeV and a
 * slope known to ±1e-4 are otherwise scaled very differently), and the final Hessian uses steps of
 * FINAL_HESSIAN_STEP·σ (see there).
 */
export async function refine(ctx: FitContext, stage1: FirstStage, coarseFit: CoarseFit): Promise<Refined> {
  const { likelihood, options, bounds, scales, budgets } = ctx;
  const P = likelihood.dimension;
  const ends = stage1.ends;
  let bestStart = stage1.best;
  let best = ends[bestStart];
  const hessianCost = { calls: 0, seconds: 0 };
  // Steps of 5% of a scale unit resolve well-measured parameters. Along a weakly constrained one the curvature is so
  // small that the roughness of spline flows can flip its sign at that step (the shipped toy flows on 100 signal
  // events, Γ = 3.8 ± 2.2 GeV: −0.6 at 5%, +0.06 to +0.12 at 20% to 200%): not positive definite, it is estimated
  // again with ten times the step.
  const coarseHessian = async (at: Float64Array) => {
    const estimate = async (relativeStep: number) => {
      const result = await hessian(likelihood, at, { bounds, scales, relativeStep, check: false });
      addCounts(ctx.counts, result.evaluations);
      hessianCost.calls += result.evaluations.calls;
      hessianCost.seconds += result.wallMs / 1000;
      return { coarse: result, coarseCov: covarianceFromHessian(result.hessian) };
    };
    const small = await estimate(5e-2);
    return small.coarseCov.positiveDefinite ? small : estimate(0.5);
  };
  let { coarse, coarseCov } = await coarseHessian(best.x);
  if (!coarseCov.positiveDefinite && !best.converged) {
    // Stage 1 ran out of budget short of the basin (the NLL is not yet convex there): continue with a larger
    // budget before estimating σ.
    const more = await coarseFit(best.x, { maxEvaluations: budgets.continuationEvaluations });
    addCounts(ctx.counts, more.evaluations);
    options.onStage?.('fit (continued)', more.evaluations.calls, more.wallMs / 1000);
    if (more.best.value <= best.value) {
      ends[bestStart] = { ...more.best, start: bestStart };
      best = ends[bestStart];
    }
    ({ coarse, coarseCov } = await coarseHessian(best.x));
  }
  if (!coarseCov.positiveDefinite) return { ends, bestStart, best, h: coarse, coarseCov, sigmaScales: scales, hessianCost };
  const sigmaScales = Float64Array.from(coarseCov.errors, (e, j) => (e > 0 && Number.isFinite(e) ? e : scales[j]));
  // No polish when stage 1 converged and the coarse Hessian puts the minimum within EDM_TOLERANCE (≈ 0.045σ).
  const atMinimum = best.converged && estimatedDistanceToMinimum(coarse.gradient, coarseCov.covariance, P) < EDM_TOLERANCE;
  // Stage 1 leaves its ends up to a few tenths of a unit above their minimum: other starts' minima that close to
  // the best could be the deeper one, or close enough for a warning. They are polished with it, in one lock-step
  // minimisation, so that the lowest becomes the best fit and their ΔNLL is as accurate as its NLL.
  const sameness = { sigma: sigmaScales, pointTolerance: MINIMUM_POINT_TOLERANCE, valueTolerance: MINIMUM_NLL_TOLERANCE };
  const contenders = ends.flatMap((end, k) =>
    k !== bestStart && stage1.fates[k] === 'ran' && end.converged && end.value - best.value < OTHER_MINIMUM_WARNING + 1 && !sameMinimum(end, best, sameness) ? [k] : [],
  );
  const polish = [...(atMinimum ? [] : [bestStart]), ...contenders];
  if (polish.length > 0) {
    const from = new Float64Array(polish.length * P);
    polish.forEach((k, n) => from.set(ends[k].x, n * P));
    const refined = await minimize(likelihood, {
      ...minimizerOptions(ctx.method, { ...ctx.tolerances, maxIterations: budgets.polishIterations, maxEvaluations: budgets.polishEvaluations }),
      starts: from,
      bounds,
      scales: sigmaScales,
      onProgress: (p) => options.onProgress?.('refine', p),
    });
    addCounts(ctx.counts, refined.evaluations);
    options.onStage?.('refine', refined.evaluations.calls, refined.wallMs / 1000);
    polish.forEach((k, n) => {
      if (refined.starts[n].value <= ends[k].value) ends[k] = { ...refined.starts[n], start: k };
    });
    for (const k of contenders) if (ends[k].value < ends[bestStart].value) bestStart = k;
    best = ends[bestStart];
  }
  const h = await hessian(likelihood, best.x, { bounds, scales: sigmaScales, relativeStep: FINAL_HESSIAN_STEP });
  addCounts(ctx.counts, h.evaluations);
  hessianCost.calls += h.evaluations.calls;
  hessianCost.seconds += h.wallMs / 1000;
  return { ends, bestStart, best, h, coarseCov, sigmaScales, hessianCost };
}

/** How far the errors can be trusted, from the two Hessian estimates; undefined when it cannot be told. */
export function errorUncertaintyOf(ctx: FitContext, refined: Refined, estimate: ErrorEstimate): number | undefined {
  const { h, coarseCov } = refined;
  if (!h.stepCheck) {
    ctx.warnings.push(`the Hessian at the first stage's minimum is not positive definite (${coarseCov.positiveDefinite ? '' : coarseCov.message}): no refinement and no errors`);
    return undefined;
  }
  const steps = `${FINAL_HESSIAN_STEP}σ and ${2 * FINAL_HESSIAN_STEP}σ`;
  if (estimate.smallStepOnly) {
    ctx.warnings.push(
      `the Hessian estimate with steps ${2 * FINAL_HESSIAN_STEP}σ is not positive definite (the NLL is far from quadratic over that range, ` +
        `e.g. next to a bound): the errors come from the ${FINAL_HESSIAN_STEP}σ estimate alone and are uncertain`,
    );
    return undefined;
  }
  const spread = errorSpread(h.hessian, h.stepCheck.hessian);
  if (spread === null) {
    ctx.warnings.push(`the Hessian estimates with steps ${steps} are not both positive definite: errors are uncertain`);
    return undefined;
  }
  const uncertainty = spread / 2;
  if (uncertainty > ERROR_UNCERTAINTY_WARNING) {
    ctx.warnings.push(
      `errors are uncertain by ${(100 * uncertainty).toFixed(1)}% (the Hessian estimates with steps ${steps} give errors that ` +
        `differ by up to ${(100 * spread).toFixed(1)}%)`,
    );
  }
  return uncertainty;
}
