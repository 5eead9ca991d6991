// Receiver operating characteristic of a score that should be high for signal (class 1) and low for background
// (class 0): the ROC curve, its area with an uncertainty, and the significance improvement characteristic.
//
// An event passes a threshold t when its score is ≥ t. Scores may tie and events may carry weights (class
// balance, generator weights): efficiencies are weighted fractions, and the area counts a tied signal–background
// pair as one half, so it equals the weighted Mann–Whitney statistic P(s > b) + ½ P(s = b) exactly.
// Browser-safe: no Node imports.

export interface RocPoint {
  /** Events with score ≥ threshold pass; the first point has threshold +∞ (nothing passes). */
  threshold: number;
  /** Weighted fraction of signal events that pass (true-positive rate). */
  signalEfficiency: number;
  /** Weighted fraction of background events that pass (false-positive rate). */
  backgroundEfficiency: number;
  /** Background events that pass, unweighted: how well the background efficiency is known. */
  backgroundCount: number;
}

export interface ScoredSample {
  scores: ArrayLike<number>;
  /** Per-event weights (default 1); must be finite and ≥ 0 with a positive sum. */
  weights?: ArrayLike<number>;
}

export interface Auc {
  auc: number;
  /**
   * Standard error of the area: DeLong, DeLong & Clarke-Pearson (Biometrics 44 (1988) 837) through the
   * placement values of each event, with weights entering the area's influence function (unit weights: their
   * formula exactly).
   */
  standardError: number;
}

/** A sample's scores and weights, checked: every message names the sample and the bad value. */
function checked(sample: ScoredSample, what: string): { scores: ArrayLike<number>; weights: Float64Array } {
  const n = sample.scores.length;
  if (n === 0) throw new Error(`${what}: no events; the ROC needs at least one signal and one background event`);
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(sample.scores[i])) throw new Error(`${what}: score ${i + 1} is NaN; scores must be numbers (±Infinity is allowed)`);
  }
  const weights = new Float64Array(n).fill(1);
  if (sample.weights) {
    if (sample.weights.length !== n) throw new Error(`${what}: ${sample.weights.length} weights for ${n} scores; expected one weight per event`);
    let total = 0;
    for (let i = 0; i < n; i++) {
      const w = sample.weights[i];
      if (!(Number.isFinite(w) && w >= 0)) throw new Error(`${what}: weight ${i + 1} is ${w}; weights must be finite and ≥ 0`);
      weights[i] = w;
      total += w;
    }
    if (!(total > 0)) throw new Error(`${what}: the weights sum to 0; at least one event needs a positive weight`);
  }
  return { scores: sample.scores, weights };
}

