// A scan request run end to end: validate it, build the likelihood over the resident events, fit, add the
// ΔNLL maps, and return a result that follows schemas/scan-result.schema.json. Browser-safe: models and
// events come in through the caller (Node: files; browser: fetch or picked files).
import requestSchema from '../../../schemas/scan-request.schema.json' with { type: 'json' };
import resultSchema from '../../../schemas/scan-result.schema.json' with { type: 'json' };
import type { MinimizeMethod } from '../fit/minimize.ts';
import type { FlowModel } from '../model/flow-model.ts';
import { type FitOptions, type FitResult, fitLikelihood, plannedFitPoints } from '../likelihood/fit.ts';
import { type FitMap, deltaNllMapAtFit } from '../likelihood/map.ts';
import { type ComponentModel, DEFAULT_MEMORY_BUDGET, type GaussianConstraint, MixtureLikelihood, type OutsideSupportPolicy, type YieldMode, componentModels } from '../likelihood/mixture.ts';
import { type SandwichErrors, sandwichErrors } from '../likelihood/sandwich.ts';
import { type EnsembleSpread, ensembleSpread } from '../likelihood/ensemble-spread.ts';
import type { EventSourceOptions } from '../data/event-table.ts';
import { applyEventCounts } from '../likelihood/yields.ts';
import { schemaValidator } from '../schema-validator.ts';

export interface ScanRequest {
  /** The event file and, for formats that need them, where its table is (see EventSourceOptions). */
  events: { file: string; weights?: string; skipBadRows?: boolean } & EventSourceOptions;
  /**
   * `model`: an exported model folder, or several (an ensemble: flows of the same features and parameters whose mean
   * density is the component's). `events`: the component's expected count instead of a fraction (see applyEventCounts).
   */
  components: { name: string; model: string | string[]; fraction?: number; events?: number; rename?: Record<string, string> }[];
  yields?: YieldMode;
  fixed?: Record<string, number>;
  bounds?: Record<string, [number, number]>;
  constraints?: Record<string, GaussianConstraint>;
  start?: Record<string, number>;
  method?: MinimizeMethod;
  starts?: number;
  /** Scan the box before the gradient fit (default true; see FitOptions.globalSearch). */
  globalSearch?: boolean;
  seed?: number;
  profile?: boolean;
  signal?: string;
  outsideSupport?: OutsideSupportPolicy;
  maps?: { x: string; y: string; nx?: number; ny?: number; xRange?: [number, number]; yRange?: [number, number] }[];
  executionProvider?: 'auto' | 'cpu' | 'webgpu' | 'cuda' | 'wasm';
  threads?: number;
  /** Fit budget and tolerances (FitOptions of the same names). */
  maxEvaluations?: number;
  gtol?: number;
  ftolAbs?: number;
  /** The most event evaluations (events × parameter points) the request may plan (see checkRequestBudget). */
  maxEventEvaluations?: number;
}

/** A map of the result file: the ΔNLL map by parameter name (its best fit is the fit's). */
export type NllMapResult = Omit<FitMap, 'best'>;

export interface ScanResultFile {
  format: 'flowscan-scan-result';
  formatVersion: 1;
  request: ScanRequest;
  fit: FitResult;
  /** Errors of a fit with weighted events, H⁻¹ V H⁻¹ (present when some weight is not 1). */
  sandwich?: SandwichErrors;
  /**
   * Per ensemble component (≥ 2 flows): how far its members' training noise moves the fit (ensembleSpread); absent
   * without ensembles or without a covariance.
   */
  trainingSpread?: EnsembleSpread[];
  /** The Gaussian constraints used, with the fitted value and its pull (value − mean) / width. */
  constraints?: { name: string; mean: number; width: number; value: number; pull: number }[];
  maps: NllMapResult[];
  environment: {
    executionProvider: string;
    threads?: number;
    precision?: 'float32' | 'float64';
    memoryBudget?: number;
    date: string;
    flowscan: string;
    models?: Record<string, string>;
  };
}

const requestValidator = schemaValidator<ScanRequest>(requestSchema, { useDefaults: true });
const resultValidator = schemaValidator<ScanResultFile>(resultSchema);

