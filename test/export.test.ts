// Export: the ONNX graphs of every flow equal the trainer's TensorFlow.js evaluation of the same IR;
// the θ-gradient equals tfjs autodiff and finite differences; the sampler round-trips; onnxruntime-web
// agrees; damaged files are refused.
import test from 'ava';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as ortWeb from 'onnxruntime-web';
import { FlowModel, type Precision, Rng } from '@flowscan/runtime';
import { folderSource, loadModel } from '@flowscan/runtime/node';
import { baseLogDensity1d } from '../trainer/src/flows/base.ts';
import type { FlowKind, ModelDefinition } from '../trainer/src/flows/config.ts';
import { flowGraphs } from '../trainer/src/flows/flow.ts';
import { logProbBatchGraph } from '../trainer/src/flows/graphs.ts';
import { exportModel } from '../trainer/src/export/export.ts';
import { GraphBuilder } from '../trainer/src/ir/graph.ts';
import { evaluateGraph } from '../trainer/src/ir/tfjs.ts';
import type { TrainedModel } from '../trainer/src/train/saved-model.ts';
import { FLOW_TABLE, randomEvents, randomModel, randomTheta, runIr, runOnnx64 } from './helpers/flows.ts';
import { useCpuBackend } from './helpers/tf.ts';

test.before(useCpuBackend);

let workdir = '';
test.before(async () => {
  workdir = await mkdtemp(join(tmpdir(), 'flowscan-export-'));
});
test.after.always(async () => {
  await rm(workdir, { recursive: true, force: true });
});

function trained(def: ModelDefinition, weights: Map<string, Float32Array>): TrainedModel {
  return {
    definition: def,
    weights,
    history: [],
    provenance: {
      dataHash: '0'.repeat(64),
      dataFiles: [],
      events: 1000,
      trainingEvents: 900,
      validationEvents: 100,
      epochs: 1,
      bestEpoch: 1,
      validationLoss: 0,
      backend: 'cpu',
      seed: 1,
      date: new Date().toISOString(),
      trainer: 'test',
    },
  };
}

const N = 1000;
const D = 2;
const P = 2;

/** 1000 events: most inside the training range, some within 0.5 GeV of the support edges, a few exactly on
 * them and a few outside (clamped by policy), so logit extremes and the spline tails are exercised. */
function exportEvents(rng: Rng): Float32Array {
  const x = randomEvents(rng, N, D, 38, 142);
  x.set([38, 142, 142, 38, 30, 90, 90, 150, 40, 140], 0);
  return x;
}

let exports = 0;
async function exported(kind: FlowKind, precision: Precision = 'float64') {
  const { def, weights } = randomModel(kind, D, P, 17);
  const dir = join(workdir, `${kind}-${exports++}`);
  const manifest = await exportModel(trained(def, weights), dir, { name: `test-${kind}` });
  const model = await loadModel(dir, { ep: 'cpu', precision });
  return { def, weights, dir, manifest, model };
}

