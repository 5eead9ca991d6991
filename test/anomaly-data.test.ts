// The LHCO signal-region split (seeded, disjoint, never mixing training and test events) on synthetic files in
// the shared files' layout, and a density's log p and bits per dimension against a Gaussian with known density.
import test from 'ava';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Rng } from '../runtime/src/random.ts';
import { bitsPerDimension, logDensity, trainDensity } from '../trainer/src/anomaly/density.ts';
import { LHCO_SR_FILES, countSignal, emptyEvents, splitLhcoSr } from '../trainer/src/anomaly/events.ts';
import { flowConfig } from '../trainer/src/flows/config.ts';
import { temporaryFolder } from './helpers/temporary.ts';

const folder = temporaryFolder('flowscan-anomaly-data-');

/** np.save of a float64 C-order table (format 1.0). */
function npy(rows: number[][]): Uint8Array {
  let header = `{'descr': '<f8', 'fortran_order': False, 'shape': (${rows.length}, ${rows[0].length}), }`;
  while ((10 + header.length + 1) % 64 !== 0) header += ' ';
  header += '\n';
  const values = Float64Array.from(rows.flat());
  const out = new Uint8Array(10 + header.length + values.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(values.buffer), 10 + header.length);
  return out;
}

/** Rows m_jj, four features, label; the event's number sits in feature 1 so it can be traced through the split. */
function table(first: number, n: number, signalEvery: number | 'all'): number[][] {
  return Array.from({ length: n }, (_, i) => [3.5, first + i, 0.1, 0.5, 0.5, signalEvery === 'all' || i % signalEvery === 0 ? 1 : 0]);
}

/** The three files in a folder (written once; the temporary folder exists once the tests run). */
let written: Promise<string> | null = null;
function files(): Promise<string> {
  written ??= (async () => {
    await writeFile(join(folder(), LHCO_SR_FILES.data[0]), npy(table(0, 600, 50)));
    await writeFile(join(folder(), LHCO_SR_FILES.data[1]), npy(table(600, 600, 50)));
    await writeFile(join(folder(), LHCO_SR_FILES.extraSignal), npy(table(5000, 200, 'all')));
    return folder();
  })();
  return written;
}

test('the signal-region split is seeded, disjoint and covers every event once', async (t) => {
  const dir = await files();
  const a = await splitLhcoSr(dir, { seed: 3, testFraction: 0.25, testExtraSignalFraction: 0.5 });
  const b = await splitLhcoSr(dir, { seed: 3, testFraction: 0.25, testExtraSignalFraction: 0.5 });
  const c = await splitLhcoSr(dir, { seed: 4, testFraction: 0.25, testExtraSignalFraction: 0.5 });
  const ids = (e: typeof a.training): number[] => Array.from({ length: e.count }, (_, i) => e.x[4 * i]);
  t.deepEqual(ids(a.test), ids(b.test));
  t.notDeepEqual(ids(a.test), ids(c.test));
  t.is(a.training.count, 900);
  t.is(a.test.count, 300 + 100);
  t.is(a.extraSignal.count, 100);
  t.is(a.testFromSignalFile, 100);
  const all = [...ids(a.training), ...ids(a.test), ...ids(a.extraSignal)];
  t.is(new Set(all).size, 1400, 'no event is in two parts');
  t.true(ids(a.training).every((id) => id < 1200), 'no signal-only event is trained on as data');
  t.is(countSignal(a.training) + countSignal(a.test) + countSignal(a.extraSignal), 24 + 200);
  t.is(a.extraSignal.label.every((l) => l === 1), true);
});

test('the split refuses a table of the wrong shape and a bad fraction, naming them', async (t) => {
  const dir = await files();
  const bad = join(dir, 'bad');
  await mkdir(bad, { recursive: true });
  await writeFile(join(bad, LHCO_SR_FILES.data[0]), npy([[1, 2, 3]]));
  await writeFile(join(bad, LHCO_SR_FILES.data[1]), npy(table(0, 10, 2)));
  await writeFile(join(bad, LHCO_SR_FILES.extraSignal), npy(table(0, 10, 'all')));
  await t.throwsAsync(splitLhcoSr(bad), { message: /innerdata_train\.npy: expected a table of shape \(rows, 6\).*got \(1, 3\)/ });
  await t.throwsAsync(splitLhcoSr(dir, { testFraction: 1 }), { message: /test fraction must be in \(0, 1\), got 1/ });
});

test('a trained density matches a known Gaussian: log p per event and bits per dimension', async (t) => {
  // x ~ N((1, 2), diag(0.5², 0.25²)): exact mean log p = −Σ_d [½ log(2π σ_d²) + ½].
  const rng = new Rng(21);
  const n = 4000;
  const events = emptyEvents(['a', 'b'], n);
  for (let i = 0; i < n; i++) {
    events.x[2 * i] = 1 + 0.5 * rng.normal();
    events.x[2 * i + 1] = 2 + 0.25 * rng.normal();
  }
  const model = await trainDensity(events, {
    flow: flowConfig('maf', { blocks: 2, hidden: 16 }),
    conditioning: 'none',
    train: { maxEpochs: 25, batchSize: 128, learningRate: 3e-3, seed: 2, threads: 1 },
    margin: 0.5,
  });
  const logP = await logDensity(model, events);
  const exactLogP = (x: number, mean: number, sigma: number): number => -0.5 * ((x - mean) / sigma) ** 2 - Math.log(sigma * Math.sqrt(2 * Math.PI));
  let flowMean = 0;
  let exactMean = 0;
  for (let i = 0; i < n; i++) {
    flowMean += logP[i] / n;
    exactMean += (exactLogP(events.x[2 * i], 1, 0.5) + exactLogP(events.x[2 * i + 1], 2, 0.25)) / n;
  }
  t.true(Math.abs(flowMean - exactMean) < 0.05, `flow ${flowMean} against exact ${exactMean} nats/event`);
  t.true(Math.abs(bitsPerDimension(logP, 2) + flowMean / (2 * Math.LN2)) < 1e-12);
  const half = bitsPerDimension(logP, 2, (i) => i % 2 === 0);
  t.true(Number.isFinite(half) && half !== bitsPerDimension(logP, 2));
  t.throws(() => bitsPerDimension(logP, 2, () => false), { message: /selection is empty/ });
});
