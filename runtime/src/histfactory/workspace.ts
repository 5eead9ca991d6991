// HistFactory workspaces in pyhf's JSON format (version 1.0.0): the types, which follow
// schemas/histfactory-workspace.schema.json, their validation (ajv, then the checks a schema cannot express,
// each naming the channel, sample and modifier at fault), builders for making a workspace in code, and
// serialisation back to JSON. Browser-safe.
import schema from '../../../schemas/histfactory-workspace.schema.json' with { type: 'json' };
import { schemaValidator } from '../schema-validator.ts';

export interface NormFactorModifier { name: string; type: 'normfactor'; data: null }
export interface ShapeFactorModifier { name: string; type: 'shapefactor'; data: null }
export interface LumiModifier { name: 'lumi'; type: 'lumi'; data: null }
/** Normalisation factors at α = +1 (hi) and α = −1 (lo). */
export interface NormSysModifier { name: string; type: 'normsys'; data: { hi: number; lo: number } }
/** The sample's yields at α = +1 (hi_data) and α = −1 (lo_data). */
export interface HistoSysModifier { name: string; type: 'histosys'; data: { hi_data: number[]; lo_data: number[] } }
/** Absolute uncertainty per bin (uncorrelated between bins; Poisson-constrained γ per bin). */
export interface ShapeSysModifier { name: string; type: 'shapesys'; data: number[] }
/** Absolute MC-statistical uncertainty per bin, combined over the samples that share the name. */
export interface StatErrorModifier { name: string; type: 'staterror'; data: number[] }

export type Modifier =
  | NormFactorModifier
  | ShapeFactorModifier
  | LumiModifier
  | NormSysModifier
  | HistoSysModifier
  | ShapeSysModifier
  | StatErrorModifier;
export type ModifierType = Modifier['type'];

export interface Sample { name: string; data: number[]; modifiers: Modifier[] }
export interface Channel { name: string; samples: Sample[] }
export interface Observation { name: string; data: number[] }

/** Overrides for one parameter (set); arrays have one entry per component of the set. */
export interface ParameterConfig {
  name: string;
  inits?: number[];
  bounds?: [number, number][];
  auxdata?: number[];
  factors?: number[];
  sigmas?: number[];
  fixed?: boolean;
}

export interface Measurement { name: string; config: { poi: string; parameters: ParameterConfig[] } }

export interface Workspace {
  version: '1.0.0';
  channels: Channel[];
  observations: Observation[];
  measurements: Measurement[];
}

const workspaceSchema = schemaValidator<Workspace>(schema);

/** "channels[1] 'control' → samples[0] 'background' → modifiers[2] 'bkg_norm'" for a JSON pointer into `root`. */
export function describeLocation(root: unknown, pointer: string): string {
  const parts: string[] = [];
  let node: unknown = root;
  for (const token of pointer.split('/').slice(1)) {
    const key = token.replace(/~1/g, '/').replace(/~0/g, '~');
    node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
    const name = node !== null && typeof node === 'object' && typeof (node as { name?: unknown }).name === 'string' ? (node as { name: string }).name : undefined;
    if (/^\d+$/.test(key) && parts.length > 0) parts[parts.length - 1] += `[${key}]${name !== undefined ? ` '${name}'` : ''}`;
    else parts.push(key);
  }
  return parts.length === 0 ? '(top level)' : parts.join(' → ');
}

/**
 * Validates parsed JSON as a workspace (schema, then consistency) and returns a deep copy typed as one.
 * Throws one error listing every problem, each with where it is and what was expected.
 */
export function parseWorkspace(json: unknown, source = 'workspace'): Workspace {
  const copy = JSON.parse(JSON.stringify(json)) as unknown;
  if (!workspaceSchema.valid(copy)) {
    const problems = workspaceSchema
      .errors()
      .filter((e) => e.keyword !== 'if') // "must match then schema" repeats the specific error beside it
      .map((e) => {
        const allowed = e.keyword === 'enum' ? ` (${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')})` : '';
        const constant = e.keyword === 'const' ? ` ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}` : '';
        return `${describeLocation(copy, e.instancePath)}: ${e.message ?? 'is invalid'}${allowed}${constant}`;
      });
    throw new Error(`${source} is not a valid HistFactory workspace (schemas/histfactory-workspace.schema.json):\n  ${[...new Set(problems)].join('\n  ')}`);
  }
  const problems = consistencyProblems(copy);
  if (problems.length > 0) throw new Error(`${source} is not a consistent HistFactory workspace:\n  ${problems.join('\n  ')}`);
  return copy;
}

