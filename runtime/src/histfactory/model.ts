// A HistFactory probability model compiled from a workspace: the expected counts per bin
//   ν_cb(θ) = Σ_s (nominal_csb + Σ_histosys Δ_csb(α)) · Π_factors f_csb(θ)
// (normfactor, lumi, normsys, shapefactor, staterror, shapesys are factors; histosys shifts add), the
// Poisson main term with pyhf's continuous Poisson log P(n|ν) = n log ν − ν − log Γ(n + 1), and the constraint
// terms (Gaussian for normsys, histosys, lumi and staterror; Poisson for shapesys with τ = (B/δ)²). The
// negative log-likelihood comes with its analytic gradient. Parameter order, defaults and data layout follow
// pyhf 0.7 (channels and samples sorted by name; data = main counts by channel, then the auxiliary data).
import { histosysShift, normsysFactor, type HistosysInterpolation, type NormsysFactor, type NormsysInterpolation } from './interpolation.ts';
import { logGamma } from './special.ts';
import type { Measurement, Modifier, ModifierType, ParameterConfig, Workspace } from './workspace.ts';

export interface ModelOptions {
  /** Measurement by name (default: the workspace's first). */
  measurement?: string;
  /** Parameter of interest, replacing the measurement's. */
  poi?: string;
  /** normsys interpolation (default code4, as pyhf). */
  normsys?: NormsysInterpolation;
  /** histosys interpolation (default code4p, as pyhf). */
  histosys?: HistosysInterpolation;
}

export type ParameterKind = 'normfactor' | 'shapefactor' | 'lumi' | 'alpha' | 'staterror' | 'shapesys';

export type Constraint =
  | { type: 'normal'; auxdata: number[]; sigmas: number[] }
  | { type: 'poisson'; auxdata: number[]; factors: number[] };

/** One named parameter set (a scalar, or one component per bin for shapefactor, staterror and shapesys). */
export interface ParameterSet {
  name: string;
  kind: ParameterKind;
  /** Index of the first component in the parameter vector. */
  offset: number;
  size: number;
  inits: number[];
  bounds: [number, number][];
  fixed: boolean[];
  constraint: Constraint | null;
  /** staterror and shapesys: the channels whose bins the components cover, in order. */
  channels?: string[];
}

export interface ChannelLayout {
  name: string;
  bins: number;
  /** Index of the channel's first bin in the main data. */
  offset: number;
}

interface ScalarFactor {
  param: number;
  /** null: the factor is the parameter itself (normfactor, lumi). */
  normsys: NormsysFactor | null;
}

interface HistoShift {
  param: number;
  up: Float64Array;
  down: Float64Array;
}

interface CompiledSample {
  channel: number;
  name: string;
  /** Index of the first bin in the main data. */
  offset: number;
  nominal: Float64Array;
  scalars: ScalarFactor[];
  /** Per-bin factors: for each, the parameter index of every bin. */
  binFactors: Int32Array[];
  shifts: HistoShift[];
}

const TYPE_ORDER: ModifierType[] = ['histosys', 'lumi', 'normfactor', 'normsys', 'shapefactor', 'shapesys', 'staterror'];
const HALF_LOG_TWO_PI = 0.5 * Math.log(2 * Math.PI);

function kindOf(type: ModifierType): ParameterKind {
  return type === 'normsys' || type === 'histosys' ? 'alpha' : type;
}

const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

export class HistFactoryModel {
  readonly channels: ChannelLayout[];
  readonly parameters: ParameterSet[];
  /** Total number of parameter components. */
  readonly dimension: number;
  readonly poi: string;
  readonly poiIndex: number;
  readonly measurement: Measurement;
  /** Main bins (all channels). */
  readonly mainBins: number;
  /** The nominal auxiliary data, in the order of the constrained parameter sets. */
  readonly auxdata: Float64Array;
  readonly normsysInterpolation: NormsysInterpolation;
  readonly histosysInterpolation: HistosysInterpolation;
  /** Things worth telling the user that do not stop the model (e.g. a parameter configuration nothing uses). */
  readonly warnings: string[] = [];
  private readonly samples: CompiledSample[];
  private readonly observed: Float64Array;
  /** For each aux datum: parameter index, and the constraint it belongs to. */
  private readonly auxTerms: { param: number; type: 'normal' | 'poisson'; scale: number }[];