/** Validates a parsed request and fills in its defaults; throws naming every problem. */
export function validateScanRequest(json: unknown, source: string): ScanRequest {
  const copy = JSON.parse(JSON.stringify(json)) as unknown;
  if (!requestValidator.valid(copy)) throw new Error(`${source} does not follow the scan request schema: ${requestValidator.problems().join('; ')}`);
  const r = copy;
  const names = r.components.map((c) => c.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new Error(`${source}: two components are named "${dup}"`);
  if (r.signal && !names.includes(r.signal)) throw new Error(`${source}: signal "${r.signal}" is not a component (${names.join(', ')})`);
  for (const [name, b] of Object.entries(r.bounds ?? {})) if (!(b[0] < b[1])) throw new Error(`${source}: bounds of ${name} must have lower < upper`);
  return r;
}

export function validateScanResult(result: ScanResultFile): void {
  if (!resultValidator.valid(JSON.parse(JSON.stringify(result)))) {
    throw new Error(`internal error: the scan result does not follow its schema: ${resultValidator.problems().join('; ')}`);
  }
}

export interface ScanInputs {
  request: ScanRequest;
  /** The models, by component name (a list for an ensemble). */
  models: Record<string, ComponentModel>;
  events: Record<string, ArrayLike<number>>;
  weights?: ArrayLike<number>;
  executionProvider: string;
  flowscanVersion: string;
  /** Bytes of graph intermediates per call (MixtureLikelihood's default when absent). */
  memoryBudget?: number;
  onProgress?: FitOptions['onProgress'];
  onStage?: FitOptions['onStage'];
  onMapRow?: (map: number, done: number, total: number) => void;
}

export interface RequestLikelihoodOptions {
  weights?: ArrayLike<number>;
  memoryBudget?: number;
  /** Replaces the request's policy (toys drop sampled events that land on a support edge). */
  outsideSupport?: OutsideSupportPolicy;
  /** Replace the request's constraints (each toy draws its own auxiliary measurements). */
  constraints?: Record<string, GaussianConstraint>;
}

/** The model folders of a request's component: one, or the members of an ensemble. */
export function componentModelPaths(c: ScanRequest['components'][number]): string[] {
  return typeof c.model === 'string' ? [c.model] : c.model;
}

/**
 * Loads every component's model (each member of an ensemble) with `load`, which resolves a request's folder (Node:
 * relative to the request file; browser: a fetch).
 */
export async function loadComponentModels(r: ScanRequest, load: (folder: string) => Promise<FlowModel>): Promise<Record<string, ComponentModel>> {
  const models: Record<string, ComponentModel> = {};
  for (const c of r.components) {
    const loaded = [];
    for (const folder of componentModelPaths(c)) loaded.push(await load(folder));
    models[c.name] = typeof c.model === 'string' ? loaded[0] : loaded;
  }
  return models;
}

/** Every loaded flow of the components, ensemble members included (for releasing them, or their features). */
export function allFlows(models: Record<string, ComponentModel>): FlowModel[] {
  return Object.values(models).flatMap((m) => componentModels({ model: m }));
}

/** sha256 of each component's log-density graph (members' joined by "+"): which models a result was made with. */
export function componentModelHashes(models: Record<string, ComponentModel>): Record<string, string> {
  return Object.fromEntries(Object.entries(models).map(([c, m]) => [c, componentModels({ model: m }).map((f) => f.manifest.graphs.log_prob.sha256).join('+')]));
}

/** The mixture likelihood a request describes, over the given events, with the models by component name. */
export function requestLikelihood(
  r: ScanRequest,
  models: Record<string, ComponentModel>,
  events: Record<string, ArrayLike<number>>,
  options: RequestLikelihoodOptions = {},
): MixtureLikelihood {
  return new MixtureLikelihood({
    components: r.components.map((c) => ({
      name: c.name,
      model: models[c.name],
      ...(c.fraction !== undefined ? { fraction: c.fraction } : {}),
      ...(c.rename ? { rename: c.rename } : {}),
    })),
    events,
    ...(options.weights ? { weights: options.weights } : {}),
    yields: r.yields ?? 'fixed-fractions',
    outsideSupport: options.outsideSupport ?? r.outsideSupport ?? 'error',
    fixed: r.fixed ?? {},
    bounds: r.bounds ?? {},
    constraints: options.constraints ?? r.constraints ?? {},
    ...(options.memoryBudget !== undefined ? { memoryBudget: options.memoryBudget } : {}),
  });
}

/**
 * Event × point evaluations per second of the toy flows on an idle 2-core machine: scan --demo evaluates 1.3e7 in
 * ~11 s (under the load of a shared machine we measured 4–5e4 per second for gradient points).
 */
const EVENT_EVALUATIONS_PER_SECOND = 1.2e6;
/** Default of maxEventEvaluations: about 15 minutes at that rate, 50× what a default fit of the demo plans. */
export const DEFAULT_MAX_EVENT_EVALUATIONS = 1e9;

/**
 * Refuses, before any evaluation, a request whose fit and maps would plan more event evaluations than
 * maxEventEvaluations (hours of work), or evaluate more points at once than the memory budget holds at the
 * smallest event chunk. Every message says the limit and how to raise it.
 */
export function checkRequestBudget(r: ScanRequest, likelihood: MixtureLikelihood, fitOptions: FitOptions): void {
  const events = likelihood.data.events;
  const fitPoints = plannedFitPoints(likelihood, fitOptions);
  const maps = (r.maps ?? []).map((m) => ({ name: `map ${m.x} × ${m.y}`, points: (m.nx ?? 25) * (m.ny ?? 25), batch: m.nx ?? 25 }));
  const parts = [
    { name: `fit (${fitPoints.search} search points + ${fitPoints.starts} starts × ${fitPoints.perStart} evaluations)`, points: fitPoints.total },
    ...maps,
  ];
  const limit = r.maxEventEvaluations ?? DEFAULT_MAX_EVENT_EVALUATIONS;
  const planned = parts.reduce((sum, p) => sum + p.points * events, 0);
  if (planned > limit) {
    const listed = parts.map((p) => `${p.name}: ${p.points} points`).join('; ');
    throw new Error(
      `the request plans up to ${planned.toExponential(2)} event evaluations (${listed}; each over ${events} events), more than ` +
        `maxEventEvaluations = ${limit.toExponential(2)} (${(planned / EVENT_EVALUATIONS_PER_SECOND / 60).toFixed(0)} min at the ${EVENT_EVALUATIONS_PER_SECOND.toExponential(1)} per second of an idle 2-core machine, longer under load): ` +
        'ask for fewer starts or smaller maps, or raise the limit (request field maxEventEvaluations, flowscan scan --max-event-evaluations)',
    );
  }
  const batches = [
    { name: 'the fit\'s starts, evaluated together', size: fitPoints.starts },
    { name: 'the global search, evaluated in one call', size: fitPoints.search },
    ...maps.map((m) => ({ name: `${m.name} (one row per call)`, size: m.batch })),
  ];
  for (const b of batches) {
    const needed = likelihood.minimumBatchBytes(b.size);
    if (needed > likelihood.memoryBudget) {
      throw new Error(
        `${b.name}: ${b.size} points need at least ${(needed / 2 ** 20).toFixed(0)} MiB of graph memory (the smallest event chunk), ` +
          `more than the memory budget of ${(likelihood.memoryBudget / 2 ** 20).toFixed(0)} MiB: ask for fewer points, or raise the budget ` +
          '(flowscan scan --memory MiB; memoryBudget in bytes for runScan)',
      );
    }
  }
}

/** Σ of the event weights, or the number of events when unweighted (the sample that counts refer to). */
function sumOfWeights(events: Record<string, ArrayLike<number>>, weights: ArrayLike<number> | undefined): number {
  if (!weights) return Object.values(events)[0]?.length ?? 0;
  let sum = 0;
  for (let i = 0; i < weights.length; i++) sum += weights[i];
  return sum;
}

/** Whether any weight differs from 1 (a loop: Array.from would copy 10^7 weights into a JavaScript array). */
function hasWeightOtherThanOne(weights: ArrayLike<number>): boolean {
  for (let i = 0; i < weights.length; i++) if (weights[i] !== 1) return true;
  return false;
}

export async function runScan(inputs: ScanInputs): Promise<ScanResultFile> {
  const r = applyEventCounts(inputs.request, sumOfWeights(inputs.events, inputs.weights));
  const likelihood = requestLikelihood(r, inputs.models, inputs.events, {
    ...(inputs.weights ? { weights: inputs.weights } : {}),
    ...(inputs.memoryBudget !== undefined ? { memoryBudget: inputs.memoryBudget } : {}),
  });
  // Map axes are checked before the fit, not after it.
  for (const m of r.maps ?? []) {
    for (const name of [m.x, m.y]) {
      if (!likelihood.freeNames.includes(name)) throw new Error(`map ${m.x} × ${m.y}: ${name} is not a free parameter (${likelihood.freeNames.join(', ')})`);
    }
  }
  const fitOptions: FitOptions = {
    method: r.method ?? 'lbfgsb',
    start: r.start ?? {},
    starts: r.starts ?? 4,
    globalSearch: r.globalSearch ?? true,
    seed: r.seed ?? 1,
    profile: r.profile ?? false,
    ...(r.signal ? { signal: r.signal } : {}),
    ...(r.maxEvaluations !== undefined ? { maxEvaluations: r.maxEvaluations } : {}),
    ...(r.gtol !== undefined ? { gtol: r.gtol } : {}),
    ...(r.ftolAbs !== undefined ? { ftolAbs: r.ftolAbs } : {}),
    ...(inputs.onProgress ? { onProgress: inputs.onProgress } : {}),
    ...(inputs.onStage ? { onStage: inputs.onStage } : {}),
  };
  checkRequestBudget(r, likelihood, fitOptions);
  const fit = await fitLikelihood(likelihood, fitOptions);
  fit.warnings.unshift(...likelihood.warnings);
  let sandwich: SandwichErrors | undefined;
  if (inputs.weights && hasWeightOtherThanOne(inputs.weights)) {
    if (fit.covariance) sandwich = await sandwichErrors(likelihood, fit);
    else fit.warnings.push('the events are weighted but the Hessian has no inverse: no sandwich errors either');
  }
  const trainingSpread: EnsembleSpread[] = [];
  const ensembles = Object.entries(likelihood.ensembleSizes()).filter(([, members]) => members > 1);
  if (ensembles.length > 0 && !fit.covariance) fit.warnings.push(`the Hessian has no inverse: no training spread of ${ensembles.map(([name]) => `"${name}"`).join(', ')} either`);
  if (fit.covariance) for (const [name] of ensembles) trainingSpread.push(await ensembleSpread(likelihood, fit, name));
  const constraints = Object.entries(likelihood.constraints).map(([name, { mean, width }]) => {
    const value = fit.parameters.find((p) => p.name === name)!.value;
    return { name, mean, width, value, pull: (value - mean) / width };
  });
  const maps: NllMapResult[] = [];
  for (const [index, m] of (r.maps ?? []).entries()) {
    const ny = m.ny ?? 25;
    // Default ranges: ±4σ around the best fit, inside the bounds; one evaluate call per grid row.
    const { best: _best, ...map } = await deltaNllMapAtFit(likelihood, fit, m.x, m.y, {
      nx: m.nx ?? 25,
      ny,
      ranges: { [m.x]: m.xRange, [m.y]: m.yRange },
      onCall: (rows) => inputs.onMapRow?.(index, rows, ny),
    });
    maps.push(map);
  }
  const result: ScanResultFile = {
    format: 'flowscan-scan-result',
    formatVersion: 1,
    request: r,
    fit,
    ...(sandwich ? { sandwich } : {}),
    ...(trainingSpread.length > 0 ? { trainingSpread } : {}),
    ...(constraints.length > 0 ? { constraints } : {}),
    maps,
    environment: {
      executionProvider: inputs.executionProvider,
      ...(r.threads ? { threads: r.threads } : {}),
      precision: allFlows(inputs.models)[0].precision,
      memoryBudget: inputs.memoryBudget ?? DEFAULT_MEMORY_BUDGET,
      date: new Date().toISOString(),
      flowscan: inputs.flowscanVersion,
      models: componentModelHashes(inputs.models),
    },
  };
  validateScanResult(result);
  return result;
}
