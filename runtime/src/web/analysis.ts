// What the page computes, without the page: pseudo-data from the flows' sampler graphs, the two-component
// mixture likelihood of the toy study (Saito et al., ISGC 2024, §3.1 and eq. 1) and the fitted model's prediction
// for the data histogram. Only runtime modules, no DOM.
import type { FitOptions, FitResult } from '../likelihood/fit.ts';
import { type ComponentSpec, MixtureLikelihood, type OutsideSupportPolicy, type YieldMode, yieldName } from '../likelihood/mixture.ts';
import { type FittedComponentSample, sampleFittedComponents } from '../likelihood/prediction.ts';
import type { FlowModel } from '../model/flow-model.ts';
import type { ManifestVariable } from '../model/manifest.ts';
import { sampleFlow } from '../model/sample.ts';
import { Rng } from '../random.ts';

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

/** The likelihood's components: the two flows, with fixed fractions or free yields, the background's renames. */
function likelihoodComponents(models: ModelPair, settings: FitSettings): ComponentSpec[] {
  const fixed = settings.yields === 'fixed-fractions';
  const rename = backgroundRenames(models);
  return [
    { name: 'signal', model: models.signal, ...(fixed ? { fraction: settings.signalFraction } : {}) },
    { name: 'background', model: models.background, ...(fixed ? { fraction: 1 - settings.signalFraction } : {}), ...(Object.keys(rename).length ? { rename } : {}) },
  ];
}

export function buildLikelihood(models: ModelPair, events: EventTable, settings: FitSettings): MixtureLikelihood {
  if (settings.yields === 'fixed-fractions' && !(settings.signalFraction >= 0 && settings.signalFraction <= 1)) {
    throw new Error(`the signal fraction must be a number in [0, 1], got ${settings.signalFraction}.`);
  }
  return new MixtureLikelihood({ components: likelihoodComponents(models, settings), events: events.columns, yields: settings.yields, outsideSupport: settings.outsideSupport });
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

/** A component of the fitted model as weighted flow samples (what the page's histogram draws). */
export type PredictedComponent = Pick<FittedComponentSample, 'component' | 'events' | 'weight'> & { component: ComponentName };

/**
 * The fitted model as weighted flow samples: each component sampled `samples` times at its fitted parameters,
 * weighted so the component contributes its fitted share of the observed events (fixed fractions) or its fitted yield.
 */
export async function fittedPrediction(models: ModelPair, settings: FitSettings, fit: FitResult, samples: number, seed: number): Promise<PredictedComponent[]> {
  const drawn = await sampleFittedComponents(likelihoodComponents(models, settings), settings.yields, fit, () => samples, new Rng(seed));
  return drawn.map(({ component, events, weight }) => ({ component: component as ComponentName, events, weight }));
}
