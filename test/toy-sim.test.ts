import test from 'ava';
import { Rng } from '../runtime/src/random.ts';
import { ksOneSample } from '../runtime/src/stats/ks.ts';
import {
  TOY_GAMMA_RANGE,
  TOY_LOG10_TAU_RANGE,
  TOY_M_POLE_RANGE,
  TOY_TRUTH,
  TOY_WINDOW,
  backgroundCdf,
  backgroundLogPdf,
  backgroundSample,
  pseudoData,
  signalCdf,
  signalLogPdf,
  signalSample,
  simulateBackgroundTraining,
  simulateSignalTraining,
} from '../trainer/src/data/toy.ts';

/** Composite Simpson rule with n (even) intervals. */
function simpson(f: (x: number) => number, a: number, b: number, n = 20_000): number {
  const h = (b - a) / n;
  let s = f(a) + f(b);
  for (let i = 1; i < n; i++) s += (i % 2 === 1 ? 4 : 2) * f(a + i * h);
  return (s * h) / 3;
}

const [LO, HI] = TOY_WINDOW;
const signalThetas: [number, number][] = [[91.2, 2.5], [60, 0.5], [120, 5], [75.3, 1.1], [150, 3]];
const taus = [1e-3, 0.01, 0.1, 1e-9];

test('constants are the paper’s', (t) => {
  t.deepEqual([...TOY_WINDOW], [40, 140]);
  t.deepEqual([...TOY_M_POLE_RANGE], [60, 120]);
  t.deepEqual([...TOY_GAMMA_RANGE], [0.5, 5]);
  t.deepEqual([...TOY_LOG10_TAU_RANGE], [-3, -1]);
  t.deepEqual({ ...TOY_TRUTH }, { mPole: 91.2, gamma: 2.5, tau: 0.01 });
});

test('signal pdf integrates to 1 over the window, its CDF is its integral, and Γ is the full width at half maximum', (t) => {
  for (const [m, g] of signalThetas) {
    const pdf = (x: number) => Math.exp(signalLogPdf(x, m, g));
    t.true(Math.abs(simpson(pdf, LO, HI) - 1) < 1e-7, `∫p for (${m}, ${g})`);
    for (const x of [45, 80, 91.2, 100.5, 139]) {
      t.true(Math.abs(signalCdf(x, m, g) - simpson(pdf, LO, x)) < 1e-7, `CDF(${x}) for (${m}, ${g})`);
    }
    t.is(signalLogPdf(LO - 1e-9, m, g), -Infinity);
    t.is(signalLogPdf(HI + 1, m, g), -Infinity);
    t.is(signalCdf(LO, m, g), 0);
    t.is(signalCdf(HI, m, g), 1);
  }
  // Half maximum at M_pole ± Γ/2.
  const peak = signalLogPdf(91.2, 91.2, 2.5);
  t.true(Math.abs(signalLogPdf(91.2 + 1.25, 91.2, 2.5) - (peak - Math.LN2)) < 1e-12);
  t.true(Math.abs(signalLogPdf(91.2 - 1.25, 91.2, 2.5) - (peak - Math.LN2)) < 1e-12);
});

test('background pdf integrates to 1, CDF is its integral, and small τ is numerically stable', (t) => {
  for (const tau of taus) {
    const pdf = (x: number) => Math.exp(backgroundLogPdf(x, tau));
    t.true(Math.abs(simpson(pdf, LO, HI, 2000) - 1) < 1e-9, `∫p for τ=${tau}`);
    for (const x of [41, 70, 120]) t.true(Math.abs(backgroundCdf(x, tau) - simpson(pdf, LO, x, 2000)) < 1e-9, `CDF(${x}) τ=${tau}`);
    // Slope: log p(x) − log p(y) = −τ (x − y).
    t.true(Math.abs(backgroundLogPdf(50, tau) - backgroundLogPdf(130, tau) - 80 * tau) < 1e-12);
  }
  // τ → 0: uniform on the window, to full precision (a naive (1 − e^{−100τ}) would lose digits).
  t.true(Math.abs(backgroundLogPdf(77, 1e-15) + Math.log(100)) < 1e-12);
  t.true(Math.abs(backgroundCdf(65, 1e-15) - 0.25) < 1e-12);
  const u = backgroundSample(new Rng(1), 1e-15, new Float64Array(5000));
  t.true(ksOneSample(u, (x) => (x - LO) / 100).pValue > 1e-3);
});

test('signal and background samples follow their CDFs (KS), and stay in the window, in float64 and float32', (t) => {
  const rng = new Rng(2);
  for (const [m, g] of signalThetas) {
    const x = signalSample(rng, m, g, new Float64Array(20_000));
    t.true(x.every((v) => v >= LO && v <= HI));
    t.true(ksOneSample(x, (v) => signalCdf(v, m, g)).pValue > 1e-3, `signal (${m}, ${g})`);
  }
  for (const tau of taus) {
    const x = backgroundSample(rng, tau, new Float64Array(20_000));
    t.true(x.every((v) => v >= LO && v <= HI));
    t.true(ksOneSample(x, (v) => backgroundCdf(v, tau)).pValue > 1e-3, `background τ=${tau}`);
  }
  const f32 = signalSample(rng, 91.2, 2.5, new Float32Array(20_000));
  t.true(ksOneSample(f32, (v) => signalCdf(v, 91.2, 2.5)).pValue > 1e-3);
});

