// Training data in the layout the trainer uses, and the model definition derived from it
// (ranges, support, preprocessing statistics).
import { createHash } from 'node:crypto';
import type { FeaturePreprocessing, FlowConfig, ModelDefinition, Variable } from '../flows/config.ts';
import { LOGIT_EPSILON } from '../flows/preprocess.ts';

export interface TrainingData {
  /** Row-major N×D features. */
  features: Float32Array;
  /** Row-major N×P parameters each event was generated at. */
  params: Float32Array;
  /** Optional per-event weights (N). */
  weights?: Float32Array;
  count: number;
}

export interface VariableDeclaration {
  name: string;
  unit?: string;
  logScale?: boolean;
  /**
   * A feature's known support [lo, hi], e.g. the analysis window of a mass: modelled up to its edges (probit
   * map, no margin). Without it the support is the training range widened by the margin (logit map).
   */
  support?: [number, number];
  /**
   * Fraction of the training range added on each side of an inferred support (default: the model's
   * supportMargin, 0.02). A wide margin (0.5) keeps the logit nearly linear over the data, so a peak that moves
   * with θ moves nearly linearly in the flow's coordinates too and the flow interpolates it better between
   * trained θ values (the LHCO-like m_JJ); a narrow one suits densities that fall to zero at the data's edges.
   */
  margin?: number;
  /**
   * Gauss-rank (quantile) preprocessing: the training sample's piecewise-linear empirical CDF on the support, then
   * Φ⁻¹ (Gavranovič & Kerševan), so every feature reaches the flow close to N(0, 1) whatever its shape; the support
   * is the declared window or the training range with its margin.
   */
  quantile?: boolean;
  /**
   * A parameter (by name) this feature is measured in units of: the flow models x/θ (its support, margin and map
   * are of the ratio) and log p gains −log θ. For a mass peaking at a mass parameter, with a resolution relative to
   * it, the ratio's shape hardly depends on θ: the flow need not place the peak at each θ (issue 17).
   */
  scaledBy?: string;
}

/** Builds row-major training arrays from named columns. */
export function trainingDataFromColumns(
  columns: Record<string, ArrayLike<number>>,
  features: string[],
  params: string[],
  weightColumn?: string,
): TrainingData {
  const pick = (name: string): ArrayLike<number> => {
    const c = columns[name];
    if (!c) throw new Error(`column "${name}" is missing (have: ${Object.keys(columns).join(', ')})`);
    return c;
  };
  if (features.length === 0) throw new Error('at least one feature column is needed');
  const count = pick(features[0]).length;
  if (count === 0) throw new Error('the training data has no events');
  const interleave = (names: string[]): Float32Array => {
    const out = new Float32Array(count * names.length);
    names.forEach((name, j) => {
      const c = pick(name);
      if (c.length !== count) throw new Error(`column "${name}" has ${c.length} values, expected ${count}`);
      for (let i = 0; i < count; i++) out[i * names.length + j] = c[i];
    });
    return out;
  };
  const data: TrainingData = { features: interleave(features), params: interleave(params), count };
  if (weightColumn) {
    const w = pick(weightColumn);
    for (let i = 0; i < w.length; i++) {
      if (!(Number.isFinite(w[i]) && w[i] >= 0)) throw new Error(`weight ${i + 1} is ${w[i]}: event weights must be finite and ≥ 0`);
    }
    data.weights = Float32Array.from(w);
  }
  return data;
}

function columnRange(data: ArrayLike<number>, width: number, j: number): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = j; i < data.length; i += width) {
    if (data[i] < lo) lo = data[i];
    if (data[i] > hi) hi = data[i];
  }
  return [lo, hi];
}

function logit(u: number): number {
  const c = Math.min(Math.max(u, LOGIT_EPSILON), 1 - LOGIT_EPSILON);
  return Math.log(c) - Math.log1p(-c);
}

