// runMethods (the study's flow scores) on a small synthetic signal-region split: every score covers the test
// events, the idealised background members keep their data members' preprocessing (weighted training), the
// bootstrap reports its iterations, and on a well separated signal the idealised ratio ranks signal above
// background as its exact likelihood ratio does.
import test from 'ava';
import { Rng } from '../runtime/src/random.ts';
import { aucWithError } from '../runtime/src/stats/roc.ts';
import { type AnomalyEvents, emptyEvents } from '../trainer/src/anomaly/events.ts';
import { METHODS, runMethods } from '../trainer/src/anomaly/methods.ts';
import { scoreMetrics } from '../trainer/src/anomaly/metrics.ts';
import { flowConfig } from '../trainer/src/flows/config.ts';

// Background N(0, 1)⁴, signal N(1.5, 0.4²)⁴ in four features.
const D = 4;
function sample(rng: Rng, n: number, signalFraction: number): AnomalyEvents {
  const events = emptyEvents(['a', 'b', 'c', 'd'], n);
  for (let i = 0; i < n; i++) {
    const signal = rng.uniform() < signalFraction;
    events.label[i] = signal ? 1 : 0;
    events.m[i] = 3.5;
    for (let d = 0; d < D; d++) events.x[D * i + d] = signal ? 1.5 + 0.4 * rng.normal() : rng.normal();
  }
  return events;
}

test('runMethods: scores of every test event, shared preprocessing of the idealised pair, the ratio ranks as the exact λ', async (t) => {
  const rng = new Rng(21);
  const split = { training: sample(rng, 3000, 0.1), test: sample(rng, 2000, 0.5), extraSignal: sample(rng, 300, 1), testFromSignalFile: 0 };
  const settings = {
    flow: flowConfig('maf', { blocks: 2, hidden: 16 }),
    train: { maxEpochs: 8, batchSize: 128, learningRate: 3e-3, patience: 8 },
    ensemble: 2,
    bootstrap: { alpha: 0.02, maxIterations: 2, tolerance: 0.05 },
    classifier: { hidden: [8], maxEpochs: 2, ensemble: 1, batchSize: 128, patience: 2 },
    idealisedBags: 2,
    threads: 1,
  };
  const result = await runMethods(split, settings, 3, () => {});
  for (const method of METHODS) {
    t.is(result.scores[method].length, split.test.count, method);
    t.true(result.scores[method].every(Number.isFinite), method);
  }
  result.models.idealisedBackground.forEach((m, k) => t.deepEqual(m.definition.preprocessing, result.models.data[k].definition.preprocessing));
  t.deepEqual(result.models.bootstrapBackground.definition.preprocessing, result.models.data[0].definition.preprocessing);
  t.true(result.bootstrap.iterations.length >= 1 && result.bootstrap.iterations.length <= 2);

  // Oracle: the exact −log λ = log((1 − f) + f p_s/p_b) of the training data's signal fraction f.
  const f = 0.1;
  const exact = Array.from({ length: split.test.count }, (_, i) => {
    let logRatio = 0;
    for (let d = 0; d < D; d++) {
      const x = split.test.x[D * i + d];
      logRatio += -0.5 * ((x - 1.5) / 0.4) ** 2 - Math.log(0.4) + 0.5 * x * x;
    }
    return Math.log(1 - f + f * Math.exp(logRatio));
  });
  const exactAuc = aucWithError({ scores: exact.filter((_, i) => split.test.label[i] === 1) }, { scores: exact.filter((_, i) => split.test.label[i] === 0) }).auc;
  const ratioAuc = scoreMetrics(result.scores['idealised-ratio'], split.test.label).auc;
  t.true(ratioAuc > exactAuc - 0.05 && ratioAuc <= exactAuc + 0.01, `idealised ratio AUC ${ratioAuc}, exact ${exactAuc}`);
});
