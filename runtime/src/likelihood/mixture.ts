// The mixture likelihood of observed events under exported flows (Saito et al. 2024, eq. 1):
//   fixed fractions:  −log L(θ) = −Σ_i w_i log Σ_c f_c p_c(x_i|θ_c)
//   extended:         −log L(θ, ν) = Σ_c ν_c − Σ_i w_i log Σ_c ν_c p_c(x_i|θ_c)      (ν_c: expected yields)
// The flows give log p_c per event in float32; every sum over events is accumulated in float64, so ΔNLL is
// resolved to 1e-3 at 10^6 events. Gradients use the exported θ-gradient graph with the per-point
// responsibilities r_kic = f_c p_c / Σ_c' f_c' p_c' as event weights:
//   ∂(−log L)/∂θ_c = −Σ_i w_i r_kic ∂ log p_c(x_i|θ_c)/∂θ_c.
// Gaussian constraints (auxiliary measurements μ_j ± σ_j of free parameters) add Σ_j (θ_j − μ_j)² / (2σ_j²).
// A component may be an ensemble of M flows of the same features and parameters (trainings that differ in seed):
// its density is their mean, p_c = (1/M) Σ_m p_cm, so each member enters the sums above as a term of coefficient
// f_c/M (or ν_c/M) with the component's θ_c; the members' θ-gradients add up in θ_c with their own responsibilities.
import type * as Ort from 'onnxruntime-common';
import type { BatchObjective, Bounds } from '../fit/objective.ts';
import type { FloatArray, FlowModel, Precision, ResidentEvents } from '../model/flow-model.ts';
import { type DataSummary, type ObservedEvents, type OutsideSupportPolicy, prepareObservedEvents } from './observed-events.ts';
import type { ScoreChunk } from './sandwich.ts';

/** A component's flow, or the members of an ensemble whose mean density is the component's. */
export type ComponentModel = FlowModel | readonly FlowModel[];

export interface ComponentSpec {
  /** Name of the process, e.g. "signal". */
  name: string;
  /**
   * The component's flow, or an ensemble: flows with the same features and parameters (e.g. trained with different
   * seeds), whose mean density is the component's, p_c = (1/M) Σ_m p_m. An ensemble averages out the training noise
   * of a single flow, which can be as large as the statistical error of a fit to 10^5 events.
   */
  model: ComponentModel;
  /** Fixed fraction f_c (fixed-fraction mode); fractions must sum to 1. */
  fraction?: number;
  /** Renames of the model's parameters, e.g. { tau: 'tau_bkg' }, to keep names unique across components. */
  rename?: Record<string, string>;
}

export type YieldMode = 'fixed-fractions' | 'extended';
export type { DataSummary, OutsideSupportPolicy } from './observed-events.ts';

export interface LikelihoodSpec {
  components: ComponentSpec[];
  /** Event features by name; every model's features must be present. */
  events: Record<string, ArrayLike<number>>;
  /** Optional per-event weights (default 1). */
  weights?: ArrayLike<number>;
  yields: YieldMode;
  outsideSupport?: OutsideSupportPolicy;
  /** Parameters held at a value: name → value. */
  fixed?: Record<string, number>;
  /** Bounds overriding the training ranges: name → [lo, hi]. */
  bounds?: Record<string, [number, number]>;
  /** Gaussian constraints on free parameters (flow parameters or extended yields n_<component>): name → mean, width. */
  constraints?: Record<string, GaussianConstraint>;
  /**
   * Bytes that the graph sessions of an evaluation may hold (default 128 MiB): events are evaluated in chunks
   * sized to it, so memory stays bounded for any N and K.
   */
  memoryBudget?: number;
}

/**
 * An auxiliary measurement θ = mean ± width of a parameter, entering the NLL as (θ − mean)² / (2 width²). The mean
 * may lie outside the parameter's bounds (a measurement can fluctuate there, e.g. in toys that draw it): the
 * likelihood then warns, and the fit meets the bound.
 */
export interface GaussianConstraint {
  mean: number;
  width: number;
}

export interface ParameterInfo {
  name: string;
  unit: string;
  /** Component it belongs to, or 'yield'. */
  component: string;
  bounds: [number, number];
  /** The range seen in training (the flow is trusted there). */
  trainingRange: [number, number] | null;
  /** The model takes the parameter as log10 (the manifest's logScale): it spans decades, e.g. a slope τ. */
  logScale: boolean;
  fixed: number | null;
}

