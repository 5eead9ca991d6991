// Training: a small conditional flow on the toy signal approaches the exact density (an untrained or an
// unconditional model does not), resumed runs continue exactly, and bad settings are refused.
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '@flowscan/runtime';
import * as toy from '../trainer/src/data/toy.ts';
import { flowConfig, type ModelDefinition } from '../trainer/src/flows/config.ts';
import { initialWeights, logProbGraph, parameterSpecs } from '../trainer/src/flows/graphs.ts';
import { selectBackend } from '../trainer/src/train/backend.ts';
import { defineModel, trainingDataFromColumns } from '../trainer/src/train/dataset.ts';
import { trainFlow } from '../trainer/src/train/train.ts';
import { runTrainings } from '../trainer/src/train/parallel.ts';
import { runIr } from './helpers/flows.ts';

let dir = '';
test.before(async () => {
  await selectBackend('wasm');
  dir = await mkdtemp(join(tmpdir(), 'flowscan-train-'));
});
test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

const flow = flowConfig('nsf', { blocks: 2, hidden: 16, bins: 8 });

/** Exact minus flow mean log-density (nats/event) on fresh events, θ drawn from the training prior. */
function gapToExact(def: ModelDefinition, weights: Map<string, Float32Array>, conditional: boolean): number {
  const held = toy.simulateSignalTraining(new Rng(99), 5000);
  const { graph, outputs } = logProbGraph(def);
  const feeds: Record<string, { data: Float32Array; shape: number[] }> = { x: { data: Float32Array.from(held.x), shape: [5000, 1] } };
  if (conditional) {
    const theta = new Float32Array(10000);
    for (let i = 0; i < 5000; i++) theta.set([held.m_pole[i], held.gamma[i]], 2 * i);
    feeds.theta = { data: theta, shape: [5000, 2] };
  }
  const [lp] = runIr(graph, [outputs.log_prob], feeds, weights);
  let gap = 0;
  for (let i = 0; i < 5000; i++) gap += toy.signalLogPdf(held.x[i], held.m_pole[i], held.gamma[i]) - lp[i];
  return gap / 5000;
}

test('a small conditional flow approaches the exact toy density; untrained and unconditional models do not', async (t) => {
  const sim = toy.simulateSignalTraining(new Rng(1), 20000);
  const data = trainingDataFromColumns(sim, ['x'], ['m_pole', 'gamma']);
  const def = defineModel(data, [{ name: 'x', unit: 'GeV' }], [{ name: 'm_pole' }, { name: 'gamma' }], flow);
  const result = await trainFlow(def, data, { maxEpochs: 4, batchSize: 256, learningRate: 5e-3, seed: 1 });
  const trained = gapToExact(def, result.weights, true);
  const rng = new Rng(5);
  const untrained = gapToExact(def, initialWeights(parameterSpecs(def), () => rng.uniform()), true);
  const marginal = trainingDataFromColumns(sim, ['x'], []);
  const defU = defineModel(marginal, [{ name: 'x', unit: 'GeV' }], [], flow);
  const unconditional = gapToExact(defU, (await trainFlow(defU, marginal, { maxEpochs: 4, batchSize: 256, learningRate: 5e-3, seed: 1 })).weights, false);
  t.log(`exact − flow mean log p: trained ${trained.toFixed(3)}, untrained ${untrained.toFixed(3)}, unconditional ${unconditional.toFixed(3)} nats/event`);
  t.true(trained < 0.25, `trained gap ${trained}`);
  t.true(untrained > 0.25, 'the bound fails for an untrained model');
  t.true(unconditional > 0.25, 'the bound fails for a model that ignores θ');
  t.true(result.history.length === 4 && result.eventsPerSecond > 0);
});

test('a resumed run continues exactly where the interrupted one stopped', async (t) => {
  const sim = toy.simulateSignalTraining(new Rng(2), 3000);
  const data = trainingDataFromColumns(sim, ['x'], ['m_pole', 'gamma']);
  const def = defineModel(data, [{ name: 'x' }], [{ name: 'm_pole' }, { name: 'gamma' }], flowConfig('nsf', { blocks: 1, hidden: 8, bins: 4 }));
  const options = { batchSize: 512, seed: 3, schedule: 'cosine' as const, patience: 10 };
  const straight = await trainFlow(def, data, { ...options, maxEpochs: 3 });
  const checkpoints = join(dir, 'resume');
  await trainFlow(def, data, { ...options, maxEpochs: 3, checkpointDir: checkpoints, onEpoch: (r) => {
    if (r.epoch === 2) throw new Error('interrupted');
  } }).catch((e: Error) => t.is(e.message, 'interrupted'));
  const resumed = await trainFlow(def, data, { ...options, maxEpochs: 3, checkpointDir: checkpoints, resume: true });
  t.is(resumed.epochs, 3);
  t.is(resumed.history.length, 3);
  t.true(Math.abs(resumed.validationLoss - straight.validationLoss) < 1e-6, `${resumed.validationLoss} vs ${straight.validationLoss}`);
});

