// Small statistics for toy studies: tail probabilities of the test statistics, significances, binomial errors.
import erfc from '@stdlib/math-base-special-erfc';
import erfcinv from '@stdlib/math-base-special-erfcinv';

/** P(χ²₁ > u) = erfc(√(u/2)). */
export function chi2OneDofSurvival(u: number): number {
  return u <= 0 ? 1 : erfc(Math.sqrt(u / 2));
}

/** One-sided Gaussian significance Z of a p-value: p = P(N(0,1) > Z) = ½ erfc(Z/√2). */
export function significanceOfPValue(p: number): number {
  if (!(p > 0)) return Infinity;
  if (p >= 1) return -Infinity;
  return Math.SQRT2 * erfcinv(2 * p);
}

/** The two-sided probability content of ±z σ of a normal distribution: 68.27 % for z = 1, 95.45 % for z = 2. */
export function normalContent(z: number): number {
  return 1 - erfc(z / Math.SQRT2);
}

export interface Proportion {
  /** Successes over trials. */
  fraction: number;
  /** Binomial standard error √(p(1−p)/n) at the observed p (at least that of one success, so 0/n and n/n get one). */
  error: number;
  successes: number;
  trials: number;
}

export function proportion(successes: number, trials: number): Proportion {
  const fraction = trials > 0 ? successes / trials : NaN;
  const p = Math.min(Math.max(fraction, 1 / Math.max(trials, 1)), 1 - 1 / Math.max(trials, 1));
  return { fraction, error: trials > 0 ? Math.sqrt((p * (1 - p)) / trials) : NaN, successes, trials };
}

export interface MeanAndWidth {
  mean: number;
  /** Standard error of the mean, σ/√n. */
  meanError: number;
  /** Sample standard deviation. */
  width: number;
  /** Its standard error for a normal sample, σ/√(2(n−1)). */
  widthError: number;
  count: number;
}

export function meanAndWidth(values: readonly number[]): MeanAndWidth {
  const n = values.length;
  const mean = values.reduce((s, v) => s + v, 0) / n;
  const width = n > 1 ? Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1)) : NaN;
  return { mean, meanError: width / Math.sqrt(n), width, widthError: width / Math.sqrt(2 * Math.max(n - 1, 1)), count: n };
}
