import test from 'ava';
import { minimize, type MinimizeProgress } from '../runtime/src/fit/index.ts';
import { f64, MEAN, PRECISION, quadratic, recordingObjective, rosenbrock, SIGMA, type ValueAndGradient } from './fit-helpers.ts';

const tight = { gtol: 1e-11, ftolAbs: 0, ftolRel: 0 };

test('L-BFGS-B finds the minimum of a correlated quadratic to 1e-8', async (t) => {
  const objective = recordingObjective(3, quadratic(MEAN, PRECISION, 7));
  const result = await minimize(objective, { method: 'lbfgsb', starts: f64([10, 10, -10]), ...tight });
  t.true(result.best.converged, result.best.message);
  for (let i = 0; i < 3; i++) t.true(Math.abs(result.best.x[i] - MEAN[i]) < 1e-8, `x${i} = ${result.best.x[i]}`);
  t.true(Math.abs(result.best.value - 7) < 1e-12);
  t.is(result.evaluations.calls, objective.callSizes.length);
  t.deepEqual(result.best.atBound, ['free', 'free', 'free']);
});

test('L-BFGS-B minimises the 2-D Rosenbrock function to 1e-6', async (t) => {
  const result = await minimize(recordingObjective(2, rosenbrock), { method: 'lbfgsb', starts: f64([-1.2, 1]), ...tight });
  t.is(result.best.reason, 'gtol');
  for (const xi of result.best.x) t.true(Math.abs(xi - 1) < 1e-6, `x = ${result.best.x}`);
  t.log(`2-D Rosenbrock: ${result.best.iterations} iterations, ${result.evaluations.points} evaluations`);
});

test('L-BFGS-B minimises the 5-D Rosenbrock function to 1e-6 with m = 5 and m = 10', async (t) => {
  for (const memory of [5, 10]) {
    const result = await minimize(recordingObjective(5, rosenbrock), {
      method: 'lbfgsb',
      memory,
      starts: f64([-1.2, 1, -1.2, 1, 0.5]).map((v) => v * 0.5),
      ...tight,
    });
    t.is(result.best.reason, 'gtol', result.best.message);
    for (const xi of result.best.x) t.true(Math.abs(xi - 1) < 1e-6, `m=${memory}: x = ${result.best.x}`);
    t.log(`5-D Rosenbrock, m=${memory}: ${result.best.iterations} iterations, ${result.evaluations.points} evaluations`);
  }
});

test('bounded Rosenbrock: minimum on the upper bound of x0 is found and reported as active', async (t) => {
  // With x0 ≤ 0.5 the minimum is at x0 = 0.5, x1 = 0.25 (f = 0.25), where ∂f/∂x0 = −1 pushes against the bound.
  const result = await minimize(recordingObjective(2, rosenbrock), {
    method: 'lbfgsb',
    starts: f64([-1.2, 1]),
    bounds: { lower: f64([-2, -2]), upper: f64([0.5, 2]) },
    ...tight,
  });
  t.is(result.best.reason, 'gtol');
  t.deepEqual(result.best.atBound, ['upper', 'free']);
  t.is(result.best.x[0], 0.5);
  t.true(Math.abs(result.best.x[1] - 0.25) < 1e-9);
  t.true(Math.abs(result.best.value - 0.25) < 1e-12);
  t.true(Math.abs(result.best.gradient[0] + 1) < 1e-8, 'KKT: the gradient points out of the box');
  t.true(result.best.projectedGradientNorm <= 1e-11);
});

/**
 * Oracle for min ½(x−μ)ᵀA(x−μ) on a box: enumerate every assignment of each coordinate to {free, lower,
 * upper}, solve the equality-constrained problem on the free ones (3×3 at most, Gaussian elimination),
 * keep feasible KKT points, return the lowest.
 */
