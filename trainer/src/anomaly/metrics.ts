// Metrics of an anomaly score on labelled events (score high for signal): ROC, AUC with DeLong's error, the SIC
// curve ε_S/√ε_B and its maximum where enough background passes (runtime/src/stats/roc.ts computes them).
import { type RocPoint, type Sic, aucWithError, maxSic, rocCurve, sicCurve } from '@flowscan/runtime';

export interface ScoreMetrics {
  auc: number;
  aucError: number;
  /** The best SIC where at least `minBackgroundCount` background events pass (null when no threshold does). */
  maxSic: Sic | null;
  minBackgroundCount: number;
  signalEvents: number;
  backgroundEvents: number;
  /** The ROC curve thinned for figures (about `figurePoints` points, evenly spread in signal efficiency). */
  roc: RocPoint[];
  sic: Sic[];
}

/** Default minimum background count under the maximum SIC: 25 events put a 20 % Poisson error on ε_B. */
export const MIN_BACKGROUND_COUNT = 25;

function thin<P extends { signalEfficiency: number }>(points: P[], count: number): P[] {
  if (points.length <= count) return points;
  const out: P[] = [];
  let next = 0;
  for (const p of points) {
    if (p.signalEfficiency >= next) {
      out.push(p);
      next = p.signalEfficiency + 1 / count;
    }
  }
  if (out.at(-1) !== points.at(-1)) out.push(points.at(-1)!);
  return out;
}

export function scoreMetrics(score: ArrayLike<number>, label: Uint8Array, minBackgroundCount = MIN_BACKGROUND_COUNT, figurePoints = 200): ScoreMetrics {
  if (score.length !== label.length) throw new Error(`${score.length} scores for ${label.length} labelled events`);
  const signal: number[] = [];
  const background: number[] = [];
  for (let i = 0; i < score.length; i++) {
    if (Number.isNaN(score[i])) throw new Error(`score ${i + 1} is NaN: a density or classifier returned no value for that event`);
    (label[i] === 1 ? signal : background).push(score[i]);
  }
  const roc = rocCurve({ scores: signal }, { scores: background });
  const { auc, standardError } = aucWithError({ scores: signal }, { scores: background });
  return {
    auc,
    aucError: standardError,
    maxSic: maxSic(roc, minBackgroundCount),
    minBackgroundCount,
    signalEvents: signal.length,
    backgroundEvents: background.length,
    roc: thin(roc, figurePoints),
    sic: thin(sicCurve(roc, minBackgroundCount), figurePoints),
  };
}

/** Mean and sample standard deviation of repeated measurements (several trainings of one method). */
export function meanAndSpread(values: readonly number[]): { mean: number; spread: number; count: number } {
  if (values.length === 0) throw new Error('mean ± spread of no values');
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  const spread = values.length > 1 ? Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (values.length - 1)) : 0;
  return { mean, spread, count: values.length };
}
