// The bump hunt after a CATHODE cut on the LHCO-like simulator (docs/lhco-simulator.md), which has the whole m_jj
// spectrum: a fresh simulated data set (QCD over 2.5–6 TeV and injected benchmark signal, independent of the
// events the classifier trained on, so no event is scored by a classifier that saw it) is scored by the
// classifier, cut at fixed fractions of its signal-region events, and fitted (bump-hunt.ts). The classifier sees
// the substructure features only, so it can score events at any m_jj, sidebands included.
import { Rng, sortedQuantile } from '@flowscan/runtime';
import { classifierScorer } from '../classifier/export.ts';
import type { TrainedClassifier } from '../classifier/train.ts';
import { LHCO_BACKGROUND_MJJ_RANGE, LHCO_BENCHMARK_POINT, LHCO_MODEL, type LhcoEvents, simulateLhcoBackground, simulateLhcoSignal } from '../data/lhco.ts';
import { type BumpHuntOptions, type CutSignificance, significanceAfterCuts } from './bump-hunt.ts';
import { SIMULATOR_FEATURES, SIMULATOR_SIGNAL_REGION } from './localisation.ts';

/** Fractions of the signal-region events that the cuts on the score keep. */
export const BUMP_HUNT_EFFICIENCIES: readonly number[] = [0.2, 0.05, 0.01];

/**
 * The benchmark signal's m_jj as a Gaussian: the median and half the central 68 % interval of 20 000 simulated
 * events, which leaves the low tail of lost prongs (docs/lhco-simulator.md §2.4) out of the width.
 */
export function benchmarkSignalShape(seed: number): { mass: number; sigma: number } {
  const mjj = simulateLhcoSignal(new Rng(seed), 20_000, LHCO_BENCHMARK_POINT).mjj.sort();
  return { mass: sortedQuantile(mjj, 0.5), sigma: (sortedQuantile(mjj, 0.8413) - sortedQuantile(mjj, 0.1587)) / 2 };
}

/** The fit over the simulator's whole spectrum in 100 GeV bins, with the four-parameter dijet function. */
export function simulatorBumpHuntOptions(seed: number): BumpHuntOptions {
  return { range: LHCO_BACKGROUND_MJJ_RANGE, bins: 35, sqrtS: LHCO_MODEL.sqrtS, backgroundParameters: 4, signal: benchmarkSignalShape(seed) };
}

function rows(events: LhcoEvents): Float64Array {
  const n = events.mjj.length;
  const D = SIMULATOR_FEATURES.length;
  const x = new Float64Array(n * D);
  for (let i = 0; i < n; i++) SIMULATOR_FEATURES.forEach((f, d) => (x[i * D + d] = events[f][i]));
  return x;
}

/** Z without a cut and after each cut on the classifier's logit, on fresh data of `sizes` drawn with `seed`. */
export async function simulatorBumpHunt(classifier: TrainedClassifier, sizes: { background: number; signal: number }, seed: number, efficiencies: readonly number[] = BUMP_HUNT_EFFICIENCIES): Promise<CutSignificance[]> {
  const rng = new Rng(seed);
  const background = simulateLhcoBackground(rng.fork(1), sizes.background);
  const signal = simulateLhcoSignal(rng.fork(2), sizes.signal, LHCO_BENCHMARK_POINT);
  const scorer = await classifierScorer(classifier);
  let scores: Float32Array[];
  try {
    scores = [(await scorer.score(rows(background), sizes.background)).logit, (await scorer.score(rows(signal), sizes.signal)).logit];
  } finally {
    await scorer.release();
  }
  const spectrum = {
    mjj: Float64Array.from([...background.mjj, ...signal.mjj]),
    score: Float64Array.from([...scores[0], ...scores[1]]),
    label: Uint8Array.from({ length: sizes.background + sizes.signal }, (_, i) => (i < sizes.background ? 0 : 1)),
  };
  return significanceAfterCuts(spectrum, SIMULATOR_SIGNAL_REGION, efficiencies, simulatorBumpHuntOptions(seed + 1));
}