test('fresh events every epoch: new training events, the same validation split, resumable; cosine decays per step to ~0', async (t) => {
  const simulate = (seed: number) => trainingDataFromColumns(toy.simulateSignalTraining(new Rng(seed), 3000), ['x'], ['m_pole', 'gamma']);
  const data = simulate(2);
  const def = defineModel(data, [{ name: 'x', support: [40, 140] }], [{ name: 'm_pole' }, { name: 'gamma' }], flowConfig('nsf', { blocks: 1, hidden: 8, bins: 4 }));
  const seen: number[] = [];
  const options = {
    batchSize: 512,
    learningRate: 4e-3,
    seed: 3,
    schedule: 'cosine' as const,
    patience: 10,
    freshEvents: (epoch: number) => {
      seen.push(epoch);
      return simulate(100 + epoch);
    },
  };
  const straight = await trainFlow(def, data, { ...options, maxEpochs: 3 });
  t.deepEqual(seen, [2, 3], 'epochs after the first draw new events');
  t.is(straight.trainingEvents, 2700 + 2 * 3000, 'the first epoch trains on the non-validation part, later ones on all fresh events');
  t.is(straight.validationEvents, 300);
  const fixed = await trainFlow(def, data, { ...options, maxEpochs: 3, freshEvents: undefined });
  t.not(straight.validationLoss, fixed.validationLoss, 'fresh events change the training');
  // Cosine annealing per step: the last epoch ends near zero, the first one well above half the initial rate.
  t.true(straight.history[2].learningRate < 0.01 * options.learningRate, `last rate ${straight.history[2].learningRate}`);
  t.true(straight.history[0].learningRate > 0.5 * options.learningRate, `first rate ${straight.history[0].learningRate}`);
  const checkpoints = join(dir, 'resume-fresh');
  await trainFlow(def, data, { ...options, maxEpochs: 3, checkpointDir: checkpoints, onEpoch: (r) => {
    if (r.epoch === 2) throw new Error('interrupted');
  } }).catch((e: Error) => t.is(e.message, 'interrupted'));
  const resumed = await trainFlow(def, data, { ...options, maxEpochs: 3, checkpointDir: checkpoints, resume: true });
  t.true(Math.abs(resumed.validationLoss - straight.validationLoss) < 1e-6, `${resumed.validationLoss} vs ${straight.validationLoss}`);
  const broken = simulate(7);
  broken.features[2] = NaN;
  await t.throwsAsync(trainFlow(def, data, { ...options, maxEpochs: 2, freshEvents: () => broken }), { message: /the fresh events of epoch 2: feature value 3 is NaN/ });
  await t.throwsAsync(trainFlow(def, data, { ...options, maxEpochs: 2, freshEvents: () => ({ ...broken, count: 10 }) }), { message: /the fresh events of epoch 2: features hold 3000 values, expected 10×1/ });
});

test('a declared support is modelled to its edges (probit map); training values outside it are refused', (t) => {
  const data = trainingDataFromColumns({ x: [41, 90, 139], m: [1, 2, 3] }, ['x'], ['m']);
  const declared = defineModel(data, [{ name: 'x', support: [40, 140] }], [{ name: 'm' }], flow);
  t.deepEqual(declared.preprocessing[0], { lo: 40, hi: 140, map: 'probit', mean: 0, std: 1 });
  const inferred = defineModel(data, [{ name: 'x' }], [{ name: 'm' }], flow);
  t.is(inferred.preprocessing[0].map, 'logit');
  t.true(inferred.preprocessing[0].lo < 41 && inferred.preprocessing[0].hi > 139, 'the inferred support is the training range widened by the margin');
  t.throws(() => defineModel(data, [{ name: 'x', support: [50, 140] }], [{ name: 'm' }], flow), {
    message: /feature "x": 1 training events lie outside the declared support \[50, 140\] \(training range \[41, 139\]\)/,
  });
  t.throws(() => defineModel(data, [{ name: 'x', support: [140, 40] }], [{ name: 'm' }], flow), { message: /declared support \[140, 40\] must be two finite numbers lo < hi/ });
});

test('a feature may widen its inferred support (its own margin); a declared window takes none', (t) => {
  const data = trainingDataFromColumns({ x: [41, 90, 139], y: [1, 2, 3], m: [1, 2, 3] }, ['x', 'y'], ['m']);
  const def = defineModel(data, [{ name: 'x', margin: 0.5 }, { name: 'y' }], [{ name: 'm' }], flow);
  t.like(def.preprocessing[0], { lo: 41 - 49, hi: 139 + 49, map: 'logit' });
  t.like(def.preprocessing[1], { lo: 1 - 0.04, hi: 3 + 0.04, map: 'logit' });
  t.throws(() => defineModel(data, [{ name: 'x', margin: 0 }, { name: 'y' }], [{ name: 'm' }], flow), { message: /feature "x": the support margin must be a number > 0, got 0/ });
  t.throws(() => defineModel(data, [{ name: 'x', margin: 0.5, support: [40, 140] }, { name: 'y' }], [{ name: 'm' }], flow), {
    message: /feature "x": a declared support has no margin/,
  });
});

