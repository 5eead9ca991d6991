// The event samples of the MC-amplification study, from the LHCO-like simulator or from the real LHC Olympics 2020
// R&D signal-region files (/work/shared/data/lhco-sr): the limited "MC" the flow learns from, the classifier's
// training samples, the signal sample (template and cut threshold) and the reference (the truth), all inside the
// analysis window of m_JJ and in the simulator's columns (GeV; jets ordered by mass).
import { join } from 'node:path';
import { Rng } from '@flowscan/runtime';
import { readNpyFile } from '@flowscan/runtime/node';
import { LHCO_BENCHMARK_POINT, LHCO_FEATURES, type LhcoEvents, simulateLhcoBackground, simulateLhcoSignal } from '../data/lhco.ts';

export interface AmplifySampleSizes {
  mcEvents: number;
  referenceEvents: number;
  signalEvents: number;
  classifierEvents: number;
}

export interface AmplifyInputs {
  /** Where the events come from, for the report. */
  origin: string;
  /** The analysis window in m_JJ, GeV. */
  window: readonly [number, number];
  mc: LhcoEvents;
  classifierBackground: LhcoEvents;
  classifierSignal: LhcoEvents;
  signal: LhcoEvents;
  referenceEvents: number;
  /** The reference in blocks of at most `size` events (the simulator draws them as they are asked for). */
  referenceBlocks(size: number): Iterable<LhcoEvents>;
}

/** The window of the simulated analysis around the benchmark signal's peak (3.5 TeV, resolution ≈ 120 GeV). */
export const SIMULATED_WINDOW: readonly [number, number] = [3000, 4200];
/** The real files hold only the signal region 3.3 < m_jj < 3.7 TeV. */
export const REAL_WINDOW: readonly [number, number] = [3300, 3700];

/** Signal at the benchmark point with m_JJ inside the window: exactly n events. */
function simulateWindowSignal(rng: Rng, n: number, [lo, hi]: readonly [number, number]): LhcoEvents {
  const out = Object.fromEntries(LHCO_FEATURES.map((f) => [f, new Float64Array(n)])) as LhcoEvents;
  let have = 0;
  while (have < n) {
    const batch = simulateLhcoSignal(rng, Math.ceil(1.3 * (n - have)) + 100, LHCO_BENCHMARK_POINT);
    for (let i = 0; i < batch.mjj.length && have < n; i++) {
      if (!(batch.mjj[i] >= lo && batch.mjj[i] < hi)) continue;
      for (const f of LHCO_FEATURES) out[f][have] = batch[f][i];
      have++;
    }
  }
  return out;
}

/** Every sample drawn from the simulator, each from its own stream of `rng`. */
export function simulatedInputs(sizes: AmplifySampleSizes, rng: Rng): AmplifyInputs {
  const window = SIMULATED_WINDOW;
  const range = { mjjRange: window };
  const referenceRng = rng.fork(5);
  return {
    origin: 'the LHCO-like simulator',
    window,
    mc: simulateLhcoBackground(rng.fork(1), sizes.mcEvents, range),
    classifierBackground: simulateLhcoBackground(rng.fork(2), sizes.classifierEvents, range),
    classifierSignal: simulateWindowSignal(rng.fork(3), sizes.classifierEvents, window),
    signal: simulateWindowSignal(rng.fork(4), sizes.signalEvents, window),
    referenceEvents: sizes.referenceEvents,
    *referenceBlocks(size: number) {
      for (let done = 0; done < sizes.referenceEvents; done += size) yield simulateLhcoBackground(referenceRng, Math.min(size, sizes.referenceEvents - done), range);
    },
  };
}

/** Rows of a column table, in the given order. */
function rowsOf(table: LhcoEvents, rows: ArrayLike<number>): LhcoEvents {
  return Object.fromEntries(LHCO_FEATURES.map((f) => [f, Float64Array.from(rows, (r) => table[f][r])])) as LhcoEvents;
}

/**
 * The real files in the simulator's columns (docs/lhco-simulator.md §1): m_JJ = 1000·m_jj, m_J1 = 1000·(m_J,min +
 * Δm_J), Δm_J in GeV, τ21 of J1 the heavier jet's (column 4), of J2 the lighter's (column 3); split by label.
 */
