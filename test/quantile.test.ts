// Quantile (Gauss-rank) preprocessing (trainer/src/flows/preprocess.ts, trainer/src/train/dataset.ts): the
// piecewise-linear empirical CDF F̂ through the training sample's quantiles, then Φ⁻¹, inside the graph.
// Oracles: with the identity flow the density is F̂′ exactly (the map's own log-Jacobian), the knots of a large
// exponential sample sit at its known quantiles, the sampler inverts the map, an exported flow's log p equals the
// trainer's evaluation of the same IR and integrates to 1, and a flow trains with the map.
import test from 'ava';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '@flowscan/runtime';
import { loadModel } from '@flowscan/runtime/node';
import type { FeaturePreprocessing, ModelDefinition } from '../trainer/src/flows/config.ts';
import { flowConfig } from '../trainer/src/flows/config.ts';
import { flowGraphs } from '../trainer/src/flows/flow.ts';
import { preprocessFromBase, preprocessToBase } from '../trainer/src/flows/preprocess.ts';
import { exportModel } from '../trainer/src/export/export.ts';
import { GraphBuilder } from '../trainer/src/ir/graph.ts';
import { defineModel, quantileKnots, trainingDataFromColumns } from '../trainer/src/train/dataset.ts';
import { trainFlow } from '../trainer/src/train/train.ts';
import { flowscan } from './helpers/commands.ts';
import { randomModel, runIr, runOnnx64 } from './helpers/flows.ts';
import { useCpuBackend } from './helpers/tf.ts';

test.before(useCpuBackend);

const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);
const KNOTS = [0, 0.5, 1.5, 4, 10];
const QUANTILE: FeaturePreprocessing = { lo: 0, hi: 10, map: 'quantile', mean: 0, std: 1, knots: KNOTS };
const WINDOW: FeaturePreprocessing = { lo: 40, hi: 140, map: 'probit', mean: 0, std: 1 };

/** F̂′(x) of the knots above: each of the 4 segments holds 1/4. */
function slope(x: number): number {
  const k = Math.min(KNOTS.length - 2, KNOTS.findLastIndex((v) => v <= x));
  return 0.25 / (KNOTS[k + 1] - KNOTS[k]);
}

test('identity flow: N(0,1) density of the mapped point times |J| is F̂′(x) exactly; the sampler inverts the map', async (t) => {
  // A quantile feature beside a probit window, so the per-feature selection between the maps is exercised.
  const pre = [QUANTILE, WINDOW];
  const xs = [0, 1e-4, 0.25, 0.5, 1, 1.5, 2.2, 4, 7.5, 9.9999, 10];
  // float32 values, as both the float64 and the float32 graph then see the same events.
  const events = Array.from(Float32Array.from(xs.flatMap((x, i) => [x, 41 + 9 * i])));
  const g = new GraphBuilder();
  const { y, logDet } = preprocessToBase(g, pre, g.input('x', ['N', 2]));
  const back = preprocessFromBase(g, pre, y);
  const [y64, logDet64, back64] = await runOnnx64(g, [y, logDet, back], { x: { data: events, shape: [xs.length, 2] } }, new Map());
  xs.forEach((x, i) => {
    const logBase = -0.5 * (y64[2 * i] ** 2 + y64[2 * i + 1] ** 2) - 2 * LOG_SQRT_2PI;
    const expected = Math.log(slope(events[2 * i])) - Math.log(100);
    t.true(Math.abs(logBase + logDet64[i] - expected) < 1e-7, `x = ${x}: log N(y) + log|J| = ${logBase + logDet64[i]}, expected ${expected}`);
    t.true(Math.abs(back64[2 * i] - events[2 * i]) < 1e-7 * Math.max(1, x), `x = ${x} → ${back64[2 * i]}`);
    t.true(Math.abs(back64[2 * i + 1] - events[2 * i + 1]) < 1e-6, `window feature ${events[2 * i + 1]} → ${back64[2 * i + 1]}`);
  });
  // The median knot maps to 0, and the float32 graph agrees with the float64 one.
  t.true(Math.abs(y64[2 * xs.indexOf(1.5)]) < 1e-12);
  const [y32] = runIr(g, [y], { x: { data: Float32Array.from(events), shape: [xs.length, 2] } }, new Map());
  xs.slice(1, -1).forEach((x, i) => t.true(Math.abs(y32[2 * (i + 1)] - y64[2 * (i + 1)]) < 2e-5 * Math.max(1, Math.abs(y64[2 * (i + 1)])), `float32 z(${x})`));
});