/** One flow of the likelihood: a component, or one member of an ensemble component (which share name, θ and yield). */
interface Component {
  name: string;
  model: FlowModel;
  /** The member's share of its component's coefficient: 1/M in an ensemble of M flows, 1 otherwise. */
  share: number;
  /** Indices of this component's parameters in the full parameter vector. */
  parameterIndex: number[];
  /** Index of this component's yield parameter (extended mode). */
  yieldIndex: number;
  fraction: number;
  /**
   * The observed events [N×D], made resident in the model's evaluation form on the first evaluation (shared by
   * variants of the likelihood); graph calls get views of chunks.
   */
  events: { values: Float64Array; resident: Promise<ResidentEvents> | null };
  /** log p at fixed parameters, computed once when the component has no free parameter. */
  cached: { key: string; logProb: FloatArray } | null;
}


/**
 * Default bytes of graph memory for an evaluation, all sessions together. The θ-gradient graph keeps the forward
 * pass's activations, so memory grows with K·N: an evaluation streams over event chunks (views of the resident
 * events, no copy) sized to this budget, and adds the chunks' NLL and gradient sums in float64. 128 MiB is near
 * where chunks run fastest: an MLP-heavy flow (MAF 5×128, float32, N = 110k) took 499 ms for NLL + ∇θ at 64 MiB,
 * 607 ms at 384 MiB and 735 ms at 4 MiB; the toy mixture 276, 270 and 378 ms (and scan --demo, whose Hessian
 * evaluates 13 points per call, 14.6 s at 64 MiB against 11.0 s at 384 MiB).
 */
export const DEFAULT_MEMORY_BUDGET = 128 * 1024 * 1024;
/**
 * onnxruntime's arenas held about twice the live-tensor peak that the manifests record (10^6 toy events, K = 16:
 * 1.55 GiB against 0.7 GiB predicted), so chunks are sized with this factor.
 */
const ARENA_FACTOR = 2;
/** Bytes per evaluation assumed for models exported before the manifest recorded them (a generous bound). */
const UNKNOWN_BYTES_PER_EVALUATION = 32 * 1024;
/** The smallest chunk, whatever the budget (a budget below K · 16 evaluations is taken as that). */
const MIN_CHUNK_EVENTS = 16;

export function yieldName(component: string): string {
  return `n_${component}`;
}

/** A likelihood's checked parts: what its specification becomes, and what a variant changes of them. */
interface Parts {
  yields: YieldMode;
  memoryBudget: number;
  observed: ObservedEvents;
  parameters: ParameterInfo[];
  components: Component[];
  constraints: Readonly<Record<string, GaussianConstraint>>;
  warnings: string[];
}

/** Parts that are already checked: the constructor takes them as they are (variants). */
class CheckedParts {
  constructor(readonly parts: Parts) {}
}

function findParameter(parameters: readonly ParameterInfo[], name: string): ParameterInfo {
  const p = parameters.find((q) => q.name === name);
  if (!p) throw new Error(`unknown parameter "${name}": the likelihood has ${parameters.map((q) => q.name).join(', ')}`);
  return p;
}

function checkConstraints(parameters: readonly ParameterInfo[], constraints: Record<string, GaussianConstraint>, warnings: string[]): Record<string, GaussianConstraint> {
  const checked: Record<string, GaussianConstraint> = {};
  for (const [name, { mean, width }] of Object.entries(constraints)) {
    const p = findParameter(parameters, name);
    if (p.fixed !== null) {
      throw new Error(`constraint on "${name}": the parameter is fixed at ${p.fixed}; constrain it or fix it, not both`);
    }
    if (!(Number.isFinite(width) && width > 0)) throw new Error(`constraint on "${name}": width must be a finite number > 0, got ${width}`);
    if (!Number.isFinite(mean)) throw new Error(`constraint on "${name}": mean must be a finite number, got ${mean}`);
    if (mean < p.bounds[0] || mean > p.bounds[1]) {
      warnings.push(
        `the constraint mean ${name} = ${mean} lies outside its bounds [${p.bounds.join(', ')}]: the fit will sit at the bound ` +
          '(check the units; widen the bounds if the model is valid there)',
      );
    }
    checked[name] = { mean, width };
  }
  return checked;
}

