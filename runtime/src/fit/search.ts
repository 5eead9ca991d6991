/**
 * The global part of a fit, around a gradient minimiser that only finds the minimum of the basin it starts in:
 * a Sobol' scan of the parameter box (values only, every point in one batched call) whose best mutually distant
 * points become starts, and, once the starts have ended, which of them reached the best minimum and which
 * other local minima they found. Generic over a BatchObjective; `likelihood/fit-search.ts` maps the box (log-scaled
 * parameters, yields) and `likelihood/fit-settings.ts` holds the tolerances (see docs/fitting.md).
 */
import { evaluateBatch, type BatchObjective, type EvaluationCounts } from './objective.ts';
import { sobolPoints } from './sobol.ts';

export interface SobolScan {
  /** K×P scan points in the unit cube (the sequence's own coordinates), row-major. */
  unit: Float64Array;
  /** The same K points in the objective's coordinates. */
  points: Float64Array;
  values: Float64Array;
  evaluations: EvaluationCounts;
  wallMs: number;
}

/**
 * Evaluates the objective (values only) at the first `count` points of the Sobol' sequence, placed in the
 * objective's coordinates by `place(unit, point)`, in one evaluate call. All 2^m points are used, the origin
 * included: they form a (t, m, P)-net, which a shifted subset is not (Owen, "On dropping the first Sobol'
 * point", 2022).
 */
export async function sobolScan(
  objective: BatchObjective,
  count: number,
  place: (unit: Float64Array, point: Float64Array) => void,
): Promise<SobolScan> {
  const t0 = performance.now();
  const P = objective.dimension;
  const unit = sobolPoints(count, P);
  const points = new Float64Array(count * P);
  for (let k = 0; k < count; k++) place(unit.subarray(k * P, (k + 1) * P), points.subarray(k * P, (k + 1) * P));
  const evaluations: EvaluationCounts = { calls: 0, points: 0 };
  const { values } = await evaluateBatch(objective, points, count, false, evaluations);
  return { unit, points, values, evaluations, wallMs: performance.now() - t0 };
}

/**
 * Indices of up to `n` scan points, lowest value first, each at least `separation` away (∞-norm in the unit
 * cube) from every point already taken, so that the starts explore different regions instead of the
 * neighbourhood of one good point. Non-finite values are never taken.
 */
export function bestDistinct(scan: Pick<SobolScan, 'unit' | 'values'>, n: number, separation: number): number[] {
  const P = scan.unit.length / scan.values.length;
  const order = [...scan.values.keys()].filter((k) => Number.isFinite(scan.values[k])).sort((a, b) => scan.values[a] - scan.values[b]);
  const taken: number[] = [];
  const distance = (a: number, b: number): number => {
    let d = 0;
    for (let j = 0; j < P; j++) d = Math.max(d, Math.abs(scan.unit[a * P + j] - scan.unit[b * P + j]));
    return d;
  };
  for (const k of order) {
    if (taken.length >= n) break;
    if (taken.every((other) => distance(k, other) >= separation)) taken.push(k);
  }
  return taken;
}

/** A point and its objective value. */
export interface Valued {
  x: Float64Array;
  value: number;
}

/** Fractions of the way from a point to the target where `descendsTo` evaluates the objective. */
const PATH_PROBES = [1, 2, 3, 4, 5, 6, 7].map((k) => k / 8);

/**
 * Whether the objective falls all the way along the straight path from each point to `target`: at 7 evenly
 * spaced points in between, every value is at most `rise` above the one before it. Such a point lies in the
 * target's basin (a minimiser started there descends to the target); a path that dips and climbs again crosses a
 * barrier into another basin. One values-only evaluate call for all points. A value the objective cannot give
 * (NaN) counts as a rise: the two are not shown to be connected.
 */
export async function descendsTo(objective: BatchObjective, target: Valued, from: Valued[], rise: number): Promise<{ descends: boolean[]; evaluations: EvaluationCounts }> {
  const P = objective.dimension;
  const evaluations: EvaluationCounts = { calls: 0, points: 0 };
  if (from.length === 0) return { descends: [], evaluations };
  const M = PATH_PROBES.length;
  const probes = new Float64Array(from.length * M * P);
  from.forEach((start, n) => {
    PATH_PROBES.forEach((t, m) => {
      for (let j = 0; j < P; j++) probes[(n * M + m) * P + j] = start.x[j] + t * (target.x[j] - start.x[j]);
    });
  });
  const { values } = await evaluateBatch(objective, probes, from.length * M, false, evaluations);
  const descends = from.map((start, n) => {
    const path = [start.value, ...values.subarray(n * M, (n + 1) * M), target.value];
    return path.every((v, m) => m === 0 || v - path[m - 1] <= rise);
  });
  return { descends, evaluations };
}

