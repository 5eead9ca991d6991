// Ensemble components: a component whose density is the mean of M flows, p_c = (1/M) Σ_m p_m. Oracles: an
// independent float64 sum of the per-event mixture from each member's log-density graph, central differences of
// the NLL, an ensemble of one flow twice (which must equal the flow), Σ w s = −∇NLL for the event scores, and the
// sampled events of the ensemble against each member's own draws.
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type FlowModel, type LikelihoodSpec, MixtureLikelihood, Rng, type ScoreChunk, sampleEnsemble, sampleFittedComponents, sampleFlow, weightedScoreMoments } from '@flowscan/runtime';
import { loadModel } from '@flowscan/runtime/node';
import { exportModel } from '../trainer/src/export/export.ts';
import { centralDifferences } from './fit-helpers.ts';
import { asTrained, randomModel } from './helpers/flows.ts';

let dir = '';
/** Two signal flows of the same features and parameters (different random weights), and a background flow. */
let members: FlowModel[] = [];
let background: FlowModel;
/** A flow with a parameter of another name: it cannot join the signal ensemble. */
let renamed: FlowModel;

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flowscan-ensemble-'));
  const b = randomModel('nsf', 1, 1, 22);
  b.def.params[0].name = 'tau';
  const other = randomModel('nsf', 1, 2, 41);
  other.def.params[0].name = 'mass';
  const specs = { 'signal-a': randomModel('nsf', 1, 2, 21), 'signal-b': randomModel('maf', 1, 2, 31), background: b, renamed: other };
  const loaded: Record<string, FlowModel> = {};
  for (const [name, m] of Object.entries(specs)) {
    await exportModel(asTrained(m), join(dir, name), { name });
    loaded[name] = await loadModel(join(dir, name), { ep: 'cpu', precision: 'float64' });
  }
  members = [loaded['signal-a'], loaded['signal-b']];
  background = loaded.background;
  renamed = loaded.renamed;
});
test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

function events(n: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  return Float64Array.from({ length: n }, () => 41 + 98 * rng.uniform());
}

const FRACTIONS = { signal: 0.3, background: 0.7 };

