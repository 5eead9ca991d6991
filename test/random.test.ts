import test from 'ava';
import { Rng } from '../runtime/src/random.ts';
import { ksOneSample } from '../runtime/src/stats/ks.ts';

// Independent oracles: closed-form CDFs (erf by Abramowitz & Stegun 7.1.26, |error| < 1.5e-7, far below the
// KS resolution ~1/√n of these tests) and Simpson quadrature of densities.
function erf(x: number): number {
  const s = Math.sign(x);
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-a * a);
  return s * y;
}
const normalCdf = (x: number): number => 0.5 * (1 + erf(x / Math.SQRT2));
const cauchyCdf = (x: number): number => 0.5 + Math.atan(x) / Math.PI;
/** Student-t ν = 5 CDF, closed form for odd ν: θ = atan(t/√5), F = ½ + (θ + sinθ cosθ (1 + ⅔ cos²θ))/π. */
function studentT5Cdf(t: number): number {
  const th = Math.atan(t / Math.sqrt(5));
  const c = Math.cos(th);
  return 0.5 + (th + Math.sin(th) * c * (1 + (2 / 3) * c * c)) / Math.PI;
}
const studentT5Pdf = (t: number): number => (8 / (3 * Math.PI * Math.sqrt(5))) * (1 + (t * t) / 5) ** -3;
function simpson(f: (x: number) => number, a: number, b: number, n = 2000): number {
  const h = (b - a) / n;
  let s = f(a) + f(b);
  for (let i = 1; i < n; i++) s += (i % 2 === 1 ? 4 : 2) * f(a + i * h);
  return (s * h) / 3;
}
/** Erlang (integer shape k) CDF 1 − e^{−x} Σ_{j<k} x^j/j!. */
function erlangCdf(k: number, x: number): number {
  let term = 1;
  let sum = 0;
  for (let j = 0; j < k; j++) {
    sum += term;
    term *= x / (j + 1);
  }
  return 1 - Math.exp(-x) * sum;
}

function draw(n: number, f: () => number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = f();
  return out;
}
function moments(x: ArrayLike<number>): { mean: number; variance: number } {
  let mean = 0;
  for (let i = 0; i < x.length; i++) mean += x[i];
  mean /= x.length;
  let v = 0;
  for (let i = 0; i < x.length; i++) v += (x[i] - mean) ** 2;
  return { mean, variance: v / (x.length - 1) };
}
/** Mean and variance agree with theory within 5 standard errors (variance s.e. from the 4th moment). */
function checkMoments(t: { true: (c: boolean, m?: string) => void }, x: Float64Array, mean: number, variance: number, kurtosisExcess: number, label: string): void {
  const m = moments(x);
  const n = x.length;
  const seMean = Math.sqrt(variance / n);
  const seVar = variance * Math.sqrt((2 + kurtosisExcess) / n);
  t.true(Math.abs(m.mean - mean) < 5 * seMean, `${label}: mean ${m.mean} vs ${mean} (±${seMean})`);
  t.true(Math.abs(m.variance - variance) < 5 * seVar, `${label}: variance ${m.variance} vs ${variance} (±${seVar})`);
}

const N = 40_000;

test('same seed gives the same sequence, different seeds and forks differ', (t) => {
  const a = new Rng(12345);
  const b = new Rng(12345);
  const c = new Rng(12346);
  const sa = draw(1000, () => a.uniform());
  const sb = draw(1000, () => b.uniform());
  const sc = draw(1000, () => c.uniform());
  t.deepEqual(sa, sb);
  t.true(sa.some((v, i) => v !== sc[i]));
  // Seeds that differ only above bit 32 or in sign are different streams too.
  const big = [0, 2 ** 32, -1, 2 ** 52 + 1, -(2 ** 40)].map((s) => new Rng(s).nextUint32());
  t.is(new Set(big).size, big.length);
  // A fork depends on (seed, stream) only, not on what the parent drew.
  const p1 = new Rng(7);
  const p2 = new Rng(7);
  draw(17, () => p2.normal());
  t.deepEqual(draw(100, () => p1.fork(3).uniform()), draw(100, () => p2.fork(3).uniform()));
  const r3 = new Rng(7).fork(3);
  const r4 = new Rng(7).fork(4);
  const rp = new Rng(7);
  const x3 = draw(N, () => r3.uniform() - 0.5);
  const x4 = draw(N, () => r4.uniform() - 0.5);
  const xp = draw(N, () => rp.uniform() - 0.5);
  // Streams are uncorrelated: sample correlation within 5/√n of zero.
  const corr = (u: Float64Array, v: Float64Array): number => {
    let s = 0;
    for (let i = 0; i < u.length; i++) s += u[i] * v[i];
    return s / u.length / (1 / 12);
  };
  t.true(Math.abs(corr(x3, x4)) < 5 / Math.sqrt(N));
  t.true(Math.abs(corr(x3, xp)) < 5 / Math.sqrt(N));
  t.notDeepEqual(draw(10, () => new Rng(7).fork(3).fork(1).uniform()), draw(10, () => new Rng(7).fork(3).uniform()));
});

