// Classifier two-sample test (C2ST; Lopez-Paz & Oquab, "Revisiting classifier two-sample tests", ICLR 2017;
// Friedman 2003): a classifier trained to tell generated from reference events. If the samples come from the same
// distribution no classifier beats chance on held-out events, AUC = 0.5. Here every event is scored by a model
// that never saw it (k-fold, trainer/src/classifier/kfold.ts); the AUC's error is DeLong's (stats/roc.ts) and its
// p-value comes from permutations of the labels within each fold: under the null hypothesis the held-out scores
// of a fold are exchangeable between the two samples, whatever the fold's model learned.
import { Rng, aucWithError } from '@flowscan/runtime';
import { kFoldScores } from '../classifier/kfold.ts';
import type { ClassifierOptions } from '../classifier/train.ts';

export interface C2stResult {
  auc: number;
  aucError: number;
  /** Fraction of label permutations with an AUC at least as far from 0.5 as the observed one (two-sided), (count + 1)/(permutations + 1). */
  permutationPValue: number;
  permutations: number;
  folds: number;
  events: [number, number];
}

/** Mann–Whitney AUC of label-1 scores over label-0 scores (ties count one half), from the pooled ranks. */
export function rankAuc(ranks: Float64Array, labels: Uint8Array): number {
  let rankSum = 0;
  let n1 = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] === 1) {
      rankSum += ranks[i];
      n1++;
    }
  }
  const n0 = labels.length - n1;
  return (rankSum - (n1 * (n1 + 1)) / 2) / (n0 * n1);
}

/** Mid-ranks (1-based; tied scores share the mean of their ranks). */
export function midRanks(scores: ArrayLike<number>): Float64Array {
  const order = Uint32Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  const ranks = new Float64Array(scores.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && scores[order[j + 1]] === scores[order[i]]) j++;
    for (let k = i; k <= j; k++) ranks[order[k]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return ranks;
}

/**
 * Two-sided permutation p-value of the AUC: labels shuffled within each fold (`fold[i]`), the AUC recomputed from the
 * fixed pooled ranks each time.
 */
export function permutationPValue(scores: ArrayLike<number>, labels: Uint8Array, fold: Uint8Array, permutations: number, rng: Rng): number {
  const ranks = midRanks(scores);
  const observed = Math.abs(rankAuc(ranks, labels) - 0.5);
  const byFold = new Map<number, number[]>();
  fold.forEach((f, i) => {
    const list = byFold.get(f) ?? [];
    list.push(i);
    byFold.set(f, list);
  });
  const shuffled = Uint8Array.from(labels);
  let asExtreme = 0;
  for (let p = 0; p < permutations; p++) {
    for (const indices of byFold.values()) {
      // Fisher–Yates over the fold's labels in place.
      for (let a = indices.length - 1; a > 0; a--) {
        const b = rng.int(a + 1);
        const t = shuffled[indices[a]];
        shuffled[indices[a]] = shuffled[indices[b]];
        shuffled[indices[b]] = t;
      }
    }
    if (Math.abs(rankAuc(ranks, shuffled) - 0.5) >= observed - 1e-12) asExtreme++;
  }
  return (asExtreme + 1) / (permutations + 1);
}

export interface C2stOptions {
  folds: number;
  permutations: number;
  seed: number;
  classifier: Partial<ClassifierOptions> & Pick<ClassifierOptions, 'features'>;
}

/** C2ST of `generated` (label 1) against `reference` (label 0), events row-major [n×D]. */
export async function classifierTwoSampleTest(reference: Float32Array, generated: Float32Array, options: C2stOptions): Promise<C2stResult> {
  const D = options.classifier.features.length;
  const { scores, fold } = await kFoldScores({ x: reference }, { x: generated }, options.folds, { ...options.classifier, seed: options.seed });
  const { auc, standardError } = aucWithError({ scores: scores[1].logit }, { scores: scores[0].logit });
  const n0 = reference.length / D;
  const n1 = generated.length / D;
  const pooled = new Float64Array(n0 + n1);
  pooled.set(scores[0].logit, 0);
  pooled.set(scores[1].logit, n0);
  const labels = new Uint8Array(n0 + n1).fill(1, n0);
  const folds = new Uint8Array(n0 + n1);
  folds.set(fold[0], 0);
  folds.set(fold[1], n0);
  const pValue = permutationPValue(pooled, labels, folds, options.permutations, new Rng(options.seed).fork(7));
  return { auc, aucError: standardError, permutationPValue: pValue, permutations: options.permutations, folds: options.folds, events: [n0, n1] };
}
