// flowscan generate: the pieces (writers, cuts, histograms, mixture bookkeeping) against independent oracles, and
// generation from the shipped toy flows against the exact toy distributions and against direct sampler calls.
import test from 'ava';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import { type FlowModel, Rng, ksOneSample, parseEventsCsv, parseNpy } from '@flowscan/runtime';
import { loadModel, openEventWriter, shortestFloat32 } from '@flowscan/runtime/node';
import { parseSelection } from '../trainer/src/generate/cuts.ts';
import { generateEvents, splitEvents, type GenerateConfig } from '../trainer/src/generate/generate.ts';
import { HistogramSet, parseBinnings } from '../trainer/src/generate/histograms.ts';
import { fixedTheta, gridTheta, parseGrid } from '../trainer/src/generate/theta.ts';
import { backgroundCdf, signalCdf } from '../trainer/src/data/toy.ts';
import { REPO_ROOT } from '../trainer/src/study/toy.ts';
import { flowscan } from './helpers/commands.ts';
import { flowscanRefusal } from './helpers/in-process.ts';
import { temporaryFolder } from './helpers/temporary.ts';

const folder = temporaryFolder('flowscan-generate-');
let signal: FlowModel;
let background: FlowModel;
test.before(async () => {
  signal = await loadModel(join(REPO_ROOT, 'models', 'toy-signal'), { ep: 'cpu' });
  background = await loadModel(join(REPO_ROOT, 'models', 'toy-background'), { ep: 'cpu' });
});

function randomColumns(rng: Rng, n: number): Record<string, Float32Array> {
  const x = new Float32Array(n);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    x[i] = 100 * rng.normal();
    y[i] = rng.uniform() * 1e-3;
  }
  return { x, y };
}

test('every writer round-trips float32 columns written in several chunks, through independent readers', async (t) => {
  const rng = new Rng(3);
  const chunks = [randomColumns(rng, 7), randomColumns(rng, 0), randomColumns(rng, 1000)];
  const expected = { x: [...chunks.flatMap((c) => [...c.x])], y: [...chunks.flatMap((c) => [...c.y])] };
  for (const format of ['csv', 'npy', 'parquet'] as const) {
    const path = join(folder(), `events.${format}`);
    const writer = openEventWriter(path, ['x', 'y']);
    for (const c of chunks) writer.write(c, c.x.length);
    writer.close();
    t.is(writer.rows, 1007);
    const bytes = new Uint8Array(await readFile(path));
    let read: Record<string, ArrayLike<number>>;
    if (format === 'csv') read = parseEventsCsv(new TextDecoder().decode(bytes), { source: path, columns: ['x', 'y'] }).columns;
    else if (format === 'npy') {
      const array = parseNpy(bytes, path);
      t.deepEqual(array.shape, [1007], 'a structured array of one record per event');
      read = array.fields;
    } else {
      const rows = (await parquetReadObjects({ file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) })) as { x: number; y: number }[];
      read = { x: rows.map((r) => r.x), y: rows.map((r) => r.y) };
    }
    for (const name of ['x', 'y'] as const) {
      const got = Array.from(read[name], (v) => Math.fround(v));
      t.deepEqual(got, expected[name], `${format} column ${name} holds the same float32 values`);
    }
  }
});

test('the npy header is rewritten with the final row count and stays a multiple of 64 bytes', async (t) => {
  const path = join(folder(), 'count.npy');
  const writer = openEventWriter(path, ['a', 'b', 'c']);
  writer.write({ a: new Float32Array(5), b: new Float32Array(5), c: new Float32Array(5) }, 5);
  writer.close();
  const bytes = await readFile(path);
  const headerLength = bytes.readUInt16LE(8);
  t.is((10 + headerLength) % 64, 0);
  t.regex(bytes.subarray(10, 10 + headerLength).toString('latin1'), /'shape': \(5,\)/);
  t.is(bytes.length, 10 + headerLength + 5 * 3 * 4);
});

