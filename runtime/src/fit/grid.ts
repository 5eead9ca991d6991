/**
 * Objective scans over a box (named grid.ts, apart from scan/scan.ts, the JSON scan request): a regular grid,
 * uniform random points, and a 2-D ΔNLL map through the best fit. Points go to the objective in batches of up to `batchSize` per evaluate call (one graph run each).
 *
 * Grid and random scans are the baselines that the paper's gradient fits replace: they cost n^P or many
 * evaluations where L-BFGS-B needs tens, but they need no gradient, see the whole box, and make plots.
 */
import { evaluateBatch, type BatchObjective, type Bounds, type EvaluationCounts } from './objective.ts';
import { Rng } from '../random.ts';
import { checkIndex, checkInteger, checkPoints, objectiveDimension, requireFiniteBounds, resolveBounds } from './validate.ts';

/** Scans refuse more points than this (P doubles each, held in memory). */
const MAX_SCAN_POINTS = 10_000_000;

export interface ScanProgress {
  done: number;
  total: number;
  calls: number;
  wallMs: number;
}

export interface ScanOptions {
  /** Points per evaluate call (default 1024). */
  batchSize?: number;
  /** Also ask for gradients (default false). */
  withGradient?: boolean;
  onProgress?: (progress: ScanProgress) => void;
}

export interface GridScanOptions extends ScanOptions {
  /** Finite box to scan. */
  bounds: Bounds;
  /** Points per axis (one number for all, or one per parameter); 1 puts the axis at the box's middle. */
  pointsPerAxis: number | readonly number[];
}

export interface RandomScanOptions extends ScanOptions {
  bounds: Bounds;
  /** Number of points. */
  count: number;
  /** Seed (a safe integer) of the runtime's xoshiro128** generator (default 1); ignored when `random` is given. */
  seed?: number;
  /** Own uniform generator on [0, 1) instead of the internal one. */
  random?: () => number;
}

export interface ScanResult {
  dimension: number;
  count: number;
  /** count×P row-major; for a grid the last parameter varies fastest. */
  points: Float64Array;
  values: Float64Array;
  /** count×P, when asked for. */
  gradients?: Float64Array;
  /** Lowest finite value. */
  best: { index: number; x: Float64Array; value: number };
  evaluations: EvaluationCounts;
  wallMs: number;
}

/** Values (and gradients) on a regular grid over the box; endpoints included. */
export async function gridScan(objective: BatchObjective, options: GridScanOptions): Promise<ScanResult> {
  const t0 = performance.now();
  const p = objectiveDimension(objective);
  const bounds = requireFiniteBounds(options.bounds, p, 'gridScan');
  const perAxis = typeof options.pointsPerAxis === 'number' ? new Array<number>(p).fill(options.pointsPerAxis) : [...options.pointsPerAxis];
  if (perAxis.length !== p) {
    throw new Error(`gridScan: pointsPerAxis has ${perAxis.length} entries but the objective has P=${p} parameters; give one per parameter or a single number.`);
  }
  perAxis.forEach((n, i) => checkInteger(n, `gridScan: pointsPerAxis[${i}]`, 1));
  const axes = perAxis.map((n, i) => axis(bounds.lower[i], bounds.upper[i], n));
  const count = perAxis.reduce((product, n) => product * n, 1);
  checkCount(count, 'gridScan');
  const points = new Float64Array(count * p);
  const digits = new Array<number>(p).fill(0);
  for (let row = 0; row < count; row++) {
    for (let i = 0; i < p; i++) points[row * p + i] = axes[i][digits[i]];
    for (let i = p - 1; i >= 0; i--) {
      digits[i] += 1;
      if (digits[i] < perAxis[i]) break;
      digits[i] = 0;
    }
  }
  return evaluatePoints(objective, points, count, options, t0);
}

