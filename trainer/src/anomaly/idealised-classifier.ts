// The idealised classifier (CWoLa with a perfect background sample; "IAD" in Hallin et al., PRD 106 (2022)
// 055006): a classifier of data (background with a small injected signal) against labelled background events
// learns p_data/p_bkg = 1 + (S/B)·p_sig/p_bkg, monotonic in the optimal signal-against-background ratio. Data
// and reference must be different events: a background event in both classes would be learnt as 50/50 and the
// classifier would turn into a supervised one of the signal events.
//
// With a few hundred signal events in the data the training is dominated by statistical noise: one network's
// max SIC on the real LHCO data ranged from 1.2 to 8.7 between random data/reference splits (docs/anomaly.md).
// So the score is bagged: bag r splits the training events at random into a data side and a reference (the
// reference keeps only its background events) and trains a classifier of one against the other; bags come in
// pairs whose data sides are the two ends of one permutation (the two halves when `dataFraction` is ½), so every
// event sits on the data side of one bag of each pair. The score is the logit of the bags' mean probability
// (each bag itself the ensemble of its lowest-validation-loss epochs, docs/classifier.md).
//
// The classifier of each bag is an MLP or boosted decision trees (`kind: 'bdt'`): tree ensembles learn the small
// signal over-density from few events more reliably (Finke et al., PRD 109 (2024) 034033); docs/anomaly.md
// compares the two on the real data.
import { Rng } from '@flowscan/runtime';
import type { BoostedTreesOptions } from '../classifier/boosted-trees.ts';
import { type AnyClassifier, type ClassifierKind, scorerOf, trainChosenClassifier, trainingLength } from '../classifier/kinds.ts';
import type { ClassifierOptions } from '../classifier/train.ts';
import { type AnomalyEvents, countSignal, filterEvents } from './events.ts';

export interface BaggedClassifierOptions {
  /** Number of bags (data/reference splits), even: they come in pairs. */
  bags: number;
  /** Fraction of the training events on the data side of each bag, in (0, 1). */
  dataFraction: number;
  /** The MLP's settings (kind 'mlp'). */
  classifier: Pick<ClassifierOptions, 'hidden' | 'maxEpochs' | 'ensemble' | 'batchSize' | 'patience'> & Partial<Pick<ClassifierOptions, 'learningRate'>>;
  /** 'bdt': boosted decision trees with `boostedTrees` (defaults: DEFAULT_BOOSTED_TREES_OPTIONS) instead of the MLP. Default 'mlp'. */
  kind?: ClassifierKind;
  boostedTrees?: Partial<BoostedTreesOptions>;
  seed: number;
  threads: number;
}

export interface Bag {
  /** Indices into the training events: the data side, and the reference (background events only). */
  data: Uint32Array;
  reference: Uint32Array;
  model: AnyClassifier;
}

function checkOptions(o: BaggedClassifierOptions): void {
  if (!(Number.isInteger(o.bags) && o.bags >= 2 && o.bags % 2 === 0)) throw new Error(`the idealised classifier's bags come in pairs: an even number ≥ 2, got ${o.bags}`);
  if (!(o.dataFraction > 0 && o.dataFraction < 1)) throw new Error(`the data side's fraction of the training events must be in (0, 1), got ${o.dataFraction}`);
}

/** The data side and the reference of each bag (indices into `training`, ascending). */
export function bagSplits(training: AnomalyEvents, options: Pick<BaggedClassifierOptions, 'bags' | 'dataFraction' | 'seed'>): { data: Uint32Array; reference: Uint32Array }[] {
  const n = training.count;
  const onDataSide = Math.round(options.dataFraction * n);
  const splits: { data: Uint32Array; reference: Uint32Array }[] = [];
  for (let pair = 0; pair < options.bags / 2; pair++) {
    const order = new Rng(options.seed).fork(pair).shuffle(Uint32Array.from({ length: n }, (_, i) => i));
    for (const dataPart of [order.subarray(0, onDataSide), order.subarray(n - onDataSide)]) {
      const isData = new Uint8Array(n);
      for (const i of dataPart) isData[i] = 1;
      const data: number[] = [];
      const reference: number[] = [];
      for (let i = 0; i < n; i++) {
        if (isData[i]) data.push(i);
        else if (training.label[i] === 0) reference.push(i);
      }
      splits.push({ data: Uint32Array.from(data), reference: Uint32Array.from(reference) });
    }
  }
  return splits;
}

/**
 * Trains the bags on `training` (its labels used only to keep the references' background events) and scores
 * `test`: the logit of the bags' mean probability, high for signal-like events.
 */
export async function idealisedClassifierScores(
  training: AnomalyEvents,
  test: AnomalyEvents,
  options: BaggedClassifierOptions,
  say: (line: string) => void = () => {},
): Promise<{ scores: Float64Array; bags: Bag[] }> {
  checkOptions(options);
  const features = training.features.map((name) => ({ name, unit: '' }));
  const meanProbability = new Float64Array(test.count);
  const bags: Bag[] = [];
  for (const [r, split] of bagSplits(training, options).entries()) {
    const pick = (rows: Uint32Array): AnomalyEvents => {
      const keep = new Uint8Array(training.count);
      for (const i of rows) keep[i] = 1;
      return filterEvents(training, (i) => keep[i] === 1);
    };
    const data = pick(split.data);
    const choice = options.kind === 'bdt' ? { kind: 'bdt' as const, options: options.boostedTrees ?? {} } : { kind: 'mlp' as const, options: options.classifier };
    const model = await trainChosenClassifier({ x: pick(split.reference).x }, { x: data.x }, choice, {
      features,
      classes: ['labelled background', 'data'],
      seed: options.seed + 1 + r,
      threads: options.threads,
    });
    const scorer = await scorerOf(model);
    try {
      // The probability from the logit in float64: the graph's float32 probability rounds to 1 sooner.
      const { logit } = await scorer.score(test.x, test.count);
      logit.forEach((z, i) => (meanProbability[i] += 1 / (1 + Math.exp(-z)) / options.bags));
    } finally {
      await scorer.release();
    }
    say(`  idealised classifier bag ${r + 1}/${options.bags}: data ${data.count} events (${countSignal(data)} signal) against ${split.reference.length} labelled background events, ${trainingLength(model)}`);
    bags.push({ ...split, model });
  }
  return { scores: meanProbability.map((p) => Math.log(p) - Math.log1p(-p)), bags };
}