test('trainings in worker threads give the same models as one after another, in job order', async (t) => {
  const module = new URL('./helpers/training-jobs.ts', import.meta.url).href;
  const jobs = [3, 4].map((seed) => ({ module, name: 'tinyBackgroundJob', args: [seed] }));
  const parallel = await runTrainings(jobs, { backend: 'wasm', parallel: 2 });
  const sequential = await runTrainings(jobs, { backend: 'wasm', parallel: 1 });
  t.deepEqual(
    parallel.map((m) => m.provenance.validationLoss),
    sequential.map((m) => m.provenance.validationLoss),
  );
  t.not(parallel[0].provenance.validationLoss, parallel[1].provenance.validationLoss, 'the two jobs differ');
  t.deepEqual(parallel[1].weights, sequential[1].weights);
  await t.throwsAsync(runTrainings([jobs[0], { module, name: 'noSuchJob', args: [] }], { backend: 'wasm', parallel: 2 }), {
    message: /training-jobs\.ts does not export a training job "noSuchJob"/,
  });
});

test('bad training settings and data are refused with clear messages', async (t) => {
  const sim = toy.simulateSignalTraining(new Rng(3), 200);
  const data = trainingDataFromColumns(sim, ['x'], ['m_pole', 'gamma']);
  const def = defineModel(data, [{ name: 'x' }], [{ name: 'm_pole' }, { name: 'gamma' }], flow);
  await t.throwsAsync(trainFlow(def, data, { learningRate: 2 }), { message: /learning rate must be in \(0, 1\), got 2/ });
  await t.throwsAsync(trainFlow(def, data, { maxEpochs: 0 }), { message: /epochs must be a positive integer, got 0/ });
  await t.throwsAsync(trainFlow(def, data, { resume: true }), { message: /--resume needs the checkpoint folder/ });
  await t.throwsAsync(trainFlow(def, data, { resume: true, checkpointDir: join(dir, 'none') }), { message: /no readable checkpoint in .*none/ });
  t.throws(() => trainingDataFromColumns(sim, ['x', 'y'], ['m_pole']), { message: /column "y" is missing \(have: x, m_pole, gamma\)/ });
  t.throws(() => trainingDataFromColumns({ x: [], m: [] }, ['x'], ['m']), { message: /no events/ });
  const negative = trainingDataFromColumns({ x: [50, 60], t: [-1, 0.1] }, ['x'], ['t']);
  t.throws(() => defineModel(negative, [{ name: 'x' }], [{ name: 't', logScale: true }], flow), { message: /declared log-scaled but has values ≤ 0/ });
  t.throws(() => trainingDataFromColumns({ x: [50, 60], m: [1, 2], w: [1, NaN] }, ['x'], ['m'], 'w'), { message: /weight 2 is NaN/ });
  await t.throwsAsync(trainFlow(def, data, { thetaWeightDecay: -1 }), { message: /θ weight decay must be a number ≥ 0, got -1/ });
  const unconditional = defineModel(data, [{ name: 'x' }], [], flow);
  await t.throwsAsync(trainFlow(unconditional, data, { thetaWeightDecay: 1e-3 }), { message: /θ weight decay needs a conditional flow/ });
});

test('θ weight decay shrinks only the weights that carry θ into the networks; the reported loss stays the NLL', async (t) => {
  const sim = toy.simulateSignalTraining(new Rng(4), 4000);
  const data = trainingDataFromColumns(sim, ['x'], ['m_pole', 'gamma']);
  const def = defineModel(data, [{ name: 'x', support: [40, 140] }], [{ name: 'm_pole' }, { name: 'gamma' }], flowConfig('maf', { blocks: 2, hidden: 16, linearTheta: true }));
  const options = { maxEpochs: 3, batchSize: 256, learningRate: 1e-2, seed: 2 };
  const free = await trainFlow(def, data, options);
  const decayed = await trainFlow(def, data, { ...options, thetaWeightDecay: 0.1 });
  const sumSquares = (weights: Map<string, Float32Array>, pick: (name: string) => boolean): number =>
    [...weights].filter(([name]) => pick(name)).reduce((s, [, w]) => s + w.reduce((a, v) => a + v * v, 0), 0);
  const thetaIn = (name: string): boolean => name.endsWith('.ctx.W');
  t.true(sumSquares(decayed.weights, thetaIn) < 0.5 * sumSquares(free.weights, thetaIn), `Σw² of the θ input weights: ${sumSquares(decayed.weights, thetaIn)} with decay, ${sumSquares(free.weights, thetaIn)} without`);
  // The linear θ path is not penalised: it carries what the networks may no longer.
  t.true(sumSquares(decayed.weights, (n) => n.includes('.theta')) > 0);
  // The reported training loss is the NLL alone, not raised by the penalty.
  const penalty = 0.1 * sumSquares(decayed.weights, thetaIn);
  const [withDecay, without] = [decayed, free].map((r) => r.history.at(-1)!.trainLoss);
  t.true(penalty > 0.1 && Math.abs(withDecay - without) < 0.5 * penalty, `train loss ${withDecay} with decay, ${without} without; final penalty ${penalty}`);
});