test('a writer refuses unknown extensions, clashing names and short chunks, and leaves no file when aborted', async (t) => {
  t.throws(() => openEventWriter(join(folder(), 'e.txt'), ['x']), { message: /extension "\.txt".*\.csv, \.npy or \.parquet/ });
  t.throws(() => openEventWriter(join(folder(), 'e.csv'), ['x', 'x']), { message: /"x" is named twice/ });
  t.throws(() => openEventWriter(join(folder(), 'missing', 'e.csv'), ['x']), { message: /does not exist; create it first/ });
  const path = join(folder(), 'aborted.npy');
  const writer = openEventWriter(path, ['x', 'y']);
  t.throws(() => writer.write({ x: new Float32Array(3), y: new Float32Array(2) }, 3), { message: /"y" holds 2 values, the chunk has 3/ });
  writer.abort();
  await t.throwsAsync(readFile(path), { code: 'ENOENT' });
});

test('shortestFloat32 gives a decimal that rounds back to the same float32', (t) => {
  const rng = new Rng(5);
  for (let i = 0; i < 20000; i++) {
    const v = Math.fround((rng.uniform() - 0.5) * 10 ** (rng.int(20) - 10));
    const s = shortestFloat32(v);
    if (Math.fround(s) !== v) t.fail(`${v} → ${s}`);
  }
  t.is(shortestFloat32(Math.fround(91.2)), 91.2);
});

test('selections evaluate like the same JavaScript expressions, with C precedence', (t) => {
  const rng = new Rng(8);
  const columns = { x: Float64Array.from({ length: 500 }, () => 100 * rng.uniform()), y: Float64Array.from({ length: 500 }, () => rng.normal()) };
  const cases: [string, (x: number, y: number) => boolean][] = [
    ['x > 80 && x < 100', (x) => x > 80 && x < 100],
    ['x < 20 || x > 90 && y > 0', (x, y) => x < 20 || (x > 90 && y > 0)],
    ['!(x >= 50) && abs(y) <= 1', (x, y) => !(x >= 50) && Math.abs(y) <= 1],
    ['-y^2 > -0.5', (_x, y) => -(y ** 2) > -0.5],
    ['2^3^2 == 512 && x*2 - 1 > 3 + y', (x, y) => 2 * x - 1 > 3 + y],
    ['sqrt(x) + log(x) / 2 > max(y, 1) * 3', (x, y) => Math.sqrt(x) + Math.log(x) / 2 > Math.max(y, 1) * 3],
    ['min(x, 50) != 50 || pow(y, 2) < .25e1', (x, y) => Math.min(x, 50) !== 50 || y * y < 2.5],
  ];
  for (const [text, oracle] of cases) {
    const pass = parseSelection(text, ['x', 'y']).passes(columns, 500);
    const expected = Uint8Array.from(columns.x, (x, i) => (oracle(x, columns.y[i]) ? 1 : 0));
    t.deepEqual(pass, expected, text);
    t.true(expected.some((v) => v === 1) && expected.some((v) => v === 0), `${text} splits the events`);
  }
});

test('selections are refused with the place of the mistake, and reach nothing but the columns', (t) => {
  t.throws(() => parseSelection('x > ', ['x'], '--cut'), { message: /--cut: expected a number, a column name or "\(" at the end of "x > "/ });
  t.throws(() => parseSelection('x > 80 && mjj < 3', ['x'], '--cut'), { message: /uses column "mjj", which the events do not have \(they have x\)/ });
  t.throws(() => parseSelection('80 < x < 100', ['x']), { message: /comparisons do not chain/ });
  t.throws(() => parseSelection('process.exit(1)', ['x']), { message: /unexpected "\." at position 8/ });
  t.throws(() => parseSelection('constructor(x)', ['x']), { message: /unknown function "constructor"/ });
  t.throws(() => parseSelection('max(x)', ['x']), { message: /max takes 2 arguments, got 1/ });
  t.throws(() => parseSelection('x = 3', ['x']), { message: /unexpected "=" at position 3/ });
  t.throws(() => parseSelection('(x > 1', ['x']), { message: /expected "\)" at the end/ });
  t.throws(() => parseSelection('  ', ['x']), { message: /empty/ });
});

