// Interpolation of systematic variations between α = −1, 0, +1, with the derivative in α for the analytic
// gradient. The codes are HistFactory's (K. Cranmer et al., CERN-OPEN-2012-016, §4.1) as pyhf implements them:
// normsys (a factor): code1 (exponential) and code4 (exponential outside |α| ≥ 1, a 6th-order polynomial
// inside that matches value, slope and curvature at ±1; pyhf's default); histosys (an additive shift per bin):
// code0 (piecewise linear) and code4p (linear outside |α| > 1, a polynomial inside; pyhf's default).

export type NormsysInterpolation = 'code1' | 'code4';
export type HistosysInterpolation = 'code0' | 'code4p';

/** A value and its derivative in α. */
export interface WithSlope {
  value: number;
  slope: number;
}

/** Multiplicative factor f(α) with f(0) = 1, f(1) = hi, f(−1) = lo. */
export interface NormsysFactor {
  at(alpha: number): WithSlope;
}

export function normsysFactor(lo: number, hi: number, code: NormsysInterpolation): NormsysFactor {
  const logHi = Math.log(hi);
  const logLo = Math.log(lo);
  // code1: hi^α for α > 0, lo^(−α) otherwise.
  const exponential = (alpha: number): WithSlope => {
    if (alpha > 0) {
      const value = hi ** alpha;
      return { value, slope: logHi * value };
    }
    const value = lo ** -alpha;
    return { value, slope: -logLo * value };
  };
  if (code === 'code1') return { at: exponential };
  const a = code4Coefficients(lo, hi);
  return {
    at(alpha: number): WithSlope {
      if (alpha >= 1 || alpha <= -1) return exponential(alpha);
      // 1 + Σᵢ aᵢ αⁱ by Horner, with its derivative.
      let value = a[5];
      let slope = 6 * a[5];
      for (let i = 4; i >= 0; i--) {
        value = value * alpha + a[i];
        slope = slope * alpha + (i + 1) * a[i];
      }
      return { value: 1 + value * alpha, slope };
    },
  };
}

/**
 * Coefficients a₁…a₆ of f(α) = 1 + Σ aᵢ αⁱ on |α| < 1 such that f, f′ and f″ equal those of hi^α at α = 1 and
 * of lo^(−α) at α = −1. Writing f − 1 = E + O (even part a₂α² + a₄α⁴ + a₆α⁶, odd part a₁α + a₃α³ + a₅α⁵), the six
 * conditions separate: E(1), E′(1), E″(1) and O(1), O′(1), O″(1) are the half sums and half differences of the
 * values at +1 and −1, which leaves two 3×3 systems, solved here in closed form.
 */
function code4Coefficients(lo: number, hi: number): number[] {
  const lh = Math.log(hi);
  const ll = Math.log(lo);
  // Value, slope and curvature of the exponential branches at α = +1 (hi^α) and at α = −1 (lo^(−α)).
  const [up0, up1, up2] = [hi, hi * lh, hi * lh * lh];
  const [dn0, dn1, dn2] = [lo, -lo * ll, lo * ll * ll];
  // Even part: E(1) = a2 + a4 + a6, E'(1) = 2a2 + 4a4 + 6a6, E''(1) = 2a2 + 12a4 + 30a6.
  const e0 = (up0 + dn0) / 2 - 1;
  const e1 = (up1 - dn1) / 2;
  const e2 = (up2 + dn2) / 2;
  // Odd part: O(1) = a1 + a3 + a5, O'(1) = a1 + 3a3 + 5a5, O''(1) = 6a3 + 20a5.
  const o0 = (up0 - dn0) / 2;
  const o1 = (up1 + dn1) / 2;
  const o2 = (up2 - dn2) / 2;
  const [a2, a4, a6] = solve3([[1, 1, 1], [2, 4, 6], [2, 12, 30]], [e0, e1, e2]);
  const [a1, a3, a5] = solve3([[1, 1, 1], [1, 3, 5], [0, 6, 20]], [o0, o1, o2]);
  return [a1, a2, a3, a4, a5, a6];
}

/** Cramer's rule for a 3×3 system (the two fixed, well-conditioned matrices above). */
function solve3(m: number[][], b: number[]): number[] {
  const det = (c: number[][]) =>
    c[0][0] * (c[1][1] * c[2][2] - c[1][2] * c[2][1]) - c[0][1] * (c[1][0] * c[2][2] - c[1][2] * c[2][0]) + c[0][2] * (c[1][0] * c[2][1] - c[1][1] * c[2][0]);
  const d = det(m);
  return [0, 1, 2].map((k) => det(m.map((row, i) => row.map((v, j) => (j === k ? b[i] : v)))) / d);
}

/** Additive shift Δ(α) of one bin with Δ(0) = 0, Δ(1) = up, Δ(−1) = −down (up = hi − nominal, down = nominal − lo). */
export function histosysShift(up: number, down: number, alpha: number, code: HistosysInterpolation): WithSlope {
  // At the kink α = 0 the slope is the upward one (either value is 0 there): a fit starting at 0 then moves
  // the way pyhf's finite-difference gradients take it, and lands in the same minimum when there are two.
  if (code === 'code0') return alpha >= 0 ? { value: alpha * up, slope: up } : { value: alpha * down, slope: down };
  if (alpha > 1) return { value: alpha * up, slope: up };
  if (alpha < -1) return { value: alpha * down, slope: down };
  // Δ = αS + A(15α² − 10α⁴ + 3α⁶), S = (up + down)/2, A = (up − down)/16: value and slope match the linear
  // branches at α = ±1, and the even part keeps Δ smooth through α = 0.
  const s = 0.5 * (up + down);
  const a = 0.0625 * (up - down);
  const a2 = alpha * alpha;
  return {
    value: alpha * s + a * a2 * (15 + a2 * (-10 + 3 * a2)),
    slope: s + a * alpha * (30 + a2 * (-40 + 18 * a2)),
  };
}
