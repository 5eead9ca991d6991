import test from 'ava';
import { covarianceFromHessian, hessian } from '../runtime/src/fit/index.ts';
import { CORRELATION, COVARIANCE, f64, MEAN, PRECISION, quadratic, recordingObjective, SIGMA, type ValueAndGradient } from './fit-helpers.ts';
import { estimatedDistanceToMinimum } from '../runtime/src/likelihood/fit.ts';

const relative = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);

test('quadratic: Hessian, covariance, errors and correlations equal the exact ones, from one evaluate call', async (t) => {
  const objective = recordingObjective(3, quadratic(MEAN, PRECISION, 12.5));
  const at = f64([1, -2, 0.5]);
  const result = await hessian(objective, at, { scales: f64(SIGMA) });
  t.deepEqual(objective.callSizes, [1 + 4 * 3], 'centre, 2P main and 2P check points in a single call');
  t.deepEqual(result.evaluations, { calls: 1, points: 13 });
  t.deepEqual(result.schemes, ['central', 'central', 'central']);
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) t.true(relative(result.hessian[i * 3 + j], PRECISION[i][j]) < 1e-5);
  t.true(result.stepCheck!.relativeDisagreement < 1e-6);
  t.true(result.asymmetry < 1e-6);
  t.is(result.value, quadratic(MEAN, PRECISION, 12.5)(at).value);
  const cov = covarianceFromHessian(result.hessian);
  if (!cov.positiveDefinite) return t.fail(cov.message);
  for (let i = 0; i < 3; i++) {
    t.true(relative(cov.errors[i], SIGMA[i]) < 1e-5);
    for (let j = 0; j < 3; j++) {
      t.true(relative(cov.covariance[i * 3 + j], COVARIANCE[i][j]) < 1e-5, `C${i}${j}`);
      t.true(Math.abs(cov.correlation[i * 3 + j] - CORRELATION[i][j]) < 1e-6, `ρ${i}${j}`);
    }
  }
});

// f = exp(0.3 x) + x² y + sin(y) z + z⁴/4 with its exact Hessian.
const smooth: ValueAndGradient = ([x, y, z]) => ({
  value: Math.exp(0.3 * x) + x * x * y + Math.sin(y) * z + z ** 4 / 4,
  gradient: f64([0.3 * Math.exp(0.3 * x) + 2 * x * y, x * x + Math.cos(y) * z, Math.sin(y) + z ** 3]),
});
const smoothHessian = ([x, y, z]: Float64Array) => [
  [0.09 * Math.exp(0.3 * x) + 2 * y, 2 * x, 0],
  [2 * x, -Math.sin(y) * z, Math.cos(y)],
  [0, Math.cos(y), 3 * z * z],
];

function maxNormalisedError(h: Float64Array, exact: number[][]): number {
  let worst = 0;
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      const norm = Math.sqrt(Math.abs(exact[i][i] * exact[j][j])) || 1;
      worst = Math.max(worst, Math.abs(h[i * 3 + j] - exact[i][j]) / norm);
    }
  }
  return worst;
}

test('a non-quadratic function: central differences match the analytic Hessian to 1e-6', async (t) => {
  const at = f64([0.7, 1.2, -0.8]);
  const result = await hessian(recordingObjective(3, smooth), at);
  t.true(maxNormalisedError(result.hessian, smoothHessian(at)) < 1e-6);
  t.true(result.stepCheck!.relativeDisagreement < 1e-5);
  // Default steps are relative to |x|.
  at.forEach((v, i) => t.true(relative(result.steps[i], 1e-3 * Math.abs(v)) < 1e-12));
});

