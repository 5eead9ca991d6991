// Not part of `npm test`: trains members of the LHCO-like study's signal ensemble exactly as `flowscan study lhco`
// does (lhcoTrainingJob: the same events, seeds and settings per member), optionally for another number of
// epochs, and exports each to OUT/models/lhco-signal[-m] — the flows for test/bench/lhco-signal-only.ts and
// test/bench/lhco-mjj-shape.ts without the study's fit (issue 17: what a change to the signal training does to the
// flows' own offsets, in minutes per flow instead of a study per seed).
//   nice -n 10 npx tsx --conditions=flowscan-source test/bench/lhco-signal-training.ts --seed 22 --members 0,1,2,3 [--epochs 256] --out OUT
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { exportModel } from '../../trainer/src/export/export.ts';
import { LHCO_SCALES } from '../../trainer/src/study/lhco-config.ts';
import { lhcoTrainingJob, signalFlowName } from '../../trainer/src/study/lhco.ts';
import { runTrainings } from '../../trainer/src/train/parallel.ts';
import type { TrainRunOptions } from '../../trainer/src/train/run.ts';

/** The study's signal training job of `member`, for `epochs` epochs (a worker builds it from these arguments). */
export function lhcoSignalTrainingJob(seed: number, member: number, epochs: number, out: string): TrainRunOptions {
  const job = lhcoTrainingJob('signal', 'default', seed, out, undefined, member);
  return { ...job, train: { ...job.train, maxEpochs: epochs, patience: epochs } };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: { seed: { type: 'string', default: '1' }, members: { type: 'string', default: '0' }, epochs: { type: 'string', default: String(LHCO_SCALES.default.signalEpochs) }, out: { type: 'string' } },
  });
  const seed = Number(values.seed);
  const epochs = Number(values.epochs);
  const members = values.members.split(',').map(Number);
  if (!Number.isInteger(seed) || !(Number.isInteger(epochs) && epochs >= 1) || !members.every((m) => Number.isInteger(m) && m >= 0)) {
    throw new Error(`--seed takes an integer, --epochs an integer ≥ 1, --members integers ≥ 0 separated by commas (0 is the study's lhco-signal); got ${values.seed}, ${values.epochs}, ${values.members}`);
  }
  if (!values.out) throw new Error('--out OUT: the folder for the trained flows (OUT/models/lhco-signal…)');
  const out = values.out;
  const trained = await runTrainings(members.map((m) => ({ module: import.meta.url, name: 'lhcoSignalTrainingJob', args: [seed, m, epochs, out] })));
  for (const [i, m] of members.entries()) {
    const dir = join(out, 'models', signalFlowName(m));
    await exportModel(trained[i], dir, { name: signalFlowName(m), description: `LHCO-like study signal flow, seed ${seed}, member ${m + 1}, ${epochs} epochs (test/bench/lhco-signal-training.ts)` });
    console.log(`${dir}: validation NLL ${trained[i].provenance.validationLoss.toFixed(4)} nats/event (best epoch ${trained[i].provenance.bestEpoch} of ${epochs})`);
  }
}