function boxQuadraticOracle(mean: number[], a: number[][], lower: number[], upper: number[]): number[] {
  const n = mean.length;
  let best: { x: number[]; f: number } | undefined;
  for (let code = 0; code < 3 ** n; code++) {
    const state = Array.from({ length: n }, (_, i) => Math.floor(code / 3 ** i) % 3); // 0 free, 1 lower, 2 upper
    const x = state.map((s, i) => (s === 1 ? lower[i] : s === 2 ? upper[i] : NaN));
    const free = state.flatMap((s, i) => (s === 0 ? [i] : []));
    // A_FF x_F = A_FF μ_F − A_FB (x_B − μ_B)  ⇔  (A(x − μ))_F = 0
    const m = free.map((i) => free.map((j) => a[i][j]));
    const rhs = free.map((i) => {
      let r = 0;
      for (let j = 0; j < n; j++) r += state[j] === 0 ? a[i][j] * mean[j] : -a[i][j] * (x[j] - mean[j]);
      return r;
    });
    for (let c = 0; c < free.length; c++) {
      for (let r = c + 1; r < free.length; r++) {
        const factor = m[r][c] / m[c][c];
        for (let k = c; k < free.length; k++) m[r][k] -= factor * m[c][k];
        rhs[r] -= factor * rhs[c];
      }
    }
    const solution = new Array<number>(free.length);
    for (let r = free.length - 1; r >= 0; r--) {
      let s = rhs[r];
      for (let k = r + 1; k < free.length; k++) s -= m[r][k] * solution[k];
      solution[r] = s / m[r][r];
    }
    free.forEach((i, k) => (x[i] = solution[k]));
    if (x.some((v, i) => v < lower[i] - 1e-12 || v > upper[i] + 1e-12)) continue;
    const g = x.map((_, i) => a[i].reduce((s, aij, j) => s + aij * (x[j] - mean[j]), 0));
    if (state.some((s, i) => (s === 1 && g[i] < -1e-12) || (s === 2 && g[i] > 1e-12))) continue; // KKT signs
    const f = 0.5 * x.reduce((s, xi, i) => s + (xi - mean[i]) * g[i], 0);
    if (!best || f < best.f) best = { x, f };
  }
  if (!best) throw new Error('oracle found no KKT point');
  return best.x;
}

test('every method solves a box-constrained quadratic whose minimum has active bounds (KKT oracle)', async (t) => {
  const lower = [-1, -6, -5];
  const upper = [1, 5, 0];
  const expected = boxQuadraticOracle(MEAN, PRECISION, lower, upper);
  const active = expected.filter((v, i) => v === lower[i] || v === upper[i]).length;
  t.true(active >= 1 && active < 3, `the oracle's minimum should have active and free coordinates: ${expected}`);
  t.log(`oracle minimum: ${expected}`);
  const cases = [
    { method: 'lbfgsb' as const, tolerance: 1e-8 },
    { method: 'momentum' as const, tolerance: 1e-6, scales: f64(SIGMA) },
    { method: 'adam' as const, tolerance: 1e-6, scales: f64(SIGMA) },
  ];
  for (const { method, tolerance, scales } of cases) {
    const result = await minimize(recordingObjective(3, quadratic(MEAN, PRECISION)), {
      method,
      starts: f64([-0.5, 4, -4]),
      bounds: { lower: f64(lower), upper: f64(upper) },
      scales,
      gtol: 1e-9,
      ftolAbs: 0,
      ftolRel: 0,
    });
    t.true(result.best.converged, `${method}: ${result.best.message}`);
    expected.forEach((v, i) => t.true(Math.abs(result.best.x[i] - v) < tolerance, `${method}: x${i} = ${result.best.x[i]}, expected ${v}`));
    expected.forEach((v, i) => {
      const state = v === lower[i] ? 'lower' : v === upper[i] ? 'upper' : 'free';
      t.is(result.best.atBound[i], state, `${method}: bound state of x${i}`);
    });
    t.log(`${method}: ${result.best.iterations} iterations, ${result.evaluations.points} evaluations`);
  }
});

