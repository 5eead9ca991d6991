// The LHCO-like study's events (Saito et al., ISGC 2024, §3.2): the analysis selection in m_J1J2, the paper's
// pseudo-data inside it, and flow samples as the simulator's feature columns.
import { type ComponentModel, type FlowModel, MixtureLikelihood, Rng, componentModels, featureColumns, sampleComponent } from '@flowscan/runtime';
import { LHCO_FEATURES, type LhcoEvents, type LhcoFeature, type LhcoPoint, simulateLhcoBackground, simulateLhcoSignal } from '../data/lhco.ts';

/** The paper's pseudo-data point (the LHCO R&D benchmark signal). */
export const LHCO_STUDY_TRUTH = { m_zprime: 3500, m_x: 500, m_y: 100 } as const;
/** Pseudo-data as in the paper: 10k signal and 100k background events. */
export const LHCO_STUDY_PSEUDO_DATA = { nSignal: 10_000, nBackground: 100_000 } as const;
/** The m_Z′ left out of the signal training, where the flow must interpolate (paper Fig. 5). */
export const LHCO_INTERPOLATION_M_ZPRIME = 4000;
/**
 * The analysis selection, applied alike to the signal training events, the background and the pseudo-data.
 * A flow is defined only inside the feature range it was trained on, and the mixture likelihood needs both
 * flows defined at every event: the QCD spectrum reaches m_JJ = 6 TeV where no signal is simulated, and signal
 * events with lost prongs fall below 2.5 TeV where no background is. Inside [2500, 5000] GeV every grid
 * signal's peak and its resolution tails (3.35 % at 4.5 TeV: +3σ at 4.95 TeV) are kept, and both flows are
 * normalised over the same selected region, so the fixed fractions mean the same for both.
 */
export const LHCO_ANALYSIS_MJJ_WINDOW: readonly [number, number] = [2500, 5000];

/** The events with the lighter jet's mass m_J2 = m_J1 − Δm_J added (the signal flow's coordinate). */
export function withLighterJetMass<T extends { mj1: Float64Array; dmj: Float64Array }>(events: T): T & { mj2: Float64Array } {
  return { ...events, mj2: Float64Array.from(events.mj1, (m, i) => m - events.dmj[i]) };
}

export function inWindow(mjj: number): boolean {
  return mjj >= LHCO_ANALYSIS_MJJ_WINDOW[0] && mjj <= LHCO_ANALYSIS_MJJ_WINDOW[1];
}

/** The rows of every column where `keep` holds. */
export function selectRows<K extends string>(columns: Record<K, Float64Array>, keep: Uint8Array): Record<K, Float64Array> {
  let count = 0;
  for (const k of keep) count += k;
  const out = {} as Record<K, Float64Array>;
  for (const name of Object.keys(columns) as K[]) {
    const source = columns[name];
    const target = new Float64Array(count);
    let r = 0;
    for (let i = 0; i < source.length; i++) if (keep[i]) target[r++] = source[i];
    out[name] = target;
  }
  return out;
}

export function concatColumns<K extends string>(names: readonly K[], parts: Record<K, ArrayLike<number>>[]): Record<K, Float64Array> {
  const total = parts.reduce((s, p) => s + p[names[0]].length, 0);
  const out = {} as Record<K, Float64Array>;
  for (const name of names) {
    out[name] = new Float64Array(total);
    let offset = 0;
    for (const p of parts) {
      out[name].set(p[name], offset);
      offset += p[name].length;
    }
  }
  return out;
}

/** Exactly `n` signal events at `point` that pass the analysis selection, drawn in batches from `rng`. */
export function simulateSelectedSignal(rng: Rng, n: number, point: LhcoPoint): LhcoEvents {
  const parts: LhcoEvents[] = [];
  let have = 0;
  while (have < n) {
    // Most grid points keep > 95 % of their events; the margin makes one batch enough almost always.
    const batch = simulateLhcoSignal(rng, Math.ceil(1.1 * (n - have)) + 100, point);
    const keep = Uint8Array.from(batch.mjj, (m) => (inWindow(m) ? 1 : 0));
    const selected = selectRows(batch, keep);
    const take = Math.min(n - have, selected.mjj.length);
    const part = {} as LhcoEvents;
    for (const f of LHCO_FEATURES) part[f] = selected[f].subarray(0, take);
    parts.push(part);
    have += take;
  }
  return concatColumns(LHCO_FEATURES, parts);
}