test('histograms equal brute-force counts, with weights, under- and overflow', (t) => {
  const rng = new Rng(9);
  const n = 3000;
  const x = Float64Array.from({ length: n }, () => 50 + 30 * rng.normal());
  const [spec] = parseBinnings('x=20:80:12');
  const set = new HistogramSet([spec], ['a', 'b']);
  const mask = Uint8Array.from({ length: n }, () => (rng.uniform() < 0.7 ? 1 : 0));
  set.fill('a', { x }, n, 0.5, mask);
  set.fill('b', { x }, n, 2, null);
  const json = set.toJSON().x;
  t.is(json.edges.length, 13);
  for (let b = 0; b < 12; b++) {
    const inBin = (v: number): boolean => v >= 20 + 5 * b && v < 25 + 5 * b;
    const countA = [...x].filter((v, i) => mask[i] && inBin(v)).length;
    const countB = [...x].filter(inBin).length;
    t.is(json.components.a.sumw[b], 0.5 * countA);
    t.is(json.components.a.sumw2[b], 0.25 * countA);
    t.is(json.components.b.sumw2[b], 4 * countB);
    t.is(json.components.total.sumw[b], 0.5 * countA + 2 * countB);
  }
  t.is(json.components.b.underflow.entries, [...x].filter((v) => v < 20).length);
  t.is(json.components.b.overflow.entries, [...x].filter((v) => v >= 80).length);
  t.throws(() => parseBinnings('x=80:20:10'), { message: /lo < hi/ });
  t.throws(() => parseBinnings('x=0:1:10,x=0:2:3'), { message: /given twice/ });
});

test('yields split into exact counts by largest remainders; grids enumerate points row-major', (t) => {
  t.deepEqual(splitEvents(10, [1, 1, 1]), [4, 3, 3]);
  t.deepEqual(splitEvents(101000, [1000, 100000]), [1000, 100000]);
  t.is(splitEvents(999, [0.3, 2.7, 1]).reduce((s, c) => s + c, 0), 999);
  t.throws(() => splitEvents(10, [0, 0]), { message: /not all 0/ });
  const grid = gridTheta(parseGrid('a=0:1:2,b=10:30:3'), 2, { c: 7 });
  t.is(grid.events, 12);
  const v = grid.values(0, 12);
  t.deepEqual([...v.a], [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]);
  t.deepEqual([...v.b], [10, 10, 20, 20, 30, 30, 10, 10, 20, 20, 30, 30]);
  t.deepEqual([...v.c], new Array(12).fill(7));
  t.deepEqual([...grid.values(5, 3).b], [30, 10, 10]);
});

function baseConfig(overrides: Partial<GenerateConfig>): GenerateConfig {
  return {
    components: [{ name: 'signal', model: signal, events: 20000, weight: 1 }],
    theta: fixedTheta({ m_pole: 91.2, gamma: 2.5 }),
    seed: 4,
    chunk: 1 << 16,
    selection: null,
    columns: ['x'],
    writer: null,
    histograms: null,
    ...overrides,
  };
}

/** Collects what a generation writes. */
function memoryWriter(columns: string[]): { writer: GenerateConfig['writer']; values: Record<string, number[]> } {
  const values: Record<string, number[]> = Object.fromEntries(columns.map((c) => [c, []]));
  return {
    values,
    writer: {
      write(chunk, count) {
        for (const c of columns) for (let i = 0; i < count; i++) values[c].push(chunk[c][i]);
      },
      close: () => undefined,
      abort: () => undefined,
      rows: 0,
    },
  };
}

