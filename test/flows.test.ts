// One suite over every flow and every bijection (STYLE.md): invertibility, log|det J| against a numerical
// Jacobian, θ really changes the density, batch broadcasting.
import test, { type ExecutionContext } from 'ava';
import { Rng } from '@flowscan/runtime';
import { flowGraphs } from '../trainer/src/flows/flow.ts';
import { preprocessFromBase, preprocessToBase } from '../trainer/src/flows/preprocess.ts';
import { type ElementwiseTransform, affineTransform, rationalQuadraticSpline } from '../trainer/src/flows/transforms.ts';
import { GraphBuilder, type T } from '../trainer/src/ir/graph.ts';
import { FLOW_TABLE, randomEvents, randomModel, randomTheta, runIr, runOnnx64 } from './helpers/flows.ts';
import { useCpuBackend } from './helpers/tf.ts';

test.before(useCpuBackend);

/** log|det| of a D×D Jacobian given row-major, by LU with partial pivoting (float64). */
function logAbsDet(j: Float64Array, D: number): number {
  const a = Float64Array.from(j);
  let sum = 0;
  for (let c = 0; c < D; c++) {
    let p = c;
    for (let r = c + 1; r < D; r++) if (Math.abs(a[r * D + c]) > Math.abs(a[p * D + c])) p = r;
    if (p !== c) for (let k = 0; k < D; k++) [a[c * D + k], a[p * D + k]] = [a[p * D + k], a[c * D + k]];
    const pivot = a[c * D + c];
    sum += Math.log(Math.abs(pivot));
    for (let r = c + 1; r < D; r++) {
      const f = a[r * D + c] / pivot;
      for (let k = c; k < D; k++) a[r * D + k] -= f * a[c * D + k];
    }
  }
  return sum;
}

interface BijectionCase {
  weights: Map<string, Float32Array>;
  /** Builds data → base (with its log|det J| summed over features) or base → data. */
  build: (g: GraphBuilder, x: T, theta: T | null, inverse: boolean) => { y: T; logDet?: T };
  events: Float32Array;
  D: number;
  /** Optional per-event θ [N, P]. */
  theta?: { data: Float32Array; P: number };
}

/**
 * The shared bijection checks, evaluated in float64 (the float64 twin of the ONNX graph) so the numerical
 * Jacobian is exact to ~1e-8: round trip x → base → x within 1e-4 abs, and log|det J| of data → base equal to
 * the log|det| of the central-difference Jacobian within 1e-3. Also the float32 tfjs round trip.
 */