/** Where one start of a minimisation ended. */
export interface StartEnd extends Valued {
  converged: boolean;
}

/** How a start ended relative to the best minimum. */
export type StartOutcome = 'reachedBest' | 'stoppedShort' | 'otherMinimum';

export interface MinimaOptions {
  /** Per-parameter lengths (≈ the best minimum's errors σ) in which points are compared. */
  sigma: Float64Array;
  /** Two ends at most this many σ apart in every parameter ... */
  pointTolerance: number;
  /** ... with values at most this far apart are the same minimum. */
  valueTolerance: number;
  /**
   * Converged ends less than this above the best value get the path test (`descendsTo`): they decide whether a
   * warning is due. Ends further above are recorded as other minima without it.
   */
  pathTestBelow: number;
  /** The path test's tolerance for a rise (the objective's noise). */
  rise: number;
}

export interface MinimaResult {
  /** One entry per end, in order. */
  outcomes: StartOutcome[];
  evaluations: EvaluationCounts;
}

/**
 * Sorts the ends of a multi-start minimisation against the best minimum `best` (the other ends may be less
 * refined than it: `valueTolerance` must cover that):
 * - `reachedBest`: within `pointTolerance`·σ of the best point and `valueTolerance` above its value;
 * - `otherMinimum`: a converged end elsewhere from which the path to the best climbs over a barrier. Tested for
 *   ends less than `pathTestBelow` above the best; assumed for those further up, since a minimiser stops with a
 *   vanishing gradient that far above the best minimum only in a basin (or on a plateau) of its own;
 * - `stoppedShort`: an end that did not converge, or converged elsewhere with the path to the best descending
 *   all the way: it stopped on a slope of the best minimum's basin (if its value equals the best one, it lies in
 *   a flat valley of that minimum and counts as `reachedBest`).
 */
export async function classifyEnds(objective: BatchObjective, best: Valued, ends: StartEnd[], options: MinimaOptions): Promise<MinimaResult> {
  const atBest = (end: Valued) => end.value - best.value <= options.valueTolerance;
  const outcomes = new Array<StartOutcome>(ends.length);
  const tested: number[] = [];
  ends.forEach((end, i) => {
    if (sameMinimum(end, best, options)) outcomes[i] = 'reachedBest';
    else if (!end.converged) outcomes[i] = 'stoppedShort';
    else if (end.value - best.value >= options.pathTestBelow) outcomes[i] = 'otherMinimum';
    else tested.push(i);
  });
  const path = await descendsTo(objective, best, tested.map((i) => ends[i]), options.rise);
  tested.forEach((i, n) => {
    if (!path.descends[n]) outcomes[i] = 'otherMinimum';
    else outcomes[i] = atBest(ends[i]) ? 'reachedBest' : 'stoppedShort';
  });
  return { outcomes, evaluations: path.evaluations };
}

/** Whether `a` lies at the minimum `b`: within `pointTolerance`·σ in every parameter and `valueTolerance` above it. */
export function sameMinimum(a: Valued, b: Valued, options: Pick<MinimaOptions, 'sigma' | 'pointTolerance' | 'valueTolerance'>): boolean {
  if (!(a.value - b.value <= options.valueTolerance)) return false;
  return a.x.every((v, j) => Math.abs(v - b.x[j]) <= options.pointTolerance * options.sigma[j]);
}

/** Groups points that lie at the same minimum (`sameMinimum` of the group's lowest), lowest first, as indices. */
export function groupMinima(points: Valued[], options: Pick<MinimaOptions, 'sigma' | 'pointTolerance' | 'valueTolerance'>): number[][] {
  const groups: number[][] = [];
  const order = points.map((_, i) => i).sort((a, b) => points[a].value - points[b].value);
  for (const i of order) {
    const same = groups.find((g) => sameMinimum(points[i], points[g[0]], options));
    if (same) same.push(i);
    else groups.push([i]);
  }
  return groups;
}