test('signal training: θ uniform on its box, x drawn given θ; an excluded M_pole interval is really absent', (t) => {
  const rng = new Rng(3);
  const n = 40_000;
  const s = simulateSignalTraining(rng, n);
  t.is(s.x.length, n);
  t.true(ksOneSample(s.m_pole, (m) => Math.min(1, Math.max(0, (m - 60) / 60))).pValue > 1e-3);
  t.true(ksOneSample(s.gamma, (g) => Math.min(1, Math.max(0, (g - 0.5) / 4.5))).pValue > 1e-3);
  // Conditional check: the probability-integral transform u = F(x | θ) is uniform if each x follows p(x|θ).
  t.true(ksOneSample(Float64Array.from(s.x, (x, i) => signalCdf(x, s.m_pole[i], s.gamma[i])), (u) => u).pValue > 1e-3);

  const ex = simulateSignalTraining(rng, n, { excludeMPole: [85, 95] });
  t.false(ex.m_pole.some((m) => m >= 85 && m <= 95));
  // Uniform on [60, 85) ∪ (95, 120]: CDF with a flat step over the gap.
  const cdf = (m: number) => (m < 85 ? (m - 60) / 50 : m <= 95 ? 0.5 : 0.5 + (m - 95) / 50);
  t.true(ksOneSample(ex.m_pole, (m) => Math.min(1, Math.max(0, cdf(m)))).pValue > 1e-3);
  t.throws(() => simulateSignalTraining(rng, 10, { excludeMPole: [50, 70] }), { message: /\[50, 70\].*inside \[60, 120\]/ });
  t.throws(() => simulateSignalTraining(rng, 10, { excludeMPole: [95, 85] }), { message: /low < high/ });
  t.throws(() => simulateSignalTraining(rng, -1), { message: /got -1/ });
});

test('background training: τ is log-uniform over two full decades', (t) => {
  const rng = new Rng(4);
  const b = simulateBackgroundTraining(rng, 40_000);
  const logTau = Float64Array.from(b.tau, Math.log10);
  t.true(ksOneSample(logTau, (v) => Math.min(1, Math.max(0, (v + 3) / 2))).pValue > 1e-3);
  const min = Math.min(...b.tau);
  const max = Math.max(...b.tau);
  t.true(min >= 1e-3 && min < 1.002e-3, `min τ ${min}`);
  t.true(max <= 0.1 && max > 0.0998, `max τ ${max}`);
  // Half the events below the geometric middle 0.01, a quarter per half-decade.
  const below = (c: number) => b.tau.filter((v) => v < c).length / b.tau.length;
  t.true(Math.abs(below(0.01) - 0.5) < 0.01);
  t.true(Math.abs(below(10 ** -2.5) - 0.25) < 0.01);
  t.true(ksOneSample(Float64Array.from(b.x, (x, i) => backgroundCdf(x, b.tau[i])), (u) => u).pValue > 1e-3);
});

test('pseudo-data: the paper’s counts and truth, shuffled, each part following its own density', (t) => {
  const rng = new Rng(5);
  const d = pseudoData(rng);
  t.is(d.x.length, 101_000);
  t.is(d.isSignal.reduce((s, v) => s + v, 0), 1000);
  // Shuffled: the signal is spread over the whole table, not at the start.
  t.true(d.isSignal.subarray(0, 1000).reduce((s, v) => s + v, 0) < 50);
  const sig = d.x.filter((_, i) => d.isSignal[i] === 1);
  const bkg = d.x.filter((_, i) => d.isSignal[i] === 0);
  t.true(ksOneSample(sig, (v) => signalCdf(v, 91.2, 2.5)).pValue > 1e-3);
  t.true(ksOneSample(bkg, (v) => backgroundCdf(v, 0.01)).pValue > 1e-3);
  const custom = pseudoData(rng, { nSignal: 10, nBackground: 5, mPole: 70, gamma: 1, tau: 0.05 });
  t.is(custom.x.length, 15);
  t.throws(() => pseudoData(rng, { nSignal: 1.5 }), { message: /1\.5/ });
});

test('invalid θ is rejected with the value', (t) => {
  t.throws(() => signalLogPdf(90, 91, 0), { message: /Γ.*got 0/ });
  t.throws(() => signalCdf(90, Number.NaN, 1), { message: /M_pole.*NaN/ });
  t.throws(() => backgroundLogPdf(90, -0.01), { message: /τ.*-0\.01/ });
  t.throws(() => backgroundSample(new Rng(1), 0, new Float64Array(1)), { message: /τ.*got 0/ });
});
