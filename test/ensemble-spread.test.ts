// The training spread of an ensemble (runtime ensemble-spread.ts): each member's own fit as one Newton step from the
// ensemble's best point. Oracles: real refits of each member alone, from the ensemble's best point, on the same
// events; and an ensemble of a flow and its copy, whose members cannot differ.
import test from 'ava';
import { join } from 'node:path';
import { type FitResult, type FlowModel, MixtureLikelihood, Rng, ensembleSpread, fitLikelihood } from '@flowscan/runtime';
import { loadModel } from '@flowscan/runtime/node';
import * as toy from '../trainer/src/data/toy.ts';
import { exportModel } from '../trainer/src/export/export.ts';
import { flowConfig } from '../trainer/src/flows/config.ts';
import { defineModel, trainingDataFromColumns } from '../trainer/src/train/dataset.ts';
import { trainFlow } from '../trainer/src/train/train.ts';
import type { TrainedModel } from '../trainer/src/train/saved-model.ts';
import { temporaryFolder } from './helpers/temporary.ts';

const folder = temporaryFolder('flowscan-ensemble-spread-');
const MODELS = join(import.meta.dirname, '..', 'models');
const TRUTH = { m_pole: toy.TOY_TRUTH.mPole, gamma: toy.TOY_TRUTH.gamma };

/**
 * A small toy signal flow p(x | m_pole, gamma), trained briefly from its own initial weights and batch order on
 * the same events (members of an ensemble share training ranges): members of different seeds differ visibly.
 */
async function trainMember(seed: number): Promise<FlowModel> {
  const data = trainingDataFromColumns(toy.simulateSignalTraining(new Rng(1), 20_000), ['x'], ['m_pole', 'gamma']);
  const definition = defineModel(data, [{ name: 'x', unit: 'GeV', support: [...toy.TOY_WINDOW] }], [{ name: 'm_pole', unit: 'GeV' }, { name: 'gamma', unit: 'GeV' }], flowConfig('nsf', { blocks: 1, hidden: 16, bins: 6 }));
  const trained = await trainFlow(definition, data, { maxEpochs: 30, batchSize: 256, schedule: 'cosine', engine: 'onnxruntime', threads: 1, seed });
  const model: TrainedModel = {
    definition,
    weights: trained.weights,
    history: trained.history,
    provenance: { dataHash: '0'.repeat(64), dataFiles: [], events: 20_000, trainingEvents: 18_000, validationEvents: 2000, epochs: 30, bestEpoch: 30, validationLoss: 0, backend: 'cpu', seed, date: '2026-12-02', trainer: 'test' },
  };
  const dir = join(folder(), `member-${seed}`);
  await exportModel(model, dir, { name: `member-${seed}` });
  return loadModel(dir, { ep: 'cpu' });
}

/** Signal-only pseudo-data at the toy's truth. */
function signalEvents(seed: number, n: number): { x: Float64Array } {
  return { x: toy.signalSample(new Rng(seed), TRUTH.m_pole, TRUTH.gamma, new Float64Array(n)) as Float64Array };
}

function signalLikelihood(model: FlowModel | FlowModel[], events: { x: Float64Array }): MixtureLikelihood {
  return new MixtureLikelihood({ components: [{ name: 'signal', model, fraction: 1 }], events, yields: 'fixed-fractions' });
}

const fitFrom = (likelihood: MixtureLikelihood, start: Record<string, number>): Promise<FitResult> => fitLikelihood(likelihood, { start, starts: 1, globalSearch: false });
const valuesOf = (fit: FitResult): Record<string, number> => Object.fromEntries(fit.parameters.map((p) => [p.name, p.value]));

