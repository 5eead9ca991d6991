// What the page computes, without the page: pseudo-data from the flows' sampler graphs, the two-component
// mixture likelihood of the toy study (Saito et al., ISGC 2024, §3.1 and eq. 1), the ΔNLL map around the best
// fit and the fitted model's prediction for the data histogram. Only runtime modules, no DOM.
import { likelihoodMap2d } from '../likelihood/map.ts';
import type { FitOptions, FitResult } from '../likelihood/fit.ts';
import { MixtureLikelihood, type OutsideSupportPolicy, type YieldMode, yieldName } from '../likelihood/mixture.ts';
import type { FlowModel } from '../model/flow-model.ts';
import type { ManifestVariable } from '../model/manifest.ts';
import { sampleFlow } from '../model/sample.ts';
import { Rng } from '../random.ts';
import type { NllMapResult } from '../scan/scan.ts';

export type ComponentName = 'signal' | 'background';
export const COMPONENTS: readonly ComponentName[] = ['signal', 'background'];
export type ModelPair = Record<ComponentName, FlowModel>;

/** Observed events by feature name, with where they came from. */
export interface EventTable {
  columns: Record<string, Float64Array>;
  count: number;
  source: string;
  /** The parameters the events were generated at (pseudo-data only). */
  truth?: Record<string, number>;
  /** Generated signal and background events (pseudo-data only). */
  composition?: Record<ComponentName, number>;
}

/**
 * The paper's toy point (§3.1): 1k signal events at (M_pole, Γ) = (91.2, 2.5) GeV and 100k background events
 * at τ = 0.01 /GeV. Used as the page's defaults when the shipped toy models are loaded.
 */
export const PAPER_TOY = {
  values: { m_pole: 91.2, gamma: 2.5, tau: 0.01 } as Record<string, number>,
  counts: { signal: 1000, background: 100000 } as Record<ComponentName, number>,
};

/** Middle of a parameter's training range: geometric for log-scaled parameters (τ ∈ [1e-3, 1e-1] → 1e-2). */
export function middleOfRange(p: ManifestVariable): number {
  const [lo, hi] = p.range;
  return p.logScale && lo > 0 ? Math.sqrt(lo * hi) : 0.5 * (lo + hi);
}

function sameFeatures(models: ModelPair): string[] {
  const signal = models.signal.featureNames;
  const background = models.background.featureNames;
  if (signal.length !== background.length || signal.some((f, i) => f !== background[i])) {
    throw new Error(
      `the signal model ${models.signal.name} has features [${signal.join(', ')}] but the background model ${models.background.name} has ` +
        `[${background.join(', ')}]: pseudo-data needs two models of the same features, in the same order.`,
    );
  }
  return signal;
}

function checkTheta(model: FlowModel, values: Record<string, number>): Float32Array {
  return Float32Array.from(model.manifest.parameters, (p) => {
    const v = values[p.name];
    if (!Number.isFinite(v)) throw new Error(`${p.name} of model ${model.name} must be a finite number, got ${v}.`);
    if (v < p.range[0] || v > p.range[1]) {
      throw new Error(`${p.name} = ${v} lies outside the training range [${p.range.join(', ')}] of model ${model.name}; the flow is only trusted inside it.`);
    }
    return v;
  });
}

export interface PseudoDataRequest {
  /** Each model's parameter values, by the model's own parameter names. */
  theta: Record<ComponentName, Record<string, number>>;
  counts: Record<ComponentName, number>;
  seed: number;
}

/**
 * Events drawn through the sampler graphs: signal events from stream 1 of `new Rng(seed)`, background events
 * from stream 2 (Rng.fork), signal rows first. The same seed gives the same base draws on every platform.
 */