for (const kind of FLOW_TABLE) {
  test(`${kind}: ONNX log-density equals the trainer's to 1e-4 on 1000 events incl. edges and tails`, async (t) => {
    const { def, weights, model } = await exported(kind);
    const rng = new Rng(2);
    const x = exportEvents(rng);
    const theta = randomTheta(rng, N, def);
    const onnx = await model.logProb(model.eventsTensor(x, N), theta);
    const g = new GraphBuilder();
    const lp = flowGraphs(g, def).logProb(g.input('x', ['N', D]), g.input('theta', ['N', P]));
    const [reference] = runIr(g, [lp], { x: { data: x, shape: [N, D] }, theta: { data: theta, shape: [N, P] } }, weights);
    let worst = 0;
    for (let i = 0; i < N; i++) worst = Math.max(worst, Math.abs(onnx[i] - reference[i]));
    t.true(onnx.every(Number.isFinite), 'every log p is finite (outside-support events are clamped)');
    const typical = [...reference].map(Math.abs).sort((a, b) => a - b)[N >> 1];
    t.true(worst < 1e-4, `max |ONNX − tfjs| = ${worst} (median |log p| ${typical})`);
    t.log(`${kind}: max |ONNX − tfjs| log p = ${worst.toExponential(2)}`);
  });

  for (const [K, precision] of [[1, 'float32'], [8, 'float32'], [8, 'float64']] as const) {
    // K = 1: one weight row shared by all points; K = 8: one row per point (mixture responsibilities).
    const J = K === 1 ? 1 : K;
    test(`${kind}: ${precision} ONNX θ-gradient (K=${K}, ${J} weight row(s)) equals tfjs autodiff and finite differences`, async (t) => {
      const { def, weights, model } = await exported(kind, precision);
      const rng = new Rng(3);
      const x = exportEvents(rng);
      const thetas = randomTheta(rng, K, def);
      const w = Float32Array.from({ length: J * N }, () => 0.5 + rng.uniform());
      const { logProb, grad } = await model.logProbGrad((await model.residentEvents(x, N)).chunk(0, N), thetas, model.weightsTensor(w, J));
      t.true(logProb.every(Number.isFinite) && grad.every(Number.isFinite), 'no NaN or Inf');

      // Oracle 1: tfjs autodiff through the batched log-density of the same IR.
      const built = logProbBatchGraph(def);
      const autodiff = tf.tidy(() => {
        const params = Object.fromEntries([...built.graph.params.values()].map((s) => [s.name, tf.tensor(weights.get(s.name)!, [...s.shape])]));
        const f = (th: tf.Tensor): tf.Scalar => {
          const [lp] = evaluateGraph(built.graph, [built.outputs.log_prob.id], { x: tf.tensor(x, [N, D]), theta: th }, params);
          return tf.sum(tf.mul(lp, tf.tensor(w, [J, N]))) as tf.Scalar;
        };
        return tf.grad(f)(tf.tensor(thetas, [K, P])).dataSync() as Float32Array;
      });
      // Oracle 2: central differences of the same batched log-density graph run in float64 by onnxruntime
      // (float32 cannot resolve a finite difference to 1e-3), all 2·K·P shifted points in one call.
      const shifted = new Float64Array(2 * K * P * P);
      const steps = Float64Array.from(thetas, (v) => 1e-6 * Math.max(Math.abs(v), 1e-3));
      for (let k = 0; k < K; k++) {
        for (let j = 0; j < P; j++) {
          for (const [side, sign] of [[0, -1], [1, 1]]) {
            const row = (k * P + j) * 2 + side;
            for (let q = 0; q < P; q++) shifted[row * P + q] = thetas[k * P + q];
            shifted[row * P + j] += sign * steps[k * P + j];
          }
        }
      }
      const [lp64] = await runOnnx64(built.graph, [built.outputs.log_prob], { x: { data: x, shape: [N, D] }, theta: { data: shifted, shape: [2 * K * P, P] } }, weights);
      const weightedSum = (row: number, k: number): number => {
        const wRow = J === 1 ? 0 : k;
        let s = 0;
        for (let i = 0; i < N; i++) s += w[wRow * N + i] * lp64[row * N + i];
        return s;
      };
      const close = (a: number, b: number, rel: number): boolean => Math.abs(a - b) <= Math.max(rel * Math.abs(b), 1e-4);
      let worstAutodiff = 0;
      let worstFinite = 0;
      for (let k = 0; k < K; k++) {
        for (let j = 0; j < P; j++) {
          const at = k * P + j;
          const finite = (weightedSum(2 * at + 1, k) - weightedSum(2 * at, k)) / (2 * steps[at]);
          t.true(close(grad[at], autodiff[at], 1e-3), `k=${k} ${def.params[j].name}: ONNX ${grad[at]} vs autodiff ${autodiff[at]}`);
          t.true(close(grad[at], finite, 1e-3), `k=${k} ${def.params[j].name}: ONNX ${grad[at]} vs finite differences ${finite}`);
          worstAutodiff = Math.max(worstAutodiff, Math.abs(grad[at] - autodiff[at]) / Math.max(Math.abs(autodiff[at]), 0.1));
          worstFinite = Math.max(worstFinite, Math.abs(grad[at] - finite) / Math.max(Math.abs(finite), 0.1));
        }
      }
      t.log(`${kind} ${precision} K=${K}: gradient vs autodiff ${worstAutodiff.toExponential(1)}, vs float64 finite differences ${worstFinite.toExponential(1)} (relative)`);
      // log p from the gradient graph equals the (float32) log-density graph: to float32 rounding when both are
      // float32, to the float32 graph's own accuracy (the parity bar) for the float64 twin.
      const single = await model.logProb(model.eventsTensor(x, N), thetas.subarray(0, P));
      let worst = 0;
      for (let i = 0; i < N; i++) worst = Math.max(worst, Math.abs(single[i] - logProb[i]));
      t.true(worst < (precision === 'float32' ? 1e-5 : 1e-4), `log p of the gradient graph vs the log-density graph: ${worst}`);
    });
  }

  test(`${kind}: sampler equals the trainer's samples and round-trips to the base density`, async (t) => {
    const { def, weights, model } = await exported(kind);
    const rng = new Rng(4);
    const n = 500;
    const z = new Float32Array(n * D);
    rng.fillNormal(z);
    const theta = randomTheta(rng, 1, def);
    const onnx = await model.sample(z, theta);
    const g = new GraphBuilder();
    const zIn = g.input('z', ['N', D]);
    const thIn = g.input('theta', ['B', P]);
    const flow = flowGraphs(g, def);
    const xs = flow.sample(zIn, thIn);
    const [reference] = runIr(g, [xs], { z: { data: z, shape: [n, D] }, theta: { data: theta, shape: [1, P] } }, weights);
    let worst = 0;
    for (let i = 0; i < n * D; i++) worst = Math.max(worst, Math.abs(onnx[i] - reference[i]) / Math.max(1, Math.abs(reference[i])));
    t.true(worst < 1e-4, `sampler ONNX vs tfjs: ${worst} (relative)`);
    // Round trip: log p(sample) = log p_base(z) + log|det ∂z/∂x| at the sample, with z the ORIGINAL draws.
    const g2 = new GraphBuilder();
    const x2 = g2.input('x', ['N', D]);
    const { logDet } = flowGraphs(g2, def).toBase(x2, g2.input('theta', ['B', P]));
    const [ld] = runIr(g2, [logDet], { x: { data: onnx, shape: [n, D] }, theta: { data: theta, shape: [1, P] } }, weights);
    const lp = await model.logProb(model.eventsTensor(onnx, n), theta);
    // float32 cannot place a sample closer to a support edge than its resolution there, where the map to ℝ is
    // steepest (dz/dx ~ 1/φ(z)/width): those few samples say nothing about the graphs and are left out.
    const nearEdge = (i: number): boolean =>
      def.preprocessing.some((p, d) => Math.min(onnx[i * D + d] - p.lo, p.hi - onnx[i * D + d]) < 1e-5 * (p.hi - p.lo));
    let worstTrip = 0;
    let checked = 0;
    for (let i = 0; i < n; i++) {
      if (nearEdge(i)) continue;
      checked++;
      let base = 0;
      for (let d = 0; d < D; d++) base += baseLogDensity1d(def.flow.base, z[i * D + d]);
      worstTrip = Math.max(worstTrip, Math.abs(lp[i] - (base + ld[i])));
    }
    t.true(checked >= 0.9 * n, `only ${checked} of ${n} samples lie away from the support edges`);
    t.true(worstTrip < 5e-3, `log p(sample) − (log p_base(z) + log|det|) up to ${worstTrip} (${checked} samples)`);
  });
}

