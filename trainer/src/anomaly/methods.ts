// The anomaly scores of one training repeat on labelled data (real LHCO signal region): every score is high for
// signal-like events and is evaluated on the held-out test split only.
//   neg-log-p          −log p(x|data): a density baseline (Tan 2020, Table 1)
//   idealised-ratio    log p(x|data) − log p(x|bkg), the background density trained on the labelled background
//                      events of the training data (ANODE's R(x) with a perfect background model): the training
//                      events with the signal at weight 0, each member with its data member's seed
//   bootstrap          −log λ(x) = log p(x|data) − log p(x|bkg), p(x|bkg) from Tan's bootstrap (bootstrap.ts),
//                      re-fitted with the removed events at weight 0 (density.ts weightedRefit)
//   supervised         a classifier of signal-only events against labelled background: the upper bound
//                      (both classifiers: MLPs, or boosted decision trees with classifierKind 'bdt')
//   idealised-classifier  classifiers of data against labelled background (CWoLa with a perfect background
//                      sample), bagged over random splits of the training events into a data side and a disjoint
//                      reference (idealised-classifier.ts)
import type { BoostedTreesOptions } from '../classifier/boosted-trees.ts';
import { type ClassifierKind, scorerOf, trainChosenClassifier } from '../classifier/kinds.ts';
import type { ClassifierOptions } from '../classifier/train.ts';
import type { FlowConfig } from '../flows/config.ts';
import type { TrainOptions } from '../train/train.ts';
import { type BootstrapIteration, bootstrapBackground, negLogLambda } from './bootstrap.ts';
import { type DensityModel, ensembleLogDensity, logDensity, trainDensityEnsemble, weightedRefit } from './density.ts';
import { type AnomalyEvents, type LhcoSrSplit, countSignal, filterEvents } from './events.ts';
import { idealisedClassifierScores } from './idealised-classifier.ts';

export const METHODS = ['neg-log-p', 'idealised-ratio', 'bootstrap', 'supervised', 'idealised-classifier'] as const;
export type Method = (typeof METHODS)[number];

export const METHOD_TITLES: Record<Method, string> = {
  'neg-log-p': '−log p(x|data)',
  'idealised-ratio': 'idealised flow ratio p_data/p_bkg',
  bootstrap: 'bootstrap λ⁻¹ (Tan)',
  supervised: 'supervised classifier',
  'idealised-classifier': 'idealised classifier (data vs bkg)',
};

export interface MethodSettings {
  flow: FlowConfig;
  train: Partial<TrainOptions>;
  /** Flows per density of the ratio (score-model.ts: log p is the members' mean). */
  ensemble: number;
  bootstrap: { alpha: number; maxIterations: number; tolerance: number };
  classifier: Pick<ClassifierOptions, 'hidden' | 'maxEpochs' | 'ensemble' | 'batchSize' | 'patience'>;
  /** The supervised and idealised classifiers: MLPs with `classifier` (default) or boosted trees with `boostedTrees`. */
  classifierKind?: ClassifierKind;
  boostedTrees?: Partial<BoostedTreesOptions>;
  /** Bags of the idealised classifier (an even number: idealised-classifier.ts). */
  idealisedBags: number;
  threads: number;
}

export interface RepeatResult {
  seed: number;
  /** Test-split scores per method (high: signal-like). */
  scores: Record<Method, Float64Array>;
  /** log p of the test events under the data density, the idealised and the bootstrapped background densities. */
  logP: { data: Float64Array; idealisedBackground: Float64Array; bootstrapBackground: Float64Array };
  bootstrap: { iterations: BootstrapIteration[]; converged: boolean };
  models: { data: DensityModel[]; idealisedBackground: DensityModel[]; bootstrapBackground: DensityModel };
  seconds: Record<Method | 'data-density', number>;
}

function backgroundOnly(events: AnomalyEvents): AnomalyEvents {
  return filterEvents(events, (i) => events.label[i] === 0);
}

