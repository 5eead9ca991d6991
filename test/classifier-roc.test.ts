// ROC, AUC and SIC (runtime/src/stats/roc.ts) against brute-force counts over every threshold and every
// signal–background pair, with ties and weights; DeLong's error against the formula written out pair by pair and
// against the spread of the AUC over many replicas.
import test from 'ava';
import { Rng, aucWithError, areaUnderCurve, maxSic, rocCurve, sicCurve } from '@flowscan/runtime';

/** Scores rounded to one decimal (many ties), and weights in [0, 2). */
function sample(rng: Rng, n: number, shift: number, weighted: boolean): { scores: Float64Array; weights?: Float64Array } {
  const scores = Float64Array.from({ length: n }, () => Math.round(10 * (rng.normal() + shift)) / 10);
  return weighted ? { scores, weights: Float64Array.from({ length: n }, () => 2 * rng.uniform()) } : { scores };
}

const weightOf = (s: { weights?: Float64Array }, i: number): number => s.weights?.[i] ?? 1;
const total = (s: { scores: Float64Array; weights?: Float64Array }): number => s.scores.reduce((a, _, i) => a + weightOf(s, i), 0);

/** Weighted fraction of a sample with score ≥ t. */
function passing(s: { scores: Float64Array; weights?: Float64Array }, t: number): number {
  return s.scores.reduce((a, v, i) => a + (v >= t ? weightOf(s, i) : 0), 0) / total(s);
}

/** P(s > b) + ½ P(s = b) over weighted pairs. */
function pairArea(s: { scores: Float64Array; weights?: Float64Array }, b: { scores: Float64Array; weights?: Float64Array }): number {
  let area = 0;
  s.scores.forEach((si, i) => b.scores.forEach((bj, j) => (area += weightOf(s, i) * weightOf(b, j) * (si > bj ? 1 : si === bj ? 0.5 : 0))));
  return area / (total(s) * total(b));
}

for (const weighted of [false, true]) {
  test(`ROC points and AUC equal brute-force counts (${weighted ? 'weighted' : 'unweighted'}, tied scores)`, (t) => {
    const rng = new Rng(weighted ? 2 : 1);
    const signal = sample(rng, 90, 0.8, weighted);
    const background = sample(rng, 130, 0, weighted);
    const points = rocCurve(signal, background);
    const thresholds = [...new Set([...signal.scores, ...background.scores])].sort((a, b) => b - a);
    t.deepEqual(points.map((p) => p.threshold + 0), [Infinity, ...thresholds.map((v) => v + 0)]); // + 0: −0 and 0 are one threshold
    for (const p of points) {
      t.true(Math.abs(p.signalEfficiency - passing(signal, p.threshold)) < 1e-12);
      t.true(Math.abs(p.backgroundEfficiency - passing(background, p.threshold)) < 1e-12);
      t.is(p.backgroundCount, background.scores.filter((v) => v >= p.threshold).length);
    }
    const brute = pairArea(signal, background);
    t.true(Math.abs(areaUnderCurve(points) - brute) < 1e-12);
    t.true(Math.abs(aucWithError(signal, background).auc - brute) < 1e-12);
  });
}

test('DeLong: the standard error equals the pairwise formula and the spread of the AUC over replicas', (t) => {
  const rng = new Rng(5);
  const s = sample(rng, 40, 1, false);
  const b = sample(rng, 55, 0, false);
  // DeLong et al. (1988): V10_i = mean_j ψ(s_i, b_j), V01_j = mean_i ψ(s_i, b_j), var = S10/m + S01/n.
  const psi = (x: number, y: number): number => (x > y ? 1 : x === y ? 0.5 : 0);
  const v10 = Array.from(s.scores, (x) => b.scores.reduce((a, y) => a + psi(x, y), 0) / b.scores.length);
  const v01 = Array.from(b.scores, (y) => s.scores.reduce((a, x) => a + psi(x, y), 0) / s.scores.length);
  const area = v10.reduce((a, v) => a + v, 0) / v10.length;
  const sampleVariance = (v: number[]): number => v.reduce((a, x) => a + (x - area) ** 2, 0) / (v.length - 1);
  const expected = Math.sqrt(sampleVariance(v10) / v10.length + sampleVariance(v01) / v01.length);
  t.true(Math.abs(aucWithError(s, b).standardError - expected) < 1e-12);

  // Weighted events: the spread over replicas with random weights.
  const replicas = Array.from({ length: 400 }, () => aucWithError(sample(rng, 60, 1, true), sample(rng, 80, 0, true)));
  const mean = replicas.reduce((a, r) => a + r.auc, 0) / replicas.length;
  const spread = Math.sqrt(replicas.reduce((a, r) => a + (r.auc - mean) ** 2, 0) / (replicas.length - 1));
  const predicted = replicas.reduce((a, r) => a + r.standardError, 0) / replicas.length;
  t.log(`AUC spread over replicas ${spread.toFixed(4)}, mean DeLong error ${predicted.toFixed(4)}`);
  // 400 replicas know the spread to ±3.5 %.
  t.true(Math.abs(predicted / spread - 1) < 0.12);
});

test('SIC: ε_S/√ε_B at thresholds with enough background, the maximum by brute force', (t) => {
  const rng = new Rng(9);
  const signal = sample(rng, 300, 1.5, false);
  const background = sample(rng, 2000, 0, false);
  const points = rocCurve(signal, background);
  const minimum = 25;
  const curve = sicCurve(points, minimum);
  t.true(curve.every((p) => p.backgroundCount >= minimum));
  t.is(curve.length, points.filter((p) => p.backgroundCount >= minimum).length);
  let best = 0;
  for (const threshold of new Set(background.scores)) {
    const count = background.scores.filter((v) => v >= threshold).length;
    if (count >= minimum) best = Math.max(best, passing(signal, threshold) / Math.sqrt(passing(background, threshold)));
  }
  const found = maxSic(points, minimum);
  t.true(found !== null && Math.abs(found.sic - best) < 1e-12);
  t.is(maxSic(points, 2001), null);
  t.throws(() => sicCurve(points, 0), { message: /minimum background count must be an integer ≥ 1, got 0/ });
});

test('ROC inputs: empty samples, NaN scores and bad weights are refused by name', (t) => {
  const ok = { scores: [1, 2] };
  t.throws(() => rocCurve({ scores: [] }, ok), { message: /signal: no events/ });
  t.throws(() => aucWithError(ok, { scores: [0, NaN] }), { message: /background: score 2 is NaN/ });
  t.throws(() => rocCurve({ scores: [1], weights: [-1] }, ok), { message: /signal: weight 1 is -1/ });
  t.throws(() => rocCurve(ok, { scores: [1, 2], weights: [1] }), { message: /background: 1 weights for 2 scores/ });
  t.throws(() => rocCurve(ok, { scores: [1], weights: [0] }), { message: /weights sum to 0/ });
});
