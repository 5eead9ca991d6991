// The bump hunt (trainer/src/anomaly/bump-hunt.ts) against analytic results: on Asimov data the fit recovers the
// injected yield, its q0 is at most the known-background Asimov value 2 Σ[(s+b) ln(1 + s/b) − s] (Cowan et
// al. 2011, eq. 97; profiling the background can only lower it) and equals the Wald value ŝ²/σ_s², σ_s² from the
// inverse Fisher information of the dijet function in its own parameters (independent of the fit's basis); on
// Poisson toys the median Z equals the Asimov Z, and without signal Z > 1 as often as the ½χ²₀ + ½χ²₁ law of q0
// says (15.9 %).
import test from 'ava';
import { Rng, cholesky, choleskyInverse, median } from '@flowscan/runtime';
import { type BumpHuntOptions, DijetBumpModel, bumpHunt, fitBump, histogram, significanceAfterCuts, thresholdForEfficiency } from '../trainer/src/anomaly/bump-hunt.ts';

const OPTIONS: BumpHuntOptions = { range: [2600, 5000], bins: 48, sqrtS: 13000, signal: { mass: 3500, sigma: 150 }, backgroundParameters: 4 };
const WIDTH = (OPTIONS.range[1] - OPTIONS.range[0]) / OPTIONS.bins;

/** x = m/√s at the bin centres. */
const X = Array.from({ length: OPTIONS.bins }, (_, i) => (OPTIONS.range[0] + (i + 0.5) * WIDTH) / OPTIONS.sqrtS);

/** Expected background per bin: `total` events of the simulator's dijet law (1 − x)^6 x^−3 at the bin centres. */
function expectedBackground(total: number): Float64Array {
  const shape = Float64Array.from(X, (x) => (1 - x) ** 6 * x ** -3);
  const sum = shape.reduce((a, v) => a + v, 0);
  return shape.map((v) => (total * v) / sum);
}

const SIGNAL_SHAPE = new DijetBumpModel(OPTIONS, new Float64Array(OPTIONS.bins).fill(1)).signalShape;

/** Known-background Asimov q0 (Cowan et al. 2011, eq. 97, summed over bins). */
const knownBackgroundQ0 = (b: Float64Array, s: number): number => 2 * b.reduce((a, bi, i) => a + (bi + s * SIGNAL_SHAPE[i]) * Math.log1p((s * SIGNAL_SHAPE[i]) / bi) - s * SIGNAL_SHAPE[i], 0);

function poisson(rng: Rng, mean: number): number {
  // Normal approximation above 200 (skewness below 0.07), Knuth's product method below.
  if (mean > 200) return Math.max(0, Math.round(mean + Math.sqrt(mean) * rng.normal()));
  const limit = Math.exp(-mean);
  let k = 0;
  let p = rng.uniform();
  while (p > limit) {
    k++;
    p *= rng.uniform();
  }
  return k;
}

/**
 * Wald's q0 = s²/σ_s² on Asimov data ν = b + s g: σ_s² the (s, s) element of the inverse Fisher information
 * I_jk = Σ_i ∂_j ν_i ∂_k ν_i / ν_i over (ln N, p1, p2[, p3], s) of b ∝ N (1 − x)^p1 x^−(p2 + p3 ln x).
 */
function waldQ0(b: Float64Array, s: number, P: 3 | 4): number {
  const derivatives = X.map((x, i) => [b[i], b[i] * Math.log(1 - x), -b[i] * Math.log(x), -b[i] * Math.log(x) ** 2].slice(0, P).concat(SIGNAL_SHAPE[i]));
  const n = P + 1;
  const fisher = new Float64Array(n * n);
  derivatives.forEach((d, i) => {
    const nu = b[i] + s * SIGNAL_SHAPE[i];
    for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) fisher[j * n + k] += (d[j] * d[k]) / nu;
  });
  return (s * s) / choleskyInverse(cholesky(fisher, n)!, n)[n * n - 1];
}

for (const P of [3, 4] as const) {
  test(`Asimov data, ${P} background parameters: the injected yield, q0 below the known-background value and equal to Wald's`, async (t) => {
    const b = expectedBackground(20_000);
    const s = 250;
    const result = await fitBump(b.map((bi, i) => bi + s * SIGNAL_SHAPE[i]), { ...OPTIONS, backgroundParameters: P });
    const known = knownBackgroundQ0(b, s);
    const wald = waldQ0(b, s, P);
    t.true(result.converged);
    t.true(Math.abs(result.signalYield - s) < 1e-3 * s, `fitted yield ${result.signalYield}, injected ${s}`);
    t.true(result.significance.q0 <= known * (1 + 1e-6), `q0 ${result.significance.q0} above the known-background value ${known}`);
    // Wald's formula is exact to O(s/√b); measured 0.3 % at s = 100, 0.8 % here, 1.8 % at s = 600.
    t.true(Math.abs(result.significance.q0 / wald - 1) < 0.02, `q0 ${result.significance.q0}, Wald ${wald}`);
    // Background-only Asimov data: no signal is fitted and Z = 0.
    const none = await fitBump(b, { ...OPTIONS, backgroundParameters: P });
    t.true(none.signalYield < 1e-3 && none.significance.z < 1e-3, `yield ${none.signalYield}, Z ${none.significance.z}`);
  });
}

