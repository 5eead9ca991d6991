// ΔNLL slice maps of a mixture likelihood: nllMap2d on a variant with every other free parameter fixed at the
// best fit. A component whose parameters are all fixed then is evaluated once and cached (the toy's background in
// a map over the signal's (M_pole, Γ)), and the gradients are taken for the two mapped parameters alone.
import type { BatchObjective } from '../fit/objective.ts';
import { type MapRanges, type NllMap, type NllMapOptions, nllMap2d } from '../fit/scan.ts';
import type { MixtureLikelihood } from './mixture.ts';

export interface LikelihoodMapOptions extends Omit<NllMapOptions, 'bounds'> {
  /** Called after each evaluate call (one grid row by default) with the number of calls so far. */
  onCall?: (calls: number) => void;
}

/**
 * ΔNLL on an nx×ny grid over free parameters i and j (indices into likelihood.freeNames) through `best`, the other
 * parameters held at `best`; the result's i and j are those indices.
 */
export async function likelihoodMap2d(
  likelihood: MixtureLikelihood,
  best: Float64Array,
  i: number,
  j: number,
  ranges: MapRanges,
  nx: number,
  ny: number,
  options: LikelihoodMapOptions = {},
): Promise<NllMap> {
  const names = likelihood.freeNames;
  if (best.length !== names.length) throw new Error(`the map's best-fit point has ${best.length} values, the likelihood has ${names.length} free parameters`);
  for (const k of [i, j]) {
    if (!(Number.isInteger(k) && k >= 0 && k < names.length)) throw new Error(`map parameter index ${k} is not one of the ${names.length} free parameters`);
  }
  const fixed = Object.fromEntries(names.flatMap((name, k) => (k === i || k === j ? [] : [[name, best[k]] as const])));
  const slice = likelihood.variant({ fixed });
  const point = Float64Array.from(slice.freeNames, (name) => best[names.indexOf(name)]);
  let calls = 0;
  const objective: BatchObjective = {
    dimension: slice.dimension,
    evaluate: async (points, count, withGradient) => {
      const reply = await slice.evaluate(points, count, withGradient);
      options.onCall?.(++calls);
      return reply;
    },
  };
  const { onCall: _onCall, ...mapOptions } = options;
  const map = await nllMap2d(objective, point, slice.freeNames.indexOf(names[i]), slice.freeNames.indexOf(names[j]), ranges, nx, ny, {
    ...mapOptions,
    bounds: slice.bounds(),
  });
  return { ...map, i, j };
}
