// Calibration of the LHCO-like simulator against real LHCO R&D signal-region events (CATHODE preprocessing,
// see ../shared/data/lhco-sr/README.md): per-feature two-sample KS distances, background and signal. The table
// in docs/lhco-simulator.md §4 is printed by `flowscan simulate lhco --calibrate`.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng, ksTwoSample } from '@flowscan/runtime';
import { readNpyFile } from '@flowscan/runtime/node';
import { LHCO_BENCHMARK_POINT, LHCO_FEATURES, LHCO_MODEL, simulateLhcoBackground, simulateLhcoSignal, type LhcoEvents, type LhcoFeature, type LhcoModel } from './lhco.ts';

/** Default location of the real events: `../shared/data/lhco-sr/` next to the repository. */
export const LHCO_SR_DATA_DIR = fileURLToPath(new URL('../../../../shared/data/lhco-sr/', import.meta.url));
/** The signal region of the real files (GeV). */
export const LHCO_SIGNAL_REGION: readonly [number, number] = [3300, 3700];

export interface LhcoRealEvents {
  /** Label-0 (QCD) rows of innerdata_train.npy and innerdata_val.npy. */
  background: LhcoEvents;
  /** All rows of innerdata_extrasig_train.npy (signal at (3500, 500, 100)). */
  signal: LhcoEvents;
}

/**
 * Converts real rows (TeV; columns m_jj, m_J,min, Δm_J, τ21 lighter, τ21 heavier, label; jets lighter first) to
 * our features (GeV; J1 = heavier jet): mj1 = m_J,min + Δm_J, dmj = Δm_J, tau21j1 = τ21 heavier, tau21j2 = τ21
 * lighter, mjj = m_jj. `keep(label)` selects rows.
 */
function toFeatures(data: Float64Array, rows: number, source: string, keep: (label: number) => boolean): LhcoEvents {
  const selected: number[] = [];
  for (let r = 0; r < rows; r++) if (keep(data[6 * r + 5])) selected.push(r);
  const out = {} as LhcoEvents;
  for (const name of LHCO_FEATURES) out[name] = new Float64Array(selected.length);
  selected.forEach((r, k) => {
    const row = data.subarray(6 * r, 6 * r + 6);
    out.mjj[k] = 1000 * row[0];
    out.mj1[k] = 1000 * (row[1] + row[2]);
    out.dmj[k] = 1000 * row[2];
    out.tau21j1[k] = row[4];
    out.tau21j2[k] = row[3];
  });
  if (selected.length === 0) throw new Error(`${source}: no rows with the expected label; is this the LHCO signal-region file?`);
  return out;
}

/** Loads the real signal-region events from `dataDir` (default LHCO_SR_DATA_DIR). */
export async function loadLhcoSignalRegion(dataDir: string = LHCO_SR_DATA_DIR): Promise<LhcoRealEvents> {
  const read = async (name: string) => {
    const path = join(dataDir, name);
    if (!existsSync(path)) {
      throw new Error(
        `real LHCO R&D events not found: ${path} does not exist. The folder needs innerdata_train.npy, innerdata_val.npy and ` +
          `innerdata_extrasig_train.npy (LHCO R&D signal region, CATHODE preprocessing); point --data-dir at it.`,
      );
    }
    const array = await readNpyFile(path);
    if (array.shape.length !== 2 || array.shape[1] !== 6) {
      throw new Error(`${path}: expected shape (rows, 6) (m_jj, m_J,min, Δm_J, τ21 lighter, τ21 heavier, label), got (${array.shape.join(', ')}).`);
    }
    return { path, array };
  };
  const parts = await Promise.all(['innerdata_train.npy', 'innerdata_val.npy'].map(read));
  const backgrounds = parts.map(({ path, array }) => toFeatures(array.data, array.shape[0], path, (label) => label === 0));
  const background = {} as LhcoEvents;
  for (const name of LHCO_FEATURES) {
    background[name] = new Float64Array(backgrounds.reduce((n, b) => n + b[name].length, 0));
    let offset = 0;
    for (const b of backgrounds) {
      background[name].set(b[name], offset);
      offset += b[name].length;
    }
  }
  const extra = await read('innerdata_extrasig_train.npy');
  const signal = toFeatures(extra.array.data, extra.array.shape[0], extra.path, (label) => label === 1);
  return { background, signal };
}