test('the knots of a large exponential sample sit at its quantiles −ln(1 − k/K); ties still give increasing knots', (t) => {
  const rng = new Rng(8);
  const n = 100_000;
  const sample = Float32Array.from({ length: n }, () => -Math.log(1 - rng.uniform()));
  const data = trainingDataFromColumns({ x: sample }, ['x'], []);
  const def = defineModel(data, [{ name: 'x', quantile: true }], [], flowConfig('nsf', { blocks: 1, hidden: 8 }));
  const pre = def.preprocessing[0];
  t.is(pre.map, 'quantile');
  const knots = pre.knots!;
  const K = knots.length - 1;
  t.is(K, 256, 'one segment per 50 events, at most 256');
  t.is(knots[0], pre.lo);
  t.is(knots[K], pre.hi);
  for (let k = 1; k < K; k++) {
    const level = k / K;
    // The sample quantile's standard error is √(q(1 − q)/n)/f(x_q), with f(x_q) = 1 − q for the exponential.
    const error = Math.sqrt((level * (1 - level)) / n) / (1 - level);
    t.true(Math.abs(knots[k] + Math.log(1 - level)) < 5 * error, `knot ${k}: ${knots[k]} vs ${-Math.log(1 - level)} ± ${error}`);
  }
  // A discrete feature: most values tied. The knots still increase, so the map stays a bijection.
  const tied = quantileKnots(Float64Array.from({ length: 1000 }, (_, i) => (i % 3 === 0 ? 2 : 5)), undefined, 0, 10, 20);
  t.is(tied.length, 21);
  for (let k = 1; k < tied.length; k++) t.true(tied[k] > tied[k - 1], `knots ${tied[k - 1]}, ${tied[k]}`);
  // Weights move the knots towards heavy events, and only their ratios matter.
  const weighted = quantileKnots([1, 2, 3], [3, 1, 1], 0, 4, 2);
  t.true(weighted[1] < quantileKnots([1, 2, 3], undefined, 0, 4, 2)[1], `weighted median knot ${weighted[1]}`);
  t.deepEqual(quantileKnots([1, 2, 3], [30, 10, 10], 0, 4, 2), weighted);
});

function withQuantileFeature(def: ModelDefinition): ModelDefinition {
  const rng = new Rng(5);
  const sample = Float64Array.from({ length: 5000 }, () => 38 + 104 * rng.uniform() ** 2);
  return { ...def, preprocessing: [{ lo: 38, hi: 142, map: 'quantile', mean: 0, std: 1, knots: quantileKnots(sample, undefined, 38, 142, 32) }, ...def.preprocessing.slice(1)] };
}