function ensembleLikelihood(x: Float64Array, signal: FlowModel | readonly FlowModel[], extra: Partial<LikelihoodSpec> = {}): MixtureLikelihood {
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

async function logDensity(model: FlowModel, x: Float64Array, theta: number[]): Promise<ArrayLike<number>> {
  return model.logProbBatch((await model.residentEvents(x, x.length)).chunk(0, x.length), theta);
}

/** −Σ log(a_s (p_a + p_b)/2 + a_b p_bkg) (+ a_s + a_b when extended), in float64 from each flow's own graph. */
async function referenceNll(x: Float64Array, thetaSignal: number[], tau: number, coefficients: { signal: number; background: number }, extended: boolean): Promise<number> {
  const [la, lb] = [await logDensity(members[0], x, thetaSignal), await logDensity(members[1], x, thetaSignal)];
  const lbkg = await logDensity(background, x, [tau]);
  let nll = extended ? coefficients.signal + coefficients.background : 0;
  for (let i = 0; i < x.length; i++) nll -= Math.log((coefficients.signal * (Math.exp(la[i]) + Math.exp(lb[i]))) / 2 + coefficients.background * Math.exp(lbkg[i]));
  return nll;
}

test('an ensemble component has the mean density of its members: NLL against an independent float64 sum (fixed fractions and extended)', async (t) => {
  const x = events(2500, 1);
  const fixed = ensembleLikelihood(x, members);
  t.deepEqual(fixed.freeNames, ['p0', 'p1', 'tau']);
  t.deepEqual(fixed.componentNames(), ['signal', 'background']);
  t.deepEqual(fixed.ensembleSizes(), { signal: 2, background: 1 });
  const { values } = await fixed.evaluate(Float64Array.of(80, 0.01, 90, 100, 0.05, 70), 2, false);
  t.true(Math.abs(values[0] - (await referenceNll(x, [80, 0.01], 90, FRACTIONS, false))) < 1e-6 * Math.abs(values[0]));
  t.true(Math.abs(values[1] - (await referenceNll(x, [100, 0.05], 70, FRACTIONS, false))) < 1e-6 * Math.abs(values[1]));

  const extended = ensembleLikelihood(x, members, { yields: 'extended' });
  t.deepEqual(extended.freeNames, ['p0', 'p1', 'tau', 'n_signal', 'n_background']);
  const { values: ext } = await extended.evaluate(Float64Array.of(85, 0.02, 95, 600, 1900), 1, false);
  t.true(Math.abs(ext[0] - (await referenceNll(x, [85, 0.02], 95, { signal: 600, background: 1900 }, true))) < 1e-6 * Math.abs(ext[0]));
});

test('ensemble gradients equal central differences of the NLL (shared θ and yield, fixed fractions and extended)', async (t) => {
  const x = events(2000, 2);
  for (const extended of [false, true]) {
    const L = ensembleLikelihood(x, members, extended ? { yields: 'extended' } : {});
    const point = extended ? Float64Array.of(85, 0.02, 95, 500, 1500) : Float64Array.of(85, 0.02, 95);
    const { gradients } = await L.evaluate(point, 1, true);
    const steps = extended ? [1e-3, 1e-6, 1e-3, 1e-2, 1e-2] : [1e-3, 1e-6, 1e-3];
    const differences = await centralDifferences(L, point, steps);
    for (let j = 0; j < point.length; j++) {
      const finite = differences[j];
      t.true(Math.abs(gradients![j] - finite) <= 1e-4 * Math.max(1, Math.abs(finite)), `${extended ? 'extended' : 'fixed'} ${L.freeNames[j]}: ${gradients![j]} vs ${finite}`);
    }
  }
});

test('an ensemble of one flow twice is that flow: same NLL and gradient', async (t) => {
  const x = events(1500, 3);
  for (const extended of [false, true]) {
    const extra: Partial<LikelihoodSpec> = extended ? { yields: 'extended' } : {};
    const single = ensembleLikelihood(x, members[0], extra);
    const twice = ensembleLikelihood(x, [members[0], members[0]], extra);
    const point = extended ? Float64Array.of(90, 0.03, 80, 400, 1100) : Float64Array.of(90, 0.03, 80);
    const a = await single.evaluate(point, 1, true);
    const b = await twice.evaluate(point, 1, true);
    t.true(Math.abs(a.values[0] - b.values[0]) < 1e-9 * Math.abs(a.values[0]), `${a.values[0]} vs ${b.values[0]}`);
    a.gradients!.forEach((g, j) => t.true(Math.abs(g - b.gradients![j]) < 1e-8 * Math.max(1, Math.abs(g)), `${single.freeNames[j]}: ${g} vs ${b.gradients![j]}`));
  }
});

test('event scores of an ensemble: Σ s_i equals −∇NLL of evaluate, extended yields included', async (t) => {
  const x = events(1500, 4);
  const L = ensembleLikelihood(x, members, { yields: 'extended' });
  const point = [88, 0.02, 85, 450, 1050];
  const chunks: ScoreChunk[] = [];
  for await (const chunk of L.eventScores(point, [1e-4, 1e-7, 1e-4, 1, 1])) chunks.push(chunk);
  const { sum } = await weightedScoreMoments(chunks, point.length);
  const { gradients } = await L.evaluate(Float64Array.from(point), 1, true);
  // −∇NLL = Σ s − 1 for each yield (the Σν term lies outside the event sum).
  L.freeNames.forEach((name, j) => {
    const expected = -gradients![j] + (j >= 3 ? 1 : 0);
    t.true(Math.abs(sum[j] - expected) < 1e-5 * Math.max(1, Math.abs(expected)), `${name}: Σ s = ${sum[j]}, −∇NLL = ${expected}`);
  });
});

test('a fixed-fraction variant of an ensemble (background only) keeps the fractions summing to 1', async (t) => {
  const x = events(800, 5);
  const L = ensembleLikelihood(x, members);
  const backgroundOnly = L.variant({ fixed: { p0: 90, p1: 0.02 }, fractions: { signal: 0, background: 1 } });
  const { values } = await backgroundOnly.evaluate(Float64Array.of(75), 1, false);
  const lbkg = await logDensity(background, x, [75]);
  t.true(Math.abs(values[0] + Array.from(lbkg).reduce((s, v) => s + v, 0)) < 1e-6 * Math.abs(values[0]));
});

test('ensemble members must share features and parameters; an empty ensemble is refused', (t) => {
  const x = events(100, 6);
  t.throws(() => ensembleLikelihood(x, []), { message: /component "signal" has an empty ensemble/ });
  t.throws(() => ensembleLikelihood(x, [members[0], renamed]), { message: /ensemble of component "signal" mixes parameters: .*p0 .*mass/ });
  t.throws(() => ensembleLikelihood(x, [members[0], background]), { message: /ensemble of component "signal" mixes parameters/ });
});

test('sampling an ensemble: member m draws its share of the events from rng.fork(m + 1); predictions sample the whole ensemble', async (t) => {
  const theta = [95, 0.02];
  const drawn = await sampleEnsemble(members, theta, 7, new Rng(9));
  t.is(drawn.length, 7);
  const first = await sampleFlow(members[0], theta, 4, new Rng(9).fork(1));
  const second = await sampleFlow(members[1], theta, 3, new Rng(9).fork(2));
  t.deepEqual(Array.from(drawn), [...first, ...second]);

  const fit = { parameters: [{ name: 'p0', value: 95 }, { name: 'p1', value: 0.02 }, { name: 'tau', value: 80 }], data: { sumWeights: 1000 } };
  const components = [
    { name: 'signal', model: members, fraction: 0.3 },
    { name: 'background', model: background, fraction: 0.7 },
  ];
  const prediction = await sampleFittedComponents(components, 'fixed-fractions', fit, () => 10, new Rng(2));
  const signal = prediction.find((p) => p.component === 'signal')!;
  t.is(signal.events.length, 10);
  t.is(signal.weight, 30);
  t.deepEqual(Array.from(signal.events), Array.from(await sampleEnsemble(members, theta, 10, new Rng(2).fork(1))));
});