test('scales make a badly scaled NLL (mass ~91 ± 0.1, τ ~ 0.01 ± 1e-4) easy; default tolerances resolve ΔNLL ≪ 1e-3', async (t) => {
  // Gaussian NLL with a large constant like a sum over 1e5 events: x = (M, Γ, τ).
  const mean = [91.2, 2.5, 0.01];
  const sigma = [0.1, 0.3, 1e-4];
  const rho = [
    [1, 0.3, 0],
    [0.3, 1, -0.2],
    [0, -0.2, 1],
  ];
  const covariance = rho.map((row, i) => row.map((r, j) => r * sigma[i] * sigma[j]));
  const { inverse3 } = await import('./fit-helpers.ts');
  const nll = quadratic(mean, inverse3(covariance), 4.2e5);
  const starts = f64([90, 3.5, 0.0102, 92.5, 1.5, 0.0097]);
  const bounds = { lower: f64([60, 0.5, 1e-3]), upper: f64([120, 5, 0.1]) };
  for (const method of ['lbfgsb', 'momentum', 'adam'] as const) {
    const result = await minimize(recordingObjective(3, nll), { method, starts, bounds, scales: f64(sigma) });
    t.true(result.best.converged, `${method}: ${result.best.message}`);
    t.true(result.best.value - 4.2e5 < 1e-4, `${method}: ΔNLL at the end = ${result.best.value - 4.2e5}`);
    mean.forEach((m, i) => t.true(Math.abs(result.best.x[i] - m) < 0.02 * sigma[i], `${method}: x${i} off by ${(result.best.x[i] - m) / sigma[i]} σ`));
    t.log(`${method} (scaled, default tolerances): ${result.evaluations.calls} calls, ${result.evaluations.points} points, reasons ${result.starts.map((s) => s.reason)}`);
  }
});

test('multi-start: all K starts share one evaluate call per step and converged starts drop out', async (t) => {
  const objective = recordingObjective(3, quadratic(MEAN, PRECISION));
  // Start 1 sits on the minimum (done after one evaluation); the others are progressively further away.
  const starts = f64([...MEAN.map((m) => m + 1), ...MEAN, ...MEAN.map((m) => m + 30), ...MEAN.map((m) => m - 300)]);
  const progress: MinimizeProgress[] = [];
  const result = await minimize(objective, { method: 'lbfgsb', starts, gtol: 1e-9, onProgress: (p) => progress.push(p) });
  const sizes = objective.callSizes;
  t.is(sizes[0], 4, 'the first call carries every start');
  t.is(sizes[1], 3, 'the start at the minimum dropped out after its first evaluation');
  for (let c = 1; c < sizes.length; c++) t.true(sizes[c] <= sizes[c - 1], `call sizes never grow: ${sizes}`);
  t.is(sizes.length, Math.max(...result.starts.map((s) => s.evaluations)), 'calls = evaluations of the slowest start');
  t.is(sizes.reduce((a, b) => a + b, 0), result.starts.reduce((a, s) => a + s.evaluations, 0));
  t.deepEqual(result.evaluations, { calls: sizes.length, points: sizes.reduce((a, b) => a + b, 0) });
  t.is(result.starts[1].evaluations, 1);
  t.is(result.starts[1].reason, 'gtol');
  t.true(result.starts.every((s) => s.converged));
  t.is(progress.length, sizes.length, 'onProgress after every call');
  t.is(progress.at(-1)!.activeStarts, 0);
  t.log(`call sizes: ${sizes.join(' ')}`);
});

test('momentum and Adam reach the unconstrained quadratic minimum to 1e-6 with scales', async (t) => {
  for (const method of ['momentum', 'adam'] as const) {
    const result = await minimize(recordingObjective(3, quadratic(MEAN, PRECISION)), {
      method,
      starts: f64([3, 3, 3]),
      scales: f64(SIGMA),
      gtol: 1e-9,
      ftolAbs: 0,
      ftolRel: 0,
    });
    t.is(result.best.reason, 'gtol', `${method}: ${result.best.message}`);
    MEAN.forEach((m, i) => t.true(Math.abs(result.best.x[i] - m) < 1e-6, `${method}: x${i} = ${result.best.x[i]}`));
  }
});

