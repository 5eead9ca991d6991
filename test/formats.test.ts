// The event-source layer on real files: written by ROOT (scikit-hep-testdata), parquet-mr/Impala (Apache
// parquet-testing), pandas/PyTables and h5py (test/fixtures/formats/make-fixtures.py). Values are checked
// against the formulas those files were written with, not against the readers' own output.
import test from 'ava';
import { readFile } from 'node:fs/promises';
import { bytesSource } from '../runtime/src/data/byte-source.ts';
import { eventFormatOf, readEvents } from '../runtime/src/data/events.ts';
import { readEventFile } from '../runtime/src/node/event-files.ts';
import { expectedColumn, fixture, FIXTURE_ROWS } from './formats-fixtures.ts';

const f32 = (values: Float64Array): Float64Array => Float64Array.from(values, Math.fround);

test('format by extension or by name; unknown ones refused naming what is known', (t) => {
  t.is(eventFormatOf('a/b/events.PARQUET'), 'parquet');
  t.is(eventFormatOf('x.h5'), 'hdf5');
  t.is(eventFormatOf('x.root'), 'root');
  t.is(eventFormatOf('x.dat', 'npy'), 'npy');
  t.throws(() => eventFormatOf('x.dat'), { message: /x\.dat: cannot tell the event file's format from its extension "\.dat"; expected one of \.csv, \.npy/ });
  t.throws(() => eventFormatOf('x.csv', 'feather'), { message: /format "feather" is not known; expected one of csv, npy, npz, parquet, hdf5, root/ });
});

test('ROOT: flat branches of a TTree written by ROOT 6.20 (zlib) and 6.10 (lz4); files and trees concatenate', async (t) => {
  // scikit-hep-testdata's "sample" tree: entry k = 0…29 has i4 = k − 15, f4 = f8 = k − 14.9, u8 = k, b = (k even).
  const k = Float64Array.from({ length: 30 }, (_, i) => i);
  const zlib = await readEventFile(fixture('uproot-sample-6.20.04-zlib.root'), { columns: ['f8', 'i4', 'f4', 'u8', 'b'] });
  t.is(zlib.rows, 30);
  t.deepEqual(zlib.columns.i4, k.map((v) => v - 15));
  t.deepEqual(zlib.columns.u8, k);
  t.deepEqual(zlib.columns.b, k.map((v) => (v % 2 === 0 ? 1 : 0)));
  zlib.columns.f8.forEach((v, i) => t.true(Math.abs(v - (i - 14.9)) < 1e-12, `f8[${i}] = ${v}`));
  t.deepEqual(zlib.columns.f4, f32(k.map((v) => v - 14.9)));
  const twice = await readEventFile(fixture('uproot-sample-6.10.05-lz4.root'), { columns: ['i4'], key: 'sample, sample' });
  t.deepEqual(twice.columns.i4, Float64Array.from([...k, ...k], (v) => v - 15));
});

test('ROOT: a wrong branch, a jagged branch and a wrong tree are refused naming file, tree and branch', async (t) => {
  const file = fixture('uproot-sample-6.20.04-zlib.root');
  await t.throwsAsync(readEventFile(file, { columns: ['f8', 'mass'] }), {
    message: /uproot-sample-6\.20\.04-zlib\.root, tree "sample": no branch "mass"; it has "n", "b", .*"f8"\./,
  });
  await t.throwsAsync(readEventFile(file, { columns: ['Af8'] }), { message: /tree "sample": branch "Af8" cannot be read as event values: a variable-length \(jagged\) array/ });
  await t.throwsAsync(readEventFile(file, { columns: ['f8'], key: 'events' }), { message: /zlib\.root: no TTree "events"; the file holds the trees "sample"/ });
});

test('Parquet written by parquet-mr (plain and snappy): numeric columns by name, strings refused, NaN named by row', async (t) => {
  // apache/parquet-testing alltypes_plain: ids 4,5,6,7,2,3,0,1; double_col = 10.1·(id mod 2), float_col = 1.1·(id mod 2).
  const ids = Float64Array.of(4, 5, 6, 7, 2, 3, 0, 1);
  const plain = await readEventFile(fixture('alltypes_plain.parquet'), { columns: ['double_col', 'id', 'float_col'] });
  t.deepEqual(plain.columns.id, ids);
  t.deepEqual(plain.columns.double_col, ids.map((id) => 10.1 * (id % 2)));
  t.deepEqual(plain.columns.float_col, f32(ids.map((id) => 1.1 * (id % 2))));
  const snappy = await readEventFile(fixture('alltypes_plain.snappy.parquet'), { columns: ['id', 'double_col'] });
  t.deepEqual(snappy.columns.id, Float64Array.of(6, 7));
  t.deepEqual(snappy.columns.double_col, Float64Array.of(0, 10.1));
  await t.throwsAsync(readEventFile(fixture('alltypes_plain.parquet'), { columns: ['id', 'x'] }), { message: /alltypes_plain\.parquet: no column "x"; it has "id", "bool_col"/ });
  await t.throwsAsync(readEventFile(fixture('alltypes_plain.parquet'), { columns: ['string_col'] }), { message: /column "string_col" cannot be read as event values: a BYTE_ARRAY column/ });
  await t.throwsAsync(readEventFile(fixture('single_nan.parquet'), { columns: ['mycol'] }), { message: /single_nan\.parquet, row 0 \(counting from 0\): column "mycol" holds NaN, not a finite number/ });
});

test('HDF5 written by pandas (fixed and table formats) and h5py (groups, matrices, compound datasets)', async (t) => {
  for (const name of ['pandas-fixed.h5', 'pandas-table.h5']) {
    const frame = await readEventFile(fixture(name), { columns: ['label', 'x', 'y'] });
    t.is(frame.rows, FIXTURE_ROWS, name);
    for (const column of ['x', 'y', 'label'] as const) t.deepEqual(frame.columns[column], expectedColumn(column), `${name} ${column}`);
  }
  const group = await readEventFile(fixture('plain.h5'), { columns: ['x', 'y', 'label'], key: 'events' });
  t.deepEqual(group.columns.x, expectedColumn('x'));
  t.deepEqual(group.columns.y, f32(expectedColumn('y')));
  t.deepEqual(group.columns.label, expectedColumn('label'));
  const matrix = await readEventFile(fixture('plain.h5'), { columns: ['m', 'w'], key: 'matrix', names: ['w', 'm'] });
  t.deepEqual(matrix.columns.w, expectedColumn('x'));
  t.deepEqual(matrix.columns.m, expectedColumn('y'));
  const compound = await readEventFile(fixture('plain.h5'), { columns: ['y', 'x'], key: '/compound' });
  t.deepEqual(compound.columns.x, expectedColumn('x'));
  t.deepEqual(compound.columns.y, f32(expectedColumn('y')));
});

test('HDF5: a wrong dataset, a missing key and a wrong column are refused naming file, dataset and column', async (t) => {
  await t.throwsAsync(readEventFile(fixture('plain.h5'), { columns: ['x'] }), { message: /plain\.h5: the file holds "compound", "events", "matrix"; name the dataset or group/ });
  await t.throwsAsync(readEventFile(fixture('plain.h5'), { columns: ['x'], key: 'evnts' }), { message: /plain\.h5: no dataset or group "evnts"; the file's top level holds "compound", "events", "matrix"/ });
  await t.throwsAsync(readEventFile(fixture('pandas-table.h5'), { columns: ['x', 'mjj'] }), { message: /pandas-table\.h5, group \/events: no column "mjj"; it has "x", "y", "label"/ });
  await t.throwsAsync(readEventFile(fixture('plain.h5'), { columns: ['x'], key: 'matrix', names: ['x'] }), { message: /dataset \/matrix: 1 column names \(x\) for a dataset of 2 columns/ });
});

test('the LHCO R&D features read directly from an HDF5 file written by pandas equal the NumPy rows they came from', async (t) => {
  const columns = ['mjj', 'mj1', 'delta_mj', 'tau21j1', 'tau21j2', 'label'];
  const frame = await readEventFile(fixture('lhco-rnd.h5'), { columns });
  const rows = await readEventFile(fixture('lhco-rnd.npy'), { columns, names: columns });
  t.is(frame.rows, 300);
  for (const name of columns) t.deepEqual(frame.columns[name], rows.columns[name], name);
  // The signal region of the R&D data: 3.3 < m_jj < 3.7 TeV, τ21 in (0, 1], labels 0 or 1.
  t.true(frame.columns.mjj.every((m) => m > 3.3 && m < 3.7));
  t.true(frame.columns.tau21j1.every((v) => v > 0 && v <= 1));
  t.true(frame.columns.label.every((v) => v === 0 || v === 1));
});

test('npy/npz through the layer: names for unlabelled columns, 1-D archive members as columns, wrong names refused', async (t) => {
  const table = await readEventFile(fixture('table.npy'), { columns: ['y', 'x'], names: ['x', 'y', 'label'] });
  t.deepEqual(table.columns.x, expectedColumn('x'));
  t.deepEqual(table.columns.y, expectedColumn('y'));
  t.deepEqual((await readEventFile(fixture('table.npy'), { columns: ['2'] })).columns['2'], expectedColumn('label'));
  const records = await readEventFile(fixture('records.npy'), { columns: ['label', 'y'] });
  t.deepEqual(records.columns.label, expectedColumn('label'));
  for (const name of ['columns.npz', 'columns-compressed.npz']) {
    const archive = await readEventFile(fixture(name), { columns: ['y', 'label'] });
    t.deepEqual(archive.columns.y, expectedColumn('y'), name);
  }
  await t.throwsAsync(readEventFile(fixture('table.npy'), { columns: ['x'], names: ['x', 'y'] }), { message: /table\.npy: 2 column names \(x, y\) for an array of 3 columns/ });
  await t.throwsAsync(readEventFile(fixture('records.npy'), { columns: ['mass'] }), { message: /records\.npy: no column "mass"; it has "x", "y", "label"/ });
  await t.throwsAsync(readEventFile(fixture('columns.npz'), { columns: ['x', 'z'] }), { message: /columns\.npz: the archive holds arrays 'x', 'y', 'label'; ask for columns among them/ });
  await t.throwsAsync(readEventFile(fixture('columns.npz'), { columns: ['x'], key: 'matrix' }), { message: /columns\.npz: no array 'matrix'/ });
});

test('CSV through the layer is the CSV reader; bytes in memory read the same as the file; a missing file is named', async (t) => {
  const csv = await readEvents(bytesSource('mem.csv', new TextEncoder().encode('# note\nx,y\n1,2\n3,4\n')), { columns: ['y'] });
  t.deepEqual(csv.columns.y, Float64Array.of(2, 4));
  const bytes = await readFile(fixture('alltypes_plain.parquet'));
  const fromMemory = await readEvents(bytesSource('mem.parquet', bytes), { columns: ['id'] });
  t.deepEqual(fromMemory.columns.id, Float64Array.of(4, 5, 6, 7, 2, 3, 0, 1));
  await t.throwsAsync(readEventFile(fixture('none.parquet'), { columns: ['x'] }), { message: /event file .*none\.parquet does not exist/ });
  await t.throwsAsync(readEventFile(fixture('table.npy'), { columns: ['0'], format: 'parquet' }), { message: /table\.npy is not a readable Parquet file/ });
});

test('skipBadRows leaves out rows with non-finite values and reports them by row', async (t) => {
  const x = Float64Array.of(1, NaN, 3, Infinity);
  const header = "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }";
  const padded = header + ' '.repeat(128 - 10 - header.length - 1) + '\n';
  const bytes = new Uint8Array(10 + padded.length + x.byteLength);
  bytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, padded.length, 0]);
  bytes.set(new TextEncoder().encode(padded), 10);
  bytes.set(new Uint8Array(x.buffer), 10 + padded.length);
  const parsed = await readEvents(bytesSource('bad.npy', bytes), { columns: ['x'], names: ['x'], skipBadRows: true });
  t.deepEqual(parsed.columns.x, Float64Array.of(1, 3));
  t.is(parsed.skippedCount, 2);
  t.deepEqual(parsed.skipped.map((s) => s.line), [1, 3]);
  await t.throwsAsync(readEvents(bytesSource('bad.npy', bytes), { columns: ['x'], names: ['x'] }), { message: /bad\.npy, row 1 \(counting from 0\): column "x" holds NaN/ });
});