  constructor(readonly workspace: Workspace, options: ModelOptions = {}) {
    this.normsysInterpolation = options.normsys ?? 'code4';
    this.histosysInterpolation = options.histosys ?? 'code4p';
    if (this.normsysInterpolation !== 'code1' && this.normsysInterpolation !== 'code4') throw new Error(`normsys interpolation must be code1 or code4, got ${JSON.stringify(options.normsys)}.`);
    if (this.histosysInterpolation !== 'code0' && this.histosysInterpolation !== 'code4p') throw new Error(`histosys interpolation must be code0 or code4p, got ${JSON.stringify(options.histosys)}.`);
    const measurement = options.measurement === undefined ? workspace.measurements[0] : workspace.measurements.find((m) => m.name === options.measurement);
    if (!measurement) {
      throw new Error(`measurement '${options.measurement}' is not in the workspace (measurements: ${workspace.measurements.map((m) => `'${m.name}'`).join(', ')}).`);
    }
    this.measurement = measurement;
    const channels = [...workspace.channels].sort(byName);
    let offset = 0;
    this.channels = channels.map((c) => {
      const layout = { name: c.name, bins: c.samples[0].data.length, offset };
      offset += layout.bins;
      return layout;
    });
    this.mainBins = offset;
    this.parameters = buildParameterSets(channels, this.channels, measurement, this.warnings);
    this.dimension = this.parameters.reduce((n, p) => n + p.size, 0);
    const poi = options.poi ?? measurement.config.poi;
    const poiSet = this.parameters.find((p) => p.name === poi);
    if (!poiSet) {
      throw new Error(
        `the parameter of interest '${poi}' is not a parameter of the model (parameters: ${this.parameters.map((p) => `'${p.name}'`).join(', ')}); ` +
          'name one with --poi or in the measurement\'s config.poi.',
      );
    }
    if (poiSet.size !== 1) throw new Error(`the parameter of interest '${poi}' is a ${poiSet.kind} with ${poiSet.size} components; it must be a single parameter such as a normfactor.`);
    this.poi = poi;
    this.poiIndex = poiSet.offset;
    this.samples = this.compileSamples(channels);
    this.auxTerms = [];
    const aux: number[] = [];
    for (const p of this.parameters) {
      if (!p.constraint) continue;
      for (let i = 0; i < p.size; i++) {
        aux.push(p.constraint.auxdata[i]);
        const scale = p.constraint.type === 'normal' ? p.constraint.sigmas[i] : p.constraint.factors[i];
        this.auxTerms.push({ param: p.offset + i, type: p.constraint.type, scale });
      }
    }
    this.auxdata = Float64Array.from(aux);
    this.observed = new Float64Array(this.mainBins + this.auxdata.length);
    for (const c of this.channels) {
      const obs = workspace.observations.find((o) => o.name === c.name);
      if (!obs) throw new Error(`channel '${c.name}' has no observation in the workspace.`);
      this.observed.set(obs.data, c.offset);
    }
    this.observed.set(this.auxdata, this.mainBins);
  }

  /** pyhf-style component names: 'mu', 'uncorr_bkguncrt[0]', … */
  get parameterNames(): string[] {
    return this.parameters.flatMap((p) => (p.kind === 'shapefactor' || p.kind === 'staterror' || p.kind === 'shapesys' ? Array.from({ length: p.size }, (_, i) => `${p.name}[${i}]`) : [p.name]));
  }

  /** Length of a data vector: main bins, then auxiliary data. */
  get dataLength(): number {
    return this.mainBins + this.auxdata.length;
  }

  suggestedInits(): Float64Array {
    return Float64Array.from(this.parameters.flatMap((p) => p.inits));
  }

  suggestedBounds(): [number, number][] {
    return this.parameters.flatMap((p) => p.bounds.map((b) => [b[0], b[1]] as [number, number]));
  }

  suggestedFixed(): boolean[] {
    return this.parameters.flatMap((p) => p.fixed);
  }

  /** The workspace's observed counts (channels sorted by name) followed by the nominal auxiliary data. */
  observedData(): Float64Array {
    return Float64Array.from(this.observed);
  }

  /** Observed data with the main counts replaced (e.g. per channel from a histogram); aux data nominal. */
  dataFromCounts(counts: Record<string, ArrayLike<number>>): Float64Array {
    const data = this.observedData();
    for (const [name, values] of Object.entries(counts)) {
      const c = this.channels.find((ch) => ch.name === name);
      if (!c) throw new Error(`dataFromCounts: no channel '${name}' (channels: ${this.channels.map((ch) => `'${ch.name}'`).join(', ')}).`);
      if (values.length !== c.bins) throw new Error(`dataFromCounts: channel '${name}' has ${c.bins} bins, got ${values.length} counts.`);
      data.set(Array.from(values), c.offset);
    }
    return data;
  }

