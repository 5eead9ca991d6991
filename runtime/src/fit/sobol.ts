/**
 * The Sobol' low-discrepancy sequence (Sobol' 1967) in the unit cube [0, 1)^d, d ≤ SOBOL_MAX_DIMENSION.
 *
 * Coordinate j of point n is the XOR of the direction numbers v_j,k of the bits k set in the Gray code of n
 * (Antonov & Saleev 1979), so consecutive points differ by one XOR. Dimension 0 has v_k = 2^−(k+1) (van der
 * Corput in base 2); every other dimension derives its direction numbers from a primitive polynomial over GF(2)
 * of degree s with inner coefficients a and initial values m_1 … m_s, by Bratley & Fox's recurrence (ACM TOMS
 * 14, 1988):
 *   m_k = 2 a_1 m_{k−1} ⊕ 2² a_2 m_{k−2} ⊕ … ⊕ 2^{s−1} a_{s−1} m_{k−s+1} ⊕ 2^s m_{k−s} ⊕ m_{k−s},
 *   v_k = m_k / 2^k.
 * Every m_k is odd and below 2^k, so each coordinate's generator matrix is upper triangular with a unit
 * diagonal: the points 0 … 2^m − 1 put exactly one value in each of the 2^m intervals [i/2^m, (i+1)/2^m) of
 * every coordinate. The polynomials and initial values are Joe & Kuo's ("Constructing Sobol sequences with
 * better two-dimensional projections", SIAM J. Sci. Comput. 30, 2008; table new-joe-kuo-6.21201), chosen so
 * that 2-D projections are also well spread.
 */

/**
 * Joe & Kuo's direction numbers for dimensions 1 … 31 (dimension 0 needs none), one row each: degree s, the
 * polynomial's inner coefficients a (bit i−1 from the top is a_i), then m_1 … m_s.
 */
const JOE_KUO: readonly (readonly number[])[] = [
  [1, 0, 1],
  [2, 1, 1, 3],
  [3, 1, 1, 3, 1],
  [3, 2, 1, 1, 1],
  [4, 1, 1, 1, 3, 3],
  [4, 4, 1, 3, 5, 13],
  [5, 2, 1, 1, 5, 5, 17],
  [5, 4, 1, 1, 5, 5, 5],
  [5, 7, 1, 1, 7, 11, 19],
  [5, 11, 1, 1, 5, 1, 1],
  [5, 13, 1, 1, 1, 3, 11],
  [5, 14, 1, 3, 5, 5, 31],
  [6, 1, 1, 3, 3, 9, 7, 49],
  [6, 13, 1, 1, 1, 15, 21, 21],
  [6, 16, 1, 3, 1, 13, 27, 49],
  [6, 19, 1, 1, 1, 15, 7, 5],
  [6, 22, 1, 3, 1, 15, 13, 25],
  [6, 25, 1, 1, 5, 5, 19, 61],
  [7, 1, 1, 3, 7, 11, 23, 15, 103],
  [7, 4, 1, 3, 7, 13, 13, 15, 69],
  [7, 7, 1, 1, 3, 13, 7, 35, 63],
  [7, 8, 1, 3, 5, 9, 1, 25, 53],
  [7, 14, 1, 3, 1, 13, 9, 35, 107],
  [7, 19, 1, 3, 1, 5, 27, 61, 31],
  [7, 21, 1, 1, 5, 11, 19, 41, 61],
  [7, 28, 1, 3, 5, 3, 3, 13, 69],
  [7, 31, 1, 1, 7, 13, 1, 19, 1],
  [7, 32, 1, 3, 7, 5, 13, 19, 59],
  [7, 37, 1, 1, 3, 9, 25, 29, 41],
  [7, 41, 1, 3, 5, 13, 23, 1, 55],
  [7, 42, 1, 3, 7, 3, 13, 59, 17],
];

export const SOBOL_MAX_DIMENSION = JOE_KUO.length + 1;
/** Bits per coordinate: points are multiples of 2^−32, and at most 2^32 of them are distinct. */
const BITS = 32;

/** The initial values m_1 … m_s of dimension j ≥ 1, for tests of the table. */
export function sobolInitialValues(dimension: number): { degree: number; coefficients: number; m: number[] } {
  const [degree, coefficients, ...m] = JOE_KUO[dimension - 1];
  return { degree, coefficients, m };
}

/** v_j,k · 2^32 for k = 0 … 31 (k counts from the most significant bit). */
function directionNumbers(dimension: number): Uint32Array {
  const v = new Uint32Array(BITS);
  if (dimension === 0) {
    for (let k = 0; k < BITS; k++) v[k] = 2 ** (BITS - 1 - k);
    return v;
  }
  const { degree: s, coefficients: a, m: initial } = sobolInitialValues(dimension);
  const m = new Array<number>(BITS);
  for (let k = 0; k < BITS; k++) {
    if (k < s) {
      m[k] = initial[k];
      continue;
    }
    // m_k < 2^(k+1) ≤ 2^32: the low 32 bits of each shift are exact, read back unsigned.
    let next = (m[k - s] ^ (m[k - s] << s)) >>> 0;
    for (let i = 1; i < s; i++) if ((a >> (s - 1 - i)) & 1) next = (next ^ (m[k - i] << i)) >>> 0;
    m[k] = next;
  }
  for (let k = 0; k < BITS; k++) v[k] = (m[k] * 2 ** (BITS - 1 - k)) >>> 0;
  return v;
}

/**
 * Points first … first + count − 1 of the d-dimensional Sobol' sequence, row-major (count × d). Point 0 is the
 * origin, point 1 the centre (½, …, ½); skipping point 0 keeps samples off the cube's faces.
 */
export function sobolPoints(count: number, dimension: number, first = 0): Float64Array {
  if (!(Number.isInteger(dimension) && dimension >= 1 && dimension <= SOBOL_MAX_DIMENSION)) {
    throw new Error(`the Sobol' sequence has dimensions 1 … ${SOBOL_MAX_DIMENSION}, got ${dimension}`);
  }
  if (!(Number.isInteger(count) && count >= 0 && Number.isInteger(first) && first >= 0 && first + count <= 2 ** BITS)) {
    throw new Error(`Sobol' points must be whole numbers with first + count ≤ 2^${BITS}, got first ${first} and count ${count}`);
  }
  const v = Array.from({ length: dimension }, (_, j) => directionNumbers(j));
  const out = new Float64Array(count * dimension);
  // The state at `first`: the XOR of the direction numbers of its Gray code's bits.
  const state = new Uint32Array(dimension);
  const bit = (n: number, k: number): number => Math.floor(n / 2 ** k) % 2;
  for (let k = 0; k < BITS; k++) {
    if (bit(first, k) !== bit(first, k + 1)) for (let j = 0; j < dimension; j++) state[j] ^= v[j][k];
  }
  for (let n = 0; n < count; n++) {
    for (let j = 0; j < dimension; j++) out[n * dimension + j] = state[j] / 2 ** BITS;
    // Gray code of n+1 differs from that of n in bit c, the lowest set bit of n+1.
    const index = first + n + 1;
    let c = 0;
    while (bit(index, c) === 0 && c < BITS - 1) c++;
    for (let j = 0; j < dimension; j++) state[j] ^= v[j][c];
  }
  return out;
}
