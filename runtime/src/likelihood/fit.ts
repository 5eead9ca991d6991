// A complete fit of a mixture likelihood: a global search (Sobol' scan of the box, the best distinct points as
// starts), multi-start minimisation, Hessian errors and correlations, which starts reached the best minimum and
// which other minima they found, optional profile-likelihood intervals and the local significance against the
// background-only hypothesis. docs/fitting.md describes the stages and every diagnostic.
import { profileLikelihood } from '../fit/profile.ts';
import { convergence, covarianceOf, parabolaCheck } from './fit-errors.ts';
import { multistartSummary } from './fit-multistart.ts';
import { errorUncertaintyOf, refine } from './fit-refine.ts';
import { type FitResult, fittedParameters } from './fit-result.ts';
import { SEARCH_STARTS, searchPointCount, startingPoints } from './fit-search.ts';
import { type FitContext, type FitOptions, addCounts, defaultStart, fitSettings, parameterScales } from './fit-settings.ts';
import { backgroundOnlySignificance } from './fit-significance.ts';
import { coarseFitOf, firstStage } from './fit-stage1.ts';
import type { MixtureLikelihood } from './mixture.ts';

export { estimatedDistanceToMinimum } from './fit-errors.ts';
export type { FitResult, FittedParameter, MultistartSummary, OtherMinimum } from './fit-result.ts';
export { DEFAULT_GTOL, type FitBudgets, type FitOptions, STAGE1_EVALUATIONS } from './fit-settings.ts';

/**
 * The points a fit plans to evaluate before its Hessians: the global search's, and each start's budget in the
 * gradient stage (starts then evaluate together, one point each per call). Refinement, Hessians, profiles and the
 * background-only fit add tens of points.
 */
export function plannedFitPoints(likelihood: MixtureLikelihood, options: FitOptions): { search: number; starts: number; perStart: number; total: number } {
  const { requestedStarts, maxEvaluations } = fitSettings(options);
  const search = searchPointCount(likelihood, options.globalSearch ?? true);
  const starts = search > 0 ? Math.max(requestedStarts, SEARCH_STARTS) : requestedStarts;
  return { search, starts, perStart: maxEvaluations, total: search + starts * maxEvaluations };
}

/**
 * The fit, stage by stage (docs/fitting.md): the starts (global search), stage 1 (screen, then each start to its
 * budget), the refinement and the final Hessian, the errors and their checks, the multi-start summary, profiles and
 * the significance on request, and the result.
 */
export async function fitLikelihood(likelihood: MixtureLikelihood, options: FitOptions = {}): Promise<FitResult> {
  const t0 = performance.now();
  const method = options.method ?? 'lbfgsb';
  const { requestedStarts, gtol, ftolAbs, budgets } = fitSettings(options);
  const ctx: FitContext = {
    likelihood,
    options,
    method,
    bounds: likelihood.bounds(),
    scales: parameterScales(likelihood),
    tolerances: { gtol, ftolAbs },
    budgets,
    counts: { calls: 0, points: 0 },
    warnings: [],
  };
  const P = likelihood.dimension;
  const runs0 = likelihood.graphRuns;

  const { starts, count, searchPoints } = await startingPoints(ctx, defaultStart(likelihood, options.start ?? {}), requestedStarts);
  const coarseFit = coarseFitOf(ctx);
  const stage1 = await firstStage(likelihood, coarseFit, starts, count, budgets);
  addCounts(ctx.counts, stage1.evaluations);
  options.onStage?.('fit', stage1.evaluations.calls, stage1.wallMs / 1000);

  const refined = await refine(ctx, stage1, coarseFit);
  const { best, h, sigmaScales } = refined;
  const estimate = covarianceOf(h);
  const { cov } = estimate;
  const { converged, reason } = convergence(ctx, best, h, cov);
  options.onStage?.('hessian', refined.hessianCost.calls, refined.hessianCost.seconds);
  const errorUncertainty = errorUncertaintyOf(ctx, refined, estimate);
  const errors = cov.positiveDefinite ? cov.errors : undefined;
  const parabola = errors ? await parabolaCheck(ctx, best, errors) : null;
  best.atBound.forEach((side, j) => {
    if (side === 'free') return;
    ctx.warnings.push(
      `${likelihood.freeNames[j]} = ${best.x[j].toPrecision(6)} is on its ${side} bound: the NLL still falls beyond it, so the fit ended at the bound, ` +
        'not at a minimum, and its error is no ±1σ (if the model is valid beyond the bound, widen it)',
    );
  });
  const sigma = errors ? Float64Array.from(errors, (e, j) => (e > 0 && Number.isFinite(e) ? e : sigmaScales[j])) : sigmaScales;
  const multistart = await multistartSummary(ctx, stage1, refined, sigma, searchPoints, count);

  let profiles: Awaited<ReturnType<typeof profileLikelihood>> | null = null;
  if (options.profile) {
    profiles = await profileLikelihood(likelihood, {
      best: best.x,
      nllMin: best.value,
      bounds: ctx.bounds,
      scales: sigmaScales,
      ...(cov.positiveDefinite ? { covariance: cov.covariance } : {}),
    });
    addCounts(ctx.counts, profiles.evaluations);
    options.onStage?.('profile', profiles.evaluations.calls, profiles.wallMs / 1000);
    ctx.warnings.push(...profiles.warnings);
  }
  const background = options.signal ? await backgroundOnlySignificance(ctx, options.signal, best) : null;
  const parameters = fittedParameters(ctx, best, errors, parabola, profiles);

  const square = (m: Float64Array): number[][] => Array.from({ length: P }, (_, i) => Array.from(m.subarray(i * P, (i + 1) * P)));
  return {
    method,
    nll: best.value,
    converged,
    reason,
    parameters,
    freeNames: likelihood.freeNames,
    ...(cov.positiveDefinite ? { covariance: square(cov.covariance), correlation: square(cov.correlation) } : { hessianMessage: cov.message }),
    ...(errorUncertainty !== undefined ? { errorUncertainty } : {}),
    multistart,
    ...(background ? { significance: background.significance } : {}),
    data: likelihood.data,
    evaluations: { calls: ctx.counts.calls, points: ctx.counts.points, graphRuns: likelihood.graphRuns - runs0 + (background?.graphRuns ?? 0) },
    wallMs: performance.now() - t0,
    warnings: ctx.warnings,
  };
}
