// Labelled event tables for anomaly detection, and the seeded split of the real LHC Olympics 2020 R&D
// signal-region files (/work/shared/data/lhco-sr, README there) into the events the methods train on and a
// labelled held-out test split that no method ever sees in training.
import { join } from 'node:path';
import { Rng } from '@flowscan/runtime';
import { readNpyFile } from '@flowscan/runtime/node';

/** Events with features x (row-major N×D), a localising variable m (m_jj) and truth labels (1 signal). */
export interface AnomalyEvents {
  features: string[];
  x: Float64Array;
  m: Float64Array;
  label: Uint8Array;
  count: number;
}

/** The four anomaly features of the LHCO R&D files (columns 1–4; column 0 is m_jj, 5 the label), in TeV. */
export const LHCO_SR_FEATURES = ['mj_min', 'delta_mj', 'tau21_min', 'tau21_max'] as const;
export const LHCO_SR_FILES = { data: ['innerdata_train.npy', 'innerdata_val.npy'], extraSignal: 'innerdata_extrasig_train.npy' } as const;

/** Reads one LHCO R&D .npy table (rows × 6: m_jj, four features, label). */
export async function readLhcoSrFile(path: string): Promise<AnomalyEvents> {
  const array = await readNpyFile(path);
  if (array.shape.length !== 2 || array.shape[1] !== 6) {
    throw new Error(`${path}: expected a table of shape (rows, 6) (m_jj, m_J,min, Δm_J, τ21 ×2, label), got (${array.shape.join(', ')})`);
  }
  const count = array.shape[0];
  const events = emptyEvents([...LHCO_SR_FEATURES], count);
  for (let i = 0; i < count; i++) {
    const row = array.data.subarray(6 * i, 6 * i + 6);
    const label = row[5];
    if (label !== 0 && label !== 1) throw new Error(`${path}: row ${i + 1} has label ${label}; expected 0 (background) or 1 (signal)`);
    events.m[i] = row[0];
    for (let d = 0; d < 4; d++) events.x[4 * i + d] = row[1 + d];
    events.label[i] = label;
  }
  return events;
}

export function emptyEvents(features: string[], count: number): AnomalyEvents {
  return { features, x: new Float64Array(count * features.length), m: new Float64Array(count), label: new Uint8Array(count), count };
}

/** The events at `rows`, in that order. */
export function selectEvents(events: AnomalyEvents, rows: ArrayLike<number>): AnomalyEvents {
  const D = events.features.length;
  const out = emptyEvents(events.features, rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    out.x.set(events.x.subarray(r * D, (r + 1) * D), i * D);
    out.m[i] = events.m[r];
    out.label[i] = events.label[r];
  }
  return out;
}

/** The rows where `keep` is true. */
export function filterEvents(events: AnomalyEvents, keep: (row: number) => boolean): AnomalyEvents {
  const rows: number[] = [];
  for (let i = 0; i < events.count; i++) if (keep(i)) rows.push(i);
  return selectEvents(events, rows);
}

export function concatEvents(parts: AnomalyEvents[]): AnomalyEvents {
  const features = parts[0].features;
  for (const p of parts) {
    if (p.features.join() !== features.join()) throw new Error(`cannot join events with features (${p.features.join(', ')}) to (${features.join(', ')})`);
  }
  const out = emptyEvents(features, parts.reduce((s, p) => s + p.count, 0));
  let offset = 0;
  for (const p of parts) {
    out.x.set(p.x, offset * features.length);
    out.m.set(p.m, offset);
    out.label.set(p.label, offset);
    offset += p.count;
  }
  return out;
}

export function countSignal(events: AnomalyEvents): number {
  let n = 0;
  for (const l of events.label) n += l;
  return n;
}

export interface LhcoSrSplit {
  /** What the methods train on: data events (background with the injected signal), labels unused except by idealised references. */
  training: AnomalyEvents;
  /** Held-out labelled events: the rest of the data events plus extra signal events; never trained on. */
  test: AnomalyEvents;
  /** Signal-only events not in the test split (training of the supervised upper bound only). */
  extraSignal: AnomalyEvents;
  /** How many of the test events come from the signal-only file (they follow the held-out data events). */
  testFromSignalFile: number;
}

export interface LhcoSrSplitOptions {
  seed: number;
  /** Fraction of the 120k data events held out for testing. */
  testFraction: number;
  /** Fraction of the signal-only file added to the test split (the rest is `extraSignal`). */
  testExtraSignalFraction: number;
}

export const DEFAULT_SR_SPLIT: LhcoSrSplitOptions = { seed: 13, testFraction: 1 / 3, testExtraSignalFraction: 0.5 };

/**
 * Reproducible split of the shared files: the two data files are pooled and shuffled with the seed, and
 * `testFraction` of them are held out. The held-out data hold only ≈ 250 signal events, too few for a signal
 * efficiency below 10 % (where the maximum SIC lies), so the test split also gets a share of the signal-only
 * file (as the CATHODE test set does); the injected signal fraction of the training events is untouched.
 */
export async function splitLhcoSr(dir: string, options: Partial<LhcoSrSplitOptions> = {}): Promise<LhcoSrSplit> {
  const o = { ...DEFAULT_SR_SPLIT, ...options };
  if (!(o.testFraction > 0 && o.testFraction < 1)) throw new Error(`the test fraction must be in (0, 1), got ${o.testFraction}`);
  if (!(o.testExtraSignalFraction >= 0 && o.testExtraSignalFraction <= 1)) {
    throw new Error(`the test's share of the extra signal must be in [0, 1], got ${o.testExtraSignalFraction}`);
  }
  const data = concatEvents(await Promise.all(LHCO_SR_FILES.data.map((f) => readLhcoSrFile(join(dir, f)))));
  const extra = await readLhcoSrFile(join(dir, LHCO_SR_FILES.extraSignal));
  const rng = new Rng(o.seed);
  const dataOrder = rng.fork(1).shuffle(Uint32Array.from({ length: data.count }, (_, i) => i));
  const extraOrder = rng.fork(2).shuffle(Uint32Array.from({ length: extra.count }, (_, i) => i));
  const nTest = Math.round(o.testFraction * data.count);
  const nExtraTest = Math.round(o.testExtraSignalFraction * extra.count);
  return {
    training: selectEvents(data, dataOrder.subarray(nTest)),
    test: concatEvents([selectEvents(data, dataOrder.subarray(0, nTest)), selectEvents(extra, extraOrder.subarray(0, nExtraTest))]),
    extraSignal: selectEvents(extra, extraOrder.subarray(nExtraTest)),
    testFromSignalFile: nExtraTest,
  };
}
