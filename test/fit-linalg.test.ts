import test from 'ava';
import { cholesky, choleskyInverse, choleskySolve, symmetricEigen } from '../runtime/src/fit/index.ts';
import { Rng } from '../runtime/src/random.ts';

/** A random symmetric positive definite n×n matrix M Mᵀ + n·I. */
function randomSpd(n: number, random: () => number): Float64Array {
  const m = Float64Array.from({ length: n * n }, () => random() * 2 - 1);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      for (let k = 0; k < n; k++) a[i * n + j] += m[i * n + k] * m[j * n + k];
      if (i === j) a[i * n + j] += n;
    }
  }
  return a;
}

test('Cholesky reproduces A = L Lᵀ, solves A x = b and inverts A', (t) => {
  const rng = new Rng(7);
  const random = () => rng.uniform();
  for (const n of [1, 3, 12]) {
    const a = randomSpd(n, random);
    const l = cholesky(a, n);
    if (!l) return t.fail('SPD matrix rejected');
    let worst = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += l[i * n + k] * l[j * n + k];
        worst = Math.max(worst, Math.abs(s - a[i * n + j]));
        if (j > i) t.is(l[i * n + j], 0);
      }
    }
    t.true(worst < 1e-12 * n, `LLᵀ − A: ${worst}`);
    const b = Float64Array.from({ length: n }, () => random());
    const x = choleskySolve(l, n, b);
    for (let i = 0; i < n; i++) {
      let r = -b[i];
      for (let k = 0; k < n; k++) r += a[i * n + k] * x[k];
      t.true(Math.abs(r) < 1e-12 * n);
    }
    const inverse = choleskyInverse(l, n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += a[i * n + k] * inverse[k * n + j];
        t.true(Math.abs(s - (i === j ? 1 : 0)) < 1e-12 * n);
        t.is(inverse[i * n + j], inverse[j * n + i]);
      }
    }
  }
});

test('Cholesky rejects indefinite, singular and NaN matrices', (t) => {
  t.is(cholesky(Float64Array.of(1, 2, 2, 1), 2), undefined);
  t.is(cholesky(Float64Array.of(1, 1, 1, 1), 2), undefined);
  t.is(cholesky(Float64Array.of(NaN, 0, 0, 1), 2), undefined);
  t.is(cholesky(Float64Array.of(0), 1), undefined);
});

test('Jacobi eigenvalues and vectors match a matrix built as Q diag(λ) Qᵀ', (t) => {
  const n = 6;
  const rng = new Rng(3);
  const random = () => rng.uniform();
  // Q from Gram–Schmidt on random vectors (independent of the Jacobi rotations).
  const q: number[][] = [];
  while (q.length < n) {
    const v = Array.from({ length: n }, () => random() - 0.5);
    for (const u of q) {
      const d = v.reduce((s, vi, i) => s + vi * u[i], 0);
      v.forEach((_, i) => (v[i] -= d * u[i]));
    }
    const norm = Math.hypot(...v);
    q.push(v.map((vi) => vi / norm));
  }
  const lambda = [-3, -0.5, 0, 1e-3, 2, 10];
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) a[i * n + j] += q[k][i] * lambda[k] * q[k][j];
  const { values, vectors } = symmetricEigen(a, n);
  lambda.forEach((l, k) => t.true(Math.abs(values[k] - l) < 1e-12, `λ${k} = ${values[k]}, expected ${l}`));
  for (let k = 0; k < n; k++) {
    for (let i = 0; i < n; i++) {
      let av = 0;
      for (let j = 0; j < n; j++) av += a[i * n + j] * vectors[j * n + k];
      t.true(Math.abs(av - values[k] * vectors[i * n + k]) < 1e-12);
    }
  }
});
