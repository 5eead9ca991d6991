// The weighted background re-fit (density.ts weightedRefit), used by the bootstrap and the idealised ratio: a
// density on all events with the left-out ones at weight 0 keeps the data density's preprocessing, and with the
// signal left out its ratio to the data density ranks events as the exact likelihood ratio of a Gaussian mixture.
import test from 'ava';
import { Rng } from '../runtime/src/random.ts';
import { aucWithError } from '../runtime/src/stats/roc.ts';
import { negLogLambda } from '../trainer/src/anomaly/bootstrap.ts';
import { logDensity, trainDensity, weightedRefit } from '../trainer/src/anomaly/density.ts';
import { type AnomalyEvents, emptyEvents } from '../trainer/src/anomaly/events.ts';
import { scoreMetrics } from '../trainer/src/anomaly/metrics.ts';
import { flowConfig } from '../trainer/src/flows/config.ts';

// Background N(0, 1)², signal N(1.5, 0.4²)².
const logNormal2 = (x: number, y: number, mean: number, sigma: number): number => -(((x - mean) ** 2 + (y - mean) ** 2) / (2 * sigma * sigma)) - Math.log(2 * Math.PI * sigma * sigma);

function sample(seed: number, n: number, signalFraction: number): AnomalyEvents {
  const rng = new Rng(seed);
  const events = emptyEvents(['a', 'b'], n);
  for (let i = 0; i < n; i++) {
    const signal = rng.uniform() < signalFraction;
    events.label[i] = signal ? 1 : 0;
    for (let d = 0; d < 2; d++) events.x[2 * i + d] = signal ? 1.5 + 0.4 * rng.normal() : rng.normal();
  }
  return events;
}

test('a re-fit with the signal at weight 0 keeps the data preprocessing and ranks test events as the exact λ does', async (t) => {
  const f = 0.1;
  const data = sample(1, 4000, f);
  const options = { flow: flowConfig('maf', { blocks: 2, hidden: 16 }), conditioning: 'none' as const, train: { maxEpochs: 12, batchSize: 128, learningRate: 3e-3, seed: 4, threads: 1 } };
  const dataDensity = await trainDensity(data, options);
  const keep = Uint8Array.from(data.label, (l) => 1 - l);
  const { model, logP } = await weightedRefit(data, options)(data, 1, keep);
  // The left-out events still set the support and standardisation: both flows see the same coordinates.
  t.deepEqual(model.definition.preprocessing, dataDensity.definition.preprocessing);
  t.is(logP.length, data.count);

  const testEvents = sample(2, 4000, 0.5);
  const score = negLogLambda(await logDensity(dataDensity, testEvents), await logDensity(model, testEvents));
  // Oracle: the exact −log λ = log((1 − f) + f p_s/p_b) on the same events.
  const exact = Array.from({ length: testEvents.count }, (_, i) => {
    const [x, y] = [testEvents.x[2 * i], testEvents.x[2 * i + 1]];
    return Math.log(1 - f + f * Math.exp(logNormal2(x, y, 1.5, 0.4) - logNormal2(x, y, 0, 1)));
  });
  const exactAuc = aucWithError({ scores: exact.filter((_, i) => testEvents.label[i] === 1) }, { scores: exact.filter((_, i) => testEvents.label[i] === 0) }).auc;
  const flowAuc = scoreMetrics(score, testEvents.label).auc;
  t.true(flowAuc > exactAuc - 0.04 && flowAuc < exactAuc + 0.01, `re-fit ratio AUC ${flowAuc}, exact ${exactAuc}`);
});

test('weighted training refuses weights that do not match the events', async (t) => {
  const data = sample(3, 100, 0.1);
  const options = { flow: flowConfig('maf', { blocks: 1, hidden: 8 }), conditioning: 'none' as const, train: { maxEpochs: 1, seed: 1, threads: 1 }, weights: new Float32Array(99) };
  await t.throwsAsync(() => trainDensity(data, options), { message: '99 event weights for 100 events' });
});