  checkParameters(pars: ArrayLike<number>, what = 'parameters'): void {
    if (pars.length !== this.dimension) throw new Error(`${what}: expected ${this.dimension} values (${this.parameterNames.join(', ')}), got ${pars.length}.`);
  }

  checkData(data: ArrayLike<number>, what = 'data'): void {
    if (data.length !== this.dataLength) {
      throw new Error(`${what}: expected ${this.dataLength} values (${this.mainBins} main bins, then ${this.auxdata.length} auxiliary data), got ${data.length}.`);
    }
  }

  /** Expected main counts ν (channels sorted by name). */
  expectedMain(pars: ArrayLike<number>): Float64Array {
    this.checkParameters(pars);
    const nu = new Float64Array(this.mainBins);
    for (const s of this.samples) {
      const f = this.scalarProduct(s, pars);
      for (let b = 0; b < s.nominal.length; b++) nu[s.offset + b] += this.base(s, pars, b) * f * this.binProduct(s, pars, b);
    }
    return nu;
  }

  /** Expected yields of every sample, by channel: what the model predicts at `pars`, before summing. */
  expectedBySample(pars: ArrayLike<number>): { channel: string; sample: string; yields: number[] }[] {
    this.checkParameters(pars);
    return this.samples.map((s) => {
      const f = this.scalarProduct(s, pars);
      return {
        channel: this.channels[s.channel].name,
        sample: s.name,
        yields: Array.from(s.nominal, (_, b) => this.base(s, pars, b) * f * this.binProduct(s, pars, b)),
      };
    });
  }

  /** Expected auxiliary data: θ for Gaussian constraints, γτ for Poisson ones. */
  expectedAux(pars: ArrayLike<number>): Float64Array {
    this.checkParameters(pars);
    return Float64Array.from(this.auxTerms, (t) => (t.type === 'normal' ? pars[t.param] : pars[t.param] * t.scale));
  }

  /** Main then auxiliary expectation: an Asimov data set at `pars`. */
  expectedData(pars: ArrayLike<number>): Float64Array {
    const out = new Float64Array(this.dataLength);
    out.set(this.expectedMain(pars), 0);
    out.set(this.expectedAux(pars), this.mainBins);
    return out;
  }

  /** −log L(pars | data), including every constant (pyhf's twice_nll is twice this). */
  nll(pars: ArrayLike<number>, data: ArrayLike<number>): number {
    return this.nllWithGradient(pars, data, null);
  }

  /**
   * −log L and, when `gradient` is given (length = dimension), its gradient written into it.
   * Main term Σ_b ν_b − n_b log ν_b + log Γ(n_b + 1), so ∂/∂ν_b = 1 − n_b/ν_b; constraints: Gaussian
   * ½((a − θ)/σ)² + log σ + ½ log 2π, Poisson −(a log(γτ) − γτ − log Γ(a + 1)).
   */
  nllWithGradient(pars: ArrayLike<number>, data: ArrayLike<number>, gradient: Float64Array | null): number {
    const nu = this.expectedMain(pars);
    this.checkData(data);
    let value = 0;
    const weight = new Float64Array(this.mainBins);
    for (let b = 0; b < this.mainBins; b++) {
      const n = data[b];
      value += nu[b] - xlogy(n, nu[b]) + logGamma(n + 1);
      weight[b] = n === 0 ? 1 : 1 - n / nu[b];
    }
    if (gradient) {
      gradient.fill(0);
      for (const s of this.samples) this.addSampleGradient(s, pars, weight, gradient);
    }
    this.auxTerms.forEach((t, i) => {
      const a = data[this.mainBins + i];
      const theta = pars[t.param];
      if (t.type === 'normal') {
        const z = (a - theta) / t.scale;
        value += 0.5 * z * z + Math.log(t.scale) + HALF_LOG_TWO_PI;
        if (gradient) gradient[t.param] += (theta - a) / (t.scale * t.scale);
      } else {
        const rate = theta * t.scale;
        value -= xlogy(a, rate) - rate - logGamma(a + 1);
        if (gradient) gradient[t.param] += t.scale - (a === 0 ? 0 : a / theta);
      }
    });
    return Number.isNaN(value) ? Infinity : value;
  }

