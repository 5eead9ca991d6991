// The mixture likelihood: values against an independent float64 computation from the log-density graphs,
// gradients against finite differences, float64 accumulation at 10^6 events, and every bad input.
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type FloatArray, type FlowModel, MixtureLikelihood, Rng, fitLikelihood, likelihoodMap2d, nllMap2d } from '@flowscan/runtime';
import { loadModel } from '@flowscan/runtime/node';
import { exportModel } from '../trainer/src/export/export.ts';
import { centralDifferences } from './fit-helpers.ts';
import { asTrained, randomModel } from './helpers/flows.ts';

let dir = '';
let signal: FlowModel;
let background: FlowModel;

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flowscan-likelihood-'));
  // One-feature models like the toy's: signal θ = (p0, p1 log-scaled), background θ = (p0).
  const s = randomModel('nsf', 1, 2, 21);
  const b = randomModel('nsf', 1, 1, 22);
  b.def.params[0].name = 'tau';
  await exportModel(asTrained(s), join(dir, 'signal'), { name: 'signal' });
  await exportModel(asTrained(b), join(dir, 'background'), { name: 'background' });
  signal = await loadModel(join(dir, 'signal'), { ep: 'cpu' });
  background = await loadModel(join(dir, 'background'), { ep: 'cpu' });
});
test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

function events(n: number, seed = 1): Float64Array {
  const rng = new Rng(seed);
  return Float64Array.from({ length: n }, () => 41 + 98 * rng.uniform());
}

const FRACTIONS = { signal: 0.2, background: 0.8 };

function mixture(x: Float64Array, extra: Partial<ConstructorParameters<typeof MixtureLikelihood>[0]> = {}): MixtureLikelihood {
  return new MixtureLikelihood({
    components: [
      { name: 'signal', model: signal, fraction: FRACTIONS.signal },
      { name: 'background', model: background, fraction: FRACTIONS.background },
    ],
    events: { x0: x },
    yields: 'fixed-fractions',
    ...extra,
  });
}

/**
 * Per-event log-densities from the batched graph the likelihood uses (one point), so the comparison isolates
 * the mixture and its float64 accumulation from float32 differences between graphs.
 */
async function densities(x: Float64Array, theta: { s: number[]; b: number[] }): Promise<{ ls: FloatArray; lb: FloatArray }> {
  return {
    ls: await signal.logProbBatch((await signal.residentEvents(x, x.length)).chunk(0, x.length), theta.s),
    lb: await background.logProbBatch((await background.residentEvents(x, x.length)).chunk(0, x.length), theta.b),
  };
}

/** −Σ log(f_s p_s + f_b p_b) in float64. */
async function referenceNll(x: Float64Array, theta: { s: number[]; b: number[] }): Promise<number> {
  const { ls, lb } = await densities(x, theta);
  let nll = 0;
  for (let i = 0; i < x.length; i++) nll -= Math.log(FRACTIONS.signal * Math.exp(ls[i]) + FRACTIONS.background * Math.exp(lb[i]));
  return nll;
}

test('NLL equals an independent float64 sum of the per-event mixture, for K points in one call', async (t) => {
  const x = events(3000);
  const L = mixture(x);
  t.deepEqual(L.freeNames, ['p0', 'p1', 'tau']);
  const points = Float64Array.of(80, 0.01, 90, 100, 0.05, 70);
  const { values } = await L.evaluate(points, 2, false);
  t.true(Math.abs(values[0] - (await referenceNll(x, { s: [80, 0.01], b: [90] }))) < 1e-6);
  t.true(Math.abs(values[1] - (await referenceNll(x, { s: [100, 0.05], b: [70] }))) < 1e-6);
});