test('Poisson toys: the median Z is the Asimov Z, and without signal P(Z > 1) is 15.9 %', async (t) => {
  const rng = new Rng(41);
  const b = expectedBackground(20_000);
  const s = 250;
  const asimovZ = (await fitBump(b.map((bi, i) => bi + s * SIGNAL_SHAPE[i]), OPTIONS)).significance.z;
  const toys = 120;
  const withSignal: number[] = [];
  let aboveOne = 0;
  for (let toy = 0; toy < toys; toy++) {
    withSignal.push((await fitBump(b.map((bi, i) => poisson(rng, bi + s * SIGNAL_SHAPE[i])), OPTIONS)).significance.z);
    if ((await fitBump(b.map((bi) => poisson(rng, bi)), OPTIONS)).significance.z > 1) aboveOne++;
  }
  // The median of Z has a spread of ≈ 1.25/√toys ≈ 0.11 (unit-width Z); 0.35 is three of those.
  t.true(Math.abs(median(withSignal) - asimovZ) < 0.35, `median Z ${median(withSignal).toFixed(3)}, Asimov ${asimovZ.toFixed(3)}`);
  // Binomial(120, 0.159): mean 19, standard deviation 4; 4σ either side.
  t.true(aboveOne >= 3 && aboveOne <= 35, `${aboveOne} of ${toys} background-only toys have Z > 1`);
});

test('bumpHunt bins the events it is given; thresholds and bad inputs', async (t) => {
  const events = Float64Array.from([2550, 2600, 2649.9, 2650, 4999, 5000]);
  t.deepEqual(Array.from(histogram(events, OPTIONS.range, OPTIONS.bins).subarray(0, 2)), [2, 1]);
  t.is(histogram(events, OPTIONS.range, OPTIONS.bins)[47], 1);
  const b = expectedBackground(5000).map(Math.round);
  const fromEvents: number[] = [];
  b.forEach((n, i) => fromEvents.push(...Array.from({ length: n }, () => OPTIONS.range[0] + (i + 0.5) * WIDTH)));
  t.is((await bumpHunt(fromEvents, OPTIONS)).nllBackground, (await fitBump(b, OPTIONS)).nllBackground);
  t.is(thresholdForEfficiency([5, 1, 4, 2, 3], 0.4), 4);
  t.is(thresholdForEfficiency([5, 1, 4, 2, 3], 1), 1);
  t.throws(() => thresholdForEfficiency([1], 0), { message: /efficiency must be in \(0, 1\], got 0/ });
  await t.throwsAsync(fitBump(b, { ...OPTIONS, range: [2600, 14000] }), { message: /below √s = 13000/ });
  await t.throwsAsync(fitBump(b, { ...OPTIONS, signal: { mass: 6000, sigma: 100 } }), { message: /signal mass 6000 lies outside/ });
  await t.throwsAsync(fitBump(b, { ...OPTIONS, backgroundParameters: 5 as 4 }), { message: /3 or 4 parameters, got 5/ });
  await t.throwsAsync(fitBump(b.subarray(1), OPTIONS), { message: /47 bin counts for 48 bins/ });
  await t.throwsAsync(fitBump(new Float64Array(48).fill(0).fill(3, 0, 4), OPTIONS), { message: /at least 6 bins/ });
});

test('cuts on a score: a background score flat in m_jj keeps the fit unbiased and Z follows the Asimov value of the kept counts', async (t) => {
  // Events at the bin centres: expected background (rounded) with scores spread evenly over [0, 1) in every bin,
  // and signal events with score 2, which every cut keeps.
  const b = expectedBackground(200_000).map(Math.round);
  const g = SIGNAL_SHAPE.map((v) => Math.round(300 * v));
  const mjj: number[] = [];
  const score: number[] = [];
  const label: number[] = [];
  b.forEach((n, i) => {
    for (let k = 0; k < n; k++) mjj.push(OPTIONS.range[0] + (i + 0.5) * WIDTH), score.push((k + 0.5) / n), label.push(0);
    for (let k = 0; k < g[i]; k++) mjj.push(OPTIONS.range[0] + (i + 0.5) * WIDTH), score.push(2), label.push(1);
  });
  const rows = await significanceAfterCuts({ mjj: Float64Array.from(mjj), score: Float64Array.from(score), label: Uint8Array.from(label) }, [3300, 3700], [0.1, 0.02], OPTIONS);
  t.deepEqual(rows.map((r) => r.efficiency), [1, 0.1, 0.02]);
  const signal = g.reduce((a, v) => a + v, 0);
  const background = b.reduce((a, v) => a + v, 0);
  for (const row of rows) {
    t.is(row.signalEvents, signal);
    // The kept background fraction, the same in every bin; the Asimov counts it leaves.
    const kept = (row.events - signal) / background;
    const asimov = await fitBump(b.map((bi, i) => kept * bi + g[i]), OPTIONS);
    t.true(Math.abs(row.result.significance.z / asimov.significance.z - 1) < 0.03, `kept ${kept}: Z ${row.result.significance.z}, Asimov ${asimov.significance.z}`);
    t.true(row.backgroundOnlyZ !== null && row.backgroundOnlyZ < 0.3, `a flat cut faked Z = ${row.backgroundOnlyZ}`);
    t.is(row.improvement, row.result.significance.z / rows[0].result.significance.z);
  }
  // Keeping ≈ 10 % and 2 % of the signal region raises Z by about √10 and √50 while s ≪ b.
  t.log(rows.map((r) => `${r.efficiency}: Z ${r.result.significance.z.toFixed(2)}, background only ${r.backgroundOnlyZ?.toFixed(2)}`).join('; '));
  t.true((rows[1].improvement ?? 0) > 2.5 && (rows[2].improvement ?? 0) > 5, rows.map((r) => r.improvement?.toFixed(2)).join(', '));
  await t.throwsAsync(significanceAfterCuts({ mjj: new Float64Array(3), score: new Float64Array(2), label: new Uint8Array(3) }, [3300, 3700], [0.1], OPTIONS), { message: /3 m_jj values, 2 scores and 3 labels/ });
});