test('each member’s Newton step from the ensemble’s best point matches that member’s own refit', async (t) => {
  const members = [await trainMember(11), await trainMember(12), await trainMember(13)];
  const events = signalEvents(5, 400);
  const likelihood = signalLikelihood(members, events);
  const fit = await fitFrom(likelihood, TRUTH);
  const spread = await ensembleSpread(likelihood, fit, 'signal');
  t.deepEqual(spread.names, ['m_pole', 'gamma']);
  const errors = fit.parameters.map((p) => p.error!);
  const best = valuesOf(fit);
  const refitOffsets: number[][] = [];
  for (const member of members) {
    const own = valuesOf(await fitFrom(signalLikelihood(member, events), best));
    refitOffsets.push(spread.names.map((name) => own[name] - best[name]));
  }
  // The members differ by a visible part of the statistical error, so a step that ignored them would fail.
  const largest = Math.max(...refitOffsets.flatMap((o) => o.map((v, j) => Math.abs(v) / errors[j])));
  t.true(largest > 0.2, `largest member offset ${largest.toFixed(3)}σ: the members are too alike to test anything`);
  // First order in how the members differ: these differ by up to ≈ 3σ, where the steps were within 20 % of the refits.
  for (const [m, offsets] of refitOffsets.entries()) {
    for (const [j, name] of spread.names.entries()) {
      const step = spread.memberOffsets[m][j];
      t.true(Math.abs(step - offsets[j]) <= 0.25 * Math.abs(offsets[j]) + 0.05 * errors[j], `member ${m} ${name}: Newton step ${step}, refit ${offsets[j]} (σ ${errors[j]})`);
    }
  }
  for (const j of spread.names.keys()) {
    const column = spread.memberOffsets.map((o) => o[j]);
    const mean = column.reduce((s, v) => s + v, 0) / column.length;
    const width = Math.sqrt(column.reduce((s, v) => s + (v - mean) ** 2, 0) / (column.length - 1));
    t.true(Math.abs(spread.memberWidth[j] - width) <= 1e-12 * width && Math.abs(spread.trainingError[j] - width / Math.sqrt(3)) <= 1e-12 * width);
  }
});

test('an ensemble of a flow and its copy has no training spread', async (t) => {
  const flow = await loadModel(join(MODELS, 'toy-signal'), { ep: 'cpu' });
  const copy = await loadModel(join(MODELS, 'toy-signal'), { ep: 'cpu' });
  const likelihood = signalLikelihood([flow, copy], signalEvents(6, 2000));
  const fit = await fitFrom(likelihood, TRUTH);
  const spread = await ensembleSpread(likelihood, fit, 'signal');
  for (const [j, p] of fit.parameters.entries()) {
    // The members' steps are the same; each is what is left of the fit's own convergence (its EDM), ≪ σ.
    t.true(spread.memberOffsets.every((o) => o[j] === spread.memberOffsets[0][j] && Math.abs(o[j]) < 0.01 * p.error!), `${p.name}: offsets ${spread.memberOffsets.map((o) => o[j])}, σ ${p.error}`);
    t.is(spread.trainingError[j], 0);
  }
});

test('ensembleSpread refuses a single flow, an unknown component and a fit of another likelihood', async (t) => {
  const flow = await loadModel(join(MODELS, 'toy-signal'), { ep: 'cpu' });
  const events = signalEvents(7, 500);
  const single = signalLikelihood(flow, events);
  const fit = await fitFrom(single, TRUTH);
  await t.throwsAsync(ensembleSpread(single, fit, 'signal'), { message: /component "signal" is one flow: a training spread needs an ensemble of ≥ 2 flows/ });
  await t.throwsAsync(ensembleSpread(single, fit, 'bump'), { message: /no component "bump" in this likelihood: it has signal/ });
  const ensemble = signalLikelihood([flow, flow], events);
  const fixedGamma = ensemble.variant({ fixed: { gamma: 2.5 } });
  await t.throwsAsync(ensembleSpread(fixedGamma, fit, 'signal'), { message: /the fit's free parameters \(m_pole, gamma\) are not the likelihood's \(m_pole\): pass the likelihood that was fitted/ });
  t.throws(() => ensemble.ensembleMember('signal', 2), { message: /component "signal" has 2 member flows \(indices 0–1\), not 2/ });
});
