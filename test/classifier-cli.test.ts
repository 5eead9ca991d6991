// `flowscan classify train|score` end to end on small CSV files: the exported model scores what the CLI wrote,
// k-fold writes one held-out score per event, and bad arguments are refused by name.
import test from 'ava';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Rng, formatEventsCsv, parseEventsCsv, validateClassifierManifest } from '@flowscan/runtime';
import { loadClassifier, openEventWriter } from '@flowscan/runtime/node';
import { flowscan } from './helpers/commands.ts';
import { flowscanRefusal } from './helpers/in-process.ts';
import { temporaryFolder } from './helpers/temporary.ts';

const folder = temporaryFolder('flowscan-classify-cli-');

/** Writes n events of two unit-variance features around (shift, shift/2), with a label column, as CSV and Parquet. */
async function writeSample(path: string, n: number, shift: number, value: number, seed: number): Promise<void> {
  const rng = new Rng(seed);
  const a = Float64Array.from({ length: n }, () => shift + rng.normal());
  const b = Float64Array.from({ length: n }, () => shift / 2 + rng.normal());
  const label = new Float64Array(n).fill(value);
  await writeFile(path, formatEventsCsv({ a, b, label }, ['a', 'b', 'label']));
  // The same events as Parquet (float32, which is what the classifier reads anyway).
  const parquet = openEventWriter(path.replace(/\.csv$/, '.parquet'), ['a', 'b', 'label']);
  parquet.write({ a: Float32Array.from(a), b: Float32Array.from(b), label: Float32Array.from(label) }, n);
  parquet.close();
}

// Written on first use (ava runs before hooks concurrently, so a hook could run before the folder exists).
let samples: Promise<void> | null = null;
const writeSamples = (): Promise<void> =>
  (samples ??= Promise.all([writeSample(join(folder(), 'signal.csv'), 300, 1.5, 1, 1), writeSample(join(folder(), 'background.csv'), 400, 0, 0, 2)]).then(() => undefined));

const trainArgs = (out: string): string[] => [
  'classify', 'train', '--signal', join(folder(), 'signal.csv'), '--background', join(folder(), 'background.csv'),
  '--features', 'a,b', '--units', 'a=GeV', '--hidden', '16,16', '--epochs', '6', '--ensemble', '2', '--out', out,
];

test.serial('classify train exports a model that classify score reads back; --truth reports the AUC', async (t) => {
  await writeSamples();
  const out = join(folder(), 'model');
  const trained = await flowscan(trainArgs(out));
  t.is(trained.code, 0, trained.stderr);
  t.regex(trained.stdout, /ensemble of epochs \d+, \d+: validation cross-entropy/);
  const manifest = validateClassifierManifest(JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8')), 'manifest');
  t.deepEqual(manifest.features.map((f) => [f.name, f.unit]), [['a', 'GeV'], ['b', '']]);
  t.is(manifest.ensemble.epochs.length, 2);

  const scoresPath = join(folder(), 'scored.csv');
  const scored = await flowscan(['classify', 'score', '--model', out, '--data', join(folder(), 'signal.csv'), join(folder(), 'background.csv'), '--truth', 'label', '--out', scoresPath]);
  t.is(scored.code, 0, scored.stderr);
  const auc = Number(/AUC (\d\.\d+) ± /.exec(scored.stdout)?.[1]);
  t.log(scored.stdout.trim());
  // Means 1.68 apart (in units of σ): the Bayes AUC is Φ(1.68/√2) ≈ 0.88; a 6-epoch network on 700 events gets close.
  t.true(auc > 0.82 && auc < 0.93, `AUC ${auc}`);
  // The same events from Parquet files: the same AUC line.
  const fromParquet = await flowscan(['classify', 'score', '--model', out, '--data', join(folder(), 'signal.parquet'), join(folder(), 'background.parquet'), '--truth', 'label']);
  t.is(fromParquet.code, 0, fromParquet.stderr);
  t.is(/AUC .*/.exec(fromParquet.stdout)?.[0], /AUC .*/.exec(scored.stdout)?.[0]);
  const table = parseEventsCsv(await readFile(scoresPath, 'utf8'), { source: scoresPath, columns: ['a', 'b', 'probability', 'logit'] });
  t.is(table.rows, 700);
  const classifier = await loadClassifier(out);
  const x = Float64Array.from({ length: 2 * table.rows }, (_, k) => table.columns[k % 2 === 0 ? 'a' : 'b'][k >> 1]);
  const direct = await classifier.score(x, table.rows);
  t.true(direct.probability.every((p, i) => Math.abs(p - table.columns.probability[i]) < 1e-6));
  await classifier.release();
});

test.serial('classify train --folds writes one held-out score per event and a model per fold', async (t) => {
  await writeSamples();
  const out = join(folder(), 'kfold');
  const run = await flowscan([...trainArgs(out), '--folds', '3']);
  t.is(run.code, 0, run.stderr);
  t.regex(run.stdout, /held-out scores of 700 events: AUC 0\.\d+ ± 0\.\d+/);
  const scores = parseEventsCsv(await readFile(join(out, 'scores.csv'), 'utf8'), { source: 'scores.csv', columns: ['label', 'index', 'fold'] });
  t.is(scores.rows, 700);
  t.is(scores.columns.label.filter((l) => l === 1).length, 300);
  t.deepEqual([...new Set(scores.columns.fold)].sort(), [0, 1, 2]);
  for (const j of [0, 1, 2]) {
    const manifest = validateClassifierManifest(JSON.parse(await readFile(join(out, `fold-${j}`, 'manifest.json'), 'utf8')), 'manifest');
    // Fold j's model trained on the events outside fold j.
    t.deepEqual(manifest.provenance.events, [0, 1].map((label) => scores.columns.label.filter((l, i) => l === label && scores.columns.fold[i] !== j).length));
  }
});

test.serial('classify refuses a missing feature column, a bad width and a non-binary truth column', async (t) => {
  await writeSamples();
  // In this process: a flowscan process each would spend more CPU starting than refusing.
  t.regex(await flowscanRefusal([...trainArgs(join(folder(), 'x')).slice(0, 7), 'a,c', '--out', join(folder(), 'x')]), /"c"/);
  t.regex(await flowscanRefusal([...trainArgs(join(folder(), 'y')), '--hidden', '16,0']), /--hidden must be an integer in \[1, 4096\], got "0"/);
  t.regex(await flowscanRefusal(['classify', 'score', '--model', join(folder(), 'model'), '--data', join(folder(), 'signal.csv'), '--truth', 'a']), /--truth column "a" must hold 0 or 1/);
});
