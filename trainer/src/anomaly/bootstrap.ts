// Tan's bootstrap of the background density (Tan, "Model-agnostic anomaly detection with flows", ICML INNF+
// 2020, §3): without a signal region, the background density is learned from the data themselves by removing,
// step by step, the events that look least like background. With λ(x) = p(x|bkg)/p(x|data) (eq. 3; small for
// signal-like events) the type-I error rate of the cut λ ≤ ε is
//     α(ε) = ∫ p(x|bkg) 1[λ(x) ≤ ε] dx = E_data[λ 1[λ ≤ ε]] ≈ (1/N) Σ_n λ(x_n) 1[λ(x_n) ≤ ε]     (eq. 5),
// so fixing α fixes ε; the background density is re-fitted on the events with λ > ε, and the two steps
// iterate until the removed events stop changing.
import type { AnomalyEvents } from './events.ts';
import { filterEvents } from './events.ts';

/**
 * The anomaly score of a likelihood ratio: −log λ(x) = log p(x|data) − log p(x|bkg) (ANODE's log R), high for
 * signal-like events as the ROC code expects (λ itself is small for them).
 */
export function negLogLambda(logPData: Float64Array, logPBackground: Float64Array): Float64Array {
  if (logPData.length !== logPBackground.length) throw new Error(`log p(x|data) holds ${logPData.length} values but log p(x|bkg) ${logPBackground.length}`);
  return logPData.map((l, i) => l - logPBackground[i]);
}

/** The data-estimated type-I error rate of the cut λ ≤ ε (eq. 5): (1/N) Σ λ_n 1[λ_n ≤ ε]. */
export function typeIErrorRate(lambda: Float64Array, epsilon: number): number {
  let sum = 0;
  for (const l of lambda) if (l <= epsilon) sum += l;
  return sum / lambda.length;
}

/**
 * The smallest threshold ε among the events' λ values whose estimated type-I error rate (eq. 5) reaches α, by
 * bisection on [min λ, max λ]. α(ε) is a non-decreasing step function of ε that jumps at every λ_n, so the
 * bisection narrows the bracket until no λ_n lies strictly inside it and returns its upper end, an event's λ.
 */
export function bootstrapThreshold(lambda: Float64Array, alpha: number): number {
  if (!(alpha > 0 && alpha < 1)) throw new Error(`the type-I error rate α must be in (0, 1), got ${alpha}`);
  if (lambda.length === 0) throw new Error('the bootstrap threshold needs at least one event');
  let lo = Infinity;
  let hi = -Infinity;
  for (const l of lambda) {
    if (!(Number.isFinite(l) && l >= 0)) throw new Error(`likelihood ratios must be finite and ≥ 0, got ${l}`);
    lo = Math.min(lo, l);
    hi = Math.max(hi, l);
  }
  if (typeIErrorRate(lambda, hi) < alpha) {
    throw new Error(`α = ${alpha} is not reachable: cutting every event gives an estimated type-I error rate of only ${typeIErrorRate(lambda, hi)} (mean λ < α)`);
  }
  if (typeIErrorRate(lambda, lo) >= alpha) return lo;
  // Invariant: α(lo) < α ≤ α(hi).
  for (;;) {
    const mid = 0.5 * (lo + hi);
    if (mid <= lo || mid >= hi) return hi;
    let inside = false;
    for (const l of lambda) {
      if (l > lo && l < hi) {
        inside = true;
        break;
      }
    }
    if (!inside) return hi;
    if (typeIErrorRate(lambda, mid) >= alpha) hi = nextValueAtOrBelow(lambda, mid, lo);
    else lo = mid;
  }
}

/** The largest λ_n in (lo, x]: α(ε) is constant between events, so the bracket's upper end can move to one. */
function nextValueAtOrBelow(lambda: Float64Array, x: number, lo: number): number {
  let best = -Infinity;
  for (const l of lambda) if (l <= x && l > lo && l > best) best = l;
  return best;
}

export interface BootstrapIteration {
  iteration: number;
  /** Threshold ε of this iteration's λ (eq. 5 at the target α). */
  epsilon: number;
  /** Events removed from the background training (λ ≤ ε), and how many of them are signal (labels only for the report). */
  removed: number;
  removedSignal: number;
  /** Fraction of this iteration's removed events that were not removed in the previous one (0: converged). */
  changed: number;
}