/** Values (and gradients) at `count` uniform random points in the box, reproducible through `seed`. */
export async function randomScan(objective: BatchObjective, options: RandomScanOptions): Promise<ScanResult> {
  const t0 = performance.now();
  const p = objectiveDimension(objective);
  const bounds = requireFiniteBounds(options.bounds, p, 'randomScan');
  const count = checkInteger(options.count, 'randomScan: count', 1);
  checkCount(count, 'randomScan');
  const rng = options.random === undefined ? new Rng(options.seed ?? 1) : undefined;
  const random = options.random ?? (() => (rng as Rng).uniform());
  const points = new Float64Array(count * p);
  for (let row = 0; row < count; row++) {
    for (let i = 0; i < p; i++) {
      const r = random();
      if (!(r >= 0 && r < 1)) throw new Error(`randomScan: the random generator returned ${r}; it must return numbers in [0, 1).`);
      points[row * p + i] = bounds.lower[i] + (bounds.upper[i] - bounds.lower[i]) * r;
    }
  }
  return evaluatePoints(objective, points, count, options, t0);
}

async function evaluatePoints(
  objective: BatchObjective,
  points: Float64Array,
  count: number,
  options: ScanOptions,
  t0: number,
): Promise<ScanResult> {
  const p = objective.dimension;
  const batchSize = checkInteger(options.batchSize ?? 1024, 'batchSize', 1);
  const withGradient = options.withGradient ?? false;
  const values = new Float64Array(count);
  const gradients = withGradient ? new Float64Array(count * p) : undefined;
  const counts: EvaluationCounts = { calls: 0, points: 0 };
  for (let start = 0; start < count; start += batchSize) {
    const size = Math.min(batchSize, count - start);
    const reply = await evaluateBatch(objective, points.slice(start * p, (start + size) * p), size, withGradient, counts);
    values.set(reply.values, start);
    if (gradients && reply.gradients) gradients.set(reply.gradients, start * p);
    options.onProgress?.({ done: start + size, total: count, calls: counts.calls, wallMs: performance.now() - t0 });
  }
  let bestIndex = -1;
  for (let k = 0; k < count; k++) {
    if (Number.isFinite(values[k]) && (bestIndex < 0 || values[k] < values[bestIndex])) bestIndex = k;
  }
  if (bestIndex < 0) {
    throw new Error(`scan: all ${count} points returned non-finite values; check the objective and the scanned box.`);
  }
  return {
    dimension: p,
    count,
    points,
    values,
    ...(gradients ? { gradients } : {}),
    best: { index: bestIndex, x: points.slice(bestIndex * p, (bestIndex + 1) * p), value: values[bestIndex] },
    evaluations: counts,
    wallMs: performance.now() - t0,
  };
}

/** [[x_i min, x_i max], [x_j min, x_j max]]: the axes of a 2-D map. */
export type MapRanges = readonly [readonly [number, number], readonly [number, number]];

export interface NllMapOptions {
  /** Also return ∂NLL/∂x_i and ∂NLL/∂x_j at each node (default true). */
  withGradient?: boolean;
  /** Points per evaluate call (default nx: one grid row per call). */
  batchSize?: number;
  /** Reference NLL for ΔNLL (default: the NLL at `best`, evaluated with the first batch). */
  nllMin?: number;
  /** When given, `best` is checked against them. */
  bounds?: Bounds;
}

export interface NllMap {
  i: number;
  j: number;
  /** Values of parameter i (columns) and parameter j (rows). */
  xs: Float64Array;
  ys: Float64Array;
  /** ΔNLL at (xs[c], ys[r]) stored at r·nx + c. */
  deltaNll: Float64Array;
  /** ∂NLL/∂x_i and ∂NLL/∂x_j at each node, same layout: the arrows of a "ΔNLL map with gradient" plot. */
  gradient?: { i: Float64Array; j: Float64Array };
  /** The NLL subtracted. */
  reference: number;
  evaluations: EvaluationCounts;
  wallMs: number;
}

/**
 * ΔNLL on an nx×ny grid over parameters i and j, the others fixed at `best` (a slice, not a profile), with
 * the gradient components (i, j) at each node. ranges = [[x_i min, x_i max], [x_j min, x_j max]].
 */