/** Event indices sorted by score, descending. */
function descendingOrder(scores: ArrayLike<number>): Uint32Array {
  return new Uint32Array(scores.length).map((_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
}

/**
 * The ROC curve: one point per distinct score (the threshold), from (0, 0) at +∞ to (1, 1) at the lowest score.
 * Between two points the curve is a straight segment (tied events pass together).
 */
export function rocCurve(signal: ScoredSample, background: ScoredSample): RocPoint[] {
  const s = checked(signal, 'signal');
  const b = checked(background, 'background');
  const signalTotal = s.weights.reduce((a, w) => a + w, 0);
  const backgroundTotal = b.weights.reduce((a, w) => a + w, 0);
  const sOrder = descendingOrder(s.scores);
  const bOrder = descendingOrder(b.scores);
  const points: RocPoint[] = [{ threshold: Infinity, signalEfficiency: 0, backgroundEfficiency: 0, backgroundCount: 0 }];
  let si = 0;
  let bi = 0;
  let signalPassing = 0;
  let backgroundPassing = 0;
  while (si < sOrder.length || bi < bOrder.length) {
    const next = Math.max(si < sOrder.length ? s.scores[sOrder[si]] : -Infinity, bi < bOrder.length ? b.scores[bOrder[bi]] : -Infinity);
    while (si < sOrder.length && s.scores[sOrder[si]] === next) signalPassing += s.weights[sOrder[si++]];
    while (bi < bOrder.length && b.scores[bOrder[bi]] === next) backgroundPassing += b.weights[bOrder[bi++]];
    points.push({ threshold: next, signalEfficiency: signalPassing / signalTotal, backgroundEfficiency: backgroundPassing / backgroundTotal, backgroundCount: bi });
  }
  return points;
}

/** Area under a ROC curve (trapezoids: a tied signal–background pair counts one half). */
export function areaUnderCurve(points: readonly RocPoint[]): number {
  let area = 0;
  for (let k = 1; k < points.length; k++) {
    const p = points[k - 1];
    const q = points[k];
    area += 0.5 * (q.backgroundEfficiency - p.backgroundEfficiency) * (q.signalEfficiency + p.signalEfficiency);
  }
  return area;
}

/**
 * For each score in `of`, the weighted fraction of `against` below it plus half the fraction equal to it: the
 * placement values of DeLong et al. (their V10 for signal events against background, 1 − V01 the other way).
 */
function placements(of: ArrayLike<number>, against: { scores: ArrayLike<number>; weights: Float64Array }): Float64Array {
  const order = descendingOrder(against.scores).reverse();
  const sorted = Float64Array.from(order, (i) => against.scores[i]);
  const cumulative = new Float64Array(order.length + 1);
  order.forEach((i, k) => (cumulative[k + 1] = cumulative[k] + against.weights[i]));
  const total = cumulative[order.length];
  // First index in `sorted` whose value is ≥ v (strict: > v).
  const bound = (v: number, strict: boolean): number => {
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sorted[mid] < v || (strict && sorted[mid] === v)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  return Float64Array.from({ length: of.length }, (_, i) => {
    const below = bound(of[i], false);
    const upTo = bound(of[i], true);
    return (cumulative[below] + 0.5 * (cumulative[upTo] - cumulative[below])) / total;
  });
}

/**
 * The area's variance from one sample's placement values v_i (weights u_i): Σ u_i² (v_i − A)² / (Σu)², the
 * influence function of the weighted Mann–Whitney statistic, times n_eff/(n_eff − 1) with Kish's effective size
 * n_eff = (Σu)²/Σu² (unit weights: the sample variance of the v_i over n, DeLong's S10/m).
 */
function placementVariance(values: Float64Array, weights: Float64Array, area: number): number {
  let sum = 0;
  let sumSquares = 0;
  let spread = 0;
  values.forEach((v, i) => {
    sum += weights[i];
    sumSquares += weights[i] * weights[i];
    spread += weights[i] * weights[i] * (v - area) ** 2;
  });
  const effective = (sum * sum) / sumSquares;
  return effective > 1 ? ((spread / (sum * sum)) * effective) / (effective - 1) : Infinity;
}

/** The area under the ROC curve, P(s > b) + ½ P(s = b) over weighted signal–background pairs, with DeLong's error. */
export function aucWithError(signal: ScoredSample, background: ScoredSample): Auc {
  const s = checked(signal, 'signal');
  const b = checked(background, 'background');
  const signalPlacements = placements(s.scores, b);
  let area = 0;
  let signalTotal = 0;
  signalPlacements.forEach((v, i) => {
    area += s.weights[i] * v;
    signalTotal += s.weights[i];
  });
  area /= signalTotal;
  // Background placements: the weighted fraction of signal above each background event (ties: one half).
  const backgroundPlacements = placements(b.scores, s).map((v) => 1 - v);
  const variance = placementVariance(signalPlacements, s.weights, area) + placementVariance(backgroundPlacements, b.weights, area);
  return { auc: area, standardError: Math.sqrt(variance) };
}

export interface Sic {
  /** Significance improvement ε_S/√ε_B at the best threshold. */
  sic: number;
  threshold: number;
  signalEfficiency: number;
  backgroundEfficiency: number;
  backgroundCount: number;
}

/**
 * The significance improvement characteristic ε_S/√ε_B along the ROC curve (the factor by which a cut raises
 * S/√B), at the points where at least `minBackgroundCount` background events pass: below that the background
 * efficiency, and with it the SIC, is mostly noise (25 events: a 20 % Poisson error on ε_B).
 */
export function sicCurve(points: readonly RocPoint[], minBackgroundCount: number): Sic[] {
  if (!(Number.isInteger(minBackgroundCount) && minBackgroundCount >= 1)) {
    throw new Error(`the minimum background count must be an integer ≥ 1, got ${minBackgroundCount}`);
  }
  return points
    .filter((p) => p.backgroundCount >= minBackgroundCount && p.backgroundEfficiency > 0)
    .map((p) => ({ ...p, sic: p.signalEfficiency / Math.sqrt(p.backgroundEfficiency) }));
}

/** The largest SIC where at least `minBackgroundCount` background events pass; null when no threshold leaves that many. */
export function maxSic(points: readonly RocPoint[], minBackgroundCount: number): Sic | null {
  return sicCurve(points, minBackgroundCount).reduce<Sic | null>((best, p) => (best === null || p.sic > best.sic ? p : best), null);
}