/** The flows of a component: its model, or the members of its ensemble. */
export function componentModels(c: { model: ComponentModel }): readonly FlowModel[] {
  return c.model instanceof Array ? c.model : [c.model as FlowModel];
}

/**
 * Checks that an ensemble's members can share a component: the same features and the same parameters, ranges
 * included. A likelihood checks its components itself; code that evaluates members directly calls this first.
 */
export function checkEnsemble(name: string, members: readonly FlowModel[]): void {
  if (members.length === 0) throw new Error(`component "${name}" has an empty ensemble: give at least one model`);
  const [first, ...rest] = members;
  const parameters = (m: FlowModel) => m.manifest.parameters.map((p) => `${p.name} [${p.unit}] in [${p.range.join(', ')}]${p.logScale ? ' (log10)' : ''}`).join('; ');
  for (const m of rest) {
    if (m.featureNames.join(',') !== first.featureNames.join(',')) {
      throw new Error(`the ensemble of component "${name}" mixes features: ${first.name} has (${first.featureNames.join(', ')}), ${m.name} has (${m.featureNames.join(', ')}); members must model the same features in the same order`);
    }
    if (parameters(m) !== parameters(first)) {
      throw new Error(`the ensemble of component "${name}" mixes parameters: ${first.name} has ${parameters(first) || 'none'}, ${m.name} has ${parameters(m) || 'none'}; members must share names, units and training ranges`);
    }
  }
}

/** Each component's (renamed) θ as parameters of the likelihood, then the yields in extended mode; one Component per flow. */
function componentParameters(spec: LikelihoodSpec, observed: ObservedEvents): { parameters: ParameterInfo[]; components: Component[] } {
  const parameters: ParameterInfo[] = [];
  const components = spec.components.flatMap((c): Component[] => {
    const members = componentModels(c);
    checkEnsemble(c.name, members);
    const model = members[0];
    for (const from of Object.keys(c.rename ?? {})) {
      if (!model.parameterNames.includes(from)) {
        throw new Error(`component "${c.name}" renames "${from}", which is not a parameter of model ${model.name} (${model.parameterNames.join(', ') || 'none'})`);
      }
    }
    const parameterIndex = model.manifest.parameters.map((p) => {
      const name = c.rename?.[p.name] ?? p.name;
      if (parameters.some((q) => q.name === name)) {
        throw new Error(
          `parameter "${name}" of component "${c.name}" collides with a parameter of another component; ` +
            `rename one, e.g. rename: { ${p.name}: "${p.name}_${c.name}" }`,
        );
      }
      parameters.push({ name, unit: p.unit, component: c.name, bounds: [...p.range], trainingRange: [...p.range], logScale: p.logScale ?? false, fixed: null });
      return parameters.length - 1;
    });
    return members.map((m) => ({
      name: c.name,
      model: m,
      share: 1 / members.length,
      parameterIndex,
      yieldIndex: -1,
      fraction: c.fraction ?? 0,
      events: { values: observed.matrix(m), resident: null },
      cached: null,
    }));
  });
  if (spec.yields === 'extended') {
    for (const name of new Set(components.map((c) => c.name))) {
      parameters.push({ name: yieldName(name), unit: 'events', component: 'yield', bounds: [0, 10 * observed.data.sumWeights + 100], trainingRange: null, logScale: false, fixed: null });
      for (const c of components) if (c.name === name) c.yieldIndex = parameters.length - 1;
    }
  }
  return { parameters, components };
}

