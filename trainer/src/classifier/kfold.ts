// k-fold scoring: every event gets the score of a classifier that never saw it, in training or validation.
// Each class is split at random into k folds of (nearly) equal size; model j trains on the other k − 1 folds
// (its own validation split taken from them) and scores fold j. CATHODE scores the signal-region data this way
// (Hallin et al. 2022, §III), and a classifier two-sample test needs held-out scores of every event to be valid
// (Lopez-Paz & Oquab, ICLR 2017).
import { type ClassifierEpoch, type ClassifierScores, Rng } from '@flowscan/runtime';
import { classifierScorer } from './export.ts';
import { type ClassEvents, type ClassifierOptions, type TrainedClassifier, trainClassifier } from './train.ts';

export interface FoldResult {
  model: TrainedClassifier;
  history: ClassifierEpoch[];
  /** Indices (into x0 and x1) of the events this fold's model trained on, validation split included. */
  trainedOn: [Uint32Array, Uint32Array];
  /** Indices of the events it scored: exactly those it did not train on. */
  scored: [Uint32Array, Uint32Array];
}

export interface KFoldResult {
  /** Held-out scores of x0's events and of x1's events, in their original order. */
  scores: [ClassifierScores, ClassifierScores];
  /** The fold (0 … k − 1) each event of x0 and of x1 was scored in. */
  fold: [Uint8Array, Uint8Array];
  folds: FoldResult[];
}

function rowsOf(events: ClassEvents, D: number, rows: Uint32Array): ClassEvents {
  const x = new Float32Array(rows.length * D);
  rows.forEach((r, i) => x.set(events.x.subarray(r * D, (r + 1) * D), i * D));
  const weights = events.weights;
  return weights ? { x, weights: Float64Array.from(rows, (r) => weights[r]) } : { x };
}

/**
 * Trains `folds` classifiers of x1 against x0 and scores every event with the one that left it out. Options as
 * trainClassifier's; fold j's training uses seed `seed + j`. `onFold` reports each finished fold.
 */
export async function kFoldScores(
  x0: ClassEvents,
  x1: ClassEvents,
  folds: number,
  options: Partial<ClassifierOptions> & Pick<ClassifierOptions, 'features'>,
  onFold?: (fold: number, result: FoldResult) => void,
): Promise<KFoldResult> {
  const D = options.features.length;
  if (D < 1) throw new Error('the classifier needs at least one feature (options.features is empty)');
  const counts = [x0.x.length / D, x1.x.length / D];
  counts.forEach((n, c) => {
    if (!Number.isInteger(n)) throw new Error(`label ${c} events: ${[x0, x1][c].x.length} values do not split into events of ${D} features`);
  });
  const smallest = Math.min(...counts);
  if (!(Number.isInteger(folds) && folds >= 2 && folds <= Math.min(255, Math.floor(smallest / 2)))) {
    throw new Error(`folds must be an integer in [2, ${Math.min(255, Math.floor(smallest / 2))}] (each fold's training needs 2 events of each class), got ${folds}`);
  }
  const seed = options.seed ?? 1;
  // Fold of each event: a seeded permutation dealt round-robin, so fold sizes differ by at most one.
  const rng = new Rng(seed).fork(0);
  const fold = counts.map((n) => {
    const assignment = new Uint8Array(n);
    rng.shuffle(new Uint32Array(n).map((_, i) => i)).forEach((event, position) => (assignment[event] = position % folds));
    return assignment;
  }) as [Uint8Array, Uint8Array];
  const scores = counts.map((n) => ({ probability: new Float32Array(n), logit: new Float32Array(n) })) as [ClassifierScores, ClassifierScores];
  const results: FoldResult[] = [];
  for (let j = 0; j < folds; j++) {
    const select = (c: number, inFold: boolean): Uint32Array => Uint32Array.from(fold[c].keys()).filter((i) => (fold[c][i] === j) === inFold);
    const trainedOn: [Uint32Array, Uint32Array] = [select(0, false), select(1, false)];
    const scored: [Uint32Array, Uint32Array] = [select(0, true), select(1, true)];
    const { model, history } = await trainClassifier(rowsOf(x0, D, trainedOn[0]), rowsOf(x1, D, trainedOn[1]), { ...options, seed: seed + j });
    const scorer = await classifierScorer(model);
    try {
      for (const c of [0, 1]) {
        const held = rowsOf([x0, x1][c], D, scored[c]);
        const s = await scorer.score(held.x, scored[c].length);
        scored[c].forEach((event, i) => {
          scores[c].probability[event] = s.probability[i];
          scores[c].logit[event] = s.logit[i];
        });
      }
    } finally {
      await scorer.release();
    }
    const result = { model, history, trainedOn, scored };
    results.push(result);
    onFold?.(j, result);
  }
  return { scores, fold, folds: results };
}