// The flow gradients themselves are checked to 1e-3 against float64 finite differences in export.test.ts;
// here the chain rule of the mixture (responsibility weights, yields) is checked against differences of the
// float32-based NLL, whose spline-knot kinks in θ and rounding allow about 1% agreement.
test('gradient equals central differences of the NLL (fixed fractions and extended yields)', async (t) => {
  const x = events(2000, 2);
  for (const mode of ['fixed-fractions', 'extended'] as const) {
    const L =
      mode === 'extended'
        ? new MixtureLikelihood({ components: [{ name: 'signal', model: signal }, { name: 'background', model: background }], events: { x0: x }, yields: 'extended' })
        : mixture(x);
    const point = mode === 'extended' ? Float64Array.of(85, 0.02, 95, 500, 1500) : Float64Array.of(85, 0.02, 95);
    const { gradients } = await L.evaluate(point, 1, true);
    const steps = mode === 'extended' ? [0.05, 1e-4, 0.05, 1, 1] : [0.05, 1e-4, 0.05];
    const differences = await centralDifferences(L, point, steps);
    for (let j = 0; j < point.length; j++) {
      const finite = differences[j];
      t.true(Math.abs(gradients![j] - finite) <= 1e-2 * Math.max(1, Math.abs(finite)), `${mode} ${L.freeNames[j]}: ${gradients![j]} vs ${finite}`);
    }
  }
});

test('sums over 10^6 events are accumulated in float64: the NLL matches a compensated sum to 1e-6', async (t) => {
  const n = 1_000_000;
  const x = events(n, 3);
  const L = mixture(x);
  const { values } = await L.evaluate(Float64Array.of(90, 0.01, 95), 1, false);
  // Neumaier-compensated reference from the same per-event densities.
  const { ls, lb } = await densities(x, { s: [90, 0.01], b: [95] });
  let sum = 0;
  let compensation = 0;
  for (let i = 0; i < n; i++) {
    const term = -Math.log(FRACTIONS.signal * Math.exp(ls[i]) + FRACTIONS.background * Math.exp(lb[i]));
    const next = sum + term;
    compensation += Math.abs(sum) >= Math.abs(term) ? sum - next + term : term - next + sum;
    sum = next;
  }
  t.true(Math.abs(values[0] - (sum + compensation)) < 1e-6, `${values[0]} vs ${sum + compensation}`);
  // A float32 running sum would be off by far more than the 1e-3 we must resolve.
  let f32 = Math.fround(0);
  for (let i = 0; i < n; i++) f32 = Math.fround(f32 - Math.fround(Math.log(FRACTIONS.signal * Math.exp(ls[i]) + FRACTIONS.background * Math.exp(lb[i]))));
  t.true(Math.abs(f32 - values[0]) > 1e-3, 'the test can tell float32 accumulation apart');
});

test('a fit recovers the minimum of a likelihood and reports evaluations, errors and significance', async (t) => {
  const x = events(4000, 4);
  const L = mixture(x);
  const fit = await fitLikelihood(L, { start: { p0: 90, p1: 0.01, tau: 90 }, starts: 2, signal: 'signal' });
  t.true(fit.evaluations.calls > 0 && fit.evaluations.graphRuns >= fit.evaluations.calls);
  t.true(fit.wallMs > 0);
  // The fitted point is a minimum, and the Hessian errors measure its curvature: the mean ΔNLL of the two points
  // ±1σ away along each axis is ≈ 0.5 (the mean cancels the cubic term of this small, skewed sample), unless the
  // fit itself says its errors are uncertain or that the NLL is no parabola over ±1σ (a random flow on 4000 events
  // is far from Gaussian along p0).
  const flagged = fit.warnings.some((w) => w.includes('errors are uncertain') || w.includes("not the Hessian's parabola"));
  const best = Float64Array.from(L.freeNames, (n) => fit.parameters.find((p) => p.name === n)!.value);
  const { values } = await L.evaluate(best, 1, false);
  for (let j = 0; j < best.length; j++) {
    const p = fit.parameters.find((q) => q.name === L.freeNames[j])!;
    if (p.atBound !== 'free') continue;
    t.true(p.error !== undefined && p.error > 0, `${p.name} has a Hessian error`);
    const rises: number[] = [];
    for (const sign of [-1, 1]) {
      const moved = Float64Array.from(best);
      moved[j] += sign * p.error!;
      const v = (await L.evaluate(moved, 1, false)).values[0];
      t.true(v > values[0], `the NLL rises ${sign > 0 ? 'above' : 'below'} the best ${p.name}`);
      rises.push(v - values[0]);
    }
    // The fit's own ΔNLL at ±1σ (null beyond a bound) are these.
    t.is(p.deltaNllAtErrors?.length, 2, `${p.name}: the fit records ΔNLL at ±1σ`);
    p.deltaNllAtErrors?.forEach((r, side) => t.true(r === null || Math.abs(r - rises[side]) < 1e-6, `${p.name}: fit ${r}, here ${rises[side]}`));
    const mean = (rises[0] + rises[1]) / 2;
    t.true(flagged || (mean > 0.3 && mean < 0.8), `mean ΔNLL at ±1σ along ${p.name} is ${mean} (0.5 expected; ${rises.join(', ')}) and the fit did not flag its errors`);
  }
  t.truthy(fit.significance);
  t.true(fit.significance!.z >= 0);
});