test('the core is xoshiro128**: reference outputs from the state (1, 2, 3, 4)', (t) => {
  // Known answers of the reference C implementation (Blackman & Vigna) started from s = {1, 2, 3, 4}; they follow
  // by hand from result = rotl(s1·5, 7)·9 and the state update (e.g. the first is rotl(10, 7)·9 = 11520).
  const rng = new Rng(0);
  (rng as unknown as { state: Int32Array }).state.set([1, 2, 3, 4]);
  t.deepEqual([rng.nextUint32(), rng.nextUint32(), rng.nextUint32()], [11520, 0, 5927040]);
});

test('bad seeds, streams and parameters are rejected with the value', (t) => {
  t.throws(() => new Rng(1.5), { message: /seed.*1\.5/ });
  t.throws(() => new Rng(Number.NaN), { message: /seed/ });
  t.throws(() => new Rng(2 ** 60), { message: /seed/ });
  t.throws(() => new Rng(1).fork(-1), { message: /stream.*-1/ });
  t.throws(() => new Rng(1).gamma(0), { message: /shape.*0/ });
  t.throws(() => new Rng(1).studentT(-2), { message: /-2/ });
  t.throws(() => new Rng(1).int(0), { message: /got 0/ });
  t.throws(() => new Rng(1).int(2 ** 32 + 1), { message: /2\^32/ });
});

test('uniform lies strictly inside (0, 1), even at the extreme raw outputs, and is uniform', (t) => {
  const lowest = new Rng(1);
  lowest.nextUint32 = () => 0;
  const highest = new Rng(1);
  highest.nextUint32 = () => 0xffffffff;
  t.is(lowest.uniform(), 2 ** -53);
  t.is(highest.uniform(), 1 - 2 ** -53);
  t.true(highest.uniform() < 1);
  const rng = new Rng(2);
  const u = draw(N, () => rng.uniform());
  t.true(ksOneSample(u, (x) => x).pValue > 1e-3);
  checkMoments(t, u, 0.5, 1 / 12, -1.2, 'uniform');
});

test('normal: moments and KS against Φ; fillNormal fills float32 and float64', (t) => {
  const rng = new Rng(3);
  const x = draw(N, () => rng.normal());
  checkMoments(t, x, 0, 1, 0, 'normal');
  t.true(ksOneSample(x, normalCdf).pValue > 1e-3);
  const f32 = new Float32Array(N);
  rng.fillNormal(f32);
  t.true(ksOneSample(f32, normalCdf).pValue > 1e-3);
  const f64 = new Float64Array(10);
  new Rng(9).fillNormal(f64);
  const again = new Rng(9);
  t.deepEqual(f64, draw(10, () => again.normal()));
});

test('gamma (Marsaglia–Tsang): moments and KS against exact CDFs for shapes 0.5, 1, 3, 7', (t) => {
  const rng = new Rng(4);
  // Gamma(½) is χ²₁/2: CDF erf(√x).
  const half = draw(N, () => rng.gamma(0.5));
  checkMoments(t, half, 0.5, 0.5, 12, 'gamma(0.5)');
  t.true(ksOneSample(half, (x) => erf(Math.sqrt(x))).pValue > 1e-3);
  for (const k of [1, 3, 7]) {
    const x = draw(N, () => rng.gamma(k));
    checkMoments(t, x, k, k, 6 / k, `gamma(${k})`);
    t.true(ksOneSample(x, (v) => erlangCdf(k, v)).pValue > 1e-3, `gamma(${k}) KS`);
  }
});

test('beta and exponential: moments and KS against exact CDFs', (t) => {
  const rng = new Rng(5);
  const b = draw(N, () => rng.beta(2, 5));
  // Beta(2,5): mean 2/7, variance ab/((a+b)²(a+b+1)) = 10/392; CDF 1 − (1−x)⁶ − 6x(1−x)⁵.
  checkMoments(t, b, 2 / 7, 10 / 392, 0.12, 'beta(2,5)');
  t.true(ksOneSample(b, (x) => 1 - (1 - x) ** 6 - 6 * x * (1 - x) ** 5).pValue > 1e-3);
  const e = draw(N, () => rng.exponential());
  checkMoments(t, e, 1, 1, 6, 'exponential');
  t.true(ksOneSample(e, (x) => 1 - Math.exp(-x)).pValue > 1e-3);
});

