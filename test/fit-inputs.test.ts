import test from 'ava';
import {
  gridScan,
  hessian,
  minimize,
  nllMap2d,
  profileLikelihood,
  randomScan,
  type BatchObjective,
  type MinimizerOptions,
} from '../runtime/src/fit/index.ts';
import { f64, quadratic, recordingObjective } from './fit-helpers.ts';

const objective = recordingObjective(2, quadratic([0, 0], [[1, 0], [0, 1]]));
const bounds = { lower: f64([-1, 0]), upper: f64([1, 10]) };

test('a start outside the bounds names the start, the parameter, its value and the bounds', async (t) => {
  const error = await t.throwsAsync(minimize(objective, { method: 'lbfgsb', starts: f64([0, 1, 0.5, 12]), bounds }));
  t.is(error.message, 'start 1: parameter 1 = 12 is outside its bounds [0, 10]; move the point inside the bounds (or widen the bounds).');
  const single = await t.throwsAsync(minimize(objective, { method: 'adam', starts: f64([-2, 1]), bounds }));
  t.regex(single.message, /^start: parameter 0 = -2 is outside its bounds \[-1, 1\]/);
});

test('inverted, NaN or wrongly sized bounds are rejected with the offending values', async (t) => {
  const inverted = await t.throwsAsync(
    minimize(objective, { method: 'lbfgsb', starts: f64([0, 1]), bounds: { lower: f64([-1, 5]), upper: f64([1, 2]) } }),
  );
  t.regex(inverted.message, /bounds of parameter 1 are inverted: lower=5 > upper=2/);
  const nan = await t.throwsAsync(
    minimize(objective, { method: 'lbfgsb', starts: f64([0, 1]), bounds: { lower: f64([NaN, 0]), upper: f64([1, 2]) } }),
  );
  t.regex(nan.message, /parameter 0 contain NaN/);
  const short = await t.throwsAsync(
    minimize(objective, { method: 'lbfgsb', starts: f64([0, 1]), bounds: { lower: f64([0]), upper: f64([1]) } }),
  );
  t.regex(short.message, /lengths lower=1, upper=1 but the objective has P=2/);
});