test('generated events are the sampler applied to the seed\'s stream, whatever the chunk, and follow the exact Breit–Wigner', async (t) => {
  const big = memoryWriter(['x']);
  await generateEvents(baseConfig({ writer: big.writer }));
  const small = memoryWriter(['x']);
  await generateEvents(baseConfig({ writer: small.writer, chunk: 777 }));
  t.deepEqual(small.values.x, big.values.x, 'chunking does not change the events');
  // Oracle: the component's stream (fork 1 of the seed) through the sampler graph in one call.
  const z = new Float32Array(20000);
  new Rng(4).fork(1).fillNormal(z);
  const direct = await signal.sample(z, Float32Array.from([91.2, 2.5]));
  t.deepEqual(big.values.x, Array.from(direct));
  const other = memoryWriter(['x']);
  await generateEvents(baseConfig({ writer: other.writer, seed: 5 }));
  t.notDeepEqual(other.values.x.slice(0, 10), big.values.x.slice(0, 10));
  // The shipped flow approximates the truncated Breit–Wigner; its KS distance to the exact CDF is small.
  const ks = ksOneSample(big.values.x, (x) => signalCdf(x, 91.2, 2.5));
  t.true(ks.statistic < 0.015, `KS distance to the exact signal ${ks.statistic}`);
});

test('a mixture has exact counts, randomly interleaved, weights yield/events, and each component follows its exact law', async (t) => {
  const out = memoryWriter(['x', 'component', 'weight']);
  const histograms = new HistogramSet(parseBinnings('x=40:140:10'), ['sig', 'bkg']);
  const summary = await generateEvents(
    baseConfig({
      components: [
        { name: 'sig', model: signal, events: 3000, weight: 1000 / 3000 },
        { name: 'bkg', model: background, events: 12000, weight: 100000 / 12000 },
      ],
      theta: fixedTheta({ m_pole: 91.2, gamma: 2.5, tau: 0.01 }),
      columns: ['x', 'component', 'weight'],
      writer: out.writer,
      histograms,
      chunk: 4000,
    }),
  );
  t.is(summary.components.sig.events, 3000);
  t.is(summary.components.bkg.events, 12000);
  const labels = out.values.component;
  t.is(labels.filter((l) => l === 0).length, 3000);
  // Interleaved: the first 1500 events hold about 1500 · 3000/15000 = 300 signal events (hypergeometric σ ≈ 15).
  const early = labels.slice(0, 1500).filter((l) => l === 0).length;
  t.true(Math.abs(early - 300) < 75, `signal events among the first 1500: ${early}`);
  const sig = out.values.x.filter((_, i) => labels[i] === 0);
  const bkg = out.values.x.filter((_, i) => labels[i] === 1);
  t.true(ksOneSample(sig, (x) => signalCdf(x, 91.2, 2.5)).statistic < 0.03);
  t.true(ksOneSample(bkg, (x) => backgroundCdf(x, 0.01)).statistic < 0.02);
  const h = histograms.toJSON().x.components;
  const sumw = (c: string): number => h[c].sumw.reduce((s, v) => s + v, 0) + h[c].underflow.sumw + h[c].overflow.sumw;
  t.true(Math.abs(sumw('sig') - 1000) < 1e-6 && Math.abs(sumw('bkg') - 100000) < 1e-4, 'weighted sums are the yields');
});

