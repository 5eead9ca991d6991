// Every IR op's reverse-mode rule, run as emitted ONNX in onnxruntime-node, against TensorFlow.js autodiff of
// the same forward graph and against central finite differences of the ONNX forward pass.
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-node';
import { GraphBuilder, type T } from '../trainer/src/ir/graph.ts';
import { emitOnnx } from '../trainer/src/ir/onnx.ts';
import { evaluateGraph } from '../trainer/src/ir/tfjs.ts';
import { vjp } from '../trainer/src/ir/vjp.ts';
import { useCpuBackend } from './helpers/tf.ts';

test.before(useCpuBackend);

const K = 3;
const N = 4;
const P = 3;
const xData = Float32Array.from({ length: N * P }, (_, i) => 0.4 + 0.35 * Math.sin(1.3 * i + 0.2));
const thetaData = Float32Array.from({ length: K * P }, (_, i) => 0.6 + 0.3 * Math.cos(0.7 * i + 0.5));
const weightData = Float32Array.from({ length: N }, (_, i) => 0.5 + 0.25 * i);

/**
 * u = θ[K,1,P] ⊙ x[1,N,P] + 0.3 ∈ [0.33, 0.95]: a [K,N,P] value depending on θ, broadcast over events.
 * Kinks (abs, maximum, minimum, where, compare) sit in gaps of u at least 0.014 wide, so the ±h steps of the
 * finite differences never cross them.
 */
type Case = (g: GraphBuilder, u: T, x: T, theta: T) => T;

const cases: Record<string, Case> = {
  neg: (_g, u) => u.neg(),
  exp: (_g, u) => u.exp(),
  log: (_g, u) => u.log(),
  sqrt: (_g, u) => u.sqrt(),
  tanh: (_g, u) => u.mul(3).sub(1.5).tanh(),
  sigmoid: (_g, u) => u.mul(4).sub(2).sigmoid(),
  softplus: (_g, u) => u.mul(6).sub(3).softplus(),
  abs: (_g, u) => u.sub(0.686).abs(),
  square: (_g, u) => u.square(),
  'add (broadcast both ways)': (_g, u, x) => u.add(x.unsqueeze(0)),
  'sub (broadcast θ row)': (_g, u, _x, theta) => u.sub(theta.unsqueeze(1).mul(0.5)),
  mul: (_g, u, x) => u.mul(x.unsqueeze(0)).mul(u),
  div: (_g, u, x) => x.unsqueeze(0).add(1).div(u),
  maximum: (_g, u) => u.maximum(0.632),
  minimum: (_g, u) => u.minimum(0.918),
  where: (g, u) => g.where(u.greaterEqual(0.862), u.square(), u.exp()),
  'compare (no gradient) + add': (_g, u) => u.greaterEqual(0.808).add(u),
  matmul: (g, u) => u.matmul(g.constant([0.5, -1, 0.25, 2, 1, -0.5, 0.3, 0.7, 1.1], [3, 3])),
  'sum keepDims': (_g, u) => u.square().sumLast(true).mul(u),
  'sum over events': (g, u) => g.sum(u.square(), [1], true).mul(u),
  softmaxLast: (_g, u) => u.mul(3).softmaxLast().mul(u),
  'cumsum exclusive': (_g, u) => u.square().cumsumLast(true).mul(u),
  'cumsum reverse': (_g, u) => u.exp().cumsumLast(false, true).mul(u),
  'splitLast / mergeLast': (g, u) => u.matmul(g.constant(Float32Array.from({ length: 18 }, (_, i) => Math.cos(i)), [3, 6])).splitLast(3, 2).square().mergeLast().matmul(g.constant(Float32Array.from({ length: 18 }, (_, i) => Math.sin(i)), [6, 3])),
  'unsqueeze / squeeze': (_g, u) => u.unsqueeze(-1).exp().squeeze(-1),
  expandAs: (g, u, _x, theta) => g.expandAs(theta.unsqueeze(1).square(), u).mul(u),
};

async function runOnnx(session: ort.InferenceSession, theta: Float32Array): Promise<Record<string, Float32Array>> {
  const out = await session.run({
    x: new ort.Tensor('float32', xData, [N, P]),
    theta: new ort.Tensor('float32', theta, [K, P]),
    weights: new ort.Tensor('float32', weightData, [N]),
  });
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
}

for (const [name, build] of Object.entries(cases)) {
  test(`reverse pass of ${name} equals autodiff and finite differences`, async (t) => {
    const g = new GraphBuilder();
    const x = g.input('x', ['N', P]);
    const theta = g.input('theta', ['K', P]);
    const weights = g.input('weights', ['N']);
    const u = theta.unsqueeze(1).mul(x.unsqueeze(0)).add(0.3);
    const out = build(g, u, x, theta).sumLast();
    t.deepEqual(out.shape, ['K', 'N']);
    const grad = vjp(g, out, g.expandAs(weights, out), theta);
    const bytes = emitOnnx(g, { name, outputs: { out: out.id, grad: grad.id }, weights: new Map() });
    const session = await ort.InferenceSession.create(bytes);
    const onnx = await runOnnx(session, thetaData);

    // Oracle 1: TensorFlow.js autodiff of the forward graph, Σ_kn w_n out_kn.
    const autodiff = tf.tidy(() => {
      const f = (th: tf.Tensor): tf.Scalar => {
        const [o] = evaluateGraph(g, [out.id], { x: tf.tensor(xData, [N, P]), theta: th, weights: tf.tensor(weightData, [N]) }, {});
        return tf.sum(tf.mul(o, tf.tensor(weightData, [1, N]))) as tf.Scalar;
      };
      return tf.grad(f)(tf.tensor(thetaData, [K, P])).dataSync() as Float32Array;
    });
    // Oracle 2: central differences of the ONNX forward pass.
    const h = 1e-3;
    const finite = new Float64Array(K * P);
    for (let i = 0; i < K * P; i++) {
      const [lo, hi] = await Promise.all(
        [-h, h].map(async (s) => {
          const th = Float32Array.from(thetaData);
          th[i] += s;
          const o = (await runOnnx(session, th)).out;
          let total = 0;
          for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) total += weightData[n] * o[k * N + n];
          return total;
        }),
      );
      finite[i] = (hi - lo) / (2 * h);
    }
    for (let i = 0; i < K * P; i++) {
      const scale = Math.max(1, Math.abs(autodiff[i]));
      t.true(Math.abs(onnx.grad[i] - autodiff[i]) <= 1e-4 * scale, `${name}[${i}]: onnx ${onnx.grad[i]} vs autodiff ${autodiff[i]}`);
      t.true(Math.abs(onnx.grad[i] - finite[i]) <= 1e-2 * scale, `${name}[${i}]: onnx ${onnx.grad[i]} vs finite differences ${finite[i]}`);
    }
  });
}

test('symbolic batch sizes combine into one name, however often they meet', (t) => {
  const g = new GraphBuilder();
  const perEvent = g.input('a', ['B', 2]);
  const events = g.input('b', ['N', 2]);
  let c = perEvent.add(events);
  for (let i = 0; i < 20; i++) c = c.mul(events).add(perEvent);
  t.deepEqual(c.shape, ['B|N', 2]);
});
