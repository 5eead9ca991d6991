// The look-elsewhere effect: the test statistic q(θ) of a signal hypothesis scanned over a signal parameter (e.g.
// the mass), its maximum over the range, and the Gross–Vitells estimate of the global p-value.
//
// At each scan point θ_k the signal shape is fixed (the other signal parameters at their given values) and the
// background at its background-only fit; only the signal strength is profiled:
//   q(θ_k) = 2 max_{0 ≤ f ≤ 1} Σ_i w_i log(1 + f (r_ik − 1)),   r_ik = p_s(x_i|θ_k) / p_b(x_i)
// (fixed fractions: f is the signal fraction; extended: ν_s + ν_b factorises out with ν̂ = Σw, and f = ν_s/ν).
// It is concave in f, so the maximum is found by a safeguarded Newton iteration. Holding the background's shape at
// its background-only fit is the usual approximation of look-elsewhere studies: with 10⁵ background events its
// parameters hardly move when a narrow signal is added.
//
// Gross & Vitells, "Trial factors for the look elsewhere effect in high energy physics", Eur. Phys. J. C 70 (2010)
// 525: for a one-sided test statistic that is ½χ²₀ + ½χ²₁ at each point,
//   P(max_θ q(θ) > u) ≈ ½ P(χ²₁ > u) + ⟨N(u₀)⟩ e^{−(u − u₀)/2},
// where ⟨N(u₀)⟩ is the mean number of upcrossings of a low reference level u₀ by q(θ), counted on toys.
import type { FlowModel } from '@flowscan/runtime';
import { chi2OneDofSurvival } from './statistics.ts';

/** Bytes of graph memory one chunk of log-density evaluations may use. */
const CHUNK_BUDGET = 64 * 1024 * 1024;
const UNKNOWN_BYTES_PER_EVALUATION = 32 * 1024;

/** A model's events [N×D] in its own feature order, from columns by feature name. */
export function modelEvents(model: FlowModel, columns: Record<string, ArrayLike<number>>, count: number): Float64Array {
  const D = model.dimension;
  const out = new Float64Array(count * D);
  model.featureNames.forEach((name, d) => {
    const column = columns[name];
    if (!column) throw new Error(`the events have no column "${name}" needed by model ${model.name}`);
    for (let i = 0; i < count; i++) out[i * D + d] = column[i];
  });
  return out;
}

/** log p(x_i|θ_k) [K×N] in float64 for K parameter points (thetas [K×P]), evaluated in memory-bounded chunks. */
export async function logDensities(model: FlowModel, events: Float64Array, count: number, thetas: Float64Array): Promise<Float64Array> {
  const P = model.parameterCount;
  const K = P === 0 ? 1 : thetas.length / P;
  const resident = await model.residentEvents(events, count);
  const perEvent = K * (model.evaluationBytes ?? UNKNOWN_BYTES_PER_EVALUATION);
  const chunk = Math.max(16, Math.floor(CHUNK_BUDGET / perEvent));
  const out = new Float64Array(K * count);
  for (let start = 0; start < count; start += chunk) {
    const end = Math.min(count, start + chunk);
    const values = await model.logProbBatch(resident.chunk(start, end), thetas);
    const n = end - start;
    for (let k = 0; k < K; k++) for (let i = 0; i < n; i++) out[k * count + start + i] = values[k * n + i];
  }
  return out;
}

/**
 * log p(x_i|θ_k) [K×N] of a component for K parameter points: its flow's, or for an ensemble the log of its members'
 * mean density, log((1/M) Σ_m p_m), accumulated member by member as log(e^a + e^b) with the larger term factored
 * out, so that no density underflows and only two [K×N] arrays are held. The members share their features in one
 * order (checkEnsemble), so one event matrix serves them all.
 */
export async function componentLogDensities(members: readonly FlowModel[], columns: Record<string, ArrayLike<number>>, count: number, thetas: Float64Array): Promise<Float64Array> {
  const [first, ...rest] = members;
  const events = modelEvents(first, columns, count);
  const sum = await logDensities(first, events, count, thetas);
  for (const member of rest) {
    const log = await logDensities(member, events, count, thetas);
    for (let i = 0; i < sum.length; i++) {
      const larger = Math.max(sum[i], log[i]);
      if (larger !== -Infinity) sum[i] = larger + Math.log(Math.exp(sum[i] - larger) + Math.exp(log[i] - larger));
    }
  }
  const logM = Math.log(members.length);
  return logM === 0 ? sum : sum.map((v) => v - logM);
}