/** A specification checked, its events prepared (observed-events.ts) and its parameters laid out. */
function partsOf(spec: LikelihoodSpec): Parts {
  if (spec.components.length === 0) throw new Error('the likelihood needs at least one component');
  if (spec.yields !== 'fixed-fractions' && spec.yields !== 'extended') {
    throw new Error(`yields must be "fixed-fractions" or "extended", got "${String(spec.yields)}"`);
  }
  const memoryBudget = spec.memoryBudget ?? DEFAULT_MEMORY_BUDGET;
  if (!(Number.isFinite(memoryBudget) && memoryBudget > 0)) {
    throw new Error(`the memory budget must be a positive number of bytes, got ${spec.memoryBudget}`);
  }
  const names = new Set<string>();
  for (const c of spec.components) {
    if (names.has(c.name)) throw new Error(`two components are named "${c.name}": component names must be unique`);
    names.add(c.name);
  }
  const observed = prepareObservedEvents({ models: spec.components.flatMap(componentModels), events: spec.events, weights: spec.weights, outsideSupport: spec.outsideSupport });
  if (spec.yields === 'fixed-fractions') {
    const fractions = spec.components.map((c) => c.fraction);
    if (fractions.some((f) => f === undefined || !(f >= 0 && f <= 1))) {
      throw new Error(`fixed-fraction mode needs a fraction in [0, 1] for every component, got [${fractions.join(', ')}]`);
    }
    const sum = fractions.reduce((s: number, f) => s + (f as number), 0);
    if (Math.abs(sum - 1) > 1e-9) throw new Error(`component fractions sum to ${sum}, expected 1`);
  }
  const { parameters, components } = componentParameters(spec, observed);
  for (const [name, b] of Object.entries(spec.bounds ?? {})) {
    const p = findParameter(parameters, name);
    if (!(b[0] < b[1])) throw new Error(`bounds of "${name}" must have lower < upper, got [${b.join(', ')}]`);
    p.bounds = [b[0], b[1]];
  }
  for (const [name, value] of Object.entries(spec.fixed ?? {})) {
    const p = findParameter(parameters, name);
    if (!Number.isFinite(value)) throw new Error(`fixed value of "${name}" must be a finite number, got ${value}`);
    p.fixed = value;
  }
  const warnings: string[] = [];
  const constraints = checkConstraints(parameters, spec.constraints ?? {}, warnings);
  return { yields: spec.yields, memoryBudget, observed, parameters, components, constraints, warnings };
}

export class MixtureLikelihood implements BatchObjective {
  readonly parameters: ParameterInfo[];
  readonly data: DataSummary;
  /** Indices of the free parameters (the objective's coordinates). */
  readonly free: number[];
  readonly yields: YieldMode;
  private readonly components: Component[];
  /** The events' weights, or null when unweighted (chunkWeights gives ones then). */
  private readonly weights: Float64Array | null;
  /** Ones for the chunks of unweighted events, grown to the largest chunk asked for. */
  private ones = new Float64Array(0);
  private readonly count: number;
  /** Bytes of graph memory an evaluation may hold (LikelihoodSpec.memoryBudget). */
  readonly memoryBudget: number;
  /**
   * The Gaussian constraints by parameter name. A variant that fixes a constrained parameter keeps its term as a
   * constant, so NLL differences between the likelihood and its variants (significance, ΔNLL maps) stay consistent.
   */
  readonly constraints: Readonly<Record<string, GaussianConstraint>>;
  /** Things the user should know about the specification that do not stop the fit. */
  readonly warnings: string[];
  /** Evaluate calls and points so far (graph runs are counted by the fit layer). */
  graphRuns = 0;
  private readonly parts: Parts;

  /** The likelihood of a specification; CheckedParts (module-internal) make a variant. */
  constructor(spec: LikelihoodSpec | CheckedParts) {
    this.parts = spec instanceof CheckedParts ? spec.parts : partsOf(spec);
    ({ yields: this.yields, memoryBudget: this.memoryBudget, parameters: this.parameters, components: this.components, constraints: this.constraints, warnings: this.warnings } = this.parts);
    this.data = this.parts.observed.data;
    this.weights = this.parts.observed.weights;
    this.count = this.data.events;
    this.free = this.parameters.map((_, i) => i).filter((i) => this.parameters[i].fixed === null);
  }

  get dimension(): number {
    return this.free.length;
  }

  get freeNames(): string[] {
    return this.free.map((i) => this.parameters[i].name);
  }

  bounds(): Bounds {
    return {
      lower: Float64Array.from(this.free, (i) => this.parameters[i].bounds[0]),
      upper: Float64Array.from(this.free, (i) => this.parameters[i].bounds[1]),
    };
  }

