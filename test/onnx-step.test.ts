// Training in onnxruntime (train/onnx-step.ts): the ONNX training step's loss and every weight's gradient
// equal TensorFlow.js autodiff of the same flow, for every flow kind; both engines train the same model; a bad
// engine name is refused.
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-node';
import { Rng } from '@flowscan/runtime';
import * as toy from '../trainer/src/data/toy.ts';
import { isThetaInputWeight } from '../trainer/src/flows/conditioner.ts';
import { type FlowKind, type ModelDefinition, flowConfig } from '../trainer/src/flows/config.ts';
import { logProbGraph } from '../trainer/src/flows/graphs.ts';
import { evaluateGraph } from '../trainer/src/ir/tfjs.ts';
import { defineModel, trainingDataFromColumns } from '../trainer/src/train/dataset.ts';
import { onnxStepModels, sessionOptions } from '../trainer/src/train/onnx-step.ts';
import { gradName } from '../trainer/src/train/step-graph.ts';
import { trainFlow } from '../trainer/src/train/train.ts';
import { FLOW_TABLE, randomEvents, randomModel, randomTheta } from './helpers/flows.ts';
import { useCpuBackend } from './helpers/tf.ts';

test.before(useCpuBackend);

const N = 37;

/** The loss and its weight gradients by tfjs autodiff over the interpreted log-density graph. */
function tfjsLossAndGrads(def: ModelDefinition, weights: Map<string, Float32Array>, x: Float32Array, theta: Float32Array, w: Float32Array, lambda: number) {
  const { graph, outputs } = logProbGraph(def);
  const D = def.features.length;
  const P = def.params.length;
  const vars = Object.fromEntries([...graph.params.values()].map((s) => [s.name, tf.variable(tf.tensor(weights.get(s.name)!, [...s.shape]), true)]));
  const inputs: Record<string, tf.Tensor> = { x: tf.tensor2d(x, [N, D]) };
  if (P > 0) inputs.theta = tf.tensor2d(theta, [N, P]);
  const wt = tf.tensor1d(w);
  const { value, grads } = tf.variableGrads(() => {
    const [lp] = evaluateGraph(graph, [outputs.log_prob.id], inputs, vars);
    let loss = tf.div(tf.neg(tf.sum(tf.mul(lp, wt))), tf.sum(wt)) as tf.Scalar;
    const penalised = Object.entries(vars).filter(([name]) => isThetaInputWeight(name));
    if (lambda > 0) loss = tf.add(loss, tf.mul(lambda, tf.addN(penalised.map(([, v]) => tf.sum(tf.square(v))))));
    return loss;
  }, Object.values(vars));
  const result = {
    loss: value.dataSync()[0],
    grads: new Map(Object.entries(vars).map(([name, v]) => [name, Float32Array.from(grads[v.name].dataSync())])),
  };
  tf.dispose([value, ...Object.values(grads), ...Object.values(vars), ...Object.values(inputs), wt]);
  return result;
}

interface Case {
  kind: FlowKind;
  D: number;
  P: number;
  lambda: number;
  linearTheta?: boolean;
}

// Every kind conditional (θ decay on) and unconditional; the linear θ path both ways (randomModel turns it on
// for maf and nsf-coupling); one-feature spline flows, whose conditioner sees θ only (the toy signal) or, when
// unconditional, nothing but its biases.
const CASES: Case[] = [
  ...FLOW_TABLE.flatMap((kind): Case[] => [
    { kind, D: 3, P: 2, lambda: 0.05 },
    { kind, D: 3, P: 0, lambda: 0 },
  ]),
  { kind: 'nsf', D: 3, P: 2, lambda: 0, linearTheta: true },
  { kind: 'realnvp', D: 2, P: 1, lambda: 0.1, linearTheta: true },
  { kind: 'nsf', D: 1, P: 2, lambda: 0.01, linearTheta: true },
  { kind: 'nsf', D: 1, P: 0, lambda: 0 },
];

for (const c of CASES) {
  const name = `${c.kind} D=${c.D} P=${c.P}${c.lambda > 0 ? ` θ decay ${c.lambda}` : ''}${c.linearTheta ? ' linear θ' : ''}`;
  test(`ONNX step loss and weight gradients equal tfjs autodiff: ${name}`, async (t) => {
    const { def: base, weights } = randomModel(c.kind, c.D, c.P, 3);
    const def = c.linearTheta === undefined ? base : { ...base, flow: { ...base.flow, linearTheta: c.linearTheta } };
    if (c.linearTheta) {
      // The linear θ path starts at zero: give it values so its gradients reach the rest of the network.
      const rng = new Rng(11);
      for (const s of logProbGraph(def).graph.params.values()) {
        if (!weights.has(s.name)) weights.set(s.name, Float32Array.from({ length: s.shape.reduce((a, b) => a * b, 1) }, () => 0.3 * (2 * rng.uniform() - 1)));
      }
    }
    const rng = new Rng(7);
    const x = randomEvents(rng, N, c.D);
    const theta = randomTheta(rng, N, def);
    const w = Float32Array.from({ length: N }, () => 0.2 + rng.uniform());
    const reference = tfjsLossAndGrads(def, weights, x, theta, w, c.lambda);

    const models = onnxStepModels({ def, thetaWeightDecay: c.lambda });
    const session = await ort.InferenceSession.create(models.step, sessionOptions(1));
    const feeds: Record<string, ort.Tensor> = { x: new ort.Tensor('float32', x, [N, c.D]), w: new ort.Tensor('float32', w, [N]) };
    if (c.P > 0) feeds.theta = new ort.Tensor('float32', theta, [N, c.P]);
    for (const s of logProbGraph(def).graph.params.values()) feeds[s.name] = new ort.Tensor('float32', weights.get(s.name)!, [...s.shape]);
    t.deepEqual(models.weightNames, [...reference.grads.keys()], 'the step graph has the flow weights in declaration order');
    t.deepEqual(session.inputNames, [...(c.P > 0 ? ['x', 'theta'] : ['x']), 'w', ...models.weightNames]);
    const out = await session.run(feeds);
    await session.release();

    const loss = (out.loss.data as Float32Array)[0];
    t.true(Math.abs(loss - reference.loss) <= 1e-5 * Math.abs(reference.loss) + 1e-5, `loss ${loss} vs tfjs ${reference.loss}`);
    if (c.lambda === 0) t.is((out.nll.data as Float32Array)[0], loss);
    else t.true((out.nll.data as Float32Array)[0] < loss, 'the NLL output leaves the θ penalty out');
    for (const [weight, expected] of reference.grads) {
      const got = out[gradName(weight)].data as Float32Array;
      t.is(got.length, expected.length, weight);
      const scale = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      let worst = 0;
      for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - expected[i]));
      t.true(worst <= 1e-4 * scale + 1e-6, `${weight}: max |ONNX − tfjs| ${worst.toExponential(2)} for gradients up to ${scale.toExponential(2)}`);
    }
  });
}

