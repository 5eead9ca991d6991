// The classifier API: train (trainClassifier), score held out (kFoldScores), export (saveClassifier), and score in
// memory (classifierScorer). docs/classifier.md describes it; the runtime loads exports with loadClassifier.
export * from './export.ts';
export * from './kfold.ts';
export * from './network.ts';
export * from './train.ts';