test('the same files load and agree in onnxruntime-web (WASM) under Node', async (t) => {
  const { def, model, dir } = await exported('nsf');
  ortWeb.env.wasm.numThreads = 1;
  const web = await FlowModel.load(folderSource(dir), ortWeb, { executionProviders: ['wasm'] });
  const rng = new Rng(9);
  const x = exportEvents(rng);
  const thetas = randomTheta(rng, 4, def);
  const w = new Float32Array(N).fill(1);
  const a = await model.logProbGrad((await model.residentEvents(x, N)).chunk(0, N), thetas, model.weightsTensor(w));
  const b = await web.logProbGrad((await web.residentEvents(x, N)).chunk(0, N), thetas, web.weightsTensor(w));
  let worstLp = 0;
  for (let i = 0; i < a.logProb.length; i++) worstLp = Math.max(worstLp, Math.abs(a.logProb[i] - b.logProb[i]));
  let worstGrad = 0;
  for (let i = 0; i < a.grad.length; i++) worstGrad = Math.max(worstGrad, Math.abs(a.grad[i] - b.grad[i]) / Math.max(1, Math.abs(a.grad[i])));
  t.true(worstLp < 1e-4, `log p node vs web: ${worstLp}`);
  t.true(worstGrad < 1e-4, `gradient node vs web (relative): ${worstGrad}`);
  await web.release();
});