/** The pseudo-data's stream of a seed; the study's trainings, checks and figures use streams 1–4 of the same seed. */
const PSEUDO_DATA_STREAM = 5;

export interface LhcoStudyPseudoData {
  events: LhcoEvents;
  /** 1 for signal events (the first nSignal rows), 0 for background. */
  isSignal: Uint8Array;
  nSignal: number;
  nBackground: number;
}

/**
 * The paper's pseudo-data inside the analysis selection: 10k selected signal events at (3500, 500, 100) GeV
 * followed by 100k QCD events with m_JJ in the window. Seeded: the same events for the same seed. A study with
 * seed S draws them with seed S, from a stream of their own, so studies over seeds are independent
 * pseudo-experiments: with one shared sample every seed's fit would carry that sample's fluctuation (issue 17:
 * the former fixed sample's signal events alone pulled m_Z′ by −1.1σ, in every seed).
 */
export function lhcoStudyPseudoData(seed: number): LhcoStudyPseudoData {
  const rng = new Rng(seed).fork(PSEUDO_DATA_STREAM);
  const { nSignal, nBackground } = LHCO_STUDY_PSEUDO_DATA;
  const point = { mZprime: LHCO_STUDY_TRUTH.m_zprime, mX: LHCO_STUDY_TRUTH.m_x, mY: LHCO_STUDY_TRUTH.m_y };
  const signal = simulateSelectedSignal(rng.fork(1), nSignal, point);
  const background = simulateLhcoBackground(rng.fork(2), nBackground, { mjjRange: LHCO_ANALYSIS_MJJ_WINDOW });
  const isSignal = new Uint8Array(nSignal + nBackground);
  isSignal.fill(1, 0, nSignal);
  return { events: concatColumns(LHCO_FEATURES, [signal, background]), isSignal, nSignal, nBackground };
}

/** Flow samples [n × D] as the simulator's feature columns (Δm_J from the signal flow's m_J2). */
export function flowColumns(model: FlowModel, events: Float32Array): Record<LhcoFeature, Float64Array> {
  const columns = featureColumns(model, events);
  if (!columns.mj2) return columns as Record<LhcoFeature, Float64Array>;
  const { mj2, ...rest } = columns;
  return { ...rest, dmj: Float64Array.from(rest.mj1, (m, i) => m - mj2[i]) } as Record<LhcoFeature, Float64Array>;
}

/** n flow samples at θ (one point) as the simulator's feature columns; of an ensemble's mean density for several flows. */
export async function flowEvents(model: ComponentModel, theta: number[], n: number, rng: Rng): Promise<Record<LhcoFeature, Float64Array>> {
  return flowColumns(componentModels({ model })[0], await sampleComponent(model, theta, n, rng));
}

export const pointLabel = (p: LhcoPoint): string => `(${p.mZprime}, ${p.mX}, ${p.mY})`;

/**
 * The study's likelihood of LHCO events (their m_J2 added): the signal template (a flow, or an ensemble whose mean
 * density it is) and the background flow at the pseudo-data's fixed fractions. Statistical fluctuations put a
 * handful of events just outside a flow's training range, where it is not defined: they are dropped.
 */
export function lhcoStudyLikelihood(signal: ComponentModel, background: FlowModel, events: LhcoEvents): MixtureLikelihood {
  const { nSignal, nBackground } = LHCO_STUDY_PSEUDO_DATA;
  const signalFraction = nSignal / (nSignal + nBackground);
  return new MixtureLikelihood({
    components: [
      { name: 'signal', model: signal, fraction: signalFraction },
      { name: 'background', model: background, fraction: 1 - signalFraction },
    ],
    events: withLighterJetMass(events),
    yields: 'fixed-fractions',
    outsideSupport: 'drop',
  });
}