async function readRealTable(path: string): Promise<{ background: LhcoEvents; signal: LhcoEvents }> {
  const array = await readNpyFile(path);
  if (array.shape.length !== 2 || array.shape[1] !== 6) {
    throw new Error(`${path}: expected a table of shape (rows, 6) (m_jj, m_J,min, Δm_J, τ21 lighter, τ21 heavier, label), got (${array.shape.join(', ')})`);
  }
  const parts = { background: [] as number[][], signal: [] as number[][] };
  for (let i = 0; i < array.shape[0]; i++) {
    const [mjj, mjMin, dmj, tauLight, tauHeavy, label] = array.data.subarray(6 * i, 6 * i + 6);
    if (label !== 0 && label !== 1) throw new Error(`${path}: row ${i + 1} has label ${label}; expected 0 (background) or 1 (signal)`);
    parts[label === 1 ? 'signal' : 'background'].push([1000 * (mjMin + dmj), 1000 * dmj, tauHeavy, tauLight, 1000 * mjj]);
  }
  const table = (rows: number[][]) => Object.fromEntries(LHCO_FEATURES.map((f, j) => [f, Float64Array.from(rows, (r) => r[j])])) as LhcoEvents;
  return { background: table(parts.background), signal: table(parts.signal) };
}

function concat(a: LhcoEvents, b: LhcoEvents): LhcoEvents {
  return Object.fromEntries(LHCO_FEATURES.map((f) => {
    const out = new Float64Array(a[f].length + b[f].length);
    out.set(a[f]);
    out.set(b[f], a[f].length);
    return [f, out];
  })) as LhcoEvents;
}

/** A seeded random order of 0 … n − 1 (Fisher–Yates). */
function permutation(rng: Rng, n: number): Uint32Array {
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.uniform() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/**
 * The real signal region: the labelled QCD events of innerdata_train and innerdata_val (119 236) are shuffled and
 * dealt into the MC (`mcEvents`), the classifier's background (`classifierEvents`) and the reference (all the rest:
 * the best truth the files hold, ~10^5 events, far from the simulator's 10^7); the signal of all three files
 * (28 027) into the classifier's signal (`classifierEvents`, at most half) and the signal sample.
 */
export async function realInputs(dir: string, sizes: AmplifySampleSizes, rng: Rng): Promise<AmplifyInputs> {
  const tables = await Promise.all(['innerdata_train.npy', 'innerdata_val.npy', 'innerdata_extrasig_train.npy'].map((f) => readRealTable(join(dir, f))));
  const background = tables.map((t) => t.background).reduce(concat);
  const signal = tables.map((t) => t.signal).reduce(concat);
  const nb = background.mjj.length;
  const ns = signal.mjj.length;
  const classifierSignal = Math.min(sizes.classifierEvents, Math.floor(ns / 2));
  if (sizes.mcEvents + sizes.classifierEvents >= nb / 2) {
    throw new Error(`the real files hold ${nb} background events: the MC (${sizes.mcEvents}) and the classifier's (${sizes.classifierEvents}) must leave at least half for the reference`);
  }
  const b = permutation(rng.fork(1), nb);
  const s = permutation(rng.fork(2), ns);
  const reference = rowsOf(background, b.subarray(sizes.mcEvents + sizes.classifierEvents));
  const referenceEvents = reference.mjj.length;
  return {
    origin: `the real LHCO R&D signal region (${dir}): ${nb} labelled QCD events, ${ns} signal events`,
    window: REAL_WINDOW,
    mc: rowsOf(background, b.subarray(0, sizes.mcEvents)),
    classifierBackground: rowsOf(background, b.subarray(sizes.mcEvents, sizes.mcEvents + sizes.classifierEvents)),
    classifierSignal: rowsOf(signal, s.subarray(0, classifierSignal)),
    signal: rowsOf(signal, s.subarray(classifierSignal)),
    referenceEvents,
    *referenceBlocks(size: number) {
      for (let done = 0; done < referenceEvents; done += size) yield rowsOf(reference, Uint32Array.from({ length: Math.min(size, referenceEvents - done) }, (_, i) => done + i));
    },
  };
}