export interface LhcoCalibrationRow {
  process: 'background' | 'signal';
  feature: LhcoFeature;
  /** Two-sample KS distance, simulated vs real. */
  ks: number;
  simulatedMean: number;
  realMean: number;
}

export interface LhcoCalibration {
  rows: LhcoCalibrationRow[];
  /** Fraction of simulated (3500, 500, 100) signal inside the signal region (the real file holds only those). */
  signalFractionInRegion: number;
  simulatedBackground: number;
  simulatedSignal: number;
  realBackground: number;
  realSignal: number;
}

export interface LhcoCalibrationOptions {
  seed?: number;
  /** Simulated background events (all inside the signal region); default 200k. */
  nBackground?: number;
  /** Simulated signal events before the signal-region cut; default 100k. */
  nSignal?: number;
  model?: LhcoModel;
}

function mean(x: Float64Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return s / x.length;
}

/** Compares the simulator with already-loaded real events (used by calibrateLhco and by tuning loops). */
export function compareLhcoToReal(real: LhcoRealEvents, options: LhcoCalibrationOptions = {}): LhcoCalibration {
  const rng = new Rng(options.seed ?? 1);
  const model = options.model ?? LHCO_MODEL;
  const [lo, hi] = LHCO_SIGNAL_REGION;
  const background = simulateLhcoBackground(rng.fork(0), options.nBackground ?? 200_000, { mjjRange: LHCO_SIGNAL_REGION, model });
  const allSignal = simulateLhcoSignal(rng.fork(1), options.nSignal ?? 100_000, LHCO_BENCHMARK_POINT, model);
  const inside: number[] = [];
  for (let i = 0; i < allSignal.mjj.length; i++) if (allSignal.mjj[i] > lo && allSignal.mjj[i] < hi) inside.push(i);
  const signal = {} as LhcoEvents;
  for (const name of LHCO_FEATURES) signal[name] = Float64Array.from(inside, (i) => allSignal[name][i]);
  const rows: LhcoCalibrationRow[] = [];
  for (const [process, sim, data] of [['background', background, real.background], ['signal', signal, real.signal]] as const) {
    for (const feature of LHCO_FEATURES) {
      rows.push({ process, feature, ks: ksTwoSample(sim[feature], data[feature]).statistic, simulatedMean: mean(sim[feature]), realMean: mean(data[feature]) });
    }
  }
  return {
    rows,
    signalFractionInRegion: inside.length / allSignal.mjj.length,
    simulatedBackground: background.mjj.length,
    simulatedSignal: inside.length,
    realBackground: real.background.mjj.length,
    realSignal: real.signal.mjj.length,
  };
}

/**
 * Simulator vs real LHCO R&D signal-region events, per feature: background = simulator restricted to
 * 3.3 < m_JJ < 3.7 TeV vs label-0 rows; signal at (3500, 500, 100) inside the same window vs the extra-signal file.
 */
export async function calibrateLhco(options: LhcoCalibrationOptions & { dataDir?: string } = {}): Promise<LhcoCalibration> {
  return compareLhcoToReal(await loadLhcoSignalRegion(options.dataDir), options);
}

/** The calibration as a Markdown table (KS distance and means, simulated / real). */
export function formatLhcoCalibration(calibration: LhcoCalibration): string {
  const lines = [
    `| feature | background KS | bkg mean sim / real | signal KS | sig mean sim / real |`,
    `|---|---|---|---|---|`,
  ];
  const digits = (x: number) => (Math.abs(x) >= 10 ? x.toFixed(0) : x.toFixed(3));
  for (const feature of LHCO_FEATURES) {
    const b = calibration.rows.find((r) => r.process === 'background' && r.feature === feature)!;
    const s = calibration.rows.find((r) => r.process === 'signal' && r.feature === feature)!;
    lines.push(`| ${feature} | ${b.ks.toFixed(3)} | ${digits(b.simulatedMean)} / ${digits(b.realMean)} | ${s.ks.toFixed(3)} | ${digits(s.simulatedMean)} / ${digits(s.realMean)} |`);
  }
  lines.push(
    '',
    `Simulated: ${calibration.simulatedBackground} background events in 3.3–3.7 TeV, ${calibration.simulatedSignal} signal events ` +
      `in the window (${(100 * calibration.signalFractionInRegion).toFixed(1)}% of those generated). ` +
      `Real: ${calibration.realBackground} background, ${calibration.realSignal} signal events.`,
  );
  return lines.join('\n');
}