async function checkBijection(t: ExecutionContext, c: BijectionCase): Promise<void> {
  const { events, D } = c;
  const n = events.length / D;
  const P = c.theta?.P ?? 0;
  const g = new GraphBuilder();
  const x = g.input('x', ['N', D]);
  const theta = c.theta ? g.input('theta', ['N', P]) : null;
  const forward = c.build(g, x, theta, false);
  const back = c.build(g, forward.y, theta, true);
  const weights = c.weights;
  // One float64 run: the events, then 2·D copies shifted by ∓h along each feature.
  const h = 1e-5;
  const copies = 1 + 2 * D;
  const xs = new Float64Array(copies * n * D);
  const ths = new Float64Array(copies * n * P);
  for (let copy = 0; copy < copies; copy++) {
    for (let i = 0; i < n * D; i++) xs[copy * n * D + i] = events[i];
    if (c.theta) ths.set(c.theta.data, copy * n * P);
    if (copy > 0) {
      const d = (copy - 1) >> 1;
      const sign = (copy - 1) % 2 === 0 ? -1 : 1;
      for (let i = 0; i < n; i++) xs[copy * n * D + i * D + d] += sign * h;
    }
  }
  const feeds: Record<string, { data: Float64Array; shape: number[] }> = { x: { data: xs, shape: [copies * n, D] } };
  if (c.theta) feeds.theta = { data: ths, shape: [copies * n, P] };
  const [y, logDet, xBack] = await runOnnx64(g, [forward.y, forward.logDet!, back.y], feeds, weights);
  let worstTrip = 0;
  for (let i = 0; i < n * D; i++) worstTrip = Math.max(worstTrip, Math.abs(xBack[i] - events[i]));
  t.true(worstTrip < 1e-4, `float64 round trip error ${worstTrip}`);
  t.true(y.every(Number.isFinite) && logDet.every(Number.isFinite), 'forward values are finite');
  let worstLogDet = 0;
  for (let i = 0; i < n; i++) {
    const jac = new Float64Array(D * D);
    for (let d = 0; d < D; d++) {
      const lo = (1 + 2 * d) * n * D;
      const hi = (2 + 2 * d) * n * D;
      for (let r = 0; r < D; r++) jac[r * D + d] = (y[hi + i * D + r] - y[lo + i * D + r]) / (2 * h);
    }
    worstLogDet = Math.max(worstLogDet, Math.abs(logAbsDet(jac, D) - logDet[i]));
  }
  t.true(worstLogDet < 1e-3, `log|det J| differs from the numerical Jacobian by ${worstLogDet}`);
  // The same graph in float32 through the trainer's TensorFlow.js interpreter.
  const f32: Record<string, { data: Float32Array; shape: number[] }> = { x: { data: events, shape: [n, D] } };
  if (c.theta) f32.theta = { data: c.theta.data, shape: [n, P] };
  const [back32] = runIr(g, [back.y], f32, weights);
  let worst32 = 0;
  for (let i = 0; i < n * D; i++) worst32 = Math.max(worst32, Math.abs(back32[i] - events[i]) / Math.max(1, Math.abs(events[i])));
  t.true(worst32 < 2e-5, `float32 round trip error ${worst32} (relative)`);
  t.log(`round trip ${worstTrip.toExponential(1)} (float64), ${worst32.toExponential(1)} (float32, rel); log|det| vs Jacobian ${worstLogDet.toExponential(1)}`);
}

const elementwise: Record<string, (g: GraphBuilder) => ElementwiseTransform> = {
  affine: () => affineTransform(),
  'rational-quadratic spline': (g) => rationalQuadraticSpline(g, { bins: 5, tailBound: 2 }),
};

for (const [name, make] of Object.entries(elementwise)) {
  test(`bijection ${name}: invertible, log|det J| matches the numerical Jacobian, tails are the identity`, async (t) => {
    const rng = new Rng(7);
    const D = 3;
    const n = 400;
    // Values across [−3, 3] so the spline's identity tails outside [−2, 2] are exercised too.
    const events = Float32Array.from({ length: n * D }, () => -3 + 6 * rng.uniform());
    // Transform parameters from θ through a fixed linear map, so they vary per event.
    const thetaData = Float32Array.from({ length: n * 2 }, () => 2 * rng.uniform() - 1);
    await checkBijection(t, {
      events,
      D,
      theta: { data: thetaData, P: 2 },
      weights: new Map(),
      build(g, x, theta, inverse) {
        const transform = make(g);
        const heads = transform.heads.map((m, k) =>
          theta!.matmul(g.constant(Float32Array.from({ length: 2 * D * m }, (_, i) => 1.2 * Math.sin(1.7 * i + k)), [2, D * m])).splitLast(D, m),
        );
        if (inverse) return { y: transform.fromBase(x, heads) };
        const { y, logDet } = transform.toBase(x, heads);
        return { y, logDet: logDet.sumLast() };
      },
    });
  });
}

test('bijection preprocessing (scale, then probit or logit + standardise): invertible with the right log|det J| in physical units', async (t) => {
  const rng = new Rng(3);
  const { def } = randomModel('maf', 2, 1);
  await checkBijection(t, {
    events: randomEvents(rng, 300, 2, 39, 141),
    D: 2,
    weights: new Map(),
    build: (g, x, _theta, inverse) => (inverse ? { y: preprocessFromBase(g, def.preprocessing, x) } : preprocessToBase(g, def.preprocessing, x)),
  });
});

