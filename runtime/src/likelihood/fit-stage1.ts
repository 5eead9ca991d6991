// Stage 1 of a fit: every start minimised on the coarse scales to the basin of a minimum, after a screen that
// abandons the starts far above the lowest and stops those already in the lead's basin.
import { type StartResult, minimize } from '../fit/minimize.ts';
import type { EvaluationCounts } from '../fit/objective.ts';
import { descendsTo } from '../fit/search.ts';
import { type FitBudgets, type FitContext, KEEP_MARGIN, PATH_RISE, addCounts, minimizerOptions } from './fit-settings.ts';
import type { MixtureLikelihood } from './mixture.ts';

export type CoarseFit = (from: Float64Array, budget: { maxEvaluations: number; maxIterations?: number }) => ReturnType<typeof minimize>;

/**
 * How a start fared in stage 1: it ran to the end of its minimisation, was abandoned after the screen (far above
 * the lowest start), or joined the lead's basin (the NLL falls all the way from where it was to the lead's end).
 */
type StartFate = 'ran' | 'abandoned' | 'joined';

/** Stage 1 over every start: where each ended (a joined or abandoned start: where the screen left it). */
export interface FirstStage {
  ends: StartResult[];
  fates: StartFate[];
  /** The start lowest after the screen, run to its end first. */
  lead: number;
  /** The start with the lowest end among those that ran. */
  best: number;
  evaluations: EvaluationCounts;
  wallMs: number;
}

/**
 * Stage 1 from `count` starts. One start runs to the end of its budget. Several first run budgets.screenIterations
 * iterations in lock-step (the screen); the lowest of them (the lead) then runs to its end. Of the other
 * unfinished starts, those more than KEEP_MARGIN above the lead's screen value are abandoned; those whose path
 * to the lead's end descends all the way are in its basin and stop there (a second minimisation would only find
 * the same minimum); the rest run to their ends (a fresh L-BFGS-B from where they stopped: one evaluation more).
 */
export async function firstStage(likelihood: MixtureLikelihood, coarseFit: CoarseFit, starts: Float64Array, count: number, budgets: FitBudgets): Promise<FirstStage> {
  const budget = budgets.stage1Evaluations;
  const screen = await coarseFit(starts, count === 1 ? { maxEvaluations: budget } : { maxEvaluations: budget, maxIterations: budgets.screenIterations });
  const ends = [...screen.starts];
  const fates = new Array<StartFate>(count).fill('ran');
  const evaluations = { ...screen.evaluations };
  let wallMs = screen.wallMs;
  const lead = screen.best.start;
  const unfinished = (k: number) => count > 1 && (ends[k].reason === 'maxIterations' || ends[k].reason === 'maxEvaluations');
  const finish = async (which: number[]) => {
    if (which.length === 0) return;
    const P = likelihood.dimension;
    const from = new Float64Array(which.length * P);
    which.forEach((k, n) => from.set(ends[k].x, n * P));
    const more = await coarseFit(from, { maxEvaluations: budget });
    addCounts(evaluations, more.evaluations);
    wallMs += more.wallMs;
    which.forEach((k, n) => (ends[k] = { ...more.starts[n], start: k }));
  };
  if (unfinished(lead)) await finish([lead]);
  const pending = ends.flatMap((_, k) => (k !== lead && unfinished(k) ? [k] : []));
  for (const k of pending) if (!(ends[k].value <= screen.best.value + KEEP_MARGIN)) fates[k] = 'abandoned';
  const near = pending.filter((k) => fates[k] === 'ran');
  const path = await descendsTo(likelihood, ends[lead], near.map((k) => ends[k]), PATH_RISE);
  addCounts(evaluations, path.evaluations);
  near.forEach((k, n) => {
    if (path.descends[n]) fates[k] = 'joined';
  });
  await finish(near.filter((k) => fates[k] === 'ran'));
  let best = lead;
  ends.forEach((r, k) => {
    if (fates[k] === 'ran' && r.value < ends[best].value) best = k;
  });
  return { ends, fates, lead, best, evaluations, wallMs };
}

/**
 * Stage 1's minimisations only have to reach the basin of the minimum: a coarser ΔNLL tolerance on the coarse
 * scales, and a budget, so that the noise floor of the gradient (float32 graphs) does not keep its line searches
 * busy. The refinement in units of σ applies the tolerances as given.
 */
export function coarseFitOf(ctx: FitContext): CoarseFit {
  const { likelihood, method, bounds, scales, tolerances, options } = ctx;
  return (from, budget) =>
    minimize(likelihood, {
      ...minimizerOptions(method, { gtol: tolerances.gtol, ftolAbs: 5 * tolerances.ftolAbs, ...budget }),
      starts: from,
      bounds,
      scales,
      onProgress: (p) => options.onProgress?.('fit', p),
    });
}
