// The event-source layer without the platform's readers (as the web page uses it): HDF5 and ROOT refused by name
// with the caller's reason, an unlabelled array's missing column answered with how to name its columns, and those
// messages in the page's words (runtime/src/web/dom.ts inPageTerms).
import test from 'ava';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bytesSource } from '../runtime/src/data/byte-source.ts';
import { readEvents } from '../runtime/src/data/events.ts';
import { readEventFile } from '../runtime/src/node/event-files.ts';
import { inPageTerms } from '../runtime/src/web/dom.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/formats/', import.meta.url));

/** np.save of a plain 1-D float64 array (format 1.0: a 64-byte header). */
function plainNpy(values: number[]): Uint8Array {
  const header = new TextEncoder().encode(`{'descr': '<f8', 'fortran_order': False, 'shape': (${values.length},), }`.padEnd(53, ' ') + '\n');
  const bytes = new Uint8Array(10 + header.length + 8 * values.length);
  bytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length, 0]);
  bytes.set(header, 10);
  bytes.set(new Uint8Array(Float64Array.from(values).buffer), 10 + header.length);
  return bytes;
}

test('HDF5 and ROOT files without the platform\'s readers are refused by name, with the caller\'s reason', async (t) => {
  const h5 = bytesSource('lhco-rnd.h5', new Uint8Array(await readFile(join(FIXTURES, 'lhco-rnd.h5'))));
  await t.throwsAsync(readEvents(h5, { columns: ['mjj'] }), { message: /^lhco-rnd\.h5: HDF5 files cannot be read here; read it with readEventFile of @flowscan\/runtime\/node/ });
  const root = bytesSource('sample.root', new Uint8Array(await readFile(join(FIXTURES, 'uproot-sample-6.20.04-zlib.root'))));
  await t.throwsAsync(readEvents(root, { columns: ['n'] }, { unsupported: 'the page reads CSV, NumPy and Parquet files' }), { message: 'sample.root: ROOT files cannot be read here; the page reads CSV, NumPy and Parquet files.' });
  // The same files with Node's readers: the refusal is the missing reader, not the file.
  t.true((await readEventFile(join(FIXTURES, 'lhco-rnd.h5'), { columns: ['mjj'] })).rows > 0);
});

test('an unlabelled array\'s missing column says to name its columns; named, they read', async (t) => {
  const source = bytesSource('unnamed.npy', plainNpy([91, 92.5, 95]));
  const error = await t.throwsAsync(readEvents(source, { columns: ['x'] }));
  t.is(error?.message, 'unnamed.npy: no column "x"; it has "0". Its columns are unnamed (numbered by position): name them (names), in order.');
  t.is(inPageTerms(error!.message), 'unnamed.npy: no column "x"; it has "0". Its columns are unnamed (numbered by position): type them into “Array column names” (2. Observed events), in order.');
  t.deepEqual(Array.from((await readEvents(source, { columns: ['x'], names: ['x'] })).columns.x), [91, 92.5, 95]);
  // A table with named columns keeps the usual advice.
  await t.throwsAsync(readEventFile(join(FIXTURES, 'records.npy'), { columns: ['mass'] }), { message: /records\.npy: no column "mass"; it has "x", "y", "label"\. Ask for columns it has/ });
});
