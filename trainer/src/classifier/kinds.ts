// The two classifier kinds behind one call: a multilayer perceptron (train.ts) or boosted decision trees
// (boosted-trees.ts). Both export to the same kind of ONNX graph (probability and logit of label 1), so whatever
// scores events — the anomaly methods, `flowscan classify score`, the browser page — does not ask which it is.
import type { ClassifierModel } from '@flowscan/runtime';
import { type BoostedTreesOptions, type TrainedBoostedTrees, trainBoostedTrees } from './boosted-trees.ts';
import { boostedTreesScorer, saveBoostedTrees } from './boosted-trees-export.ts';
import { classifierScorer, saveClassifier } from './export.ts';
import { type ClassEvents, type ClassifierOptions, type TrainedClassifier, trainClassifier } from './train.ts';

export const CLASSIFIER_KINDS = ['mlp', 'bdt'] as const;
export type ClassifierKind = (typeof CLASSIFIER_KINDS)[number];

/** What to train: the kind and its own options (features, classes, seed and threads come with each call). */
export type ClassifierChoice = { kind: 'mlp'; options: Partial<ClassifierOptions> } | { kind: 'bdt'; options: Partial<BoostedTreesOptions> };

export type AnyClassifier = TrainedClassifier | TrainedBoostedTrees;

/** What every training call supplies besides the kind's options. */
export interface ClassifierCall {
  features: ClassifierOptions['features'];
  classes?: [string, string];
  seed: number;
  threads?: number;
}

/** Trains the chosen kind of classifier of x1 (label 1) against x0. */
export async function trainChosenClassifier(x0: ClassEvents, x1: ClassEvents, choice: ClassifierChoice, call: ClassifierCall): Promise<AnyClassifier> {
  const common = { features: call.features, seed: call.seed, ...(call.classes ? { classes: call.classes } : {}) };
  if (choice.kind === 'bdt') return trainBoostedTrees(x0, x1, { ...choice.options, ...common });
  return (await trainClassifier(x0, x1, { ...choice.options, ...common, ...(call.threads ? { threads: call.threads } : {}) })).model;
}

export function isBoostedTrees(model: AnyClassifier): model is TrainedBoostedTrees {
  return 'kind' in model && model.kind === 'boosted-trees';
}

/** The classifier's exported graph in an onnxruntime session (release it after use). */
export function scorerOf(model: AnyClassifier): Promise<ClassifierModel> {
  return isBoostedTrees(model) ? boostedTreesScorer(model) : classifierScorer(model);
}

/** Writes the classifier's manifest.json and classifier.onnx into `dir`. */
export function saveAnyClassifier(model: AnyClassifier, dir: string, name: string, description?: string): ReturnType<typeof saveClassifier> {
  return isBoostedTrees(model) ? saveBoostedTrees(model, dir, name, description) : saveClassifier(model, dir, name, description);
}

/** How long it trained, in words: epochs of the network, or trees kept of iterations run per boosted model. */
export function trainingLength(model: AnyClassifier): string {
  if (!isBoostedTrees(model)) return `${model.provenance.epochs} epochs`;
  return `${model.members.length} boosted model${model.members.length === 1 ? '' : 's'}, trees kept/iterations ${model.members.map((m) => `${m.trees.length}/${m.iterations}`).join(', ')}`;
}
