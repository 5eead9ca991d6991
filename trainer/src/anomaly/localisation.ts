// Mass localisation on the LHCO-like simulator (docs/lhco-simulator.md), which, unlike the real signal-region
// files, has the full m_jj spectrum with sidebands:
//   ANODE   (Nachman & Shih, PRD 101 (2020) 075042): p(x | m) trained on the sidebands and interpolated into the
//           signal region (SR) as the background density; R(x|m) = p_data(x|m) / p_bkg(x|m), p_data(x|m) trained
//           on the SR data.
//   CATHODE (Hallin et al., PRD 106 (2022) 055006): the sideband density sampled at SR m values drawn from a
//           density of the SR m_jj (a Gaussian kernel density of the SR data's m), and a classifier of the SR
//           data against those samples; its logit is the score.
// Scores are evaluated on freshly simulated SR events with the simulator's truth labels.
import { Rng } from '@flowscan/runtime';
import { classifierScorer, trainClassifier } from '../classifier/index.ts';
import type { ClassifierOptions, TrainedClassifier } from '../classifier/train.ts';
import { LHCO_BENCHMARK_POINT, type LhcoEvents, simulateLhcoBackground, simulateLhcoSignal } from '../data/lhco.ts';
import type { FlowConfig } from '../flows/config.ts';
import type { TrainOptions } from '../train/train.ts';
import { type DensityModel, logDensity, sampleDensity, trainDensity } from './density.ts';
import { type AnomalyEvents, concatEvents, emptyEvents, filterEvents } from './events.ts';

/** The simulator's anomaly features (GeV; m_jj is the localising variable). */
export const SIMULATOR_FEATURES = ['mj1', 'dmj', 'tau21j1', 'tau21j2'] as const;
/** The signal region of the LHCO R&D benchmark, GeV. */
export const SIMULATOR_SIGNAL_REGION: readonly [number, number] = [3300, 3700];

export interface SimulatedSearch {
  /** Simulated data in the signal region (background and injected signal) and in the sidebands. */
  signalRegion: AnomalyEvents;
  sidebands: AnomalyEvents;
  /** Independent signal-region events with truth labels, never trained on. */
  test: AnomalyEvents;
}

export interface SimulatedSearchSizes {
  /** QCD events over the simulator's whole m_jj range (2.5–6 TeV). */
  background: number;
  /** Injected signal events at the benchmark point (3.5 TeV, 500 GeV, 100 GeV). */
  signal: number;
  testBackground: number;
  testSignal: number;
}

function toEvents(sim: LhcoEvents, label: 0 | 1): AnomalyEvents {
  const n = sim.mjj.length;
  const events = emptyEvents([...SIMULATOR_FEATURES], n);
  for (let i = 0; i < n; i++) SIMULATOR_FEATURES.forEach((f, d) => (events.x[4 * i + d] = sim[f][i]));
  events.m.set(sim.mjj);
  events.label.fill(label);
  return events;
}

const inSignalRegion = (m: number): boolean => m >= SIMULATOR_SIGNAL_REGION[0] && m <= SIMULATOR_SIGNAL_REGION[1];

/** Data over the full spectrum split into SR and sidebands, and an independent labelled SR test sample. */
export function simulateSearch(seed: number, sizes: SimulatedSearchSizes): SimulatedSearch {
  const rng = new Rng(seed);
  const data = concatEvents([toEvents(simulateLhcoBackground(rng.fork(1), sizes.background), 0), toEvents(simulateLhcoSignal(rng.fork(2), sizes.signal, LHCO_BENCHMARK_POINT), 1)]);
  const testBackground = toEvents(simulateLhcoBackground(rng.fork(3), sizes.testBackground, { mjjRange: SIMULATOR_SIGNAL_REGION }), 0);
  const testSignalAll = toEvents(simulateLhcoSignal(rng.fork(4), sizes.testSignal, LHCO_BENCHMARK_POINT), 1);
  const testSignal = filterEvents(testSignalAll, (i) => inSignalRegion(testSignalAll.m[i]));
  return {
    signalRegion: filterEvents(data, (i) => inSignalRegion(data.m[i])),
    sidebands: filterEvents(data, (i) => !inSignalRegion(data.m[i])),
    test: concatEvents([testBackground, testSignal]),
  };
}