test('wrong lengths and bad numbers in starts, scales and options fail clearly', async (t) => {
  const cases: [MinimizerOptions & { starts: Float64Array; scales?: Float64Array }, RegExp][] = [
    [{ method: 'lbfgsb', starts: f64([0, 1, 2]) }, /3 entries, which is not a positive multiple of P=2/],
    [{ method: 'lbfgsb', starts: new Float64Array(0) }, /0 entries, which is not a positive multiple of P=2/],
    [{ method: 'lbfgsb', starts: [0, 1] as unknown as Float64Array }, /plain array of length 2 \(wrap it in new Float64Array/],
    [{ method: 'lbfgsb', starts: f64([0, NaN]) }, /parameter 1 is NaN; every parameter value must be finite/],
    [{ method: 'lbfgsb', starts: f64([0, 1]), scales: f64([1]) }, /one entry per parameter \(P=2\), got a Float64Array of length 1/],
    [{ method: 'lbfgsb', starts: f64([0, 1]), scales: f64([1, 0]) }, /scale of parameter 1 is 0; scales must be finite and > 0/],
    [{ method: 'lbfgsb', starts: f64([0, 1]), memory: 0 }, /memory must be an integer ≥ 1, got 0/],
    [{ method: 'adam', starts: f64([0, 1]), beta2: 1 }, /beta2 must be in \[0, 1\), got 1/],
    [{ method: 'momentum', starts: f64([0, 1]), learningRate: -1 }, /learningRate must be a finite number > 0, got -1/],
    [{ method: 'lbfgsb', starts: f64([0, 1]), gtol: NaN }, /gtol must be a finite number ≥ 0, got NaN/],
    [{ method: 'newton', starts: f64([0, 1]) } as unknown as MinimizerOptions & { starts: Float64Array }, /method must be 'lbfgsb', 'adam' or 'momentum', got "newton"/],
  ];
  for (const [options, pattern] of cases) {
    const error = await t.throwsAsync(minimize(objective, options));
    t.regex(error.message, pattern);
  }
});

test('an objective that returns the wrong number of values or gradients is caught', async (t) => {
  const shortValues: BatchObjective = {
    dimension: 2,
    evaluate: async (_points, count) => ({ values: new Float64Array(count - 1), gradients: new Float64Array(2 * count) }),
  };
  const values = await t.throwsAsync(minimize(shortValues, { method: 'lbfgsb', starts: f64([0, 1, 1, 1]) }));
  t.regex(values.message, /returned 1 values for 2 points/);
  const noGradients: BatchObjective = { dimension: 2, evaluate: async (_points, count) => ({ values: new Float64Array(count) }) };
  const gradients = await t.throwsAsync(minimize(noGradients, { method: 'lbfgsb', starts: f64([0, 1]) }));
  t.regex(gradients.message, /asked for gradients of 1 points in 2 dimensions and returned no gradients/);
  const badDimension = { dimension: 0, evaluate: noGradients.evaluate };
  const dimension = await t.throwsAsync(minimize(badDimension, { method: 'lbfgsb', starts: f64([0]) }));
  t.regex(dimension.message, /objective.dimension must be a positive integer/);
});

test('Hessian, profile and scans validate their inputs too', async (t) => {
  const wrongLength = await t.throwsAsync(hessian(objective, f64([0])));
  t.regex(wrongLength.message, /P=2 entries, got 1/);
  const outside = await t.throwsAsync(hessian(objective, f64([0, -1]), { bounds }));
  t.regex(outside.message, /Hessian point: parameter 1 = -1 is outside its bounds \[0, 10\]/);
  const factor = await t.throwsAsync(hessian(objective, f64([0, 1]), { checkFactor: 1 }));
  t.regex(factor.message, /checkFactor must differ from 1/);
  const level = await t.throwsAsync(profileLikelihood(objective, { best: f64([0, 1]), levels: [0.5, -2] }));
  t.regex(level.message, /profile level must be a finite number > 0, got -2/);
  const index = await t.throwsAsync(profileLikelihood(objective, { best: f64([0, 1]), parameters: [2] }));
  t.regex(index.message, /profile parameter must be a parameter index in \[0, 1\], got 2/);
  const covariance = await t.throwsAsync(profileLikelihood(objective, { best: f64([0, 1]), covariance: f64([1, 0, 0]) }));
  t.regex(covariance.message, /P×P = 4 entries/);
  const open = await t.throwsAsync(gridScan(objective, { bounds: { lower: f64([0, 0]), upper: f64([1, Infinity]) }, pointsPerAxis: 3 }));
  t.regex(open.message, /gridScan needs finite bounds on every parameter; parameter 1 has \[0, Infinity\]/);
  const axes = await t.throwsAsync(gridScan(objective, { bounds, pointsPerAxis: [3, 0] }));
  t.regex(axes.message, /pointsPerAxis\[1\] must be an integer ≥ 1, got 0/);
  const huge = await t.throwsAsync(gridScan(objective, { bounds, pointsPerAxis: 5000 }));
  t.regex(huge.message, /25000000 points exceed the limit/);
  const random = await t.throwsAsync(randomScan(objective, { bounds, count: 3, random: () => 1 }));
  t.regex(random.message, /returned 1; it must return numbers in \[0, 1\)/);
  const same = await t.throwsAsync(nllMap2d(objective, f64([0, 1]), 1, 1, [[0, 1], [0, 1]], 3, 3));
  t.regex(same.message, /i and j must be different parameters, both are 1/);
  const range = await t.throwsAsync(nllMap2d(objective, f64([0, 1]), 0, 1, [[0, 1], [2, 1]], 3, 3));
  t.regex(range.message, /the y range must be \[min, max\] with finite min ≤ max, got \[2,1\]/);
});