export async function generatePseudoData(models: ModelPair, request: PseudoDataRequest): Promise<EventTable> {
  const features = sameFeatures(models);
  for (const c of COMPONENTS) {
    const n = request.counts[c];
    if (!(Number.isInteger(n) && n >= 0 && n <= 10_000_000)) throw new Error(`the number of ${c} events must be an integer in [0, 10000000], got ${n}.`);
  }
  if (request.counts.signal + request.counts.background === 0) throw new Error('ask for at least one signal or background event.');
  if (!Number.isSafeInteger(request.seed)) throw new Error(`the seed must be an integer, got ${request.seed}.`);
  const rng = new Rng(request.seed);
  const D = features.length;
  const total = request.counts.signal + request.counts.background;
  const columns = Object.fromEntries(features.map((f) => [f, new Float64Array(total)]));
  let row = 0;
  for (const [stream, c] of COMPONENTS.entries()) {
    const n = request.counts[c];
    if (n === 0) continue;
    const model = models[c];
    const x = await sampleFlow(model, checkTheta(model, request.theta[c]), n, rng.fork(stream + 1));
    for (let i = 0; i < n; i++, row++) features.forEach((f, d) => (columns[f][row] = x[i * D + d]));
  }
  // The truth under the likelihood's parameter names (see backgroundRenames); the generated numbers of events
  // stand for the yields of the extended likelihood.
  const rename = backgroundRenames(models);
  const truth = Object.fromEntries(
    COMPONENTS.flatMap((c) => [
      ...models[c].parameterNames.map((n) => [c === 'background' ? (rename[n] ?? n) : n, request.theta[c][n]]),
      [yieldName(c), request.counts[c]],
    ]),
  );
  return {
    columns,
    count: total,
    source: `pseudo-data generated here (seed ${request.seed})`,
    truth,
    composition: { ...request.counts },
  };
}

export interface FitSettings {
  yields: YieldMode;
  /** n_s / (n_s + n_b) in fixed-fraction mode. */
  signalFraction: number;
  /** Start values by parameter name. */
  start: Record<string, number>;
  /** Starts run together (the first at `start`, the others uniform in the bounds). */
  starts: number;
  seed: number;
  /** Evaluations each start may spend in the gradient stage (FitOptions.maxEvaluations). */
  maxEvaluations: number;
  /** Also fit the background-only hypothesis and report the local significance of the signal. */
  significance: boolean;
  outsideSupport: OutsideSupportPolicy;
}

/**
 * Parameter names of the likelihood: each model's own names, with the background's renamed `<name>_background`
 * where they collide with the signal's (two models of the same family).
 */
export function backgroundRenames(models: Record<ComponentName, { readonly parameterNames: readonly string[] }>): Record<string, string> {
  const taken = new Set(models.signal.parameterNames);
  return Object.fromEntries(models.background.parameterNames.filter((n) => taken.has(n)).map((n) => [n, `${n}_background`]));
}

export function buildLikelihood(models: ModelPair, events: EventTable, settings: FitSettings): MixtureLikelihood {
  const fixed = settings.yields === 'fixed-fractions';
  if (fixed && !(settings.signalFraction >= 0 && settings.signalFraction <= 1)) {
    throw new Error(`the signal fraction must be a number in [0, 1], got ${settings.signalFraction}.`);
  }
  const rename = backgroundRenames(models);
  return new MixtureLikelihood({
    components: [
      { name: 'signal', model: models.signal, ...(fixed ? { fraction: settings.signalFraction } : {}) },
      { name: 'background', model: models.background, ...(fixed ? { fraction: 1 - settings.signalFraction } : {}), ...(Object.keys(rename).length ? { rename } : {}) },
    ],
    events: events.columns,
    yields: settings.yields,
    outsideSupport: settings.outsideSupport,
  });
}

export function fitOptions(settings: FitSettings, onProgress?: FitOptions['onProgress']): FitOptions {
  return {
    method: 'lbfgsb',
    start: settings.start,
    starts: settings.starts,
    seed: settings.seed,
    maxEvaluations: settings.maxEvaluations,
    ...(settings.significance ? { signal: 'signal' } : {}),
    ...(onProgress ? { onProgress } : {}),
  };
}