test('budgets stop a start with the matching reason', async (t) => {
  const objective = recordingObjective(2, rosenbrock);
  const byIterations = await minimize(objective, { method: 'lbfgsb', starts: f64([-1.2, 1]), maxIterations: 3, ...tight });
  t.is(byIterations.best.reason, 'maxIterations');
  t.is(byIterations.best.iterations, 3);
  t.false(byIterations.best.converged);
  const byEvaluations = await minimize(objective, { method: 'adam', starts: f64([-1.2, 1]), maxEvaluations: 7, ...tight });
  t.is(byEvaluations.best.reason, 'maxEvaluations');
  t.is(byEvaluations.best.evaluations, 7);
  t.regex(byEvaluations.best.message, /maxEvaluations = 7/);
});

test('the ftol criterion stops at |ΔNLL| ≤ ftolAbs when the gradient test cannot be met', async (t) => {
  const result = await minimize(recordingObjective(3, quadratic(MEAN, PRECISION, 1e6)), {
    method: 'lbfgsb',
    starts: f64([5, 5, 5]),
    gtol: 0,
  });
  t.is(result.best.reason, 'ftol', result.best.message);
  t.true(result.best.value - 1e6 < 1e-5, `ΔNLL left: ${result.best.value - 1e6}`);
});

const nanBeyond =
  (limit: number): ValueAndGradient =>
  (x) => {
    if (x[0] > limit) return { value: NaN, gradient: new Float64Array(x.length).fill(NaN) };
    return quadratic([3, 0], [[1, 0], [0, 1]])(x);
  };

test('a NaN from the objective stops that start with a clear reason, keeping the last finite point', async (t) => {
  const result = await minimize(recordingObjective(2, nanBeyond(2)), { method: 'lbfgsb', starts: f64([0, 1]) });
  const start = result.best;
  t.is(start.reason, 'nonFinite');
  t.false(start.converged);
  t.true(Number.isFinite(start.value));
  t.true(start.x.every(Number.isFinite) && start.x[0] <= 2);
  t.regex(start.message, /returned value NaN at x = \[/);
});

test('a start whose first value is NaN is reported while the other starts still win; all-NaN starts throw', async (t) => {
  const objective = recordingObjective(2, nanBeyond(4));
  const result = await minimize(objective, { method: 'lbfgsb', starts: f64([5, 0, 0, 0.5]) });
  t.is(result.starts[0].reason, 'nonFinite');
  t.regex(result.starts[0].message, /value NaN at x = \[5, 0\] \(start 0\)/);
  t.is(result.best.start, 1);
  t.true(result.best.converged);
  t.true(Math.abs(result.best.x[0] - 3) < 1e-6);
  const error = await t.throwsAsync(minimize(objective, { method: 'adam', starts: f64([5, 0, 6, 0]) }));
  t.regex(error.message, /no start produced a finite objective value/);
  t.regex(error.message, /start 1: .*value NaN at x = \[6, 0\]/);
});

test('L-BFGS-B still reaches gtol when the value stops resolving the decrease (quantised f, exact gradient)', async (t) => {
  // Rosenbrock + 1000 with f rounded to 1e-6: the last iterations gain far less than that, so the line search
  // must trust the gradient (approximate Wolfe, accepting a point that passes gtol) instead of failing.
  const quantised = recordingObjective(2, (x) => {
    const { value, gradient } = rosenbrock(x);
    return { value: 1000 + Math.round(value * 1e6) / 1e6, gradient };
  });
  // ftol is switched off through ftolIterations: the quantised f no longer changes over the last iterations.
  const result = await minimize(quantised, { method: 'lbfgsb', starts: f64([-1.2, 1]), gtol: 1e-9, ftolIterations: 1000 });
  t.is(result.best.reason, 'gtol', result.best.message);
  for (const xi of result.best.x) t.true(Math.abs(xi - 1) < 1e-8, `x = ${result.best.x}`);
});