test('the tfjs and onnxruntime engines train the same model: same validation-loss trajectory', async (t) => {
  const sim = toy.simulateSignalTraining(new Rng(5), 2400);
  const data = trainingDataFromColumns(sim, ['x'], ['m_pole', 'gamma']);
  const def = defineModel(data, [{ name: 'x', support: [40, 140] }], [{ name: 'm_pole' }, { name: 'gamma' }], flowConfig('maf', { blocks: 2, hidden: 16, linearTheta: true }));
  // 2160 training events in batches of 256: the last batch of every epoch is smaller (112 events).
  const options = { maxEpochs: 3, batchSize: 256, learningRate: 5e-3, seed: 4, thetaWeightDecay: 1e-2, schedule: 'cosine' as const };
  const viaTfjs = await trainFlow(def, data, { ...options, engine: 'tfjs' });
  const viaOnnx = await trainFlow(def, data, { ...options, engine: 'onnxruntime', threads: 1 });
  t.is(viaTfjs.engine, 'tfjs-cpu');
  t.is(viaOnnx.engine, 'onnxruntime-cpu');
  const trajectory = (r: typeof viaTfjs) => r.history.map((h) => h.validationLoss);
  t.log(`validation NLL: tfjs ${trajectory(viaTfjs).map((v) => v.toFixed(6)).join(', ')}; onnxruntime ${trajectory(viaOnnx).map((v) => v.toFixed(6)).join(', ')}`);
  trajectory(viaTfjs).forEach((v, i) => t.true(Math.abs(v - trajectory(viaOnnx)[i]) < 2e-4 * Math.abs(v) + 2e-4, `epoch ${i + 1}: ${v} vs ${trajectory(viaOnnx)[i]}`));
  t.true(trajectory(viaOnnx)[2] < trajectory(viaOnnx)[0], 'the loss falls');
  for (const [name, w] of viaTfjs.weights) {
    const o = viaOnnx.weights.get(name)!;
    const worst = w.reduce((m, v, i) => Math.max(m, Math.abs(v - o[i])), 0);
    t.true(worst < 2e-3, `${name}: weights differ by up to ${worst}`);
  }
});

test('a checkpoint written by one engine resumes in the other (Adam state included)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'flowscan-engines-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const sim = toy.simulateSignalTraining(new Rng(6), 1500);
  const data = trainingDataFromColumns(sim, ['x'], ['m_pole', 'gamma']);
  const def = defineModel(data, [{ name: 'x' }], [{ name: 'm_pole' }, { name: 'gamma' }], flowConfig('nsf', { blocks: 1, hidden: 8, bins: 4 }));
  const options = { maxEpochs: 3, batchSize: 256, seed: 3, schedule: 'cosine' as const, patience: 10, threads: 1 };
  const straight = await trainFlow(def, data, { ...options, engine: 'tfjs' });
  for (const [first, second] of [['tfjs', 'onnxruntime'], ['onnxruntime', 'tfjs']] as const) {
    const checkpointDir = join(dir, first);
    const interrupt = (r: { epoch: number }): void => {
      if (r.epoch === 2) throw new Error('interrupted');
    };
    await t.throwsAsync(trainFlow(def, data, { ...options, engine: first, checkpointDir, onEpoch: interrupt }), { message: 'interrupted' });
    const resumed = await trainFlow(def, data, { ...options, engine: second, checkpointDir, resume: true });
    t.is(resumed.history.length, 3);
    t.true(Math.abs(resumed.validationLoss - straight.validationLoss) < 1e-4, `${first} → ${second}: ${resumed.validationLoss} vs ${straight.validationLoss}`);
  }
});

test('a bad engine name is refused with the choices', async (t) => {
  const data = trainingDataFromColumns({ x: [50, 60, 70, 80], m: [1, 2, 3, 4] }, ['x'], ['m']);
  const def = defineModel(data, [{ name: 'x' }], [{ name: 'm' }], flowConfig('maf', { blocks: 1, hidden: 4 }));
  await t.throwsAsync(trainFlow(def, data, { engine: 'pytorch' as never, validationFraction: 0.25 }), {
    message: 'unknown training engine "pytorch": expected one of auto, tfjs, onnxruntime',
  });
  await t.throwsAsync(trainFlow(def, data, { engine: 'onnxruntime', threads: 0, validationFraction: 0.25 }), { message: /threads must be a positive integer, got 0/ });
});