/** A declared window: every training value must lie in it (a value outside means the window or the data is wrong). */
function declaredSupport(data: TrainingData, D: number, j: number, v: Variable, [lo, hi]: [number, number]): FeaturePreprocessing {
  if (!(Number.isFinite(lo) && Number.isFinite(hi) && lo < hi)) {
    throw new Error(`feature "${v.name}": the declared support [${lo}, ${hi}] must be two finite numbers lo < hi`);
  }
  if (v.range[0] < lo || v.range[1] > hi) {
    let outside = 0;
    for (let i = j; i < data.features.length; i += D) if (data.features[i] < lo || data.features[i] > hi) outside++;
    throw new Error(
      `feature "${v.name}": ${outside} training events lie outside the declared support [${lo}, ${hi}] ` +
        `(training range [${v.range[0]}, ${v.range[1]}]); apply the window to the data or widen the declared support`,
    );
  }
  return { lo, hi, map: 'probit', mean: 0, std: 1 };
}

/** Segments of the quantile map's empirical CDF: one per ~50 training events, between 2 and QUANTILE_MAX_SEGMENTS. */
export const QUANTILE_EVENTS_PER_SEGMENT = 50;
export const QUANTILE_MAX_SEGMENTS = 256;
/** Smallest knot spacing, relative to the support: ties (a discrete value) become a steep but finite segment. */
const QUANTILE_MIN_GAP = 1e-5;

/**
 * Knots x_0 = lo < x_1 < … < x_K = hi of the piecewise-linear empirical CDF with F̂(x_k) = k/K: x_k is the k/K
 * quantile of the (weighted) training values, interpolated linearly between the mid-points of their cumulative
 * weights, then spread to at least QUANTILE_MIN_GAP × (hi − lo) apart and rounded to float32 (the graph's constants).
 */
export function quantileKnots(values: ArrayLike<number>, weights: ArrayLike<number> | undefined, lo: number, hi: number, segments: number): number[] {
  const order = Array.from({ length: values.length }, (_, i) => i).sort((a, b) => values[a] - values[b]);
  const total = order.reduce((s, i) => s + (weights ? weights[i] : 1), 0);
  const knots = [lo];
  let cumulative = 0;
  let previous = { at: 0, value: values[order[0]] };
  let r = 0;
  for (let k = 1; k < segments; k++) {
    const level = k / segments;
    // Advance to the first event whose mid-point cumulative weight reaches the level.
    while (r < order.length) {
      const w = weights ? weights[order[r]] : 1;
      const at = (cumulative + w / 2) / total;
      if (at >= level) break;
      previous = { at, value: values[order[r]] };
      cumulative += w;
      r++;
    }
    if (r === order.length) knots.push(previous.value);
    else {
      const at = (cumulative + (weights ? weights[order[r]] : 1) / 2) / total;
      const next = values[order[r]];
      knots.push(at > previous.at ? previous.value + ((level - previous.at) / (at - previous.at)) * (next - previous.value) : next);
    }
  }
  knots.push(hi);
  const gap = QUANTILE_MIN_GAP * (hi - lo);
  for (let k = 1; k < segments; k++) knots[k] = Math.min(Math.max(knots[k], knots[k - 1] + gap), hi - (segments - k) * gap);
  const rounded = knots.map(Math.fround);
  for (let k = 1; k <= segments; k++) {
    if (!(rounded[k] > rounded[k - 1])) throw new Error(`quantile knots ${rounded[k - 1]} and ${rounded[k]} do not increase in float32: the support [${lo}, ${hi}] is too narrow for its magnitude`);
  }
  return rounded;
}

