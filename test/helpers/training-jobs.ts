// Training jobs for test/train.test.ts's parallel-training test: a module a worker thread can import.
import { Rng } from '@flowscan/runtime';
import * as toy from '../../trainer/src/data/toy.ts';
import { flowConfig } from '../../trainer/src/flows/config.ts';
import { trainingDataFromColumns } from '../../trainer/src/train/dataset.ts';
import type { TrainRunOptions } from '../../trainer/src/train/run.ts';

/** A tiny background flow on simulated toy events, fresh each epoch. */
export function tinyBackgroundJob(seed: number): TrainRunOptions {
  const events = (r: Rng) => trainingDataFromColumns(toy.simulateBackgroundTraining(r, 2000), ['x'], ['tau']);
  const rng = new Rng(seed);
  return {
    label: `tiny background ${seed}`,
    data: events(rng),
    dataFiles: ['simulated: toy background'],
    features: [{ name: 'x', unit: 'GeV', support: [40, 140] }],
    params: [{ name: 'tau', unit: '1/GeV', logScale: true }],
    flow: flowConfig('nsf', { blocks: 1, hidden: 8, bins: 4 }),
    train: { maxEpochs: 2, batchSize: 256, seed, freshEvents: (epoch) => events(rng.fork(epoch)) },
    backend: 'wasm',
    quiet: true,
  };
}
