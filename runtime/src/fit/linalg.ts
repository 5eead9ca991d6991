/**
 * Small dense linear algebra for the fit layer.
 *
 * Matrices are row-major `Float64Array`s of n×n entries, where n is the number of fit parameters (tens to a
 * few hundred), so plain O(n³) loops are the right tool: they cost far less than one evaluation of a flow
 * likelihood over 1e5 events, and they run unchanged in a browser.
 */

/**
 * Smallest pivot, relative to the matrix's own diagonal entry, that Cholesky accepts. A pivot d_j after
 * eliminating the earlier rows equals a_jj·(1 − R_j²), where R_j is the multiple correlation of variable j
 * with the earlier ones; a ratio below 1e-14 means a correlation indistinguishable from 1 in float64, so the
 * inverse would be dominated by rounding.
 */
const RELATIVE_PIVOT_FLOOR = 1e-14;

/** Identity matrix of size n. */
function identity(n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) out[i * n + i] = 1;
  return out;
}

/** y = A x for a row-major n×n matrix. */
export function matVec(a: Float64Array, x: Float64Array, n: number): Float64Array {
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let k = 0; k < n; k++) sum += a[i * n + k] * x[k];
    y[i] = sum;
  }
  return y;
}

/**
 * Cholesky factor L (lower triangular, row-major) with A = L Lᵀ, or `undefined` when A is not numerically
 * positive definite (a pivot ≤ 1e-14 of its diagonal entry, or any NaN). Only the lower triangle of A is read.
 */
export function cholesky(a: Float64Array, n: number): Float64Array | undefined {
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    const ajj = a[j * n + j];
    let pivot = ajj;
    for (let k = 0; k < j; k++) pivot -= l[j * n + k] * l[j * n + k];
    if (!(pivot > RELATIVE_PIVOT_FLOOR * ajj) || !(pivot > 0)) return undefined;
    const ljj = Math.sqrt(pivot);
    l[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let sum = a[i * n + j];
      for (let k = 0; k < j; k++) sum -= l[i * n + k] * l[j * n + k];
      l[i * n + j] = sum / ljj;
    }
  }
  return l;
}

/** Solves A x = b given the Cholesky factor L of A (forward then backward substitution). */
export function choleskySolve(l: Float64Array, n: number, b: Float64Array): Float64Array {
  const x = Float64Array.from(b);
  for (let i = 0; i < n; i++) {
    let sum = x[i];
    for (let k = 0; k < i; k++) sum -= l[i * n + k] * x[k];
    x[i] = sum / l[i * n + i];
  }
  for (let i = n - 1; i >= 0; i--) {
    let sum = x[i];
    for (let k = i + 1; k < n; k++) sum -= l[k * n + i] * x[k];
    x[i] = sum / l[i * n + i];
  }
  return x;
}

/** A⁻¹ from the Cholesky factor L of A, exactly symmetrised (the two triangles agree bit for bit). */
export function choleskyInverse(l: Float64Array, n: number): Float64Array {
  const inverse = new Float64Array(n * n);
  const unit = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    unit.fill(0);
    unit[j] = 1;
    const column = choleskySolve(l, n, unit);
    for (let i = 0; i < n; i++) inverse[i * n + j] = column[i];
  }
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      const mean = 0.5 * (inverse[i * n + j] + inverse[j * n + i]);
      inverse[i * n + j] = mean;
      inverse[j * n + i] = mean;
    }
  }
  return inverse;
}

/** Eigen-decomposition of a symmetric matrix: values ascending, vectors[i·n + k] = i-th component of vector k. */
export interface SymmetricEigen {
  values: Float64Array;
  vectors: Float64Array;
}

/**
 * Eigenvalues and eigenvectors of a symmetric matrix by the cyclic Jacobi method (Golub & Van Loan,
 * "Matrix Computations", §8.5): each rotation zeroes one off-diagonal pair; sweeps repeat until the
 * off-diagonal mass is negligible against the diagonal. Slow for large n, exact to rounding for the small n
 * here, and it never produces NaN for finite input. Only the lower triangle of A is read.
 */
export function symmetricEigen(a: Float64Array, n: number): SymmetricEigen {
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      m[i * n + j] = a[i * n + j];
      m[j * n + i] = a[i * n + j];
    }
  }
  const v = identity(n);
  const maxSweeps = 100;
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0;
    let diagonal = 0;
    for (let i = 0; i < n; i++) {
      diagonal += m[i * n + i] * m[i * n + i];
      for (let j = 0; j < i; j++) off += m[i * n + j] * m[i * n + j];
    }
    if (off <= 1e-30 * diagonal || off === 0) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q];
        if (apq === 0) continue;
        // Rotation angle that annihilates m[p][q]: tan(2φ) = 2 a_pq / (a_qq − a_pp), taking the smaller root
        // for t = tan φ so that the rotation stays close to the identity (stable update).
        const tau = (m[q * n + q] - m[p * n + p]) / (2 * apq);
        const t = Math.sign(tau || 1) / (Math.abs(tau) + Math.sqrt(1 + tau * tau));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const mkp = m[k * n + p];
          const mkq = m[k * n + q];
          m[k * n + p] = c * mkp - s * mkq;
          m[k * n + q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < n; k++) {
          const mpk = m[p * n + k];
          const mqk = m[q * n + k];
          m[p * n + k] = c * mpk - s * mqk;
          m[q * n + k] = s * mpk + c * mqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p];
          const vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => m[i * n + i] - m[j * n + j]);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((source, target) => {
    values[target] = m[source * n + source];
    for (let k = 0; k < n; k++) vectors[k * n + target] = v[k * n + source];
  });
  return { values, vectors };
}