/**
 * n draws from a Gaussian kernel density of the values (Silverman's bandwidth 1.06 σ n^(−1/5)), redrawn until
 * they fall in [lo, hi]: CATHODE's density of the signal-region m_jj.
 */
export function kernelDensitySample(values: Float64Array, n: number, [lo, hi]: readonly [number, number], rng: Rng): Float64Array {
  if (values.length < 2) throw new Error(`a kernel density needs at least 2 values, got ${values.length}`);
  const mean = values.reduce((a, v) => a + v, 0) / values.length;
  const sigma = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1));
  const bandwidth = 1.06 * sigma * values.length ** -0.2;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let m: number;
    do m = values[rng.int(values.length)] + bandwidth * rng.normal();
    while (m < lo || m > hi);
    out[i] = m;
  }
  return out;
}

export interface LocalisationSettings {
  flow: FlowConfig;
  train: Partial<TrainOptions>;
  classifier: Pick<ClassifierOptions, 'hidden' | 'maxEpochs' | 'ensemble' | 'batchSize' | 'patience'>;
  /** Background samples per SR data event for CATHODE's classifier (CATHODE: 4). */
  oversampling: number;
  threads: number;
}

export interface LocalisationResult {
  /** Scores of the test events (high: signal-like). */
  anode: Float64Array;
  cathode: Float64Array;
  /** The flows, and CATHODE's classifier (it scores events at any m_jj: simulator-bump-hunt.ts). */
  models: { sidebands: DensityModel; signalRegion: DensityModel; cathode: TrainedClassifier };
  seconds: { sidebands: number; anode: number; cathode: number };
}

/** ANODE and CATHODE on a simulated search, every training seeded from `seed`. */
export async function runLocalisation(search: SimulatedSearch, settings: LocalisationSettings, seed: number): Promise<LocalisationResult> {
  const options = (s: number) => ({ flow: settings.flow, conditioning: 'm' as const, train: { ...settings.train, seed: s, threads: settings.threads } });
  let t = performance.now();
  const lap = (): number => {
    const now = performance.now();
    const seconds = (now - t) / 1000;
    t = now;
    return seconds;
  };
  const sidebands = await trainDensity(search.sidebands, options(seed));
  const sidebandSeconds = lap();
  const signalRegion = await trainDensity(search.signalRegion, options(seed));
  const logPData = await logDensity(signalRegion, search.test, settings.threads);
  const logPBackground = await logDensity(sidebands, search.test, settings.threads);
  const anode = logPData.map((l, i) => l - logPBackground[i]);
  const anodeSeconds = lap();

  const rng = new Rng(seed).fork(7);
  const m = kernelDensitySample(search.signalRegion.m, settings.oversampling * search.signalRegion.count, SIMULATOR_SIGNAL_REGION, rng);
  const samples = await sampleDensity(sidebands, m, rng, settings.threads);
  const { model } = await trainClassifier({ x: samples }, { x: search.signalRegion.x }, {
    ...settings.classifier,
    features: SIMULATOR_FEATURES.map((name) => ({ name, unit: name.startsWith('tau') ? '' : 'GeV' })),
    classes: ['background samples', 'signal-region data'],
    seed: seed + 1,
    threads: settings.threads,
  });
  const scorer = await classifierScorer(model);
  let cathode: Float64Array;
  try {
    cathode = Float64Array.from((await scorer.score(search.test.x, search.test.count)).logit);
  } finally {
    await scorer.release();
  }
  return { anode, cathode, models: { sidebands, signalRegion, cathode: model }, seconds: { sidebands: sidebandSeconds, anode: anodeSeconds, cathode: lap() } };
}