  private base(s: CompiledSample, pars: ArrayLike<number>, b: number): number {
    let base = s.nominal[b];
    for (const h of s.shifts) base += histosysShift(h.up[b], h.down[b], pars[h.param], this.histosysInterpolation).value;
    return base;
  }

  private scalarValue(f: ScalarFactor, pars: ArrayLike<number>): { value: number; slope: number } {
    return f.normsys ? f.normsys.at(pars[f.param]) : { value: pars[f.param], slope: 1 };
  }

  private scalarProduct(s: CompiledSample, pars: ArrayLike<number>): number {
    let product = 1;
    for (const f of s.scalars) product *= this.scalarValue(f, pars).value;
    return product;
  }

  private binProduct(s: CompiledSample, pars: ArrayLike<number>, b: number): number {
    let product = 1;
    for (const params of s.binFactors) if (params[b] >= 0) product *= pars[params[b]];
    return product;
  }

  /** Adds Σ_b w_b ∂ν_sb/∂θ for one sample; products of the other factors avoid dividing by a factor that is 0. */
  private addSampleGradient(s: CompiledSample, pars: ArrayLike<number>, weight: Float64Array, gradient: Float64Array): void {
    const scalars = s.scalars.map((f) => this.scalarValue(f, pars));
    const scalarOthers = scalars.map((_, k) => scalars.reduce((p, v, j) => (j === k ? p : p * v.value), 1));
    const scalarAll = scalars.reduce((p, v) => p * v.value, 1);
    for (let b = 0; b < s.nominal.length; b++) {
      const w = weight[s.offset + b];
      if (w === 0) continue;
      const base = this.base(s, pars, b);
      const binValues = s.binFactors.map((params) => (params[b] >= 0 ? pars[params[b]] : 1));
      const binAll = binValues.reduce((p, v) => p * v, 1);
      scalars.forEach((v, k) => {
        gradient[s.scalars[k].param] += w * base * binAll * scalarOthers[k] * v.slope;
      });
      s.binFactors.forEach((params, k) => {
        if (params[b] < 0) return;
        const others = binValues.reduce((p, v, j) => (j === k ? p : p * v), 1);
        gradient[params[b]] += w * base * scalarAll * others;
      });
      for (const h of s.shifts) {
        gradient[h.param] += w * scalarAll * binAll * histosysShift(h.up[b], h.down[b], pars[h.param], this.histosysInterpolation).slope;
      }
    }
  }

  /** Where a channel's bins start among the components of a staterror or shapesys set. */
  private binOffsetInSet(set: ParameterSet, channel: string): number {
    let offset = 0;
    for (const name of set.channels ?? []) {
      if (name === channel) return offset;
      offset += this.channels.find((c) => c.name === name)?.bins ?? 0;
    }
    throw new Error(`internal error: parameter set '${set.name}' does not cover channel '${channel}'.`);
  }

  private compileSamples(channels: Workspace['channels']): CompiledSample[] {
    const setOf = new Map(this.parameters.map((p) => [p.name, p]));
    const compiled: CompiledSample[] = [];
    channels.forEach((channel, ci) => {
      const layout = this.channels[ci];
      for (const sample of [...channel.samples].sort(byName)) {
        const nominal = Float64Array.from(sample.data);
        const out: CompiledSample = { channel: ci, name: sample.name, offset: layout.offset, nominal, scalars: [], binFactors: [], shifts: [] };
        for (const m of sample.modifiers) {
          const set = setOf.get(m.name) as ParameterSet;
          switch (m.type) {
            case 'normfactor':
            case 'lumi':
              out.scalars.push({ param: set.offset, normsys: null });
              break;
            case 'normsys':
              out.scalars.push({ param: set.offset, normsys: normsysFactor(m.data.lo, m.data.hi, this.normsysInterpolation) });
              break;
            case 'histosys':
              out.shifts.push({
                param: set.offset,
                up: Float64Array.from(m.data.hi_data, (v, b) => v - nominal[b]),
                down: Float64Array.from(m.data.lo_data, (v, b) => nominal[b] - v),
              });
              break;
            case 'shapefactor':
              out.binFactors.push(Int32Array.from(nominal, (_, b) => set.offset + b));
              break;
            case 'staterror':
            case 'shapesys': {
              const start = this.binOffsetInSet(set, layout.name);
              out.binFactors.push(Int32Array.from(nominal, (_, b) => set.offset + start + b));
              break;
            }
          }
        }
        compiled.push(out);
      }
    });
    return compiled;
  }
}