/** Which parameter family a modifier type belongs to; a name shared between types must share the family. */
export function parameterFamily(type: ModifierType): string {
  return type === 'normsys' || type === 'histosys' ? 'constrained α (normsys/histosys)' : type;
}

function duplicates(names: string[]): string[] {
  return [...new Set(names.filter((n, i) => names.indexOf(n) !== i))];
}

/** The checks JSON Schema cannot express: unique names, bin counts, positive factors, shared-name rules. */
function consistencyProblems(ws: Workspace): string[] {
  const problems: string[] = [];
  const quoted = (names: string[]) => names.map((n) => `'${n}'`).join(', ');
  const dupChannels = duplicates(ws.channels.map((c) => c.name));
  if (dupChannels.length) problems.push(`channels: names must be unique; repeated: ${quoted(dupChannels)}`);
  const families = new Map<string, { family: string; where: string }>();
  const shapesysOwners = new Map<string, string>();
  const nbins = new Map<string, number>();
  for (const channel of ws.channels) {
    const n = channel.samples[0].data.length;
    nbins.set(channel.name, n);
    const dupSamples = duplicates(channel.samples.map((s) => s.name));
    if (dupSamples.length) problems.push(`channel '${channel.name}': sample names must be unique; repeated: ${quoted(dupSamples)}`);
    for (const sample of channel.samples) {
      const at = `channel '${channel.name}' → sample '${sample.name}'`;
      if (sample.data.length !== n) {
        problems.push(`${at}: data has ${sample.data.length} bins, expected ${n} like the channel's first sample '${channel.samples[0].name}'`);
      }
      if (sample.data.some((v) => !Number.isFinite(v))) problems.push(`${at}: data must be finite numbers, got ${JSON.stringify(sample.data)}`);
      const dupMods = duplicates(sample.modifiers.map((m) => `${m.type} '${m.name}'`));
      if (dupMods.length) problems.push(`${at}: a modifier may appear once per sample; repeated: ${dupMods.join(', ')}`);
      for (const m of sample.modifiers) {
        const where = `${at} → modifier '${m.name}' (${m.type})`;
        const family = parameterFamily(m.type);
        const seen = families.get(m.name);
        if (seen && seen.family !== family) {
          problems.push(`${where}: the name '${m.name}' is already a ${seen.family} parameter at ${seen.where}; use distinct names for different kinds of parameters`);
        } else if (!seen) families.set(m.name, { family, where });
        problems.push(...modifierDataProblems(m, sample.data.length, where));
        if (m.type === 'shapesys') {
          const owner = shapesysOwners.get(m.name);
          if (owner) problems.push(`${where}: shapesys '${m.name}' is already used by ${owner}; a shapesys belongs to one sample (use staterror to share one γ per bin between samples)`);
          else shapesysOwners.set(m.name, at);
        }
      }
    }
  }
  const dupObs = duplicates(ws.observations.map((o) => o.name));
  if (dupObs.length) problems.push(`observations: names must be unique; repeated: ${quoted(dupObs)}`);
  for (const obs of ws.observations) {
    const n = nbins.get(obs.name);
    if (n === undefined) problems.push(`observation '${obs.name}': there is no channel of that name (channels: ${quoted([...nbins.keys()])})`);
    else if (obs.data.length !== n) problems.push(`observation '${obs.name}': data has ${obs.data.length} bins, expected ${n} like channel '${obs.name}'`);
    if (obs.data.some((v) => !(v >= 0) || !Number.isFinite(v))) problems.push(`observation '${obs.name}': counts must be finite and ≥ 0, got ${JSON.stringify(obs.data)}`);
  }
  for (const name of nbins.keys()) {
    if (!ws.observations.some((o) => o.name === name)) problems.push(`channel '${name}' has no observation; add {"name": "${name}", "data": [...]} to observations`);
  }
  const dupMeasurements = duplicates(ws.measurements.map((m) => m.name));
  if (dupMeasurements.length) problems.push(`measurements: names must be unique; repeated: ${quoted(dupMeasurements)}`);
  for (const measurement of ws.measurements) {
    const at = `measurement '${measurement.name}'`;
    const dupParams = duplicates(measurement.config.parameters.map((p) => p.name));
    if (dupParams.length) problems.push(`${at}: each parameter may be configured once; repeated: ${quoted(dupParams)}`);
    for (const p of measurement.config.parameters) {
      for (const [i, b] of (p.bounds ?? []).entries()) {
        if (!(b[0] <= b[1])) problems.push(`${at} → parameter '${p.name}': bounds[${i}] = [${b.join(', ')}] must have lower ≤ upper`);
      }
      if (p.sigmas?.some((s) => !(s > 0))) problems.push(`${at} → parameter '${p.name}': sigmas must be > 0, got ${JSON.stringify(p.sigmas)}`);
    }
  }
  return problems;
}

