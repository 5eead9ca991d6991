import test from 'ava';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatEventsCsv, MAX_REPORTED_SKIPS, parseEventsCsv } from '../runtime/src/data/csv.ts';
import { readEventsCsvFile, writeEventsCsvFile, writeFileAtomic } from '../runtime/src/node/files.ts';
import { Rng } from '../runtime/src/random.ts';

const opts = (columns: string[], skipBadRows = false) => ({ source: 'events.csv', columns, skipBadRows });

test('format → parse round-trips every float64 exactly, with \\n line ends', (t) => {
  const rng = new Rng(1);
  const x = Float64Array.from({ length: 500 }, () => (rng.uniform() - 0.5) * 10 ** (rng.int(40) - 20));
  const special = [0, -1.5, 5e-324, 1.7976931348623157e308, -2.2250738585072014e-308, 0.1 + 0.2, 1 / 3, 91.2];
  x.set(special, 0);
  const y = Float64Array.from(x, (_, i) => i);
  const text = formatEventsCsv({ x, y }, ['x', 'y']);
  t.false(text.includes('\r'));
  t.true(text.startsWith('x,y\n'));
  t.true(text.endsWith('\n'));
  t.is(text.split('\n').length, 502);
  const parsed = parseEventsCsv(text, opts(['y', 'x']));
  t.is(parsed.rows, 500);
  t.deepEqual(parsed.columns.x, x);
  t.deepEqual(parsed.columns.y, y);
  t.deepEqual(parsed.skipped, []);
  // Chunks concatenate to the whole.
  const chunked = formatEventsCsv({ x, y }, ['x', 'y'], { to: 200 }) + formatEventsCsv({ x, y }, ['x', 'y'], { from: 200, header: false });
  t.is(chunked, text);
});

test('accepts comments above the header, BOM, CRLF, blank lines, spaces, extra columns, no final newline', (t) => {
  const text = '\uFEFF# simulated by hand\r\n# second note\r\n m_reco , weight,x2\r\n1.5,2,3\r\n\r\n  -4e1 ,5,6\r\n+.25,7,8';
  const parsed = parseEventsCsv(text, opts(['x2', 'm_reco']));
  t.is(parsed.rows, 3);
  t.deepEqual([...parsed.columns.m_reco], [1.5, -40, 0.25]);
  t.deepEqual([...parsed.columns.x2], [3, 6, 8]);
  t.deepEqual(Object.keys(parsed.columns).sort(), ['m_reco', 'x2']);
});

test('header problems: missing column names the file, the column and the columns present; duplicates; empty names; quotes', (t) => {
  const missing = t.throws(() => parseEventsCsv('a,b\n1,2\n', opts(['a', 'mass'])));
  t.regex(missing!.message, /events\.csv/);
  t.regex(missing!.message, /"mass"/);
  t.regex(missing!.message, /"a", "b"/);
  t.throws(() => parseEventsCsv('a,b,a\n1,2,3\n', opts(['b'])), { message: /events\.csv, line 1: column name "a" appears twice \(columns 1 and 3\)/ });
  t.throws(() => parseEventsCsv('a,,b\n1,2,3\n', opts(['a'])), { message: /column 2 of the header has no name/ });
  t.throws(() => parseEventsCsv('"a","b"\n1,2\n', opts(['a'])), { message: /line 1: the header contains a quote/ });
  t.throws(() => parseEventsCsv('a\n1\n', opts([])), { message: /no columns were requested/ });
});

test('empty, comment-only and header-only files give clear errors', (t) => {
  t.throws(() => parseEventsCsv('', opts(['x'])), { message: /events\.csv: the file is empty \(no header line\)/ });
  t.throws(() => parseEventsCsv('\n\n# only a note\n', opts(['x'])), { message: /the file is empty/ });
  t.throws(() => parseEventsCsv('x,y\n', opts(['x'])), { message: /events\.csv: the header \(line 1\) is followed by no data rows/ });
  t.throws(() => parseEventsCsv('# note\nx,y\n\n', opts(['x'])), { message: /header \(line 2\)/ });
});

test('bad values name file, 1-based line (counting comments and header), column and the text', (t) => {
  const cases: [string, RegExp][] = [
    ['abc', /"abc" is not a finite decimal number/],
    ['NaN', /"NaN" is not a finite/],
    ['Infinity', /"Infinity" is not a finite/],
    ['-inf', /"-inf" is not a finite/],
    ['1e400', /"1e400" is not a finite/],
    ['0x1F', /"0x1F" is not a finite decimal/],
    ['', /the value is empty/],
    ['  ', /the value is empty/],
    ['"3.5"', /quoted fields are not supported/],
    ['1.2.3', /"1\.2\.3"/],
  ];
  for (const [bad, reason] of cases) {
    const text = `# note\nx,y\n1,2\n3,${bad}\n`;
    const error = t.throws(() => parseEventsCsv(text, opts(['x', 'y'])));
    t.regex(error!.message, /^events\.csv, line 4: column "y": /, bad);
    t.regex(error!.message, reason, bad);
  }
  // A bad value in a column that was not requested is not read, so it is no error.
  t.is(parseEventsCsv('x,notes\n1,abc\n', opts(['x'])).rows, 1);
  t.throws(() => parseEventsCsv('x,y\n1,2\n# late note\n', opts(['x'])), { message: /line 3: a comment line after the header/ });
});

