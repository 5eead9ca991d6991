// ΔNLL slice maps of a mixture likelihood: nllMap2d on a variant with every other free parameter fixed at the
// best fit. A component whose parameters are all fixed then is evaluated once and cached (the toy's background in
// a map over the signal's (M_pole, Γ)), and the gradients are taken for the two mapped parameters alone.
// deltaNllMapAtFit chooses the ranges around a fit and returns the map by parameter name.
import type { BatchObjective } from '../fit/objective.ts';
import { type MapRanges, type NllMap, type NllMapOptions, nllMap2d } from '../fit/grid.ts';
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

/** A grid of values [ny·nx] (row-major, x fastest) as rows [iy][ix], the layout of scan results and figures. */
export function gridRows(values: Float64Array, nx: number, ny: number): number[][] {
  return Array.from({ length: ny }, (_, r) => Array.from(values.subarray(r * nx, (r + 1) * nx)));
}

/** A ΔNLL map through a best fit over two named parameters: values and −∇NLL components as rows [iy][ix]. */
export interface FitMap {
  x: string;
  y: string;
  xs: number[];
  ys: number[];
  deltaNll: number[][];
  gradX: number[][];
  gradY: number[][];
  /** The best fit the map passes through. */
  best: { x: number; y: number };
}

/** What a fit gives a map: the best-fit values, their Hessian errors, and the minimum. */
export type FitForMap = { nll: number; parameters: readonly { name: string; value: number; error?: number | undefined }[] };

export interface FitMapOptions {
  nx: number;
  ny: number;
  /** Ranges by parameter name; an axis without one spans ±`sigmas` errors around the best fit, inside the bounds. */
  ranges?: Record<string, [number, number] | undefined>;
  /** Half-width of a default range in errors (default 4). */
  sigmas?: number;
  /** Errors for the default ranges by name (default: the fit's Hessian errors; without one, 1/20 of the bounds). */
  errors?: Record<string, number>;
  /** Values a default range must also hold with 2 errors to spare (e.g. the truth of a study). */
  include?: Record<string, number>;
  /**
   * ΔNLL against the fit's minimum ('fit', default), or against the map's likelihood at the best fit ('best-point'):
   * for a map on another precision than the fit (a float32 twin of a float64 fit), whose NLLs differ by rounding.
   */
  reference?: 'fit' | 'best-point';
  /** Called after each evaluate call (one grid row) with the number of calls so far. */
  onCall?: (calls: number) => void;
}

/** Half-width of a default map axis in errors, and the margin kept around an included value. */
const DEFAULT_MAP_SIGMAS = 4;
const INCLUDE_MARGIN_SIGMAS = 2;
/** Without a usable error, a default range is this fraction of the parameter's bounds on each side. */
const FALLBACK_BOUNDS_FRACTION = 1 / 20;

/**
 * The ΔNLL map of `likelihood` (the fitted one, or a twin of it at another precision) over free parameters x and y
 * through a fit's best point, the others held there, with −∇NLL from the θ-gradient graphs: what `flowscan scan`,
 * the studies and the browser page draw.
 */
export async function deltaNllMapAtFit(likelihood: MixtureLikelihood, fit: FitForMap, x: string, y: string, options: FitMapOptions): Promise<FitMap> {
  const names = likelihood.freeNames;
  const i = names.indexOf(x);
  const j = names.indexOf(y);
  if (i < 0 || j < 0 || i === j) throw new Error(`a ΔNLL map needs two different free parameters among ${names.join(', ')}, got ${x} and ${y}`);
  const fitted = (name: string) => {
    const p = fit.parameters.find((q) => q.name === name);
    if (!p) throw new Error(`the fit has no parameter "${name}" of the map's likelihood (${fit.parameters.map((q) => q.name).join(', ')})`);
    return p;
  };
  const best = Float64Array.from(names, (n) => fitted(n).value);
  const { lower, upper } = likelihood.bounds();
  const sigmas = options.sigmas ?? DEFAULT_MAP_SIGMAS;
  const range = (name: string, k: number): [number, number] => {
    const given = options.ranges?.[name];
    if (given) return given;
    const error = options.errors?.[name] ?? fitted(name).error;
    const sigma = error !== undefined && Number.isFinite(error) && error > 0 ? error : (upper[k] - lower[k]) * FALLBACK_BOUNDS_FRACTION;
    let lo = best[k] - sigmas * sigma;
    let hi = best[k] + sigmas * sigma;
    const include = options.include?.[name];
    if (include !== undefined) {
      lo = Math.min(lo, include - INCLUDE_MARGIN_SIGMAS * sigma);
      hi = Math.max(hi, include + INCLUDE_MARGIN_SIGMAS * sigma);
    }
    return [Math.max(lower[k], lo), Math.min(upper[k], hi)];
  };
  const { nx, ny } = options;
  const map = await likelihoodMap2d(likelihood, best, i, j, [range(x, i), range(y, j)], nx, ny, {
    withGradient: true,
    ...((options.reference ?? 'fit') === 'fit' ? { nllMin: fit.nll } : {}),
    ...(options.onCall ? { onCall: options.onCall } : {}),
  });
  return {
    x,
    y,
    xs: Array.from(map.xs),
    ys: Array.from(map.ys),
    deltaNll: gridRows(map.deltaNll, nx, ny),
    gradX: gridRows(map.gradient!.i, nx, ny),
    gradY: gridRows(map.gradient!.j, nx, ny),
    best: { x: best[i], y: best[j] },
  };
}
