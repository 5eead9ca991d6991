import test from 'ava';
import { gridScan, minimize, nllMap2d, randomScan, type ScanProgress } from '../runtime/src/fit/index.ts';
import { f64, MEAN, PRECISION, quadratic, recordingObjective } from './fit-helpers.ts';

const box = { lower: f64([-1, -4, -2]), upper: f64([3, 0, 1]) };

test('grid scan: every node in order, batched calls, and the best node equals a brute-force minimum', async (t) => {
  const fn = quadratic(MEAN, PRECISION);
  const objective = recordingObjective(3, fn);
  const progress: ScanProgress[] = [];
  const result = await gridScan(objective, { bounds: box, pointsPerAxis: [5, 9, 7], batchSize: 100, onProgress: (p) => progress.push(p) });
  t.is(result.count, 5 * 9 * 7);
  t.deepEqual(objective.callSizes, [100, 100, 100, 15]);
  t.deepEqual(result.evaluations, { calls: 4, points: 315 });
  t.deepEqual(progress.map((p) => p.done), [100, 200, 300, 315]);
  // Node (a, b, c) is at row (a·9 + b)·7 + c; the last parameter varies fastest.
  const node = (a: number, b: number, c: number) => Array.from(result.points.subarray(((a * 9 + b) * 7 + c) * 3, ((a * 9 + b) * 7 + c + 1) * 3));
  t.deepEqual(node(0, 0, 0), [-1, -4, -2]);
  t.deepEqual(node(4, 8, 6), [3, 0, 1]);
  t.deepEqual(node(2, 4, 3), [1, -2, -0.5]);
  let bruteBest = Infinity;
  for (let a = 0; a < 5; a++) {
    for (let b = 0; b < 9; b++) {
      for (let c = 0; c < 7; c++) bruteBest = Math.min(bruteBest, fn(f64([-1 + a, -4 + b * 0.5, -2 + c * 0.5])).value);
    }
  }
  t.is(result.best.value, bruteBest);
  t.deepEqual(Array.from(result.best.x), node(...decode(result.best.index)));
  t.is(result.gradients, undefined);
});

function decode(index: number): [number, number, number] {
  return [Math.floor(index / 63), Math.floor(index / 7) % 9, index % 7];
}

test('grid scan on a grid that contains the minimum finds it exactly; one point per axis is the middle', async (t) => {
  const objective = recordingObjective(3, quadratic([1.5, -3, 0.25], PRECISION));
  const result = await gridScan(objective, { bounds: { lower: f64([0, -4, 0]), upper: f64([3, -2, 1]) }, pointsPerAxis: [3, 3, 5], withGradient: true });
  t.deepEqual(Array.from(result.best.x), [1.5, -3, 0.25]);
  t.is(result.best.value, 0);
  t.is(result.gradients!.length, result.count * 3);
  const middle = await gridScan(objective, { bounds: box, pointsPerAxis: 1 });
  t.deepEqual(Array.from(middle.points), [1, -2, -0.5]);
});

test('random scan: seeded and reproducible, inside the box, uniform, and a custom generator is used', async (t) => {
  const objective = recordingObjective(3, quadratic(MEAN, PRECISION));
  const a = await randomScan(objective, { bounds: box, count: 6000, seed: 9, batchSize: 2500 });
  const b = await randomScan(objective, { bounds: box, count: 6000, seed: 9 });
  const c = await randomScan(objective, { bounds: box, count: 6000, seed: 10 });
  t.deepEqual(a.points, b.points);
  t.notDeepEqual(a.points, c.points);
  t.deepEqual(a.evaluations, { calls: 3, points: 6000 });
  for (let i = 0; i < 3; i++) {
    const column = Array.from({ length: 6000 }, (_, k) => a.points[k * 3 + i]);
    t.true(column.every((v) => v >= box.lower[i] && v < box.upper[i]));
    const width = box.upper[i] - box.lower[i];
    const mean = column.reduce((s, v) => s + v, 0) / 6000;
    t.true(Math.abs(mean - (box.lower[i] + box.upper[i]) / 2) < 5 * width * Math.sqrt(1 / 12 / 6000), `axis ${i} mean ${mean}`);
  }
  let bestIndex = 0;
  a.values.forEach((v, k) => (bestIndex = v < a.values[bestIndex] ? k : bestIndex));
  t.is(a.best.index, bestIndex);
  const fixed = await randomScan(objective, { bounds: box, count: 2, random: () => 0.25 });
  t.deepEqual(Array.from(fixed.points), [0, -3, -1.25, 0, -3, -1.25]);
});