test('components with no free parameter are evaluated once and cached', async (t) => {
  const x = events(1000, 5);
  const L = mixture(x, { fixed: { tau: 95 } });
  t.deepEqual(L.freeNames, ['p0', 'p1']);
  await L.evaluate(Float64Array.of(90, 0.01), 1, true);
  const runs = L.graphRuns;
  await L.evaluate(Float64Array.of(91, 0.01), 1, true);
  // Second call: signal log p + signal gradient only (background cached, no gradient needed).
  t.is(L.graphRuns - runs, 2);
});

test('bad inputs give clear errors', (t) => {
  const x = events(100);
  t.throws(() => mixture(x, { events: { other: x } }), { message: /no column "x0" needed by model signal \(columns: other\)/ });
  const withNaN = Float64Array.from(x);
  withNaN[7] = NaN;
  t.throws(() => mixture(withNaN), { message: /event 8 has NaN in "x0"/ });
  const outside = Float64Array.from(x);
  outside[3] = 500;
  outside[4] = -3;
  t.throws(() => mixture(outside), { message: /2 of 100 events lie outside the models' feature support \(2 in x0\)/ });
  const dropped = mixture(outside, { outsideSupport: 'drop' });
  t.is(dropped.data.droppedOutsideSupport, 2);
  t.is(dropped.data.events, 98);
  t.throws(
    () => new MixtureLikelihood({ components: [{ name: 's', model: signal, fraction: 0.5 }, { name: 'b', model: signal, fraction: 0.5 }], events: { x0: x }, yields: 'fixed-fractions' }),
    { message: /parameter "p0" of component "b" collides with a parameter of another component; rename one/ },
  );
  t.notThrows(
    () =>
      new MixtureLikelihood({
        components: [{ name: 's', model: signal, fraction: 0.5 }, { name: 'b', model: signal, fraction: 0.5, rename: { p0: 'p0_b', p1: 'p1_b' } }],
        events: { x0: x },
        yields: 'fixed-fractions',
      }),
  );
  t.throws(() => mixture(x, { components: [{ name: 'signal', model: signal, fraction: 0.3 }, { name: 'background', model: background, fraction: 0.3 }] }), { message: /fractions sum to 0.6, expected 1/ });
  t.throws(() => mixture(x, { fixed: { mass: 3 } }), { message: /unknown parameter "mass": the likelihood has p0, p1, tau/ });
  t.throws(() => mixture(x, { bounds: { p0: [5, 1] } }), { message: /bounds of "p0" must have lower < upper/ });
  t.throws(() => mixture(x, { weights: [1, 2] }), { message: /2 event weights for 100 events/ });
});

test('a start outside the bounds is refused before any evaluation', async (t) => {
  const L = mixture(events(100));
  await t.throwsAsync(fitLikelihood(L, { start: { p0: 500 } }), { message: /start value p0 = 500 lies outside its bounds/ });
});

test('a memory budget bounds each graph call and leaves the NLL and gradient unchanged', async (t) => {
  const x = events(20_000, 6);
  const budget = 8 * 1024 * 1024;
  const small = mixture(x, { memoryBudget: budget });
  const whole = mixture(x);
  const K = 5;
  const points = Float64Array.from({ length: 3 * K }, (_, i) => [86, 0.01, 94][i % 3] + 0.5 * Math.floor(i / 3));
  const bytes = small.bytesPerEvaluation();
  t.true(signal.evaluationBytes! > 0 && background.evaluationBytes! > 0, 'the manifests record the bytes per evaluation');
  t.true(bytes >= signal.evaluationBytes! + background.evaluationBytes!, 'every session counts');
  t.true(small.chunkSize(K) * K * bytes <= budget, `${small.chunkSize(K)} events × ${K} points × ${bytes} B exceed the budget`);
  t.true(small.chunkSize(K) < 20_000 / 4, 'the small budget splits the events into several chunks');
  t.is(whole.chunkSize(1), 20_000);
  const a = await small.evaluate(points, K, true);
  const b = await whole.evaluate(points, K, true);
  for (let k = 0; k < K; k++) t.true(Math.abs(a.values[k] - b.values[k]) < 1e-6, `NLL ${a.values[k]} vs ${b.values[k]}`);
  for (let i = 0; i < 3 * K; i++) t.true(Math.abs(a.gradients![i] - b.gradients![i]) <= 1e-6 * Math.max(1, Math.abs(b.gradients![i])), `gradient ${a.gradients![i]} vs ${b.gradients![i]}`);
  t.throws(() => mixture(x, { memoryBudget: 0 }), { message: /memory budget must be a positive number of bytes, got 0/ });
});

test('one component alone: NLL and gradient from the θ-gradient call alone equal −Σ w log p and central differences', async (t) => {
  const x = events(3000, 7);
  const rng = new Rng(8);
  const weights = Float64Array.from(x, () => 0.5 + rng.uniform());
  const L = new MixtureLikelihood({ components: [{ name: 'signal', model: signal, fraction: 1 }], events: { x0: x }, weights, yields: 'fixed-fractions' });
  const point = Float64Array.of(88, 0.02);
  const runs = L.graphRuns;
  const { values, gradients } = await L.evaluate(point, 1, true);
  t.is(L.graphRuns - runs, 1, 'one graph call: the gradient graph gives log p too');
  const { ls } = await densities(x, { s: [88, 0.02], b: [95] });
  const reference = -Array.from(ls).reduce((s, v, i) => s + weights[i] * v, 0);
  t.true(Math.abs(values[0] - reference) < 1e-6, `${values[0]} vs ${reference}`);
  const steps = [0.01, 1e-5];
  for (let j = 0; j < 2; j++) {
    const shifted = new Float64Array(4);
    shifted.set(point, 0);
    shifted.set(point, 2);
    shifted[j] -= steps[j];
    shifted[2 + j] += steps[j];
    const { values: v } = await L.evaluate(shifted, 2, false);
    const finite = (v[1] - v[0]) / (2 * steps[j]);
    t.true(Math.abs(gradients![j] - finite) <= 1e-3 * Math.max(1, Math.abs(finite)), `${L.freeNames[j]}: ${gradients![j]} vs ${finite}`);
  }
});

test('a slice map on a variant with the other parameters fixed equals the map of the full likelihood', async (t) => {
  const x = events(5000, 9);
  const full = mixture(x);
  const slice = mixture(x);
  const best = Float64Array.of(88, 0.01, 95);
  const ranges = [[85, 91], [0.005, 0.03]] as const;
  const reference = await nllMap2d(full, best, 0, 1, ranges, 4, 3, { bounds: full.bounds() });
  const runs = slice.graphRuns;
  const map = await likelihoodMap2d(slice, best, 0, 1, ranges, 4, 3);
  t.is(map.i, 0);
  t.is(map.j, 1);
  for (let k = 0; k < 12; k++) {
    t.true(Math.abs(map.deltaNll[k] - reference.deltaNll[k]) < 1e-7, `ΔNLL ${map.deltaNll[k]} vs ${reference.deltaNll[k]}`);
    t.true(Math.abs(map.gradient!.i[k] - reference.gradient!.i[k]) < 1e-6 * Math.max(1, Math.abs(reference.gradient!.i[k])));
    t.true(Math.abs(map.gradient!.j[k] - reference.gradient!.j[k]) < 1e-6 * Math.max(1, Math.abs(reference.gradient!.j[k])));
  }
  t.is(slice.graphRuns, runs, 'the map evaluates a variant, not the likelihood itself');
  await t.throwsAsync(likelihoodMap2d(slice, best, 0, 5, ranges, 4, 3), { message: /map parameter index 5 is not one of the 3 free parameters/ });
});
