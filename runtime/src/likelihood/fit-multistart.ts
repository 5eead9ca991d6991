// The multi-start summary of a fit: which starts reached the best minimum, and which other minima the rest found.
import { type StartOutcome, classifyEnds, groupMinima } from '../fit/search.ts';
import type { Refined } from './fit-refine.ts';
import type { MultistartSummary } from './fit-result.ts';
import { type FitContext, MINIMUM_NLL_TOLERANCE, MINIMUM_POINT_TOLERANCE, OTHER_MINIMUM_WARNING, PATH_RISE, addCounts } from './fit-settings.ts';
import type { FirstStage } from './fit-stage1.ts';

/** Which starts reached the best minimum, and which other minima the rest found (points compared in units of σ). */
export async function multistartSummary(ctx: FitContext, stage1: FirstStage, refined: Refined, sigma: Float64Array, searchPoints: number, startCount: number): Promise<MultistartSummary> {
  const { ends, bestStart, best } = refined;
  const names = ctx.likelihood.freeNames;
  const others = ends.flatMap((_, k) => (k !== bestStart && stage1.fates[k] === 'ran' ? [k] : []));
  const otherEnds = others.map((k) => ends[k]);
  const sameness = { sigma, pointTolerance: MINIMUM_POINT_TOLERANCE, valueTolerance: MINIMUM_NLL_TOLERANCE };
  const minima = await classifyEnds(ctx.likelihood, best, otherEnds, { ...sameness, pathTestBelow: OTHER_MINIMUM_WARNING, rise: PATH_RISE });
  addCounts(ctx.counts, minima.evaluations);
  const outcomes = minima.outcomes;
  // A joined start shares the lead's outcome (and, if the lead found another minimum, counts among its starts).
  const leadAt = others.indexOf(stage1.lead);
  const joined = stage1.fates.filter((f) => f === 'joined').length;
  const startsAt = (n: number): number => 1 + (n === leadAt ? joined : 0);
  const count = (outcome: StartOutcome): number => outcomes.reduce((sum, o, n) => sum + (o === outcome ? startsAt(n) : 0), 0);
  const otherAt = outcomes.flatMap((o, n) => (o === 'otherMinimum' ? [n] : []));
  const pointOf = (x: Float64Array): Record<string, number> => Object.fromEntries(names.map((name, j) => [name, x[j]]));
  const multistart: MultistartSummary = {
    searchPoints,
    starts: startCount,
    reachedBest: 1 + (leadAt < 0 ? joined : 0) + count('reachedBest'),
    abandoned: stage1.fates.filter((f) => f === 'abandoned').length,
    stoppedShort: count('stoppedShort'),
    otherMinima: groupMinima(otherAt.map((n) => otherEnds[n]), sameness).map((group) => {
      const lowest = otherEnds[otherAt[group[0]]];
      return {
        nll: lowest.value,
        deltaNll: lowest.value - best.value,
        point: pointOf(lowest.x),
        starts: group.reduce((sum, g) => sum + startsAt(otherAt[g]), 0),
      };
    }),
  };
  const close = multistart.otherMinima.filter((m) => m.deltaNll < OTHER_MINIMUM_WARNING);
  if (close.length > 0) {
    const listed = close.map((m) => `ΔNLL ${m.deltaNll.toFixed(2)} at ${names.map((name) => `${name} = ${m.point[name].toPrecision(5)}`).join(', ')}`);
    ctx.warnings.push(
      `other minima found: ${listed.join('; ')} (less than ${OTHER_MINIMUM_WARNING} above the best, i.e. not excluded at 3σ): ` +
        'the errors describe the best minimum only; look at a ΔNLL map or profile intervals over the parameters that differ',
    );
  }
  return multistart;
}