/**
 * max over 0 ≤ f ≤ 1 of g(f) = Σ_i w_i log(1 + f (r_i − 1)) with r_i = exp(logRatio_i): returns q = 2 g(f̂) and f̂.
 * g is concave (g″ = −Σ w (r−1)²/(1+f(r−1))² ≤ 0); Newton steps that leave the bracket fall back to bisection.
 */
export function profiledStrength(logRatio: Float64Array, offset: number, count: number, weights: Float64Array | null): { q: number; fraction: number } {
  const derivatives = (f: number): [number, number, number] => {
    let g = 0;
    let d1 = 0;
    let d2 = 0;
    for (let i = 0; i < count; i++) {
      const a = Math.exp(logRatio[offset + i]) - 1;
      const mix = 1 + f * a;
      const w = weights ? weights[i] : 1;
      g += w * Math.log(mix);
      d1 += (w * a) / mix;
      d2 -= (w * a * a) / (mix * mix);
    }
    return [g, d1, d2];
  };
  const [, slopeAtZero] = derivatives(0);
  if (!(slopeAtZero > 0)) return { q: 0, fraction: 0 };
  const [gAtOne, slopeAtOne] = derivatives(1);
  if (slopeAtOne >= 0) return { q: 2 * Math.max(0, gAtOne), fraction: 1 };
  let lo = 0;
  let hi = 1;
  let f = 0;
  let g = 0;
  for (let iteration = 0; iteration < 100; iteration++) {
    const [value, d1, d2] = derivatives(f);
    g = value;
    if (d1 > 0) lo = f;
    else hi = f;
    const newton = d2 < 0 ? f - d1 / d2 : NaN;
    const next = newton > lo && newton < hi ? newton : 0.5 * (lo + hi);
    if (Math.abs(next - f) <= 1e-12 * Math.max(f, 1e-6) || hi - lo < 1e-14) break;
    f = next;
  }
  return { q: 2 * Math.max(0, g), fraction: f };
}

/** Number of times q crosses `level` upwards along the scan (q_k < u ≤ q_{k+1}). */
export function upcrossings(q: readonly number[], level: number): number {
  let n = 0;
  for (let k = 0; k + 1 < q.length; k++) if (q[k] < level && q[k + 1] >= level) n++;
  return n;
}

/** Gross–Vitells estimate of P(max q > u) from the mean upcrossings of the reference level u₀. */
export function grossVitells(u: number, referenceLevel: number, meanUpcrossings: number): number {
  return Math.min(1, 0.5 * chi2OneDofSurvival(u) + meanUpcrossings * Math.exp(-(u - referenceLevel) / 2));
}

export interface ScanGrid {
  /** The signal parameter scanned and its values. */
  parameter: string;
  values: number[];
}

/** Evenly spaced scan points from lower to upper (both included). */
export function scanGrid(parameter: string, lower: number, upper: number, points: number): ScanGrid {
  if (!(Number.isFinite(lower) && Number.isFinite(upper) && lower < upper)) {
    throw new Error(`the look-elsewhere range of ${parameter} must have finite lower < upper, got [${lower}, ${upper}]`);
  }
  if (!(Number.isInteger(points) && points >= 2 && points <= 10_000)) {
    throw new Error(`the look-elsewhere scan needs an integer number of points in [2, 10000], got ${points}`);
  }
  return { parameter, values: Array.from({ length: points }, (_, k) => lower + ((upper - lower) * k) / (points - 1)) };
}

export interface ScanInputs {
  /** The signal component's flow (one member) or ensemble, the events by feature name, and the points [K×P]. */
  signal: { members: readonly FlowModel[]; columns: Record<string, ArrayLike<number>>; thetas: Float64Array };
  /** log p_b(x_i) of the background mixture at its background-only fit [N]. */
  logBackground: Float64Array;
  count: number;
  weights: Float64Array | null;
}

/** q(θ_k) at every scan point: one batched log-density call for the signal, then the profiled strength per point. */
export async function scanStatistic(inputs: ScanInputs): Promise<number[]> {
  const { count } = inputs;
  const logSignal = await componentLogDensities(inputs.signal.members, inputs.signal.columns, count, inputs.signal.thetas);
  const K = logSignal.length / count;
  const q: number[] = [];
  for (let k = 0; k < K; k++) {
    const offset = k * count;
    for (let i = 0; i < count; i++) logSignal[offset + i] -= inputs.logBackground[i];
    q.push(profiledStrength(logSignal, offset, count, inputs.weights).q);
  }
  return q;
}
