// @flowscan/runtime: everything after training, for Node and browsers (no Node-only imports here).
export * from './model/manifest.ts';
export * from './model/flow-model.ts';
export * from './random.ts';
