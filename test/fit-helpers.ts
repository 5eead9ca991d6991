/**
 * Test objectives for the fit layer: plain functions wrapped as BatchObjectives that record every evaluate
 * call (how many points it carried), so tests can check batching independently of the code under test.
 */
import type { BatchObjective } from '../runtime/src/fit/index.ts';

export type ValueAndGradient = (x: Float64Array) => { value: number; gradient: Float64Array };

export interface RecordingObjective extends BatchObjective {
  /** Points carried by each evaluate call, in order. */
  readonly callSizes: number[];
  /** Every point evaluated, in order. */
  readonly evaluated: Float64Array[];
}

export function recordingObjective(dimension: number, fn: ValueAndGradient): RecordingObjective {
  const callSizes: number[] = [];
  const evaluated: Float64Array[] = [];
  return {
    dimension,
    callSizes,
    evaluated,
    async evaluate(points: Float64Array, count: number, withGradient: boolean) {
      callSizes.push(count);
      const values = new Float64Array(count);
      const gradients = new Float64Array(count * dimension);
      for (let k = 0; k < count; k++) {
        const x = points.slice(k * dimension, (k + 1) * dimension);
        evaluated.push(x);
        const { value, gradient } = fn(x);
        values[k] = value;
        gradients.set(gradient, k * dimension);
      }
      return withGradient ? { values, gradients } : { values };
    },
  };
}

/** f(x) = ½ (x − μ)ᵀ A (x − μ) + c with its gradient. */
export function quadratic(mean: readonly number[], a: readonly number[][], constant = 0): ValueAndGradient {
  const n = mean.length;
  return (x) => {
    const gradient = new Float64Array(n);
    let value = constant;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) gradient[i] += a[i][j] * (x[j] - mean[j]);
      value += 0.5 * (x[i] - mean[i]) * gradient[i];
    }
    return { value, gradient };
  };
}

/** Inverse of a 3×3 matrix by the adjugate formula (independent of the code under test). */
export function inverse3(m: readonly number[][]): number[][] {
  const [[a, b, c], [d, e, f], [g, h, i]] = m;
  const det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
  return [
    [(e * i - f * h) / det, (c * h - b * i) / det, (b * f - c * e) / det],
    [(f * g - d * i) / det, (a * i - c * g) / det, (c * d - a * f) / det],
    [(d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det],
  ];
}

/** A known covariance (σ = 0.5, 2, 1; correlations 0.6, −0.3, 0.2) and its precision matrix. */
export const SIGMA = [0.5, 2, 1];
export const CORRELATION = [
  [1, 0.6, -0.3],
  [0.6, 1, 0.2],
  [-0.3, 0.2, 1],
];
export const COVARIANCE = CORRELATION.map((row, i) => row.map((r, j) => r * SIGMA[i] * SIGMA[j]));
export const PRECISION = inverse3(COVARIANCE);
export const MEAN = [1.5, -3, 0.25];

/** Extended Rosenbrock Σ 100 (x_{i+1} − x_i²)² + (1 − x_i)², minimum 0 at (1, …, 1). */
export const rosenbrock: ValueAndGradient = (x) => {
  const n = x.length;
  let value = 0;
  const gradient = new Float64Array(n);
  for (let i = 0; i < n - 1; i++) {
    const a = x[i + 1] - x[i] * x[i];
    const b = 1 - x[i];
    value += 100 * a * a + b * b;
    gradient[i] += -400 * x[i] * a - 2 * b;
    gradient[i + 1] += 200 * a;
  }
  return { value, gradient };
};

/** Root of a monotone function on [a, b] by bisection to machine precision (an independent oracle). */
export function bisect(fn: (x: number) => number, a: number, b: number): number {
  let fa = fn(a);
  for (let iteration = 0; iteration < 200; iteration++) {
    const m = 0.5 * (a + b);
    if (m === a || m === b) break;
    const fm = fn(m);
    if (Math.sign(fm) === Math.sign(fa)) {
      a = m;
      fa = fm;
    } else {
      b = m;
    }
  }
  return 0.5 * (a + b);
}

export const f64 = (values: readonly number[]) => Float64Array.from(values);

/** Central differences (f(x + h_j) − f(x − h_j)) / 2h_j of an objective, every shifted point in one batched call. */
export async function centralDifferences(objective: BatchObjective, point: Float64Array, steps: readonly number[]): Promise<Float64Array> {
  const P = point.length;
  const shifted = new Float64Array(2 * P * P);
  for (let j = 0; j < P; j++) {
    for (const [side, sign] of [[0, -1], [1, 1]]) {
      shifted.set(point, (2 * j + side) * P);
      shifted[(2 * j + side) * P + j] += sign * steps[j];
    }
  }
  const { values } = await objective.evaluate(shifted, 2 * P, false);
  return Float64Array.from({ length: P }, (_, j) => (values[2 * j + 1] - values[2 * j]) / (2 * steps[j]));
}