export async function nllMap2d(
  objective: BatchObjective,
  best: Float64Array,
  i: number,
  j: number,
  ranges: MapRanges,
  nx: number,
  ny: number,
  options: NllMapOptions = {},
): Promise<NllMap> {
  const t0 = performance.now();
  const p = objectiveDimension(objective);
  if (best?.length !== p) throw new Error(`nllMap2d: best must be a Float64Array of P=${p} entries, got ${best?.length} entries.`);
  checkPoints(best, p, resolveBounds(options.bounds, p), 'nllMap2d best-fit point');
  checkIndex(i, p, 'nllMap2d: i');
  checkIndex(j, p, 'nllMap2d: j');
  if (i === j) throw new Error(`nllMap2d: i and j must be different parameters, both are ${i}.`);
  checkInteger(nx, 'nllMap2d: nx', 1);
  checkInteger(ny, 'nllMap2d: ny', 1);
  checkCount(nx * ny, 'nllMap2d');
  for (const [name, range] of [['x', ranges?.[0]], ['y', ranges?.[1]]] as const) {
    if (!range || !Number.isFinite(range[0]) || !Number.isFinite(range[1]) || range[0] > range[1]) {
      throw new Error(`nllMap2d: the ${name} range must be [min, max] with finite min ≤ max, got ${JSON.stringify(range)}.`);
    }
  }
  const withGradient = options.withGradient ?? true;
  const batchSize = checkInteger(options.batchSize ?? nx, 'nllMap2d: batchSize', 1);
  const xs = axis(ranges[0][0], ranges[0][1], nx);
  const ys = axis(ranges[1][0], ranges[1][1], ny);
  const total = nx * ny;
  const deltaNll = new Float64Array(total);
  const gradI = withGradient ? new Float64Array(total) : undefined;
  const gradJ = withGradient ? new Float64Array(total) : undefined;
  const counts: EvaluationCounts = { calls: 0, points: 0 };
  let reference = options.nllMin;
  if (reference !== undefined && !Number.isFinite(reference)) throw new Error(`nllMap2d: nllMin must be finite, got ${reference}.`);
  for (let start = 0; start < total; start += batchSize) {
    const size = Math.min(batchSize, total - start);
    const withBest = reference === undefined ? 1 : 0; // the best point rides along with the first batch
    const points = new Float64Array((size + withBest) * p);
    for (let k = 0; k < size; k++) {
      const node = start + k;
      points.set(best, k * p);
      points[k * p + i] = xs[node % nx];
      points[k * p + j] = ys[Math.floor(node / nx)];
    }
    if (withBest) points.set(best, size * p);
    const reply = await evaluateBatch(objective, points, size + withBest, withGradient, counts);
    if (withBest) {
      reference = reply.values[size];
      if (!Number.isFinite(reference)) throw new Error(`nllMap2d: the NLL at the best-fit point is ${reference}; it must be finite.`);
    }
    for (let k = 0; k < size; k++) {
      deltaNll[start + k] = reply.values[k] - (reference as number);
      if (gradI && gradJ && reply.gradients) {
        gradI[start + k] = reply.gradients[k * p + i];
        gradJ[start + k] = reply.gradients[k * p + j];
      }
    }
  }
  return {
    i,
    j,
    xs,
    ys,
    deltaNll,
    ...(gradI && gradJ ? { gradient: { i: gradI, j: gradJ } } : {}),
    reference: reference as number,
    evaluations: counts,
    wallMs: performance.now() - t0,
  };
}

/** n equally spaced values from lower to upper inclusive; the midpoint when n = 1. */
function axis(lower: number, upper: number, n: number): Float64Array {
  if (n === 1) return Float64Array.of(0.5 * (lower + upper));
  return Float64Array.from({ length: n }, (_, k) => (k === n - 1 ? upper : lower + ((upper - lower) * k) / (n - 1)));
}

function checkCount(count: number, what: string): void {
  if (count > MAX_SCAN_POINTS) {
    throw new Error(`${what}: ${count} points exceed the limit of ${MAX_SCAN_POINTS}; use fewer points per axis or a random scan.`);
  }
}
