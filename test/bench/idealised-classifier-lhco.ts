// The idealised classifier on the real LHC Olympics R&D signal-region data (issue 13): the anomaly study's split
// (splitLhcoSr, seed 13: 80 000 training events with 496 signal, a held-out test of 39 732 background and 13 900
// signal events), bagged over random data/reference splits of the training events (idealised-classifier.ts), with
// the study's default classifier settings. Prints, per seed, each bag's AUC and max SIC (≥ 25 test background
// events) and those of the bagged score after 1, 2, 4, … bags.
//   npx tsx test/bench/idealised-classifier-lhco.ts [--bags 8] [--seeds 1,2,3] [--epochs 30]
import { parseArgs } from 'node:util';
import { classifierScorer } from '../../trainer/src/classifier/index.ts';
import { splitLhcoSr } from '../../trainer/src/anomaly/events.ts';
import { idealisedClassifierScores } from '../../trainer/src/anomaly/idealised-classifier.ts';
import { meanAndSpread, scoreMetrics } from '../../trainer/src/anomaly/metrics.ts';
import { LHCO_SR_DATA_DIR } from '../../trainer/src/study/anomaly.ts';

const { values } = parseArgs({ options: { bags: { type: 'string', default: '8' }, seeds: { type: 'string', default: '1,2,3' }, epochs: { type: 'string', default: '30' } } });
const bags = Number(values.bags);
const split = await splitLhcoSr(LHCO_SR_DATA_DIR, { seed: 13 });
const { training, test } = split;
const say = (line: string): void => void process.stdout.write(`${line}\n`);
const describe = (score: Float64Array): string => {
  const m = scoreMetrics(score, test.label);
  return `AUC ${m.auc.toFixed(3)}, max SIC ${m.maxSic?.sic.toFixed(2)} (ε_S ${m.maxSic?.signalEfficiency.toFixed(3)}, ε_B ${m.maxSic?.backgroundEfficiency.toExponential(2)})`;
};
const results: { single: number[]; bagged: number; auc: number }[] = [];
for (const seed of values.seeds!.split(',').map(Number)) {
  const started = performance.now();
  const { scores, bags: trained } = await idealisedClassifierScores(
    training,
    test,
    { bags, dataFraction: 0.5, classifier: { hidden: [64, 64, 64], maxEpochs: Number(values.epochs), ensemble: 5, batchSize: 256, patience: 10 }, seed, threads: 1 },
    say,
  );
  const seconds = (performance.now() - started) / 1000;
  // Each bag alone and the mean probability of the first k bags, from each bag's own logit.
  const sum = new Float64Array(test.count);
  const single: number[] = [];
  for (const [k, bag] of trained.entries()) {
    const scorer = await classifierScorer(bag.model);
    const { logit } = await scorer.score(test.x, test.count);
    await scorer.release();
    logit.forEach((z, i) => (sum[i] += 1 / (1 + Math.exp(-z))));
    single.push(scoreMetrics(Float64Array.from(logit), test.label).maxSic?.sic ?? Number.NaN);
    say(`seed ${seed} bag ${k + 1}: ${describe(Float64Array.from(logit))}`);
    if (((k + 1) & k) === 0) say(`seed ${seed}, bagged over ${k + 1}: ${describe(sum.map((p) => Math.log(p / (k + 1)) - Math.log1p(-p / (k + 1))))}`);
  }
  const m = scoreMetrics(scores, test.label);
  say(`seed ${seed}: ${bags} bags in ${seconds.toFixed(0)} s, ${describe(scores)}`);
  results.push({ single, bagged: m.maxSic?.sic ?? Number.NaN, auc: m.auc });
}
const summary = (values: number[], digits: number): string => {
  const s = meanAndSpread(values);
  return `${s.mean.toFixed(digits)} ± ${s.spread.toFixed(digits)}`;
};
say(`single bags: max SIC ${summary(results.flatMap((r) => r.single), 2)} (${results.flatMap((r) => r.single).length} classifiers)`);
say(`bagged over ${bags}: AUC ${summary(results.map((r) => r.auc), 3)}, max SIC ${summary(results.map((r) => r.bagged), 2)} (${results.length} seeds)`);