/** Derives the model definition: variables with training ranges, support with margin, logit statistics. */
export function defineModel(
  data: TrainingData,
  features: VariableDeclaration[],
  params: VariableDeclaration[],
  flow: FlowConfig,
  supportMargin = 0.02,
): ModelDefinition {
  const D = features.length;
  const P = params.length;
  const featureVars: Variable[] = features.map((f, j) => ({
    name: f.name,
    unit: f.unit ?? '',
    range: columnRange(data.features, D, j),
    logScale: false,
  }));
  const paramVars: Variable[] = params.map((p, j) => {
    const range = columnRange(data.params, P, j);
    if (p.logScale && range[0] <= 0) {
      throw new Error(`parameter "${p.name}" is declared log-scaled but has values ≤ 0 (min ${range[0]})`);
    }
    return { name: p.name, unit: p.unit ?? '', range, logScale: p.logScale ?? false };
  });
  const segments = Math.min(QUANTILE_MAX_SEGMENTS, Math.max(2, Math.floor(data.count / QUANTILE_EVENTS_PER_SEGMENT)));
  const preprocessing: FeaturePreprocessing[] = featureVars.map((v, j) => {
    const { support, margin: ownMargin, quantile, scaledBy } = features[j];
    if (support && ownMargin !== undefined) {
      throw new Error(`feature "${v.name}": a declared support has no margin (its edges are the window's); give one or the other`);
    }
    const margin = ownMargin ?? supportMargin;
    if (!support && !(Number.isFinite(margin) && margin > 0)) throw new Error(`feature "${v.name}": the support margin must be a number > 0, got ${margin}`);
    // The values the preprocessing sees: the feature, or its ratio to the parameter it is scaled by.
    const values = Float64Array.from({ length: data.count }, (_, i) => data.features[i * D + j]);
    if (scaledBy !== undefined) {
      const k = paramVars.findIndex((p) => p.name === scaledBy);
      if (k < 0) throw new Error(`feature "${v.name}" is scaled by "${scaledBy}", which is not a parameter of the model (have: ${paramVars.map((p) => p.name).join(', ') || 'none'})`);
      if (support) throw new Error(`feature "${v.name}": a declared support is a window in physical units, a θ-scaled feature's support is of x/${scaledBy}; give one or the other`);
      if (!(paramVars[k].range[0] > 0)) throw new Error(`feature "${v.name}" is scaled by "${scaledBy}", which must be > 0 in every training event (min ${paramVars[k].range[0]})`);
      for (let i = 0; i < data.count; i++) values[i] /= data.params[i * P + k];
    }
    const scaling = scaledBy !== undefined ? { scaledBy } : {};
    const [min, max] = scaledBy !== undefined ? columnRange(values, 1, 0) : v.range;
    const span = max > min ? max - min : Math.max(Math.abs(min), 1);
    if (quantile) {
      const window = support ? declaredSupport(data, D, j, v, support) : { lo: min - margin * span, hi: max + margin * span };
      const knots = quantileKnots(values, data.weights, window.lo, window.hi, segments);
      // The support's ends as the float32 knots hold them, so the graph's clamp and its first and last knots agree.
      return { lo: knots[0], hi: knots[segments], map: 'quantile', mean: 0, std: 1, knots, ...scaling };
    }
    if (support) return declaredSupport(data, D, j, v, support);
    const lo = min - margin * span;
    const hi = max + margin * span;
    let sum = 0;
    let sumSq = 0;
    for (const value of values) {
      const t = logit((value - lo) / (hi - lo));
      sum += t;
      sumSq += t * t;
    }
    const mean = sum / data.count;
    const std = Math.sqrt(Math.max(sumSq / data.count - mean * mean, 0)) || 1;
    return { lo, hi, map: 'logit', mean, std, ...scaling };
  });
  return { features: featureVars, params: paramVars, flow, preprocessing, supportMargin };
}

/** sha256 over the training arrays: identifies the data a model was trained on. */
export function dataHash(data: TrainingData): string {
  const h = createHash('sha256');
  h.update(new Uint8Array(data.features.buffer, data.features.byteOffset, data.features.byteLength));
  h.update(new Uint8Array(data.params.buffer, data.params.byteOffset, data.params.byteLength));
  if (data.weights) h.update(new Uint8Array(data.weights.buffer, data.weights.byteOffset, data.weights.byteLength));
  return h.digest('hex');
}