  /** Full parameter vector from free coordinates (fixed ones filled in). */
  fullPoint(freePoint: ArrayLike<number>): Float64Array {
    const full = Float64Array.from(this.parameters, (p) => p.fixed ?? NaN);
    this.free.forEach((i, j) => (full[i] = freePoint[j]));
    return full;
  }

  /**
   * A view of this likelihood (same resident events) with more parameters fixed and, in fixed-fraction mode,
   * other fractions: e.g. the background-only hypothesis.
   */
  variant(change: { fixed?: Record<string, number>; fractions?: Record<string, number> }): MixtureLikelihood {
    const parameters = this.parameters.map((p) => ({ ...p }));
    for (const [name, value] of Object.entries(change.fixed ?? {})) findParameter(parameters, name).fixed = value;
    // The events object (and its resident copy) is shared; the cache of each component's fixed log p is not.
    const components = this.components.map((c) => ({ ...c, fraction: change.fractions?.[c.name] ?? c.fraction }));
    const sum = components.reduce((s, c) => s + c.share * c.fraction, 0);
    if (this.yields === 'fixed-fractions' && Math.abs(sum - 1) > 1e-9) throw new Error(`component fractions sum to ${sum}, expected 1`);
    return new MixtureLikelihood(new CheckedParts({ ...this.parts, parameters, components }));
  }

  /**
   * A view of this likelihood (same resident events) in which the ensemble `component` is its member `index` alone:
   * the likelihood that flow would have on its own (ensemble-spread.ts).
   */
  ensembleMember(component: string, index: number): MixtureLikelihood {
    const members = this.components.filter((c) => c.name === component);
    if (members.length === 0) throw new Error(`no component "${component}" in this likelihood: it has ${this.componentNames().join(', ')}`);
    if (!(Number.isInteger(index) && index >= 0 && index < members.length)) {
      throw new Error(`component "${component}" has ${members.length} member flow${members.length === 1 ? '' : 's'} (indices 0–${members.length - 1}), not ${index}`);
    }
    const kept = members[index];
    const components = this.components.filter((c) => c.name !== component || c === kept).map((c) => ({ ...c, share: c === kept ? 1 : c.share }));
    return new MixtureLikelihood(new CheckedParts({ ...this.parts, parameters: this.parameters.map((p) => ({ ...p })), components }));
  }

  /** float32 when any component evaluates its log-densities in float32 (their rounding is then ~1e-7 relative). */
  get precision(): Precision {
    return this.components.some((c) => c.model.precision === 'float32') ? 'float32' : 'float64';
  }

  componentNames(): string[] {
    return [...new Set(this.components.map((c) => c.name))];
  }

  /** Flows per component: 1, or the size of its ensemble. */
  ensembleSizes(): Record<string, number> {
    const sizes: Record<string, number> = {};
    for (const c of this.components) sizes[c.name] = (sizes[c.name] ?? 0) + 1;
    return sizes;
  }

  fractions(): Record<string, number> {
    return Object.fromEntries(this.components.map((c) => [c.name, c.fraction]));
  }

