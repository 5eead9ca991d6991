// Hardening of training (issue 16): a resumed run must be on the data its checkpoint was written for (item 1),
// a finished model is not overwritten silently (item 2), and the checkpoint is one file, replaced atomically (item 9).
import test from 'ava';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Rng, formatEventsCsv } from '@flowscan/runtime';
import * as toy from '../trainer/src/data/toy.ts';
import { flowConfig } from '../trainer/src/flows/config.ts';
import { defineModel, trainingDataFromColumns } from '../trainer/src/train/dataset.ts';
import { trainFlow } from '../trainer/src/train/train.ts';
import { flowscan } from './helpers/commands.ts';
import { temporaryFolder } from './helpers/temporary.ts';

const folder = temporaryFolder('flowscan-hardening-train-');
const tiny = flowConfig('nsf', { blocks: 1, hidden: 4, bins: 4 });
const options = { batchSize: 512, seed: 3, patience: 10, engine: 'onnxruntime' as const, threads: 1 };

function signalData(seed: number) {
  return trainingDataFromColumns(toy.simulateSignalTraining(new Rng(seed), 1000), ['x'], ['m_pole', 'gamma']);
}

/** Trains until epoch 2 has been checkpointed, then stops as a killed run would. */
async function interruptedRun(dir: string, data: ReturnType<typeof signalData>) {
  const def = defineModel(data, [{ name: 'x', support: [40, 140] }], [{ name: 'm_pole' }, { name: 'gamma' }], tiny);
  await trainFlow(def, data, { ...options, maxEpochs: 3, checkpointDir: dir, onEpoch: (r) => {
    if (r.epoch === 2) throw new Error('interrupted');
  } }).catch((e: Error) => {
    if (e.message !== 'interrupted') throw e;
  });
  return def;
}

test('item 1: --resume with other data or another validation split is refused, naming both; the same run resumes', async (t) => {
  const dir = join(folder(), 'resume-other-data');
  const data = signalData(1);
  const def = await interruptedRun(dir, data);
  const other = signalData(2);
  await t.throwsAsync(trainFlow(def, other, { ...options, maxEpochs: 3, checkpointDir: dir, resume: true }), {
    message: /was written for other training data \(hash [0-9a-f]{12}…\), these data hash to [0-9a-f]{12}…/,
  });
  // One changed event is other data too.
  const edited = signalData(1);
  edited.features[17] += 1e-3;
  await t.throwsAsync(trainFlow(def, edited, { ...options, maxEpochs: 3, checkpointDir: dir, resume: true }), { message: /other training data/ });
  // The same data with another validation split (seed or fraction) would train on former validation events.
  await t.throwsAsync(trainFlow(def, data, { ...options, seed: 4, maxEpochs: 3, checkpointDir: dir, resume: true }), {
    message: /written by a run with seed 3 and validation fraction 0\.1, this run has 4 and 0\.1/,
  });
  await t.throwsAsync(trainFlow(def, data, { ...options, validationFraction: 0.2, maxEpochs: 3, checkpointDir: dir, resume: true }), { message: /this run has 3 and 0\.2/ });
  const resumed = await trainFlow(def, data, { ...options, maxEpochs: 3, checkpointDir: dir, resume: true });
  t.is(resumed.epochs, 3);
});

test('item 9: the checkpoint is a single file replaced atomically; a damaged one is refused by name', async (t) => {
  const dir = join(folder(), 'single-file');
  await interruptedRun(dir, signalData(3));
  const files = (await readdir(dir)).filter((f) => f.startsWith('checkpoint'));
  t.deepEqual(files, ['checkpoint.flowscan'], 'weights, Adam state and loop state live in one file');
  t.deepEqual((await readdir(dir)).filter((f) => f.endsWith('.tmp')), [], 'no temporary file is left behind');
  // A truncated file (a crash while copying it, a full disk elsewhere) is refused, not half-read.
  const path = join(dir, 'checkpoint.flowscan');
  const bytes = await readFile(path);
  await writeFile(path, bytes.subarray(0, bytes.length - 8));
  const data = signalData(3);
  const def = defineModel(data, [{ name: 'x', support: [40, 140] }], [{ name: 'm_pole' }, { name: 'gamma' }], tiny);
  await t.throwsAsync(trainFlow(def, data, { ...options, maxEpochs: 3, checkpointDir: dir, resume: true }), { message: /checkpoint\.flowscan is truncated/ });
  // The two-file checkpoint of earlier versions holds no data hash: it cannot be resumed safely.
  const old = join(folder(), 'old-pair');
  await mkdir(old);
  await writeFile(join(old, 'checkpoint.json'), '{"format":"flowscan-checkpoint","version":1}');
  await t.throwsAsync(trainFlow(def, data, { ...options, maxEpochs: 3, checkpointDir: old, resume: true }), { message: /older flowscan.*no hash of its training data/ });
});

test('item 2: train --out over a finished model is refused unless --force or --resume', async (t) => {
  const csv = join(folder(), 'signal.csv');
  const sim = toy.simulateSignalTraining(new Rng(4), 600);
  await writeFile(csv, formatEventsCsv(sim, ['x', 'm_pole', 'gamma']));
  const out = join(folder(), 'finished');
  const args = ['train', '--data', csv, '--features', 'x', '--params', 'm_pole,gamma', '--support', 'x=40:140', '--flow', 'nsf', '--blocks', '1', '--hidden', '4', '--bins', '4', '--epochs', '1', '--engine', 'onnxruntime', '--threads', '1', '--out', out];
  const first = await flowscan(args);
  t.is(first.code, 0, first.stderr);
  const saved = await readFile(join(out, 'model.json'), 'utf8');
  const again = await flowscan(args);
  t.not(again.code, 0);
  t.regex(again.stderr, /already holds a trained model, .*model\.json.*--force.*--resume/s);
  t.is(await readFile(join(out, 'model.json'), 'utf8'), saved, 'the finished model is untouched');
  const forced = await flowscan([...args, '--force']);
  t.is(forced.code, 0, forced.stderr);
  t.not(await readFile(join(out, 'model.json'), 'utf8'), saved, '--force trains anew and overwrites it');
});
