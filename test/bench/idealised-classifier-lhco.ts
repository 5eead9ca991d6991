// The idealised classifier on the real LHC Olympics R&D signal-region data (issue 13): the anomaly study's split
// (splitLhcoSr, seed 13: 80 000 training events with 496 signal, a held-out test of 39 732 background and 13 900
// signal events), bagged over random data/reference splits of the training events (idealised-classifier.ts), with
// the study's default classifier settings. Prints, per seed, each bag's AUC and max SIC (≥ 25 test background
// events) and those of the bagged score after 1, 2, 4, … bags.
//   npx tsx test/bench/idealised-classifier-lhco.ts [--bags 8] [--seeds 1,2,3] [--epochs 30]
// With --classifier bdt each bag is an ensemble of --models boosted-tree models (each on its own training/validation
// split; boosted-trees.ts) instead of an MLP; --lr, --leaves, --min-leaf, --l2, --patience set the trees' options.
// --supervised also trains the supervised classifier of the same kind (the extra signal-only events against the
// training data's labelled background) as the reference.
import { parseArgs } from 'node:util';
import { type ClassifierChoice, scorerOf, trainChosenClassifier, trainingLength } from '../../trainer/src/classifier/index.ts';
import { filterEvents, splitLhcoSr } from '../../trainer/src/anomaly/events.ts';
import { idealisedClassifierScores } from '../../trainer/src/anomaly/idealised-classifier.ts';
import { meanAndSpread, scoreMetrics } from '../../trainer/src/anomaly/metrics.ts';
import { LHCO_SR_DATA_DIR } from '../../trainer/src/study/anomaly.ts';

const { values } = parseArgs({
  options: {
    bags: { type: 'string', default: '8' },
    seeds: { type: 'string', default: '1,2,3' },
    epochs: { type: 'string', default: '30' },
    classifier: { type: 'string', default: 'mlp' },
    models: { type: 'string', default: '10' },
    lr: { type: 'string', default: '0.1' },
    leaves: { type: 'string', default: '31' },
    'min-leaf': { type: 'string', default: '20' },
    l2: { type: 'string', default: '0' },
    patience: { type: 'string', default: '10' },
    supervised: { type: 'boolean', default: false },
  },
});
if (values.classifier !== 'mlp' && values.classifier !== 'bdt') throw new Error(`--classifier must be mlp or bdt, got ${values.classifier}`);
const kind = values.classifier;
const mlp = { hidden: [64, 64, 64], maxEpochs: Number(values.epochs), ensemble: 5, batchSize: 256, patience: 10 };
const boostedTrees = {
  ensemble: Number(values.models),
  learningRate: Number(values.lr),
  maxLeafNodes: Number(values.leaves),
  minSamplesLeaf: Number(values['min-leaf']),
  l2: Number(values.l2),
  patience: Number(values.patience),
};
const choice: ClassifierChoice = kind === 'bdt' ? { kind, options: boostedTrees } : { kind, options: mlp };
const bags = Number(values.bags);
const split = await splitLhcoSr(LHCO_SR_DATA_DIR, { seed: 13 });
const { training, test } = split;
const say = (line: string): void => void process.stdout.write(`${line}\n`);
const describe = (score: Float64Array): string => {
  const m = scoreMetrics(score, test.label);
  return `AUC ${m.auc.toFixed(3)}, max SIC ${m.maxSic?.sic.toFixed(2)} (ε_S ${m.maxSic?.signalEfficiency.toFixed(3)}, ε_B ${m.maxSic?.backgroundEfficiency.toExponential(2)})`;
};
const results: { single: number[]; bagged: number; auc: number; seconds: number }[] = [];
const supervised: ReturnType<typeof scoreMetrics>[] = [];
for (const seed of values.seeds!.split(',').map(Number)) {
  const started = performance.now();
  const { scores, bags: trained } = await idealisedClassifierScores(
    training,
    test,
    { bags, dataFraction: 0.5, classifier: mlp, kind, boostedTrees, seed, threads: 1 },
    say,
  );
  const seconds = (performance.now() - started) / 1000;
  // Each bag alone and the mean probability of the first k bags, from each bag's own logit.
  const sum = new Float64Array(test.count);
  const single: number[] = [];
  for (const [k, bag] of trained.entries()) {
    const scorer = await scorerOf(bag.model);
    const { logit } = await scorer.score(test.x, test.count);
    await scorer.release();
    logit.forEach((z, i) => (sum[i] += 1 / (1 + Math.exp(-z))));
    single.push(scoreMetrics(Float64Array.from(logit), test.label).maxSic?.sic ?? Number.NaN);
    say(`seed ${seed} bag ${k + 1}: ${describe(Float64Array.from(logit))}`);
    if (((k + 1) & k) === 0) say(`seed ${seed}, bagged over ${k + 1}: ${describe(sum.map((p) => Math.log(p / (k + 1)) - Math.log1p(-p / (k + 1))))}`);
  }
  const m = scoreMetrics(scores, test.label);
  say(`seed ${seed}: ${bags} bags in ${seconds.toFixed(0)} s, ${describe(scores)}`);
  results.push({ single, bagged: m.maxSic?.sic ?? Number.NaN, auc: m.auc, seconds });
  if (values.supervised) {
    const started = performance.now();
    const background = filterEvents(training, (i) => training.label[i] === 0);
    const model = await trainChosenClassifier({ x: background.x }, { x: split.extraSignal.x }, choice, { features: training.features.map((name) => ({ name, unit: '' })), seed: seed + 2 });
    const scorer = await scorerOf(model);
    const { logit } = await scorer.score(test.x, test.count);
    await scorer.release();
    say(`seed ${seed} supervised ${kind} (${split.extraSignal.count} signal against ${background.count} background events; ${trainingLength(model)}) in ${((performance.now() - started) / 1000).toFixed(0)} s: ${describe(Float64Array.from(logit))}`);
    supervised.push(scoreMetrics(Float64Array.from(logit), test.label));
  }
}
const summary = (values: number[], digits: number): string => {
  const s = meanAndSpread(values);
  return `${s.mean.toFixed(digits)} ± ${s.spread.toFixed(digits)}`;
};
say(`single bags: max SIC ${summary(results.flatMap((r) => r.single), 2)} (${results.flatMap((r) => r.single).length} classifiers)`);
say(`bagged over ${bags}: AUC ${summary(results.map((r) => r.auc), 3)}, max SIC ${summary(results.map((r) => r.bagged), 2)} (${results.length} seeds; ${summary(results.map((r) => r.seconds), 0)} s per seed)`);
if (supervised.length > 0) say(`supervised ${kind}: AUC ${summary(supervised.map((m) => m.auc), 3)}, max SIC ${summary(supervised.map((m) => m.maxSic?.sic ?? Number.NaN), 2)}`);