test('Student-t: ν = 1 is Cauchy, ν = 5 matches the exact CDF and variance ν/(ν−2)', (t) => {
  // The closed-form ν = 5 CDF is itself checked against quadrature of the density.
  for (const x of [-4, -1, 0.3, 2.5]) t.true(Math.abs(studentT5Cdf(x) - (0.5 + Math.sign(x) * simpson(studentT5Pdf, 0, Math.abs(x)))) < 1e-9);
  const rng = new Rng(6);
  const cauchy = draw(N, () => rng.studentT(1));
  t.true(ksOneSample(cauchy, cauchyCdf).pValue > 1e-3);
  const inside = cauchy.filter((v) => Math.abs(v) < 1).length / N; // P(|X| < 1) = ½ for Cauchy.
  t.true(Math.abs(inside - 0.5) < 5 * Math.sqrt(0.25 / N));
  const t5 = new Float64Array(N);
  rng.fillStudentT(t5, 5);
  t.true(ksOneSample(t5, studentT5Cdf).pValue > 1e-3);
  // Variance ν/(ν−2) = 5/3; excess kurtosis 6/(ν−4) = 6 (finite for ν > 4).
  checkMoments(t, t5, 0, 5 / 3, 6, 'studentT(5)');
  const c32 = new Float32Array(N);
  rng.fillStudentT(c32, 1);
  t.true(ksOneSample(c32, cauchyCdf).pValue > 1e-3);
});

test('int(n) is uniform on {0,…,n−1} (χ² test) and shuffle gives every permutation equally often', (t) => {
  const rng = new Rng(8);
  const n = 7;
  const counts = new Array(n).fill(0);
  for (let i = 0; i < 70_000; i++) {
    const k = rng.int(n);
    t.true(Number.isInteger(k) && k >= 0 && k < n);
    counts[k]++;
  }
  const chi2 = counts.reduce((s, c) => s + (c - 10_000) ** 2 / 10_000, 0);
  t.true(chi2 < 22.5, `χ²(6 dof) = ${chi2}, 99.9% quantile is 22.46`);
  t.is(new Rng(1).int(1), 0);
  const perms = new Map<string, number>();
  for (let i = 0; i < 60_000; i++) {
    const p = rng.shuffle(Uint32Array.of(0, 1, 2)).join('');
    perms.set(p, (perms.get(p) ?? 0) + 1);
  }
  t.is(perms.size, 6);
  const chiPerm = [...perms.values()].reduce((s, c) => s + (c - 10_000) ** 2 / 10_000, 0);
  t.true(chiPerm < 20.5, `χ²(5 dof) = ${chiPerm}, 99.9% quantile is 20.52`);
  const big = rng.shuffle(Uint32Array.from({ length: 1000 }, (_, i) => i));
  t.deepEqual([...big].sort((a, b) => a - b), Array.from({ length: 1000 }, (_, i) => i));
});

test('poisson(μ) follows the Poisson probabilities (χ² test at μ = 3) and has mean and variance μ at μ = 2000', (t) => {
  const rng = new Rng(9);
  const draws = 50_000;
  const mu = 3;
  const counts = new Array(9).fill(0);
  for (let i = 0; i < draws; i++) counts[Math.min(rng.poisson(mu), 8)]++;
  let chi2 = 0;
  let tail = 1;
  for (let k = 0; k < 9; k++) {
    let p = Math.exp(-mu);
    for (let j = 1; j <= k; j++) p *= mu / j;
    const expected = draws * (k < 8 ? p : tail);
    tail -= p;
    chi2 += (counts[k] - expected) ** 2 / expected;
  }
  t.true(chi2 < 26.1, `χ²(8 dof) = ${chi2}, 99.9% quantile is 26.12`);
  const big = Array.from({ length: 400 }, () => rng.poisson(2000));
  const mean = big.reduce((s, v) => s + v, 0) / big.length;
  const variance = big.reduce((s, v) => s + (v - mean) ** 2, 0) / (big.length - 1);
  t.true(Math.abs(mean - 2000) < 4 * Math.sqrt(2000 / 400), `mean ${mean}`);
  t.true(Math.abs(variance / 2000 - 1) < 0.25, `variance ${variance}`);
  t.is(rng.poisson(0), 0);
  t.throws(() => rng.poisson(-1), { message: /poisson mean/ });
});
