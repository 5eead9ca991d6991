// The classifier API: train (trainClassifier; boosted trees: trainBoostedTrees; either: trainChosenClassifier), score
// held out (kFoldScores), export (saveClassifier, saveBoostedTrees), and score in memory (classifierScorer, scorerOf). docs/classifier.md describes it; the runtime loads exports with loadClassifier.
export * from './binning.ts';
export * from './boosted-trees.ts';
export * from './boosted-trees-export.ts';
export * from './export.ts';
export * from './kfold.ts';
export * from './kinds.ts';
export * from './network.ts';
export * from './train.ts';