function xlogy(x: number, y: number): number {
  return x === 0 ? 0 : x * Math.log(y);
}

interface Appearance {
  kind: ParameterKind;
  /** Channels in which the name appears, sorted. */
  channels: string[];
  /** staterror: per channel, Σ nominal and Σ δ² over the samples carrying it; shapesys: its one sample. */
  perChannel: Map<string, UncertaintyTotals>;
}

interface UncertaintyTotals {
  nominal: number[];
  squaredUncertainty: number[];
}

/**
 * The parameter sets in pyhf's order: modifier types in the order histosys, lumi, normfactor, normsys,
 * shapefactor, shapesys, staterror, and within a type by first appearance walking channels and samples sorted by
 * name and each sample's modifiers sorted by (name, type). Defaults as pyhf's; the measurement's parameter
 * configurations override them.
 */
function buildParameterSets(channels: Workspace['channels'], layouts: ChannelLayout[], measurement: Measurement, warnings: string[]): ParameterSet[] {
  const firstSeen = new Map<ModifierType, string[]>(TYPE_ORDER.map((t) => [t, []]));
  const appearances = new Map<string, Appearance>();
  const binsOf = new Map(layouts.map((l) => [l.name, l.bins]));
  for (const channel of channels) {
    for (const sample of [...channel.samples].sort(byName)) {
      const modifiers = [...sample.modifiers].sort((a, b) => byName(a, b) || (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
      for (const m of modifiers) {
        const list = firstSeen.get(m.type) as string[];
        if (!list.includes(m.name)) list.push(m.name);
        const seen: Appearance = appearances.get(m.name) ?? { kind: kindOf(m.type), channels: [], perChannel: new Map() };
        appearances.set(m.name, seen);
        if (!seen.channels.includes(channel.name)) seen.channels.push(channel.name);
        accumulateUncertainty(seen, channel.name, sample.data, m);
      }
    }
  }
  const sets: ParameterSet[] = [];
  let offset = 0;
  for (const type of TYPE_ORDER) {
    for (const name of firstSeen.get(type) as string[]) {
      if (sets.some((s) => s.name === name)) continue;
      const set = defaultSet(name, appearances.get(name) as Appearance, binsOf, offset);
      sets.push(set);
      offset += set.size;
    }
  }
  for (const config of measurement.config.parameters) {
    const set = sets.find((s) => s.name === config.name);
    if (!set) {
      warnings.push(`measurement '${measurement.name}' configures parameter '${config.name}', which no modifier uses; the configuration is ignored (as pyhf does).`);
      continue;
    }
    applyConfig(set, config, measurement.name);
  }
  for (const set of sets) {
    if (set.kind === 'lumi' && (set.constraint?.type !== 'normal' || set.constraint.sigmas.some((s) => !(s > 0)))) {
      throw new Error(
        `the lumi modifier needs its constraint in measurement '${measurement.name}': add {"name": "lumi", "auxdata": [1.0], "sigmas": [0.1], "inits": [1.0], "bounds": [[0.5, 1.5]]} (your values) to config.parameters.`,
      );
    }
    set.inits.forEach((v, i) => {
      const [lo, hi] = set.bounds[i];
      if (!(v >= lo && v <= hi)) throw new Error(`parameter '${set.name}'${set.size > 1 ? `[${i}]` : ''}: initial value ${v} lies outside its bounds [${lo}, ${hi}]; change inits or bounds in measurement '${measurement.name}'.`);
    });
  }
  return sets;
}

function accumulateUncertainty(seen: Appearance, channel: string, nominal: number[], m: Modifier): void {
  if (m.type !== 'staterror' && m.type !== 'shapesys') return;
  const entry = seen.perChannel.get(channel) ?? { nominal: nominal.map(() => 0), squaredUncertainty: nominal.map(() => 0) };
  seen.perChannel.set(channel, entry);
  nominal.forEach((v, b) => {
    entry.nominal[b] += v;
    entry.squaredUncertainty[b] += m.data[b] * m.data[b];
  });
}

function defaultSet(name: string, seen: Appearance, binsOf: Map<string, number>, offset: number): ParameterSet {
  const scalar = (inits: number, bounds: [number, number], constraint: Constraint | null): ParameterSet => ({
    name, kind: seen.kind, offset, size: 1, inits: [inits], bounds: [bounds], fixed: [false], constraint,
  });
  switch (seen.kind) {
    case 'normfactor':
      return scalar(1, [0, 10], null);
    case 'alpha':
      return scalar(0, [-5, 5], { type: 'normal', auxdata: [0], sigmas: [1] });
    case 'lumi':
      // pyhf has no defaults for lumi: auxdata and sigmas must come from the measurement (checked after configs).
      return scalar(1, [0, 10], { type: 'normal', auxdata: [1], sigmas: [Number.NaN] });
    case 'shapefactor': {
      // pyhf shares component i between every channel carrying the name (bin i of each).
      const size = Math.max(...seen.channels.map((c) => binsOf.get(c) ?? 0));
      return { name, kind: 'shapefactor', offset, size, inits: Array(size).fill(1), bounds: Array.from({ length: size }, () => [0, 10]), fixed: Array(size).fill(false), constraint: null };
    }
    case 'staterror': {
      // σ_b = √(Σ_s δ_sb²) / Σ_s B_sb over the samples sharing the name; a bin with σ = 0 is fixed at 1 (pyhf 0.7).
      const sigmas = seen.channels.flatMap((c) => {
        const e = seen.perChannel.get(c) as UncertaintyTotals;
        return e.nominal.map((total, b) => (total > 0 ? Math.sqrt(e.squaredUncertainty[b]) / total : 0));
      });
      const fixed = sigmas.map((s) => s === 0);
      const size = sigmas.length;
      return {
        name, kind: 'staterror', offset, size, inits: Array(size).fill(1), bounds: Array.from({ length: size }, () => [1e-10, 10]), fixed,
        constraint: { type: 'normal', auxdata: Array(size).fill(1), sigmas: sigmas.map((s) => (s === 0 ? 1 : s)) }, channels: [...seen.channels],
      };
    }
    case 'shapesys': {
      // τ_b = (B_b/δ_b)², the Poisson constraint's "number of MC events"; bins without yield or uncertainty are fixed.
      const e = seen.perChannel.get(seen.channels[0]) as UncertaintyTotals;
      const valid = e.nominal.map((nom, b) => nom > 0 && e.squaredUncertainty[b] > 0);
      const factors = e.nominal.map((nom, b) => (valid[b] ? (nom * nom) / e.squaredUncertainty[b] : 1));
      const size = factors.length;
      return {
        name, kind: 'shapesys', offset, size, inits: Array(size).fill(1), bounds: Array.from({ length: size }, () => [1e-10, 10]), fixed: valid.map((v) => !v),
        constraint: { type: 'poisson', auxdata: [...factors], factors }, channels: [...seen.channels],
      };
    }
  }
}

function applyConfig(set: ParameterSet, config: ParameterConfig, measurement: string): void {
  const at = `measurement '${measurement}' → parameter '${config.name}' (${set.kind}, ${set.size} component${set.size > 1 ? 's' : ''})`;
  const sized = <T>(field: string, values: T[] | undefined): T[] | undefined => {
    if (values !== undefined && values.length !== set.size) throw new Error(`${at}: ${field} has ${values.length} entries, expected ${set.size}.`);
    return values;
  };
  const inits = sized('inits', config.inits);
  const bounds = sized('bounds', config.bounds);
  const auxdata = sized('auxdata', config.auxdata);
  const sigmas = sized('sigmas', config.sigmas);
  const factors = sized('factors', config.factors);
  if (inits) set.inits = [...inits];
  if (bounds) set.bounds = bounds.map((b) => [b[0], b[1]]);
  if (config.fixed !== undefined) set.fixed = Array(set.size).fill(config.fixed);
  const constraint = set.constraint;
  if ((auxdata || sigmas || factors) && !constraint) throw new Error(`${at}: a ${set.kind} has no constraint term, so auxdata, sigmas and factors do not apply.`);
  if (sigmas && constraint?.type !== 'normal') throw new Error(`${at}: sigmas apply to Gaussian constraints; a ${set.kind} has a Poisson constraint (configure factors).`);
  if (factors && constraint?.type !== 'poisson') throw new Error(`${at}: factors apply to Poisson constraints (shapesys); a ${set.kind} has a Gaussian constraint (configure sigmas).`);
  if (constraint && auxdata) constraint.auxdata = [...auxdata];
  if (constraint?.type === 'normal' && sigmas) constraint.sigmas = [...sigmas];
  if (constraint?.type === 'poisson' && factors) constraint.factors = [...factors];
  // pyhf's lumi takes its initial value from auxdata when only that is given.
  if (set.kind === 'lumi' && !inits && auxdata) set.inits = [...auxdata];
}