  /**
   * Per-event scores s_i = ∇ ℓ_i over the free parameters at `freePoint`, streamed over event chunks with the
   * events' weights, for the sandwich covariance (sandwich.ts). ℓ_i = log Σ_c a_c p_c(x_i|θ_c) with a_c the fixed
   * fraction or the yield ν_c, so −∇NLL = Σ_i w_i s_i minus the terms outside the event sum (Σ_c ν_c, constraints):
   *   ∂ℓ_i/∂θ_cj = r_ic ∂ log p_c(x_i|θ_c)/∂θ_cj,   ∂ℓ_i/∂ν_c = p_c(x_i|θ_c) / Σ_c' ν_c' p_c'(x_i|θ_c').
   * The θ-gradient graph returns weighted sums over events, not per-event gradients, so ∂ log p_c/∂θ_cj is a
   * central difference of the per-event log-densities at θ_cj ± steps[j] (one log-density call per component and
   * chunk, 1 + 2P_c points), kept inside the bounds. Yields are exact and ignore their step.
   */
  async *eventScores(freePoint: ArrayLike<number>, steps: ArrayLike<number>): AsyncGenerator<ScoreChunk> {
    const F = this.free.length;
    if (freePoint.length !== F || steps.length !== F) {
      throw new Error(`event scores need a point and steps of ${F} free parameters (${this.freeNames.join(', ')}), got ${freePoint.length} and ${steps.length}`);
    }
    const full = this.fullPoint(freePoint);
    const coefficients = this.components.map((c) => c.share * (this.yields === 'extended' ? full[c.yieldIndex] : c.fraction));
    const logCoefficients = coefficients.map((v) => (v > 0 ? Math.log(v) : -Infinity));
    // Per component: the centre θ_c, then θ_c with one free parameter moved down and up (rows 1 + 2v and 2 + 2v).
    const stencils = this.components.map((c) => {
      const P = c.parameterIndex.length;
      const varied = c.parameterIndex.flatMap((index, q) => {
        const j = this.free.indexOf(index);
        if (j < 0) return [];
        if (!(Number.isFinite(steps[j]) && steps[j] > 0)) throw new Error(`the score step of ${this.parameters[index].name} must be a finite number > 0, got ${steps[j]}`);
        const [lo, hi] = this.parameters[index].bounds;
        return [{ j, q, down: Math.max(lo, full[index] - steps[j]), up: Math.min(hi, full[index] + steps[j]) }];
      });
      const K = 1 + 2 * varied.length;
      const thetas = new Float64Array(K * P);
      for (let k = 0; k < K; k++) c.parameterIndex.forEach((index, q) => (thetas[k * P + q] = full[index]));
      varied.forEach((v, n) => {
        thetas[(1 + 2 * n) * P + v.q] = v.down;
        thetas[(2 + 2 * n) * P + v.q] = v.up;
      });
      return { varied, thetas, K, yieldColumn: this.yields === 'extended' ? this.free.indexOf(c.yieldIndex) : -1 };
    });
    const C = this.components.length;
    const terms = new Float64Array(C);
    for (let start = 0, size = this.chunkSize(Math.max(...stencils.map((s) => s.K))); start < this.count; start += size) {
      const end = Math.min(this.count, start + size);
      const n = end - start;
      const logProbs = [];
      for (let c = 0; c < C; c++) logProbs.push(await this.componentLogProb(this.components[c], stencils[c].thetas, start, end));
      const weights = this.chunkWeights(start, end);
      const scores = new Float64Array(n * F);
      for (let i = 0; i < n; i++) {
        let max = -Infinity;
        for (let c = 0; c < C; c++) {
          terms[c] = logCoefficients[c] + logProbs[c].data[i];
          if (terms[c] > max) max = terms[c];
        }
        if (max === -Infinity) {
          if (weights[i] === 0) continue;
          throw new Error(`event ${start + i + 1} has zero likelihood at ${this.freeNames.map((name, j) => `${name} = ${freePoint[j]}`).join(', ')}: no scores there`);
        }
        let sum = 0;
        for (let c = 0; c < C; c++) sum += Math.exp(terms[c] - max);
        const logMix = max + Math.log(sum);
        for (let c = 0; c < C; c++) {
          const { data, stride } = logProbs[c];
          const { varied, yieldColumn } = stencils[c];
          const responsibility = Math.exp(terms[c] - logMix);
          varied.forEach((v, m) => {
            const slope = (data[(2 + 2 * m) * stride + i] - data[(1 + 2 * m) * stride + i]) / (v.up - v.down);
            scores[i * F + v.j] += responsibility * slope;
          });
          // Members of an ensemble share θ and the yield: their terms add up.
          if (yieldColumn >= 0) scores[i * F + yieldColumn] += this.components[c].share * Math.exp(data[i] - logMix);
        }
      }
      yield { weights, scores };
    }
  }