/** A ΔNLL map as in a scan result ([iy][ix] layout), with the best fit to mark on it. */
export interface DeltaNllMapData extends NllMapResult {
  best: { x: number; y: number };
}

/**
 * ΔNLL and its gradient on a points × points grid of two free parameters through the best fit (the others
 * held at the best fit), spanning ±4σ (Hessian errors) inside the bounds, as `flowscan scan` does.
 */
export async function deltaNllMapAround(
  likelihood: MixtureLikelihood,
  fit: FitResult,
  x: string,
  y: string,
  points: number,
  onRow?: (done: number, total: number) => void,
): Promise<DeltaNllMapData> {
  const names = likelihood.freeNames;
  const i = names.indexOf(x);
  const j = names.indexOf(y);
  if (i < 0 || j < 0 || i === j) throw new Error(`the ΔNLL map needs two different free parameters among ${names.join(', ')}, got ${x} and ${y}.`);
  if (!(Number.isInteger(points) && points >= 2 && points <= 101)) throw new Error(`the map needs 2 to 101 points per axis, got ${points}.`);
  const { lower, upper } = likelihood.bounds();
  const byName = (name: string) => fit.parameters.find((p) => p.name === name)!;
  const range = (name: string, k: number): [number, number] => {
    const p = byName(name);
    const half = 4 * (p.error ?? (upper[k] - lower[k]) / 20);
    return [Math.max(lower[k], p.value - half), Math.min(upper[k], p.value + half)];
  };
  const best = Float64Array.from(names, (n) => byName(n).value);
  // One evaluate call per grid row (the map's default batch): count them for the progress bar.
  const map = await likelihoodMap2d(likelihood, best, i, j, [range(x, i), range(y, j)], points, points, {
    withGradient: true,
    nllMin: fit.nll,
    onCall: (rows) => onRow?.(rows, points),
  });
  const grid = (a: Float64Array): number[][] => Array.from({ length: points }, (_, r) => Array.from(a.subarray(r * points, (r + 1) * points)));
  return {
    x,
    y,
    xs: Array.from(map.xs),
    ys: Array.from(map.ys),
    deltaNll: grid(map.deltaNll),
    gradX: grid(map.gradient!.i),
    gradY: grid(map.gradient!.j),
    best: { x: best[i], y: best[j] },
  };
}

export interface PredictedComponent {
  component: ComponentName;
  /** Sampled events [n × D] at the fitted parameters. */
  events: Float32Array;
  /** Expected events per sampled event: (fitted fraction × N, or fitted yield) / n. */
  weight: number;
}

/**
 * The fitted model as weighted flow samples: each component sampled at its fitted parameters, weighted so
 * the component contributes its fitted share of the observed events (fixed fractions) or its fitted yield.
 */
export async function fittedPrediction(models: ModelPair, likelihood: MixtureLikelihood, fit: FitResult, samples: number, seed: number): Promise<PredictedComponent[]> {
  const value = (name: string) => fit.parameters.find((p) => p.name === name)!.value;
  const rename = backgroundRenames(models);
  const fractions = likelihood.fractions();
  const rng = new Rng(seed);
  const out: PredictedComponent[] = [];
  for (const [stream, c] of COMPONENTS.entries()) {
    const model = models[c];
    const expected = likelihood.yields === 'extended' ? value(yieldName(c)) : fractions[c] * fit.data.sumWeights;
    if (!(expected > 0)) continue;
    const theta = Float32Array.from(model.parameterNames, (n) => value(c === 'background' ? (rename[n] ?? n) : n));
    const events = await sampleFlow(model, theta, samples, rng.fork(stream + 1));
    out.push({ component: c, events, weight: expected / samples });
  }
  return out;
}