function modifierDataProblems(m: Modifier, n: number, where: string): string[] {
  const problems: string[] = [];
  const perBin = (label: string, values: number[], nonNegative: boolean) => {
    if (values.length !== n) problems.push(`${where}: ${label} has ${values.length} bins, expected ${n} like the sample's data`);
    if (values.some((v) => !Number.isFinite(v) || (nonNegative && v < 0))) {
      problems.push(`${where}: ${label} must be finite${nonNegative ? ' and ≥ 0' : ''}, got ${JSON.stringify(values)}`);
    }
  };
  switch (m.type) {
    case 'normsys':
      if (!(m.data.hi > 0) || !(m.data.lo > 0)) {
        problems.push(`${where}: hi and lo are normalisation factors and must be > 0 (the interpolation takes their logarithm), got hi ${m.data.hi}, lo ${m.data.lo}`);
      }
      break;
    case 'histosys':
      perBin('hi_data', m.data.hi_data, false);
      perBin('lo_data', m.data.lo_data, false);
      break;
    case 'shapesys':
    case 'staterror':
      perBin('data (absolute uncertainties)', m.data, true);
      break;
    default:
      break;
  }
  return problems;
}

// ---- Building workspaces in code ----

export const normfactor = (name: string): NormFactorModifier => ({ name, type: 'normfactor', data: null });
export const shapefactor = (name: string): ShapeFactorModifier => ({ name, type: 'shapefactor', data: null });
export const lumi = (): LumiModifier => ({ name: 'lumi', type: 'lumi', data: null });
/** A normalisation uncertainty: the sample is scaled by `hi` at α = +1 and by `lo` at α = −1. */
export const normsys = (name: string, lo: number, hi: number): NormSysModifier => ({ name, type: 'normsys', data: { hi, lo } });
/** A correlated shape uncertainty: the sample's yields at α = −1 (`lo`) and α = +1 (`hi`). */
export const histosys = (name: string, lo: number[], hi: number[]): HistoSysModifier => ({
  name,
  type: 'histosys',
  data: { hi_data: [...hi], lo_data: [...lo] },
});
/** Uncorrelated per-bin uncertainty of one sample (absolute), each γ Poisson-constrained. */
export const shapesys = (name: string, uncertainties: number[]): ShapeSysModifier => ({ name, type: 'shapesys', data: [...uncertainties] });
/** MC-statistical per-bin uncertainty (absolute); samples sharing the name share one Gaussian γ per bin. */
export const staterror = (name: string, uncertainties: number[]): StatErrorModifier => ({ name, type: 'staterror', data: [...uncertainties] });

export interface WorkspaceParts {
  channels: Channel[];
  /** Observed counts by channel name. */
  observations: Record<string, number[]>;
  /** The parameter of interest (a normfactor's name). */
  poi: string;
  /** Parameter configurations (needed for lumi: auxdata and sigmas). */
  parameters?: ParameterConfig[];
  measurementName?: string;
}

/** A validated workspace with one measurement, from channels and observed counts. */
export function createWorkspace(parts: WorkspaceParts): Workspace {
  return parseWorkspace(
    {
      version: '1.0.0',
      channels: parts.channels,
      observations: Object.entries(parts.observations).map(([name, data]) => ({ name, data })),
      measurements: [{ name: parts.measurementName ?? 'measurement', config: { poi: parts.poi, parameters: parts.parameters ?? [] } }],
    },
    'createWorkspace',
  );
}

/**
 * One channel 'singlechannel' with a signal scaled by the normfactor 'mu' and a background whose per-bin
 * uncertainties are an uncorrelated shapesys 'uncorr_bkguncrt': pyhf.simplemodels.uncorrelated_background
 * as a workspace, with the observed counts.
 */
export function uncorrelatedBackground(signal: number[], background: number[], uncertainty: number[], observed: number[]): Workspace {
  return createWorkspace({
    channels: [
      {
        name: 'singlechannel',
        samples: [
          { name: 'signal', data: [...signal], modifiers: [normfactor('mu')] },
          { name: 'background', data: [...background], modifiers: [shapesys('uncorr_bkguncrt', uncertainty)] },
        ],
      },
    ],
    observations: { singlechannel: observed },
    poi: 'mu',
  });
}

/** The workspace as pyhf-readable JSON text (2-space indent). */
export function workspaceToJson(ws: Workspace): string {
  return `${JSON.stringify(parseWorkspace(ws, 'workspaceToJson'), null, 2)}\n`;
}