test('damaged exports are refused with a message naming the file and the problem', async (t) => {
  const { dir } = await exported('maf');
  const copy = async (name: string): Promise<string> => {
    const target = join(workdir, `damaged-${name}`);
    await rm(target, { recursive: true, force: true });
    const { cp } = await import('node:fs/promises');
    await cp(dir, target, { recursive: true });
    return target;
  };
  // Tampered: one byte changed.
  const tampered = await copy('tampered');
  const bytes = await readFile(join(tampered, 'log_prob.onnx'));
  bytes[bytes.length - 10] ^= 0xff;
  await writeFile(join(tampered, 'log_prob.onnx'), bytes);
  await t.throwsAsync(loadModel(tampered, { ep: 'cpu' }), { message: /log_prob\.onnx fails its sha256 check/ });
  // Truncated.
  const truncated = await copy('truncated');
  await writeFile(join(truncated, 'sample.onnx'), (await readFile(join(truncated, 'sample.onnx'))).subarray(0, 100));
  await t.throwsAsync(loadModel(truncated, { ep: 'cpu' }), { message: /sample\.onnx has 100 bytes, the manifest says \d+: the file is truncated/ });
  // Truncated, with the manifest edited to match: onnxruntime itself refuses it, and the file is named.
  const forged = await copy('forged');
  const manifestPath = join(forged, 'manifest.json');
  const manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
  const cut = (await readFile(join(forged, 'log_prob.onnx'))).subarray(0, 200);
  await writeFile(join(forged, 'log_prob.onnx'), cut);
  const { createHash } = await import('node:crypto');
  manifest.graphs.log_prob.bytes = cut.length;
  manifest.graphs.log_prob.sha256 = createHash('sha256').update(cut).digest('hex');
  await writeFile(manifestPath, JSON.stringify(manifest));
  await t.throwsAsync(loadModel(forged, { ep: 'cpu' }), { message: /log_prob\.onnx cannot be loaded by onnxruntime/ });
  // Schema violations.
  const broken = await copy('schema');
  const m2 = JSON.parse(await readFile(join(broken, 'manifest.json'), 'utf8'));
  m2.flow.kind = 'glow';
  delete m2.provenance;
  await writeFile(join(broken, 'manifest.json'), JSON.stringify(m2));
  const error = await t.throwsAsync(loadModel(broken, { ep: 'cpu' }));
  t.regex(error!.message, /manifest\.json does not follow the model manifest schema/);
  t.regex(error!.message, /provenance/);
  t.regex(error!.message, /\/flow\/kind/);
  // Not JSON at all.
  const garbage = await copy('garbage');
  await writeFile(join(garbage, 'manifest.json'), '{ not json');
  await t.throwsAsync(loadModel(garbage, { ep: 'cpu' }), { message: /manifest\.json is not valid JSON/ });
  // Missing folder.
  await t.throwsAsync(loadModel(join(workdir, 'nowhere'), { ep: 'cpu' }), { message: /nowhere\/manifest\.json cannot be read/ });
});

test('one-feature spline flow (θ-only knots): the batched MatMul bin lookup equals the tfjs interpreter and autodiff, both precisions', async (t) => {
  const { def, weights } = randomModel('nsf', 1, 2, 23);
  const built = logProbBatchGraph(def);
  t.true(
    built.graph.nodes.some((n) => n.node.kind === 'sharedDot'),
    'the batched graph of a one-feature flow looks its bins up with sharedDot',
  );
  const dir = join(workdir, `nsf-1d-${exports++}`);
  await exportModel(trained(def, weights), dir, { name: 'test-nsf-1d' });
  const rng = new Rng(12);
  const x = randomEvents(rng, N, 1, 38, 142);
  const K = 3;
  const thetas = randomTheta(rng, K, def);
  const w = Float32Array.from({ length: K * N }, () => 0.5 + rng.uniform());
  const reference = tf.tidy(() => {
    const params = Object.fromEntries([...built.graph.params.values()].map((s) => [s.name, tf.tensor(weights.get(s.name)!, [...s.shape])]));
    const f = (th: tf.Tensor): tf.Scalar => {
      const [lp] = evaluateGraph(built.graph, [built.outputs.log_prob.id], { x: tf.tensor(x, [N, 1]), theta: th }, params);
      return tf.sum(tf.mul(lp, tf.tensor(w, [K, N]))) as tf.Scalar;
    };
    const [lp] = evaluateGraph(built.graph, [built.outputs.log_prob.id], { x: tf.tensor(x, [N, 1]), theta: tf.tensor(thetas, [K, 2]) }, params);
    return { logProb: lp.dataSync() as Float32Array, grad: tf.grad(f)(tf.tensor(thetas, [K, 2])).dataSync() as Float32Array };
  });
  for (const precision of ['float32', 'float64'] as const) {
    const model = await loadModel(dir, { ep: 'cpu', precision });
    const { logProb, grad } = await model.logProbGrad((await model.residentEvents(x, N)).chunk(0, N), thetas, model.weightsTensor(w, K));
    let worst = 0;
    for (let i = 0; i < K * N; i++) worst = Math.max(worst, Math.abs(logProb[i] - reference.logProb[i]));
    t.true(worst < 1e-4, `${precision}: max |ONNX − tfjs| log p = ${worst}`);
    for (let j = 0; j < K * 2; j++) {
      t.true(Math.abs(grad[j] - reference.grad[j]) <= 1e-3 * Math.max(1, Math.abs(reference.grad[j])), `${precision} gradient ${j}: ${grad[j]} vs autodiff ${reference.grad[j]}`);
    }
    await model.release();
  }
});
