// @flowscan/runtime: everything after training, for Node and browsers (no Node-only imports here).
export * from './model/manifest.ts';
export * from './model/flow-model.ts';
export * from './model/sample.ts';
export * from './model/classifier.ts';
export * from './random.ts';
export * from './data/csv.ts';
export * from './data/npy.ts';
export * from './stats/ks.ts';
export * from './stats/roc.ts';
export * from './fit/index.ts';
export * from './likelihood/mixture.ts';
export * from './likelihood/fit.ts';
export * from './likelihood/map.ts';
export * from './likelihood/sandwich.ts';
export * as plots from './plots/index.ts';
export * from './scan/scan.ts';
export * as histfactory from './histfactory/index.ts';
