// Special functions the statistics need in float64, without dependencies (browser-safe): the complementary
// error function and the normal distribution's tails, its quantile, and log Γ for the Poisson terms.

const SQRT_PI = Math.sqrt(Math.PI);

/**
 * erfc(x) to ~1e-15 relative everywhere, tails included (CLs values of 1e-10 are ratios of such tails).
 * |x| < 2.5: erf from the series erf(x) = (2/√π) e^{−x²} Σₙ 2ⁿ x^{2n+1} / (1·3···(2n+1)) (Abramowitz & Stegun
 * 7.1.6), whose terms are all positive, so nothing cancels; erfc = 1 − erf then loses at most 3.4 digits of
 * the 16 at x = 2.5. x ≥ 2.5: the continued fraction erfc(x) = (e^{−x²}/√π) · 1/(x + ½/(x + 1/(x + (3/2)/(x + …))))
 * (A&S 7.1.14), evaluated by the modified Lentz method (Numerical Recipes §5.2); it converges in a few dozen
 * terms there. Negative x: erfc(−x) = 2 − erfc(x).
 */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return Number.NaN;
  if (x < 0) return 2 - erfc(-x);
  if (x < 2.5) return 1 - erfSeries(x);
  return erfcContinuedFraction(x);
}

function erfSeries(x: number): number {
  const twoXSquared = 2 * x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= twoXSquared / (2 * n + 1);
    sum += term;
    if (term < 1e-17 * sum) break;
  }
  return ((2 / SQRT_PI) * Math.exp(-x * x) * sum);
}

function erfcContinuedFraction(x: number): number {
  const tiny = 1e-300;
  // f = x + a₁/(x + a₂/(x + …)) with aₙ = n/2; Lentz: f = b₀, C = f, D = 0, then per n: D = 1/(b + a D), C = b + a/C.
  let f = x;
  let c = x;
  let d = 0;
  for (let n = 1; n < 500; n++) {
    const a = n / 2;
    d = x + a * d;
    d = d === 0 ? 1 / tiny : 1 / d;
    c = x + a / c;
    if (c === 0) c = tiny;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-x * x) / (SQRT_PI * f);
}

/** Φ(z), the standard normal CDF, accurate in the lower tail. */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

/** 1 − Φ(z), accurate in the upper tail. */
export function normalSurvival(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

/**
 * Φ⁻¹(p): the z with Φ(z) = p, by bisection on the monotone Φ (80 halvings of [−40, 40] reach float64
 * resolution); p = 0 and 1 give ∓Infinity.
 */
export function normalQuantile(p: number): number {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`normalQuantile: p must be in [0, 1], got ${p}.`);
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  let lo = -40;
  let hi = 40;
  for (let i = 0; i < 200 && hi - lo > 1e-15 * Math.max(1, Math.abs(lo)); i++) {
    const mid = 0.5 * (lo + hi);
    // Compare in the tail that keeps p's relative precision.
    const below = p < 0.5 ? normalCdf(mid) < p : normalSurvival(mid) > 1 - p;
    if (below) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

/** Lanczos coefficients for g = 7, n = 9 (C. Lanczos, SIAM J. Numer. Anal. B 1 (1964) 86; ~1e-15 relative). */
const LANCZOS_G = 7;
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** log Γ(x) for x > 0 (the Poisson terms need log Γ(n + 1) of non-integer Asimov and toy counts). */
export function logGamma(x: number): number {
  if (!(x > 0)) throw new RangeError(`logGamma: x must be > 0, got ${x}.`);
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x); // reflection Γ(x)Γ(1−x) = π/sin πx
  const z = x - 1;
  let series = LANCZOS[0];
  for (let i = 1; i < LANCZOS.length; i++) series += LANCZOS[i] / (z + i);
  const t = z + LANCZOS_G + 0.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(series);
}