  async evaluate(points: Float64Array, count: number, withGradient: boolean): Promise<{ values: Float64Array; gradients?: Float64Array }> {
    const K = count;
    const F = this.free.length;
    if (points.length !== K * F) throw new Error(`expected ${K}×${F} coordinates, got ${points.length}`);
    const full = Array.from({ length: K }, (_, k) => this.fullPoint(points.subarray(k * F, (k + 1) * F)));
    const C = this.components.length;
    const thetas = this.components.map((c) => this.componentThetas(c, full));
    // A flow's coefficient a_c = share · (ν or f) of its component (share 1/M for a member of an ensemble of M flows).
    const coefficients = full.map((theta) => this.components.map((c) => c.share * (this.yields === 'extended' ? theta[c.yieldIndex] : c.fraction)));
    const logCoefficients = coefficients.map((row) => row.map((v) => (v > 0 ? Math.log(v) : -Infinity)));
    const differentiated = this.components.map((c) => withGradient && c.parameterIndex.some((i) => this.parameters[i].fixed === null));

    const values = new Float64Array(K);
    const fullGradient = Array.from({ length: K }, () => new Float64Array(this.parameters.length));
    const yieldGradient = Array.from({ length: K }, () => new Float64Array(C));
    const terms = new Float64Array(C);
    // Stream over event chunks: per chunk every component's log p [K×n], the mixture in float64 (log-sum-exp),
    // the NLL, and the responsibilities r_kic = f_c p_c / Σ f p as weights of each component's θ-gradient call.
    // One differentiated component alone has responsibilities 1: its θ-gradient call gives log p too, so the
    // separate log-density pass is skipped.
    const alone = C === 1 && differentiated[0];
    for (const [start, end] of this.chunks(K)) {
      const size = end - start;
      const logProbs: { data: FloatArray; stride: number }[] = [];
      if (alone) {
        const comp = this.components[0];
        const weights = comp.model.evaluationArray(size);
        weights.set(this.chunkWeights(start, end));
        const { logProb, grad } = await comp.model.logProbGrad(await this.eventChunk(comp, start, end), thetas[0], comp.model.weightsTensor(weights));
        this.graphRuns++;
        logProbs.push({ data: logProb, stride: size });
        this.subtractGradient(comp, grad, fullGradient);
      } else {
        for (let c = 0; c < C; c++) logProbs.push(await this.componentLogProb(this.components[c], thetas[c], start, end));
      }
      const responsibilities = this.components.map((c, j) => (differentiated[j] && !alone ? c.model.evaluationArray(K * size) : null));
      const chunkWeights = this.chunkWeights(start, end);
      for (let k = 0; k < K; k++) {
        if (values[k] === Infinity) continue;
        const logCoef = logCoefficients[k];
        let nll = 0;
        for (let i = 0; i < size; i++) {
          let max = -Infinity;
          for (let c = 0; c < C; c++) {
            terms[c] = logCoef[c] + logProbs[c].data[k * logProbs[c].stride + i];
            if (terms[c] > max) max = terms[c];
          }
          if (max === -Infinity) {
            // No component can produce this event at these yields/fractions: the likelihood is zero.
            nll = Infinity;
            break;
          }
          let sum = 0;
          for (let c = 0; c < C; c++) sum += Math.exp(terms[c] - max);
          const logMix = max + Math.log(sum);
          const w = chunkWeights[i];
          nll -= w * logMix;
          if (withGradient) {
            for (let c = 0; c < C; c++) {
              const r = Math.exp(terms[c] - logMix);
              const rows = responsibilities[c];
              if (rows) rows[k * size + i] = w * r;
              // ∂/∂ν of −Σ w log Σ a p with a_c = share_c ν: −Σ w share_c p_c / Σ a p = −Σ w r_c share_c / a_c
              const share = this.components[c].share;
              yieldGradient[k][c] -= coefficients[k][c] > 0 ? (w * r * share) / coefficients[k][c] : w * share * Math.exp(logProbs[c].data[k * logProbs[c].stride + i] - logMix);
            }
          }
        }
        values[k] += nll;
      }
      for (let c = 0; c < C; c++) {
        const rows = responsibilities[c];
        if (!rows) continue;
        const comp = this.components[c];
        const { grad } = await comp.model.logProbGrad(await this.eventChunk(comp, start, end), thetas[c], comp.model.weightsTensor(rows, K));
        this.graphRuns++;
        this.subtractGradient(comp, grad, fullGradient);
      }
    }
    if (this.yields === 'extended') {
      for (let k = 0; k < K; k++) values[k] += coefficients[k].reduce((s, v) => s + v, 0);
    }
    for (const [name, { mean, width }] of Object.entries(this.constraints)) {
      const index = this.parameters.findIndex((p) => p.name === name);
      for (let k = 0; k < K; k++) {
        const pull = (full[k][index] - mean) / width;
        values[k] += 0.5 * pull * pull;
        fullGradient[k][index] += pull / width;
      }
    }
    if (!withGradient) return { values };
    for (let c = 0; c < C; c++) {
      // ∂(Σ_c ν_c)/∂ν is 1 per component: share_c per flow.
      if (this.yields === 'extended') for (let k = 0; k < K; k++) fullGradient[k][this.components[c].yieldIndex] += this.components[c].share + yieldGradient[k][c];
    }
    const gradients = new Float64Array(K * F);
    for (let k = 0; k < K; k++) this.free.forEach((idx, j) => (gradients[k * F + j] = fullGradient[k][idx]));
    return { values, gradients };
  }

