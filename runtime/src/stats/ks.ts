// Kolmogorov–Smirnov tests: are two samples (or a sample and a model CDF) drawn from the same distribution?
// Used to validate simulators and generated events (MC amplification, Gavranovič & Kerševan) feature by feature.
//
// Statistic: D = sup_x |F_a(x) − F_b(x)| over the empirical CDFs. Ties are handled by evaluating the ECDFs only
// after ALL copies of a value (in both samples) have been passed, which is where right-continuous ECDFs jump.
// p-value: the asymptotic Kolmogorov distribution Q_KS(λ) = 2 Σ_{j≥1} (−1)^{j−1} exp(−2 j² λ²) at
// λ = (√nₑ + 0.12 + 0.11/√nₑ)·D, Stephens' (1970) finite-n correction, with nₑ = n·m/(n+m) for two samples and
// nₑ = n for one (as in Numerical Recipes, 3rd ed., §14.3.3). Exact for continuous data as n → ∞; conservative
// with ties; accurate to a few per cent in p for nₑ ≳ 4.

export interface KsResult {
  /** The KS distance D in [0, 1]. */
  statistic: number;
  /** Asymptotic p-value Q_KS(λ) in [0, 1]; small values reject "same distribution". */
  pValue: number;
}

/**
 * Survival function of the Kolmogorov distribution, P(√n·D > λ) as n → ∞. The alternating series converges fast
 * for large λ; for small λ it needs many terms and cancels, so there we use the Jacobi-theta dual form
 * 1 − (√(2π)/λ) Σ_{j≥1} exp(−(2j−1)² π² / (8 λ²)).
 */
export function kolmogorovSurvival(lambda: number): number {
  if (!(lambda >= 0)) throw new RangeError(`Kolmogorov λ must be a number ≥ 0, got ${lambda}`);
  if (lambda < 1e-3) return 1;
  if (lambda < 1.18) {
    const w = (Math.PI * Math.PI) / (8 * lambda * lambda);
    let sum = 0;
    for (let j = 1; j <= 6; j++) {
      const k = 2 * j - 1;
      sum += Math.exp(-k * k * w);
    }
    return Math.min(1, Math.max(0, 1 - (Math.sqrt(2 * Math.PI) / lambda) * sum));
  }
  let sum = 0;
  for (let j = 1; j <= 100; j++) {
    const term = Math.exp(-2 * j * j * lambda * lambda);
    sum += j % 2 === 1 ? term : -term;
    if (term < 1e-17) break;
  }
  return Math.min(1, Math.max(0, 2 * sum));
}

function pValueFor(statistic: number, effectiveN: number): number {
  const root = Math.sqrt(effectiveN);
  return kolmogorovSurvival((root + 0.12 + 0.11 / root) * statistic);
}

function sortedCopy(values: ArrayLike<number>, what: string): Float64Array {
  const out = Float64Array.from(values);
  if (out.length === 0) throw new RangeError(`KS test: ${what} is empty; it needs at least one value.`);
  for (let i = 0; i < out.length; i++) {
    if (Number.isNaN(out[i])) throw new RangeError(`KS test: ${what} has NaN at index ${i}; remove or fix it first.`);
  }
  return out.sort();
}

/** Two-sample KS test of `a` against `b` (any lengths ≥ 1; ±Infinity allowed, NaN rejected). */
export function ksTwoSample(a: ArrayLike<number>, b: ArrayLike<number>): KsResult {
  const x = sortedCopy(a, 'first sample');
  const y = sortedCopy(b, 'second sample');
  const n = x.length;
  const m = y.length;
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < n && j < m) {
    const v = x[i] <= y[j] ? x[i] : y[j];
    while (i < n && x[i] === v) i++;
    while (j < m && y[j] === v) j++;
    const diff = Math.abs(i / n - j / m);
    if (diff > d) d = diff;
  }
  // Once one sample is exhausted its ECDF is 1 and the other's only rises towards 1: no larger gap follows.
  return { statistic: d, pValue: pValueFor(d, (n * m) / (n + m)) };
}

/**
 * One-sample KS test of `samples` against a model CDF `cdf` (non-decreasing, values in [0, 1]). At each distinct
 * sample value v with ECDF jumping from F⁻ to F⁺, the gap is max(F⁺ − cdf(v), cdf(v) − F⁻); for continuous
 * `cdf` this is the exact supremum.
 */
export function ksOneSample(samples: ArrayLike<number>, cdf: (x: number) => number): KsResult {
  const x = sortedCopy(samples, 'sample');
  const n = x.length;
  let d = 0;
  let i = 0;
  while (i < n) {
    const v = x[i];
    const below = i / n;
    while (i < n && x[i] === v) i++;
    const f = cdf(v);
    if (!(f >= 0 && f <= 1)) throw new RangeError(`KS test: the model CDF returned ${f} at x = ${v}; a CDF must lie in [0, 1].`);
    const gap = Math.max(i / n - f, f - below);
    if (gap > d) d = gap;
  }
  return { statistic: d, pValue: pValueFor(d, n) };
}