/** Runs every method once with `seed` (each training its own seed derived from it). */
export async function runMethods(split: LhcoSrSplit, settings: MethodSettings, seed: number, say: (line: string) => void): Promise<RepeatResult> {
  const { training, test } = split;
  const options = (s: number) => ({ flow: settings.flow, conditioning: 'none' as const, train: { ...settings.train, seed: s, threads: settings.threads } });
  const clock = (): number => performance.now();
  const seconds = {} as RepeatResult['seconds'];
  let t = clock();
  const lap = (key: keyof RepeatResult['seconds']): void => {
    seconds[key] = (clock() - t) / 1000;
    t = clock();
  };

  const data = await trainDensityEnsemble(training, options(seed), settings.ensemble);
  const logPData = await ensembleLogDensity(data, test, settings.threads);
  lap('data-density');
  say(`  p(x|data), ${data.length} flow(s): validation NLL ${data.map((m) => m.provenance.validationLoss.toFixed(4)).join(', ')} nats/event (${seconds['data-density'].toFixed(0)} s)`);
  const scores = {} as Record<Method, Float64Array>;
  scores['neg-log-p'] = logPData.map((l) => -l);
  lap('neg-log-p');

  // The labelled background events as the training events with the signal at weight 0, member k with the seed of
  // p(x|data)'s member k: both then share preprocessing, initial weights and batches, so their training error
  // largely cancels in the ratio (docs/anomaly.md compares it with background-only training).
  const backgroundWeights = Float32Array.from(training.label, (l) => 1 - l);
  const idealised = await trainDensityEnsemble(training, { ...options(seed), weights: backgroundWeights }, settings.ensemble);
  const logPIdealised = await ensembleLogDensity(idealised, test, settings.threads);
  scores['idealised-ratio'] = negLogLambda(logPData, logPIdealised);
  lap('idealised-ratio');
  say(`  idealised p(x|bkg) on the ${training.count - countSignal(training)} labelled background events (${seconds['idealised-ratio'].toFixed(0)} s)`);

  // The bootstrap compares single flows of the same seed: p(x|data)'s first member and its weighted re-fits.
  const boot = await bootstrapBackground(
    training,
    await logDensity(data[0], training, settings.threads),
    weightedRefit(training, options(seed), settings.threads),
    {
      ...settings.bootstrap,
      onIteration: (it) =>
        say(`  bootstrap iteration ${it.iteration}: ε = ${it.epsilon.toPrecision(4)}, ${it.removed} events removed (${it.removedSignal} signal), ${(100 * it.changed).toFixed(1)} % new`),
    },
  );
  const logPBoot = await logDensity(boot.background, test, settings.threads);
  scores.bootstrap = negLogLambda(await logDensity(data[0], test, settings.threads), logPBoot);
  lap('bootstrap');

  const classifier = async (background: AnomalyEvents, other: AnomalyEvents, s: number): Promise<Float64Array> => {
    const choice = settings.classifierKind === 'bdt' ? { kind: 'bdt' as const, options: settings.boostedTrees ?? {} } : { kind: 'mlp' as const, options: settings.classifier };
    const model = await trainChosenClassifier({ x: background.x }, { x: other.x }, choice, {
      features: training.features.map((name) => ({ name, unit: '' })),
      seed: s,
      threads: settings.threads,
    });
    const scorer = await scorerOf(model);
    try {
      return Float64Array.from((await scorer.score(test.x, test.count)).logit);
    } finally {
      await scorer.release();
    }
  };
  scores.supervised = await classifier(backgroundOnly(training), split.extraSignal, seed + 2);
  lap('supervised');
  const idealisedClassifier = await idealisedClassifierScores(training, test, {
      bags: settings.idealisedBags,
      dataFraction: 0.5,
      classifier: settings.classifier,
      ...(settings.classifierKind ? { kind: settings.classifierKind } : {}),
      ...(settings.boostedTrees ? { boostedTrees: settings.boostedTrees } : {}),
      seed: seed + 3,
      threads: settings.threads,
    }, say);
  scores['idealised-classifier'] = idealisedClassifier.scores;
  lap('idealised-classifier');

  return {
    seed,
    scores,
    logP: { data: logPData, idealisedBackground: logPIdealised, bootstrapBackground: logPBoot },
    bootstrap: { iterations: boot.iterations, converged: boot.converged },
    models: { data, idealisedBackground: idealised, bootstrapBackground: boot.background },
    seconds,
  };
}