test('near a bound the differences become one-sided and stay inside the box, with second-order accuracy', async (t) => {
  const at = f64([0.7, 1.2, -0.8]);
  const objective = recordingObjective(3, smooth);
  const bounds = { lower: f64([0.7, -5, -5]), upper: f64([5, 1.2005, -0.7999]) };
  const result = await hessian(objective, at, { bounds, scales: f64([1, 1, 1]) });
  t.deepEqual(result.schemes, ['forward', 'backward', 'backward']);
  // x0 sits on its lower bound; x1 and x2 have 5e-4 and 1e-4 of room above, less than the step 1e-3.
  for (const point of objective.evaluated) {
    point.forEach((v, i) => t.true(v >= bounds.lower[i] && v <= bounds.upper[i], `point ${point} leaves the box`));
  }
  t.true(maxNormalisedError(result.hessian, smoothHessian(at)) < 1e-5);

  const squeezed = await hessian(recordingObjective(3, smooth), at, {
    bounds: { lower: f64([0.6999, -5, -5]), upper: f64([0.7004, 5, 5]) },
    scales: f64([1, 1, 1]),
  });
  t.is(squeezed.schemes[0], 'forward');
  t.true(Math.abs(squeezed.steps[0] - 2e-4) < 1e-12, `step shrunk to half the room: ${squeezed.steps[0]}`);
});

test('the step check flags a step that is too small for a noisy gradient', async (t) => {
  // Gradient noise of 1e-7 (like float32 sums) on a unit-curvature quadratic.
  let state = 12345;
  const noise = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return (state / 2147483648 - 0.5) * 2e-7;
  };
  const base = quadratic([0, 0], [[1, 0.5], [0.5, 2]]);
  const noisy = recordingObjective(2, (x) => {
    const { value, gradient } = base(x);
    return { value, gradient: gradient.map((g) => g + noise()) };
  });
  const small = await hessian(noisy, f64([0.1, 0.2]), { scales: f64([1, 1]), relativeStep: 1e-7 });
  const good = await hessian(noisy, f64([0.1, 0.2]), { scales: f64([1, 1]), relativeStep: 1e-2 });
  t.true(small.stepCheck!.relativeDisagreement > 0.05, `tiny step: ${small.stepCheck!.relativeDisagreement}`);
  t.true(good.stepCheck!.relativeDisagreement < 1e-4, `1e-2 step: ${good.stepCheck!.relativeDisagreement}`);
  t.log(`step check: relativeStep 1e-7 → ${small.stepCheck!.relativeDisagreement.toExponential(2)}, 1e-2 → ${good.stepCheck!.relativeDisagreement.toExponential(2)}`);
});

test('covarianceFromHessian flags indefinite and singular matrices (never NaN) and rejects bad input', (t) => {
  const indefinite = covarianceFromHessian(f64([2, 0, 0, -1]));
  t.false(indefinite.positiveDefinite);
  if (indefinite.positiveDefinite) return;
  t.deepEqual(Array.from(indefinite.eigenvalues), [-1, 2]);
  t.regex(indefinite.message, /not positive definite \(smallest eigenvalue -1\.000e\+0, 1 of 2 eigenvalues ≤ 0/);
  const singular = covarianceFromHessian(f64([1, 1, 1, 1]));
  t.false(singular.positiveDefinite);
  const nan = t.throws(() => covarianceFromHessian(f64([1, NaN, NaN, 1])));
  t.regex(nan.message, /entry \(0, 1\) of the Hessian is NaN/);
  const shape = t.throws(() => covarianceFromHessian(f64([1, 2, 3])));
  t.regex(shape.message, /square P×P matrix/);
});

test('estimated distance to the minimum: ½ gᵀ C g is the NLL still to gain on a quadratic', (t) => {
  // NLL = ½ (x − m)ᵀ H (x − m) at x = m + δ: g = H δ, and the gain to the minimum is ½ δᵀ H δ.
  const H = [4, 1, 1, 2];
  const C = Float64Array.from([2, -1, -1, 4].map((v) => v / 7)); // H⁻¹
  const delta = [0.3, -0.2];
  const g = Float64Array.of(H[0] * delta[0] + H[1] * delta[1], H[2] * delta[0] + H[3] * delta[1]);
  const gain = 0.5 * (delta[0] * g[0] + delta[1] * g[1]);
  t.true(Math.abs(estimatedDistanceToMinimum(g, C, 2) - gain) < 1e-12);
  t.is(estimatedDistanceToMinimum(new Float64Array(2), C, 2), 0);
});