test('rows with the wrong number of fields are errors (also quoted commas)', (t) => {
  t.throws(() => parseEventsCsv('x,y,z\n1,2,3\n4,5\n', opts(['x'])), { message: /line 3: 2 fields but the header has 3/ });
  t.throws(() => parseEventsCsv('x,y\n1,2,3,4\n', opts(['x'])), { message: /line 2: 4 fields but the header has 2/ });
  t.throws(() => parseEventsCsv('x,y\n2,"1,5"\n', opts(['x'])), { message: /line 2: 3 fields but the header has 2 \(quoted fields are not supported\)/ });
  t.throws(() => parseEventsCsv('x,y\n"1,5",2\n', opts(['x'])), { message: /line 2: column "x": value '"1' contains a quote character; quoted fields are not supported/ });
});

test('skipBadRows skips and reports bad rows (count and first reasons), never silently', (t) => {
  const lines = ['x,y'];
  for (let i = 0; i < 40; i++) lines.push(i % 3 === 0 ? `${i},oops` : `${i},${i * 2}`);
  const parsed = parseEventsCsv(lines.join('\n'), opts(['x', 'y'], true));
  const bad = Array.from({ length: 40 }, (_, i) => i).filter((i) => i % 3 === 0);
  t.is(parsed.skippedCount, bad.length);
  t.is(parsed.rows, 40 - bad.length);
  t.is(parsed.skipped.length, MAX_REPORTED_SKIPS);
  t.deepEqual(parsed.skipped[0], { line: 2, reason: 'column "y": "oops" is not a finite decimal number' });
  t.is(parsed.skipped[1].line, 5);
  t.deepEqual([...parsed.columns.x], Array.from({ length: 40 }, (_, i) => i).filter((i) => i % 3 !== 0));
  t.throws(() => parseEventsCsv('x\nfoo\nbar\n', opts(['x'], true)), { message: /none of the 2 data rows could be read; first problem at line 2/ });
});

test('formatEventsCsv rejects what it cannot write faithfully', (t) => {
  t.throws(() => formatEventsCsv({ x: [1] }, ['x', 'y']), { message: /column "y" is not among the given columns "x"/ });
  t.throws(() => formatEventsCsv({ x: [1], y: [1, 2] }, ['x', 'y']), { message: /"y" has 2 values but "x" has 1/ });
  t.throws(() => formatEventsCsv({ x: [1, Number.NaN] }, ['x']), { message: /column "x", event 1: value NaN is not finite/ });
  t.throws(() => formatEventsCsv({ 'a,b': [1] }, ['a,b']), { message: /cannot be written/ });
  t.throws(() => formatEventsCsv({ x: [1] }, []), { message: /no columns/ });
});

test('files: atomic CSV write and read back; missing file and folder give clear messages', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'flowscan-csv-'));
  try {
    const path = join(dir, 'events.csv');
    const n = 120_001; // more than one write chunk
    const x = Float64Array.from({ length: n }, (_, i) => Math.sqrt(i) / 7);
    const theta = Float64Array.from({ length: n }, (_, i) => i % 5);
    const progress: number[] = [];
    await writeEventsCsvFile(path, { x, theta }, ['x', 'theta'], (rows) => progress.push(rows));
    t.is(progress.at(-1), n);
    t.deepEqual(await readdir(dir), ['events.csv']); // no temporary file left behind
    const back = await readEventsCsvFile(path, { columns: ['theta', 'x'] });
    t.deepEqual(back.columns.x, x);
    t.deepEqual(back.columns.theta, theta);
    await writeFileAtomic(path, 'x\n1\n');
    t.is(await readFile(path, 'utf8'), 'x\n1\n');
    const bad = await t.throwsAsync(readEventsCsvFile(join(dir, 'nope.csv'), { columns: ['x'] }));
    t.regex(bad!.message, /nope\.csv does not exist/);
    await t.throwsAsync(writeFileAtomic(join(dir, 'no-such-folder', 'a.csv'), 'x'), { message: /does not exist; create it first/ });
    await t.throwsAsync(readEventsCsvFile(path, { columns: ['y'] }), { message: new RegExp(`${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: missing column "y"`) });
    t.deepEqual(await readdir(dir), ['events.csv']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