export interface BootstrapOptions {
  /** Target type-I error rate α of the removal cut. */
  alpha: number;
  maxIterations: number;
  /** Stop when fewer than this fraction of the removed events change between iterations. */
  tolerance: number;
  /** Reports each iteration as it ends. */
  onIteration?: (it: BootstrapIteration) => void;
  /**
   * The events the first re-fit leaves out (1: removed), for a start from another score; default the fraction α
   * with the lowest p(x|data). With a background density flexible enough to fit what it is given, every removed
   * set is nearly a fixed point of the loop (docs/anomaly.md), so the start decides what the loop finds.
   */
  start?: Uint8Array;
}

export const DEFAULT_BOOTSTRAP: Omit<BootstrapOptions, 'onIteration'> = { alpha: 0.02, maxIterations: 4, tolerance: 0.05 };

/** The default start: the lowest-density fraction α (a density threshold found as the α-quantile of log p). */
export function lowestDensityStart(logPData: Float64Array, alpha: number): Uint8Array {
  const sortedLogP = Float64Array.from(logPData).sort();
  const threshold = sortedLogP[Math.max(0, Math.ceil(alpha * logPData.length) - 1)];
  return Uint8Array.from(logPData, (l) => (l <= threshold ? 1 : 0));
}

function checkedStart(start: Uint8Array, count: number): Uint8Array {
  if (start.length !== count) throw new Error(`the bootstrap's start marks ${start.length} events but the data hold ${count}`);
  let removed = 0;
  for (const r of start) {
    if (r !== 0 && r !== 1) throw new Error(`the bootstrap's start marks events with 0 (kept) or 1 (removed), got ${r}`);
    removed += r;
  }
  if (removed === 0 || removed === count) throw new Error(`the bootstrap's start must remove some events and keep some, it removes ${removed} of ${count}`);
  return Uint8Array.from(start);
}

export interface BootstrapResult<M> {
  background: M;
  iterations: BootstrapIteration[];
  converged: boolean;
}

/**
 * Runs the bootstrap on `data` given log p(x|data) on them. `fitBackground(kept, iteration, keep)` fits a
 * background density on the kept events (`keep[i]` = 1 for the data events it may use) and returns it with its
 * log-density on `data`. The first re-fit leaves out `options.start`, by default the fraction α of events with
 * the lowest p(x|data) (the −log p score): with p(x|bkg) = p(x|data), λ ≡ 1 carries no information and eq. 5
 * has no proper solution.
 */
export async function bootstrapBackground<M>(
  data: AnomalyEvents,
  logPData: Float64Array,
  fitBackground: (events: AnomalyEvents, iteration: number, keep: Uint8Array) => Promise<{ model: M; logP: Float64Array }>,
  options: BootstrapOptions,
): Promise<BootstrapResult<M>> {
  if (logPData.length !== data.count) throw new Error(`log p(x|data) holds ${logPData.length} values for ${data.count} events`);
  if (!(Number.isInteger(options.maxIterations) && options.maxIterations >= 1)) {
    throw new Error(`the bootstrap needs at least one iteration, got ${options.maxIterations}`);
  }
  let removed = options.start ? checkedStart(options.start, data.count) : lowestDensityStart(logPData, options.alpha);
  const iterations: BootstrapIteration[] = [];
  let fitted: M | null = null;
  for (let iteration = 1; iteration <= options.maxIterations; iteration++) {
    const keep = removed.map((r) => 1 - r);
    const { model, logP } = await fitBackground(filterEvents(data, (i) => keep[i] === 1), iteration, keep);
    fitted = model;
    const lambda = negLogLambda(logPData, logP).map((score) => Math.exp(-score));
    const epsilon = bootstrapThreshold(lambda, options.alpha);
    const next = Uint8Array.from(lambda, (l) => (l <= epsilon ? 1 : 0));
    let count = 0;
    let signal = 0;
    let fresh = 0;
    for (let i = 0; i < next.length; i++) {
      if (!next[i]) continue;
      count++;
      signal += data.label[i];
      if (!removed[i]) fresh++;
    }
    const report: BootstrapIteration = { iteration, epsilon, removed: count, removedSignal: signal, changed: count > 0 ? fresh / count : 0 };
    iterations.push(report);
    options.onIteration?.(report);
    removed = next;
    if (report.changed < options.tolerance) return { background: model, iterations, converged: true };
  }
  return { background: fitted!, iterations, converged: false };
}
