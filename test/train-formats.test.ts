// `flowscan train --data-format/--data-key/--data-names`: a tiny flow trained from the real .npy and pandas HDF5
// fixtures (test/fixtures/formats, rows x = 40 + 0.25 i, y = i²/7 for i = 0…49). The saved feature and parameter
// ranges must be the formula's, and the same table read from three files (names for an unlabelled matrix, a pandas
// key, a format for an extension that says nothing) must give the same data hash; a wrong key, a wrong number of
// names and an unknown extension fail naming the file and what was expected.
import test from 'ava';
import { copyFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { flowscan } from './helpers/commands.ts';
import { temporaryFolder } from './helpers/temporary.ts';

const FORMATS = join(import.meta.dirname, 'fixtures', 'formats');
const ROWS = 50;
const folder = temporaryFolder('flowscan-train-formats-');
const TINY = ['--features', 'x', '--params', 'y', '--flow', 'maf', '--blocks', '1', '--hidden', '4', '--epochs', '1', '--backend', 'wasm'];

interface SavedModel {
  definition: { features: { name: string; range: [number, number] }[]; params: { name: string; range: [number, number] }[] };
  provenance: { dataHash: string; events: number };
}

async function train(data: string, source: string[], out: string): Promise<SavedModel> {
  const run = await flowscan(['train', '--data', data, ...source, ...TINY, '--out', out]);
  if (run.code !== 0) throw new Error(`flowscan train ${data} ${source.join(' ')} failed:\n${run.stderr}`);
  return JSON.parse(await readFile(join(out, 'model.json'), 'utf8')) as SavedModel;
}

test('train reads an unlabelled .npy by --data-names, a pandas table by --data-key and a renamed file by --data-format', async (t) => {
  const dir = folder();
  const renamed = join(dir, 'table.dat');
  await copyFile(join(FORMATS, 'table.npy'), renamed);
  const models = [
    await train(join(FORMATS, 'table.npy'), ['--data-names', 'x,y,label'], join(dir, 'npy')),
    await train(join(FORMATS, 'pandas-table.h5'), ['--data-key', 'events'], join(dir, 'h5')),
    await train(renamed, ['--data-format', 'npy', '--data-names', 'x,y,label'], join(dir, 'dat')),
  ];
  const last = ROWS - 1;
  for (const model of models) {
    t.is(model.provenance.events, ROWS);
    t.deepEqual(model.definition.features.map((f) => [f.name, f.range]), [['x', [40, 40 + 0.25 * last]]]);
    t.deepEqual(model.definition.params.map((p) => [p.name, p.range]), [['y', [0, (last * last) / 7]]]);
  }
  // The hash covers the columns' values, not the file: one table, one hash.
  t.is(new Set(models.map((m) => m.provenance.dataHash)).size, 1);
});

test('train names the file and what it expected for a wrong --data-key, --data-names or an extension without --data-format', async (t) => {
  const dir = folder();
  const key = await flowscan(['train', '--data', join(FORMATS, 'pandas-table.h5'), '--data-key', 'nope', ...TINY, '--out', join(dir, 'key')]);
  t.not(key.code, 0);
  t.regex(key.stderr, /pandas-table\.h5: no dataset or group "nope"; the file's top level holds "events"/);
  const names = await flowscan(['train', '--data', join(FORMATS, 'table.npy'), '--data-names', 'x,y', ...TINY, '--out', join(dir, 'names')]);
  t.not(names.code, 0);
  t.regex(names.stderr, /table\.npy: 2 column names \(x, y\) for an array of 3 columns/);
  const renamed = join(dir, 'table.dat');
  await copyFile(join(FORMATS, 'table.npy'), renamed);
  const format = await flowscan(['train', '--data', renamed, '--data-names', 'x,y,label', ...TINY, '--out', join(dir, 'format')]);
  t.not(format.code, 0);
  t.regex(format.stderr, /table\.dat: cannot tell the event file's format from its extension "\.dat".*name the format/);
});