  /** Adds −Σ_i w_i r_i ∇θ log p (a graph's grad_theta, [K×P]) into each point's full gradient. */
  private subtractGradient(comp: Component, grad: FloatArray, fullGradient: Float64Array[]): void {
    const P = comp.parameterIndex.length;
    fullGradient.forEach((row, k) => comp.parameterIndex.forEach((idx, j) => (row[idx] -= grad[k * P + j])));
  }

  /** Events per graph call for K points: the memory budget over the heaviest component's bytes per evaluation. */
  chunkSize(K: number): number {
    return Math.min(this.count, Math.max(MIN_CHUNK_EVENTS, Math.floor(this.memoryBudget / (K * this.bytesPerEvaluation()))));
  }

  /** Graph memory that K points take at the smallest event chunk: more than the budget means the budget is exceeded. */
  minimumBatchBytes(K: number): number {
    return K * Math.min(this.count, MIN_CHUNK_EVENTS) * this.bytesPerEvaluation();
  }

  /** Graph memory one event at one point takes in all sessions of an evaluation (see ARENA_FACTOR). */
  bytesPerEvaluation(): number {
    return ARENA_FACTOR * this.components.reduce((s, c) => s + (c.model.evaluationBytes ?? UNKNOWN_BYTES_PER_EVALUATION), 0);
  }

  /** Weights of events [start, end): a view of the given weights, or ones when the events are unweighted. */
  private chunkWeights(start: number, end: number): Float64Array {
    if (this.weights) return this.weights.subarray(start, end);
    if (this.ones.length < end - start) this.ones = new Float64Array(end - start).fill(1);
    return this.ones.subarray(0, end - start);
  }

  /** [start, end) event ranges of chunkSize(K) events. */
  private chunks(K: number): [number, number][] {
    const size = this.chunkSize(K);
    const out: [number, number][] = [];
    for (let start = 0; start < this.count; start += size) out.push([start, Math.min(this.count, start + size)]);
    return out;
  }

  private async eventChunk(c: Component, start: number, end: number): Promise<Record<string, Ort.Tensor>> {
    c.events.resident ??= c.model.residentEvents(c.events.values, this.count);
    return (await c.events.resident).chunk(start, end);
  }

  private componentThetas(c: Component, full: Float64Array[]): Float64Array {
    const P = c.parameterIndex.length;
    const thetas = new Float64Array(full.length * P);
    full.forEach((theta, k) => c.parameterIndex.forEach((idx, j) => (thetas[k * P + j] = theta[idx])));
    return thetas;
  }

  /**
   * log p of the chunk's events for K points: [K×n] (stride n), or, for a component without free parameters,
   * one row shared by every point (stride 0), computed once over all events and cached.
   */
  private async componentLogProb(c: Component, thetas: Float64Array, start: number, end: number): Promise<{ data: FloatArray; stride: number }> {
    const constant = c.parameterIndex.every((i) => this.parameters[i].fixed !== null);
    if (!constant) {
      this.graphRuns++;
      return { data: await c.model.logProbBatch(await this.eventChunk(c, start, end), thetas), stride: end - start };
    }
    const theta = thetas.subarray(0, c.parameterIndex.length);
    const key = theta.join(',');
    if (c.cached?.key !== key) {
      const logProb = c.model.evaluationArray(this.count);
      for (const [from, to] of this.chunks(1)) {
        logProb.set(await c.model.logProbBatch(await this.eventChunk(c, from, to), theta), from);
        this.graphRuns++;
      }
      c.cached = { key, logProb };
    }
    return { data: c.cached.logProb.subarray(start, end), stride: 0 };
  }
}