test('probit map: the normal quantile to ~1e-7 (float32 constants and arithmetic), and the sampler inverts it', async (t) => {
  // Reference quantiles Φ⁻¹(p) (standard tables) on a window [0, 1], so x = p; both edges and the centre.
  const cases: [number, number][] = [
    [0.5, 0],
    [0.975, 1.959963984540054],
    [0.001, -3.090232306167813],
    [0.999, 3.090232306167813],
    [1e-9, -5.997807015007688],
    [0.3, -0.5244005127080407],
  ];
  const pre = [{ lo: 0, hi: 1, map: 'probit' as const, mean: 0, std: 1 }];
  const g = new GraphBuilder();
  const x = g.input('x', ['N', 1]);
  const { y } = preprocessToBase(g, pre, x);
  const back = preprocessFromBase(g, pre, y);
  const feeds = { x: { data: Float32Array.from(cases, ([p]) => p), shape: [cases.length, 1] } };
  const [z64, x64] = await runOnnx64(g, [y, back], { x: { data: cases.map(([p]) => p), shape: [cases.length, 1] } }, new Map());
  const [z32] = runIr(g, [y], feeds, new Map());
  cases.forEach(([p, quantile], i) => {
    t.true(Math.abs(z64[i] - quantile) < 2e-7 * Math.max(1, Math.abs(quantile)), `float64 run: Φ⁻¹(${p}) = ${z64[i]}, expected ${quantile}`);
    // float32 holds p itself only to ~6e-8 relative, which moves Φ⁻¹ by that over φ(z).
    t.true(Math.abs(z32[i] - Math.fround(quantile)) < 5e-7 * Math.max(1, Math.abs(quantile)) + (6e-8 * p * Math.sqrt(2 * Math.PI)) / Math.exp(-0.5 * quantile * quantile), `float32 Φ⁻¹(${p}) = ${z32[i]}`);
    t.true(Math.abs(x64[i] - p) < 1e-12 * Math.max(1, 1 / p) * p + 1e-15, `Φ(Φ⁻¹(${p})) = ${x64[i]}`);
  });
});

for (const kind of FLOW_TABLE) {
  for (const D of [1, 3]) {
    test(`flow ${kind} (D=${D}): invertible, log|det J| matches the numerical Jacobian`, async (t) => {
      const { def, weights } = randomModel(kind, D, 2);
      const rng = new Rng(11);
      const n = 200;
      await checkBijection(t, {
        events: randomEvents(rng, n, D, 40, 140),
        D,
        theta: { data: randomTheta(rng, n, def), P: 2 },
        weights,
        build(g, x, theta, inverse) {
          const flow = flowGraphs(g, def);
          if (inverse) return { y: flow.sample(x, theta) };
          const { z, logDet } = flow.toBase(x, theta);
          return { y: z, logDet };
        },
      });
    });
  }

  test(`flow ${kind}: θ changes the density, and one θ for N events equals N copies of it`, (t) => {
    const D = 2;
    const { def, weights } = randomModel(kind, D, 2);
    const rng = new Rng(5);
    const n = 100;
    const events = randomEvents(rng, n, D, 40, 140);
    const g = new GraphBuilder();
    const x = g.input('x', ['N', D]);
    const th = g.input('theta', ['B', 2]);
    const logProb = flowGraphs(g, def).logProb(x, th);
    const run = (theta: Float32Array, rows: number): Float32Array =>
      runIr(g, [logProb], { x: { data: events, shape: [n, D] }, theta: { data: theta, shape: [rows, 2] } }, weights)[0];
    const one = Float32Array.of(90, 0.01);
    const broadcast = run(one, 1);
    const copies = run(Float32Array.from({ length: 2 * n }, (_, i) => one[i % 2]), n);
    t.deepEqual(broadcast.length, n);
    for (let i = 0; i < n; i++) t.true(Math.abs(broadcast[i] - copies[i]) < 1e-5);
    const other = run(Float32Array.of(70, 0.05), 1);
    const change = broadcast.reduce((s, v, i) => s + Math.abs(v - other[i]), 0) / n;
    t.true(change > 1e-2, `mean |Δ log p| between two θ is ${change}`);
  });
}
