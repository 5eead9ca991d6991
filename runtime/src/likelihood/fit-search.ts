// The starts of a fit: the global search (a Sobol' scan of the free parameters' box, its best distinct points
// taken as starts) or uniform random points in the bounds.
import { bestDistinct, sobolScan } from '../fit/search.ts';
import { SOBOL_MAX_DIMENSION } from '../fit/sobol.ts';
import { Rng } from '../random.ts';
import { type FitContext, type FitOptions, addCounts, freeParameterKinds } from './fit-settings.ts';
import type { MixtureLikelihood } from './mixture.ts';

/**
 * The global search. Scan points per free shape parameter: the scan is a coarse map (16 points per axis would
 * be a grid only in 1-D; 64 points in 3-D are spaced by a quarter of each range), rounded up to a power of two
 * (a full Sobol' net) and capped so that the scan costs at most a few gradient evaluations' worth.
 */
const SEARCH_POINTS_PER_PARAMETER = 16;
const SEARCH_POINTS_MAX = 256;
/** Starts of the gradient stage with the global search, the user's start included (fewer if the scan has fewer distinct points). */
export const SEARCH_STARTS = 4;
/** Scan points taken as starts are at least this far apart (∞-norm in the unit cube: a quarter of some range). */
const START_SEPARATION = 0.25;
/** Sobol' points the global search scans (0: off, or nothing to search). Throws on settings it cannot honour. */
export function searchPointCount(likelihood: MixtureLikelihood, setting: FitOptions['globalSearch']): number {
  if (setting === false) return 0;
  const { lower, upper } = likelihood.bounds();
  const kinds = freeParameterKinds(likelihood);
  // Yields alone need no search: the extended NLL Σν − Σ w log Σ ν_c p_c is convex in the yields.
  const shape = kinds.filter((k) => !k.isYield).length;
  if (shape === 0) return 0;
  if (likelihood.dimension > SOBOL_MAX_DIMENSION) {
    throw new Error(
      `the global search covers at most ${SOBOL_MAX_DIMENSION} free parameters, the likelihood has ${likelihood.dimension}: ` +
        'fix some parameters, or pass globalSearch: false with a start',
    );
  }
  likelihood.freeNames.forEach((name, j) => {
    if (!kinds[j].isYield && !(Number.isFinite(lower[j]) && Number.isFinite(upper[j]))) {
      throw new Error(`the global search needs finite bounds, ${name} has [${lower[j]}, ${upper[j]}]: give it bounds, or pass globalSearch: false with a start`);
    }
  });
  const given = typeof setting === 'object' ? setting.points : undefined;
  if (given === undefined) return Math.min(SEARCH_POINTS_MAX, 2 ** Math.ceil(Math.log2(SEARCH_POINTS_PER_PARAMETER * shape)));
  if (!(Number.isInteger(given) && given >= 1 && given <= 65536)) throw new Error(`globalSearch.points must be an integer in [1, 65536], got ${given}`);
  return given;
}

/**
 * Maps a point of the unit cube to the free parameters' box: shape parameters uniformly (in log when log-scaled:
 * a slope in [1e-3, 0.1] spends as many points on each decade); the free yields split what the fixed yields leave
 * of the data's sum of weights. With every yield free that total is exact at the minimum (∂NLL/∂s = 0 for all
 * yields scaled by s gives Σν = Σw), so only the split is searched, uniformly on the simplex: normalised
 * exponential spacings −log(1 − u) are uniform there (Devroye, "Non-Uniform Random Variate Generation", 1986, §V.2).
 */
function searchPlacement(likelihood: MixtureLikelihood): (unit: Float64Array, point: Float64Array) => void {
  const { lower, upper } = likelihood.bounds();
  const kinds = freeParameterKinds(likelihood);
  const yieldColumns = kinds.flatMap((k, j) => (k.isYield ? [j] : []));
  const fixedYields = likelihood.parameters.reduce((sum, p) => sum + (p.component === 'yield' && p.fixed !== null ? p.fixed : 0), 0);
  const total = likelihood.data.sumWeights - fixedYields > 0 ? likelihood.data.sumWeights - fixedYields : likelihood.data.sumWeights;
  return (unit, point) => {
    kinds.forEach((k, j) => {
      if (!k.isYield) point[j] = k.logScale ? lower[j] * (upper[j] / lower[j]) ** unit[j] : lower[j] + (upper[j] - lower[j]) * unit[j];
    });
    const spacings = yieldColumns.map((j) => -Math.log1p(-unit[j]));
    const sum = spacings.reduce((a, b) => a + b, 0);
    yieldColumns.forEach((j, n) => {
      const share = sum > 0 ? spacings[n] / sum : 1 / yieldColumns.length;
      point[j] = Math.min(upper[j], Math.max(lower[j], total * share));
    });
  };
}

/**
 * The starts: the user's start (unless the global search chooses them all), then the best distinct scan points
 * or, without the search, uniform random points in the bounds.
 */
export async function startingPoints(ctx: FitContext, first: Float64Array, requestedStarts: number): Promise<{ starts: Float64Array; count: number; searchPoints: number }> {
  const { likelihood, options, bounds } = ctx;
  const P = likelihood.dimension;
  const searchPoints = searchPointCount(likelihood, options.globalSearch ?? true);
  const rows: Float64Array[] = [];
  if (searchPoints === 0 || Object.keys(options.start ?? {}).length > 0) rows.push(first);
  if (searchPoints > 0) {
    const scan = await sobolScan(likelihood, searchPoints, searchPlacement(likelihood));
    addCounts(ctx.counts, scan.evaluations);
    options.onStage?.('search', scan.evaluations.calls, scan.wallMs / 1000);
    const wanted = Math.max(requestedStarts, SEARCH_STARTS) - rows.length;
    for (const k of bestDistinct(scan, wanted, START_SEPARATION)) rows.push(scan.points.slice(k * P, (k + 1) * P));
    if (rows.length === 0) throw new Error(`the global search found no finite NLL at any of its ${searchPoints} points: give a start inside the region where the models are defined`);
  } else {
    const rng = new Rng(options.seed ?? 1);
    for (let k = 1; k < requestedStarts; k++) {
      rows.push(
        Float64Array.from(first, (x, j) => {
          const lo = bounds.lower[j];
          const hi = Number.isFinite(bounds.upper[j]) ? bounds.upper[j] : 2 * x + 1;
          return lo + (hi - lo) * rng.uniform();
        }),
      );
    }
  }
  const starts = new Float64Array(rows.length * P);
  rows.forEach((row, k) => starts.set(row, k * P));
  return { starts, count: rows.length, searchPoints };
}