test('a selection keeps exactly the passing events, in the file and in the histograms', async (t) => {
  const all = memoryWriter(['x']);
  await generateEvents(baseConfig({ writer: all.writer, chunk: 3000 }));
  const cut = memoryWriter(['x']);
  const histograms = new HistogramSet(parseBinnings('x=40:140:100'), ['signal']);
  const summary = await generateEvents(baseConfig({ writer: cut.writer, chunk: 3000, histograms, selection: parseSelection('abs(x - 91.2) < 2.5', ['x']) }));
  const expected = all.values.x.filter((x) => Math.abs(x - 91.2) < 2.5);
  t.deepEqual(cut.values.x, expected);
  t.is(summary.accepted, expected.length);
  // ±Γ around the pole holds (2/π)·atan(2)/window ≈ 70 % of the exact truncated Breit–Wigner.
  const exact = signalCdf(93.7, 91.2, 2.5) - signalCdf(88.7, 91.2, 2.5);
  t.true(Math.abs(summary.accepted / 20000 - exact) < 0.02, `efficiency ${summary.accepted / 20000} vs exact ${exact}`);
  t.is(histograms.toJSON().x.components.signal.entries.reduce((s, v) => s + v, 0), expected.length);
});

test('θ per event from a grid: the events of each point follow the exact law at that point', async (t) => {
  const out = memoryWriter(['x', 'm_pole', 'gamma']);
  await generateEvents(
    baseConfig({
      components: [{ name: 'signal', model: signal, events: 3 * 4000, weight: 1 }],
      theta: gridTheta(parseGrid('m_pole=70:110:3'), 4000, { gamma: 3 }),
      columns: ['x', 'm_pole', 'gamma'],
      writer: out.writer,
      chunk: 2500,
    }),
  );
  for (const m of [70, 90, 110]) {
    const xs = out.values.x.filter((_, i) => out.values.m_pole[i] === m);
    t.is(xs.length, 4000);
    const ks = ksOneSample(xs, (x) => signalCdf(x, m, 3));
    t.true(ks.statistic < 0.03, `M_pole ${m}: KS ${ks.statistic}`);
  }
});

test('flowscan generate writes a mixture to Parquet with its summary, and refuses what it cannot do', async (t) => {
  const out = join(folder(), 'mix.parquet');
  const hist = join(folder(), 'mix.csv');
  const run = await flowscan([
    'generate', '--model', `sig=${join(REPO_ROOT, 'models', 'toy-signal')}:100`, '--model', `bkg=${join(REPO_ROOT, 'models', 'toy-background')}:900`,
    '--theta', 'm_pole=91.2,gamma=2.5,tau=0.01', '--events', '5000', '--out', out, '--hist', 'x=40:140:5', '--hist-out', hist, '--ep', 'cpu',
  ]);
  t.is(run.code, 0, run.stderr);
  const summary = JSON.parse(run.stdout);
  t.is(summary.components.sig.events, 500);
  t.true(summary.peakRssMiB > 0);
  const bytes = await readFile(out);
  const rows = (await parquetReadObjects({ file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) })) as Record<string, number>[];
  t.deepEqual(Object.keys(rows[0]), ['x', 'component', 'weight']);
  t.is(rows.length, 5000);
  t.true((await readFile(hist, 'utf8')).startsWith('column,component,bin,lo,hi,sumw,sumw2,entries\nx,sig,-1,'));

  // Refusals in this process: a flowscan process each would spend more CPU starting than refusing.
  const fail = async (args: string[], message: RegExp): Promise<void> => {
    t.regex(await flowscanRefusal(['generate', '--ep', 'cpu', ...args]), message);
  };
  const sig = join(REPO_ROOT, 'models', 'toy-signal');
  await fail(['--model', sig, '--theta', 'm_pole=150,gamma=2', '--events', '10', '--out', join(folder(), 'a.npy')], /m_pole spans \[150, 150\], outside toy-signal's training range/);
  await fail(['--model', sig, '--theta', 'm_pole=91,gamma=2', '--events', '10', '--cut', 'y > 1', '--out', join(folder(), 'a.npy')], /uses column "y"/);
  await fail(['--model', sig, '--model', join(REPO_ROOT, 'models', 'toy-background'), '--events', '10', '--out', join(folder(), 'a.npy')], /needs a yield for each/);
  await fail(['--model', sig, '--theta', 'm_pole=91,gamma=2', '--events', '10'], /nothing to write/);
});
