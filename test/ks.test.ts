import test from 'ava';
import { Rng } from '../runtime/src/random.ts';
import { kolmogorovSurvival, ksOneSample, ksTwoSample } from '../runtime/src/stats/ks.ts';

// Oracle: brute-force ECDF difference at every sample point (ECDFs are right-continuous and only jump there).
function bruteTwoSample(a: number[], b: number[]): number {
  const ecdf = (s: number[], x: number): number => s.filter((v) => v <= x).length / s.length;
  return Math.max(...[...a, ...b].map((x) => Math.abs(ecdf(a, x) - ecdf(b, x))));
}
// Oracle: sup over the ECDF just at and just below each sample point.
function bruteOneSample(s: number[], cdf: (x: number) => number): number {
  const ecdf = (x: number): number => s.filter((v) => v <= x).length / s.length;
  const below = (x: number): number => s.filter((v) => v < x).length / s.length;
  return Math.max(...s.map((x) => Math.max(Math.abs(ecdf(x) - cdf(x)), Math.abs(below(x) - cdf(x)))));
}

test('two-sample statistic on hand-checkable cases, with ties', (t) => {
  t.is(ksTwoSample([1, 2, 3], [4, 5, 6]).statistic, 1);
  t.is(ksTwoSample([3, 1, 2], [1, 2, 3]).statistic, 0);
  t.is(ksTwoSample([3, 1, 2], [1, 2, 3]).pValue, 1);
  // Ties across samples: at 3 and 4 both ECDFs jump together; D = 0.5 (not 0.75, the value a naive merge
  // that steps through one sample first would report between the tied copies).
  t.is(ksTwoSample([1, 2, 3, 4], [3, 4, 5, 6]).statistic, 0.5);
  t.is(ksTwoSample([0, 0, 0, 1], [0, 1, 1, 1]).statistic, 0.5);
  t.is(ksTwoSample([5, 5, 5], [5]).statistic, 0);
  const rng = new Rng(1);
  for (let rep = 0; rep < 50; rep++) {
    // Small integer-valued samples: lots of ties, compared with the brute-force oracle.
    const a = Array.from({ length: 1 + rng.int(15) }, () => rng.int(6));
    const b = Array.from({ length: 1 + rng.int(15) }, () => rng.int(6));
    t.is(ksTwoSample(a, b).statistic, bruteTwoSample(a, b), `a=${a} b=${b}`);
  }
});

test('one-sample statistic on hand-checkable cases, with ties', (t) => {
  const uniformCdf = (x: number): number => Math.min(1, Math.max(0, x));
  t.is(ksOneSample([0.5], uniformCdf).statistic, 0.5);
  t.is(ksOneSample([0.5, 0.5], uniformCdf).statistic, 0.5);
  t.true(Math.abs(ksOneSample([0.1, 0.2, 0.9], uniformCdf).statistic - (2 / 3 - 0.2)) < 1e-15);
  const rng = new Rng(2);
  for (let rep = 0; rep < 50; rep++) {
    const s = Array.from({ length: 1 + rng.int(12) }, () => rng.int(5) / 4);
    t.true(Math.abs(ksOneSample(s, uniformCdf).statistic - bruteOneSample(s, uniformCdf)) < 1e-15, `s=${s}`);
  }
});

test('Kolmogorov survival function matches tabulated values', (t) => {
  // Classical critical values of √n·D (Smirnov 1948 tables): α = 0.10, 0.05, 0.01 at λ = 1.224, 1.358, 1.628;
  // K(1) = P(√n D ≤ 1) = 0.7300003 and K(0.5) = 0.0360547.
  t.true(Math.abs(kolmogorovSurvival(1.2238) - 0.1) < 2e-4);
  t.true(Math.abs(kolmogorovSurvival(1.3581) - 0.05) < 2e-4);
  t.true(Math.abs(kolmogorovSurvival(1.6276) - 0.01) < 2e-4);
  t.true(Math.abs(kolmogorovSurvival(1) - (1 - 0.7300003)) < 1e-6);
  t.true(Math.abs(kolmogorovSurvival(0.5) - (1 - 0.0360547)) < 1e-6);
  // The two series used on either side of λ = 1.18 agree there.
  t.true(Math.abs(kolmogorovSurvival(1.18 - 1e-12) - kolmogorovSurvival(1.18)) < 1e-10);
  t.is(kolmogorovSurvival(0), 1);
  t.true(kolmogorovSurvival(10) < 1e-80);
  t.throws(() => kolmogorovSurvival(-1), { message: /-1/ });
});

test('under the null hypothesis √nₑ·D follows Kolmogorov (mean √(π/2)·ln 2) and p-values are uniform', (t) => {
  const rng = new Rng(3);
  const reps = 400;
  let scaled = 0;
  let below05 = 0;
  const ps: number[] = [];
  for (let r = 0; r < reps; r++) {
    const a = Array.from({ length: 300 }, () => rng.normal());
    const b = Array.from({ length: 500 }, () => rng.normal());
    const res = ksTwoSample(a, b);
    scaled += res.statistic * Math.sqrt((300 * 500) / 800);
    if (res.pValue < 0.05) below05++;
    ps.push(res.pValue);
  }
  // Kolmogorov mean 0.8687, sd 0.2603; finite n biases √n·D slightly low (by ~0.6/√nₑ ≈ 0.04).
  t.true(Math.abs(scaled / reps - 0.8687 + 0.03) < 0.05, `mean √nₑ·D = ${scaled / reps}`);
  t.true(below05 >= 8 && below05 <= 35, `${below05}/400 below 0.05, expect 20 ± 4.4`);
  // p-values themselves are uniform on (0,1): one-sample KS of the p-values against U(0,1).
  t.true(ksOneSample(ps, (x) => x).pValue > 1e-3);
});

test('clear differences are detected; bad input is rejected', (t) => {
  const rng = new Rng(4);
  const a = Array.from({ length: 2000 }, () => rng.normal());
  const b = Array.from({ length: 2000 }, () => rng.normal() + 0.3);
  t.true(ksTwoSample(a, b).pValue < 1e-6);
  t.true(ksOneSample(a, (x) => 1 / (1 + Math.exp(-x * 1.7))).statistic < 0.05); // logistic ≈ Φ
  t.true(ksOneSample(b, (x) => 1 / (1 + Math.exp(-x * 1.7))).pValue < 1e-6);
  t.throws(() => ksTwoSample([], [1]), { message: /first sample is empty/ });
  t.throws(() => ksTwoSample([1, Number.NaN], [1]), { message: /NaN at index 1/ });
  t.throws(() => ksOneSample([0.5], () => 2), { message: /returned 2/ });
});