test('exported with a quantile feature: ONNX log p equals the trainer\'s IR evaluation and integrates to 1', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'flowscan-quantile-'));
  try {
    const { def: base, weights } = randomModel('nsf', 1, 1, 4);
    const def = withQuantileFeature(base);
    const provenance = { dataHash: '0'.repeat(64), dataFiles: [], events: 1, trainingEvents: 1, validationEvents: 1, epochs: 1, bestEpoch: 1, validationLoss: 0, backend: 'cpu', seed: 1, date: new Date().toISOString(), trainer: 'test' };
    const manifest = await exportModel({ definition: def, weights, history: [], provenance }, dir, { name: 'quantile-test' });
    t.is(manifest.preprocessing.features[0].map, 'quantile');
    t.is(manifest.preprocessing.features[0].knots?.length, 33);
    const model = await loadModel(dir, { ep: 'cpu' });
    // A fine grid over the support at one θ: trapezoid integral of p, and log p against the IR.
    const n = 20_001;
    const x = Float32Array.from({ length: n }, (_, i) => 38 + (104 * i) / (n - 1));
    const theta = new Float32Array([90]);
    const logP = await model.logProb(model.eventsTensor(x, n), theta);
    const g = new GraphBuilder();
    const lp = flowGraphs(g, def).logProb(g.input('x', ['N', 1]), g.input('theta', ['N', 1]));
    const [reference] = runIr(g, [lp], { x: { data: x, shape: [n, 1] }, theta: { data: new Float32Array(n).fill(90), shape: [n, 1] } }, weights);
    let worst = 0;
    let integral = 0;
    for (let i = 0; i < n; i++) {
      worst = Math.max(worst, Math.abs(logP[i] - reference[i]));
      if (i > 0) integral += 0.5 * (Math.exp(logP[i]) + Math.exp(logP[i - 1])) * (x[i] - x[i - 1]);
    }
    t.true(worst < 1e-4, `max |ONNX − IR| log p = ${worst}`);
    t.true(Math.abs(integral - 1) < 2e-3, `∫ p dx = ${integral}`);
    // The exported sampler stays inside the support and round-trips through log p's map.
    const rng = new Rng(6);
    const z = new Float32Array(2000);
    rng.fillNormal(z);
    const samples = await model.sample(z, theta);
    t.true(samples.every((v) => v >= 38 && v <= 142), 'samples inside the support');
    await model.release();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a flow trains with the quantile map (the training step graph holds it) and learns the exponential better than the logit map', async (t) => {
  const rng = new Rng(9);
  const sample = Float32Array.from({ length: 3000 }, () => -Math.log(1 - rng.uniform()));
  const data = trainingDataFromColumns({ x: sample }, ['x'], []);
  const flow = flowConfig('nsf', { blocks: 1, hidden: 8, bins: 4 });
  const options = { maxEpochs: 3, batchSize: 256, engine: 'onnxruntime' as const, threads: 1, seed: 2 };
  const quantile = await trainFlow(defineModel(data, [{ name: 'x', quantile: true }], [], flow), data, options);
  const logit = await trainFlow(defineModel(data, [{ name: 'x' }], [], flow), data, options);
  // The exponential's entropy is 1 nat: a good density reaches a validation NLL near 1.
  t.true(Number.isFinite(quantile.validationLoss) && quantile.validationLoss < 1.1, `quantile NLL ${quantile.validationLoss}`);
  t.true(quantile.validationLoss < logit.validationLoss, `quantile ${quantile.validationLoss} vs logit ${logit.validationLoss}`);
});

test('quantile preprocessing refuses a window the training data leave', (t) => {
  const data = trainingDataFromColumns({ x: [1, 2, 30] }, ['x'], []);
  t.throws(() => defineModel(data, [{ name: 'x', quantile: true, support: [0, 10] }], [], flowConfig('nsf')), { message: /feature "x": 1 training events lie outside the declared support \[0, 10\]/ });
});

test('flowscan train --quantile: the exported manifest carries the map and its knots; a name not in --features is refused', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'flowscan-quantile-cli-'));
  const train = (args: string[]) => flowscan(['train', ...args]);
  try {
    const rng = new Rng(12);
    const csv = join(dir, 'exp.csv');
    await writeFile(csv, `x,y\n${Array.from({ length: 600 }, () => `${-Math.log(1 - rng.uniform())},${rng.uniform()}`).join('\n')}\n`);
    const trained = await train(['--data', csv, '--features', 'x,y', '--quantile', 'x', '--flow', 'nsf-coupling', '--blocks', '1', '--hidden', '8', '--epochs', '1', '--engine', 'onnxruntime', '--out', join(dir, 'run'), '--export', 'exp']);
    t.is(trained.code, 0, trained.stderr);
    const manifest = JSON.parse(await readFile(join(dir, 'run', 'onnx', 'manifest.json'), 'utf8'));
    t.is(manifest.preprocessing.features[0].map, 'quantile');
    t.is(manifest.preprocessing.features[0].knots.length, 13, '600 events: 12 segments of 50');
    t.is(manifest.preprocessing.features[1].map, 'logit');
    const refused = await train(['--data', csv, '--features', 'x', '--quantile', 'z', '--out', join(dir, 'never')]);
    t.not(refused.code, 0);
    t.regex(refused.stderr, /--quantile names "z", which is not in --features \(x\)/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