test('nllMap2d: ΔNLL and gradient arrows on the grid equal the analytic slice, one call per row', async (t) => {
  const fn = quadratic(MEAN, PRECISION, 1000);
  const objective = recordingObjective(3, fn);
  const best = f64(MEAN);
  const [nx, ny] = [7, 5];
  const map = await nllMap2d(objective, best, 0, 2, [[0.5, 2.5], [-1, 1]], nx, ny);
  t.deepEqual(objective.callSizes, [nx + 1, nx, nx, nx, nx], 'one call per row; the best point rides with the first');
  t.is(map.reference, 1000);
  for (let r = 0; r < ny; r++) {
    for (let c = 0; c < nx; c++) {
      const x = f64(MEAN);
      x[0] = 0.5 + (2 * c) / (nx - 1);
      x[2] = -1 + (2 * r) / (ny - 1);
      const exact = fn(x);
      t.true(Math.abs(map.deltaNll[r * nx + c] - (exact.value - 1000)) < 1e-9);
      t.is(map.gradient!.i[r * nx + c], exact.gradient[0]);
      t.is(map.gradient!.j[r * nx + c], exact.gradient[2]);
    }
  }
  t.deepEqual(Array.from(map.xs), Array.from({ length: nx }, (_, c) => 0.5 + (2 * c) / (nx - 1)));

  const batched = recordingObjective(3, fn);
  const noGradient = await nllMap2d(batched, best, 0, 2, [[0.5, 2.5], [-1, 1]], nx, ny, { batchSize: 16, nllMin: 1000, withGradient: false });
  t.deepEqual(batched.callSizes, [16, 16, 3]);
  t.is(noGradient.gradient, undefined);
  t.deepEqual(noGradient.deltaNll, map.deltaNll);
});

test('L-BFGS-B needs far fewer evaluations than a grid scan reaching the same NLL on a smooth 3-parameter problem', async (t) => {
  // A smooth, non-quadratic, correlated NLL: log-cosh terms in rotated coordinates.
  const fn = (x: Float64Array) => {
    const r = [x[0] + 0.4 * x[1] - 0.7, x[1] - 0.3 * x[2] + 1.1, 0.5 * x[2] + 0.2 * x[0] - 0.4];
    const w = [3, 1.5, 4];
    const value = r.reduce((s, ri, k) => s + w[k] * Math.log(Math.cosh(ri)), 0);
    const dr = r.map((ri, k) => w[k] * Math.tanh(ri));
    return { value, gradient: f64([dr[0] + 0.2 * dr[2], 0.4 * dr[0] + dr[1], -0.3 * dr[1] + 0.5 * dr[2]]) };
  };
  const bounds = { lower: f64([-5, -5, -5]), upper: f64([5, 5, 5]) };
  const fitObjective = recordingObjective(3, fn);
  const fit = await minimize(fitObjective, { method: 'lbfgsb', starts: f64([-4, 4, 4]), bounds });
  t.true(fit.best.converged);
  const target = fit.best.value + 1e-2; // a grid can only approach the minimum; ask for ΔNLL ≤ 0.01
  let gridPoints = 0;
  let perAxis = 3;
  for (; perAxis <= 129; perAxis = 2 * perAxis - 1) {
    const grid = await gridScan(recordingObjective(3, fn), { bounds, pointsPerAxis: perAxis, batchSize: 65536 });
    gridPoints = grid.count;
    if (grid.best.value <= target) break;
  }
  t.true(perAxis <= 129, 'the grid reached the target');
  t.log(`L-BFGS-B: ${fit.evaluations.points} evaluations (${fit.evaluations.calls} calls) to NLL ${fit.best.value.toExponential(3)}`);
  t.log(`grid scan: ${perAxis}³ = ${gridPoints} evaluations to come within 0.01 of it`);
  t.true(fit.evaluations.points * 100 < gridPoints, `${fit.evaluations.points} vs ${gridPoints}`);
});
