// The LHCO-like study's interpolation check (paper Fig. 5): the signal flow's samples against the simulator at
// every (m_X, m_Y) of the grid, at the m_Z′ left out of the training and at a trained one for reference, by
// two-sample KS distance per feature and the shift of the m_J1J2 median.
import { type ComponentModel, type Rng, ksTwoSample, median } from '@flowscan/runtime';
import { LHCO_FEATURES, LHCO_GRID, LHCO_M_ZPRIME_VALUES, type LhcoFeature } from '../data/lhco.ts';
import { flowEvents, simulateSelectedSignal } from './lhco-data.ts';

/** The 20 (m_X, m_Y) pairs of the grid, the same at every m_Z′. */
const MASS_PAIRS = LHCO_GRID.filter((p) => p.mZprime === LHCO_M_ZPRIME_VALUES[0]);

export interface FeatureKs {
  /** Mean and largest KS distance over the (m_X, m_Y) points compared. */
  mean: number;
  max: number;
}

export interface LhcoInterpolationResult {
  mZprime: number;
  /** Trained m_Z′ compared the same way, for reference. */
  referenceMZprime: number;
  /** Simulated and flow events per (m_X, m_Y) point. */
  events: number;
  /** KS distance below which a sample pair is compatible at 95 % (1.358·√(2/n)). */
  critical95: number;
  excluded: Record<LhcoFeature, FeatureKs>;
  trained: Record<LhcoFeature, FeatureKs>;
  /** Mean over the (m_X, m_Y) points of the m_J1J2 median shift (flow − simulation), GeV, at the left-out and the trained m_Z′. */
  mjjMedianShift: { excluded: number; trained: number };
  perPoint: PointComparison[];
}

function meanOf(values: number[]): number {
  return values.reduce((s, v) => s + v, 0) / values.length;
}

function featureKsSummary(rows: Record<LhcoFeature, number>[]): Record<LhcoFeature, FeatureKs> {
  const out = {} as Record<LhcoFeature, FeatureKs>;
  for (const f of LHCO_FEATURES) {
    const values = rows.map((r) => r[f]);
    out[f] = { mean: meanOf(values), max: Math.max(...values) };
  }
  return out;
}

export interface PointComparison {
  mX: number;
  mY: number;
  ks: Record<LhcoFeature, number>;
  /** Median of the m_J1J2 flow samples minus that of the simulation (GeV): the interpolation's shift. */
  mjjMedianShift: number;
}

/** Per-feature KS of flow samples against the simulator at every (m_X, m_Y) of the grid for one m_Z′. */
async function ksAtMZprime(model: ComponentModel, mZprime: number, n: number, rng: Rng): Promise<PointComparison[]> {
  const rows = [];
  for (const p of MASS_PAIRS) {
    const point = { mZprime, mX: p.mX, mY: p.mY };
    const simulated = simulateSelectedSignal(rng, n, point);
    const sampled = await flowEvents(model, [mZprime, p.mX, p.mY], n, rng);
    rows.push({ mX: p.mX, mY: p.mY, ks: featureKs(simulated, sampled), mjjMedianShift: median(sampled.mjj) - median(simulated.mjj) });
  }
  return rows;
}

/** KS distance below which two samples of n events are compatible at 95 % (Kolmogorov's 1.358·√(2/n)). */
const KS_CRITICAL_95 = 1.358;

/** The check of a flow, or of an ensemble's mean density, at `mZprime` (left out of the training) and at `referenceMZprime` (trained), n events per (m_X, m_Y). */
export async function interpolationCheck(model: ComponentModel, mZprime: number, referenceMZprime: number, n: number, rng: Rng): Promise<LhcoInterpolationResult> {
  const excludedRows = await ksAtMZprime(model, mZprime, n, rng);
  const trainedRows = await ksAtMZprime(model, referenceMZprime, n, rng);
  return {
    mZprime,
    referenceMZprime,
    events: n,
    critical95: KS_CRITICAL_95 * Math.sqrt(2 / n),
    excluded: featureKsSummary(excludedRows.map((r) => r.ks)),
    trained: featureKsSummary(trainedRows.map((r) => r.ks)),
    mjjMedianShift: { excluded: meanOf(excludedRows.map((r) => r.mjjMedianShift)), trained: meanOf(trainedRows.map((r) => r.mjjMedianShift)) },
    perPoint: excludedRows,
  };
}

/** KS distance of flow samples against the simulation, per feature. */
export function featureKs(reference: Record<LhcoFeature, ArrayLike<number>>, sampled: Record<LhcoFeature, ArrayLike<number>>): Record<LhcoFeature, number> {
  return Object.fromEntries(LHCO_FEATURES.map((f) => [f, ksTwoSample(reference[f], sampled[f]).statistic])) as Record<LhcoFeature, number>;
}
