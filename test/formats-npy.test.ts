import test from 'ava';
import { readFile } from 'node:fs/promises';
import { parseNpy, parseNpz } from '../runtime/src/data/npy.ts';
import { readNpyFile, readNpzFile } from '../runtime/src/node/event-files.ts';
import { expectedColumn, fixture, FIXTURE_ROWS } from './formats-fixtures.ts';

/** A .npy file with the given header dictionary, padded as NEP 1 asks. */
function npyBytes(header: string, data: ArrayBufferView, major = 1): Uint8Array {
  const prefix = major === 1 ? 10 : 12;
  let h = header;
  while ((prefix + h.length + 1) % 64 !== 0) h += ' ';
  h += '\n';
  const out = new Uint8Array(prefix + h.length + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, h.length, true);
  else view.setUint32(8, h.length, true);
  out.set(new TextEncoder().encode(h), prefix);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), prefix + h.length);
  return out;
}

/** Column c of a row-major matrix with `width` columns. */
function columnOf(data: Float64Array, width: number, c: number): Float64Array {
  return Float64Array.from({ length: data.length / width }, (_, r) => data[r * width + c]);
}

test('npy written by NumPy: a 2-D float64 matrix, big-endian float32, int64 and a record array', async (t) => {
  const matrix = await readNpyFile(fixture('table.npy'));
  t.deepEqual(matrix.shape, [FIXTURE_ROWS, 3]);
  t.is(matrix.dtype, '<f8');
  t.deepEqual(columnOf(matrix.data, 3, 0), expectedColumn('x'));
  t.deepEqual(columnOf(matrix.data, 3, 1), expectedColumn('y'));
  t.deepEqual(columnOf(matrix.data, 3, 2), expectedColumn('label'));

  const big = await readNpyFile(fixture('x-big-endian-f4.npy'));
  t.is(big.dtype, '>f4');
  t.deepEqual(big.data, Float64Array.from(Float32Array.from(expectedColumn('x'))));
  t.deepEqual((await readNpyFile(fixture('label-i8.npy'))).data, expectedColumn('label'));

  const records = await readNpyFile(fixture('records.npy'));
  t.deepEqual(records.shape, [FIXTURE_ROWS]);
  t.deepEqual(Object.keys(records.fields), ['x', 'y', 'label']);
  t.deepEqual(records.fields.x, expectedColumn('x'));
  t.deepEqual(records.fields.y, Float64Array.from(Float32Array.from(expectedColumn('y'))));
  t.deepEqual(records.fields.label, expectedColumn('label'));
});

test('npz written by np.savez and np.savez_compressed: arrays by name', async (t) => {
  for (const name of ['columns.npz', 'columns-compressed.npz']) {
    const arrays = await readNpzFile(fixture(name));
    t.deepEqual(arrays.get('x')?.data, expectedColumn('x'), name);
    t.deepEqual(arrays.get('y')?.data, expectedColumn('y'), name);
    t.deepEqual(arrays.get('label')?.data, expectedColumn('label'), name);
  }
  const matrix = (await parseNpz(await readFile(fixture('columns-compressed.npz')), 'c.npz')).get('matrix');
  t.deepEqual(matrix?.shape, [FIXTURE_ROWS, 2]);
  t.deepEqual(columnOf(matrix!.data, 2, 1), expectedColumn('y'));
});

test('npy: refused with a message naming the file and the way out', async (t) => {
  const values = Float64Array.of(1.5, -2, 3e-300, 4, 5, 6);
  const v2 = parseNpy(npyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }", values, 2), 'v2.npy');
  t.deepEqual(v2.data, values);
  t.throws(() => parseNpy(new TextEncoder().encode('x,y\n1,2\n'), 'c.csv'), { message: /c\.csv is not a NumPy \.npy file/ });
  t.throws(() => parseNpy(npyBytes("{'descr': '<U3', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(12)), 'd.npy'), {
    message: /d\.npy: array dtype '<U3' is not supported.*astype\('<f8'\)/,
  });
  t.throws(() => parseNpy(npyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (4, 2), }", values), 'g.npy'), {
    message: /needs 64 data bytes but the file holds 48; the file is truncated/,
  });
  const fortran = await t.throwsAsync(readNpyFile(fixture('fortran.npy')));
  t.regex(fortran.message, /fortran\.npy: array is stored in Fortran.*ascontiguousarray/);
  await t.throwsAsync(readNpyFile(fixture('no-such.npy')), { message: /NumPy file .*no-such\.npy does not exist/ });
  await t.throwsAsync(readNpzFile(fixture('table.npy')), { message: /table\.npy is not a \.npz \(ZIP\) archive/ });
});
