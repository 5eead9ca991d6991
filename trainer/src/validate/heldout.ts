// `flowscan validate --request … --design design.json`: a user's own flows against held-out simulation. Where no
// exact likelihood exists, the truth the files were simulated at is the reference: each file is one
// pseudo-experiment, fitted with the request's likelihood from the truth, and the pulls (fit − truth)/σ_fit over the
// files of a point should have mean 0 and width 1 (and cover ±1σ 68 % of the time) if the flows are right there.
import { readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { type ComponentModel, type ScanRequest, allFlows, componentModelHashes, componentModels, fitLikelihood, requestLikelihood, sandwichErrors, schemaValidator, yieldName } from '@flowscan/runtime';
import designSchema from '../../../schemas/validate-design.schema.json' with { type: 'json' };
import { readColumns } from '../cli/train.ts';
import { type FlowFitValues, type ParameterAxis, flowFitValues } from './fits.ts';

export interface HeldOutPoint {
  name?: string;
  truth: Record<string, number>;
  /** CSV files relative to the design file. */
  files: string[];
}

export interface HeldOutDesign {
  description?: string;
  points: HeldOutPoint[];
}

export interface HeldOutConfig {
  reference: 'held-out';
  /** The request as validated, without its events (each item fits one design file). */
  request: Omit<ScanRequest, 'events'> & { events: Omit<ScanRequest['events'], 'file'> };
  points: HeldOutPoint[];
  /** The free parameters the design checks, in the order the points' truths first name them. */
  parameters: ParameterAxis[];
  /** sha256 of each component's log-density graph. */
  models: Record<string, string>;
  precision: string;
}

interface HeldOutItemBase {
  point: number;
  file: number;
  seconds: number;
}
interface HeldOutFit {
  fit: FlowFitValues;
  /** Events fitted, and events left out because they lie outside a model's support. */
  events: number;
  dropped: number;
}
export type HeldOutItem = HeldOutItemBase & (HeldOutFit | { failure: string });

const designValidator = schemaValidator<HeldOutDesign>(designSchema);

/** Reads and checks a design file against schemas/validate-design.schema.json; errors name the file and every problem. */
export async function readHeldOutDesign(path: string): Promise<HeldOutDesign> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new Error(`validation design ${path} cannot be read: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`validation design ${path} is not valid JSON (${(error as Error).message})`);
  }
  if (!designValidator.valid(json)) {
    throw new Error(
      `validation design ${path} does not follow schemas/validate-design.schema.json: ${designValidator.problems().join('; ')}. ` +
        'Expected { "points": [ { "truth": { "<parameter>": <number>, … }, "files": ["held-out-1.csv", …] }, … ] }.',
    );
  }
  return json;
}

/**
 * The likelihood's free parameters and their bounds as the request defines them (components' parameters after
 * renames, the yields n_<component> when extended, minus the fixed ones), without reading events: so a design
 * that names a parameter wrongly or puts its truth outside the bounds is refused before any fit runs.
 */
function freeParameters(request: ScanRequest, models: Record<string, ComponentModel>): Map<string, { unit: string; logScale: boolean; bounds: [number, number] }> {
  const free = new Map<string, { unit: string; logScale: boolean; bounds: [number, number] }>();
  for (const c of request.components) {
    for (const p of componentModels({ model: models[c.name] })[0].manifest.parameters) {
      free.set(c.rename?.[p.name] ?? p.name, { unit: p.unit, logScale: p.logScale === true, bounds: [p.range[0], p.range[1]] });
    }
  }
  if (request.yields === 'extended') for (const c of request.components) free.set(yieldName(c.name), { unit: 'events', logScale: false, bounds: [0, Infinity] });
  for (const [name, b] of Object.entries(request.bounds ?? {})) {
    const p = free.get(name);
    if (p) p.bounds = [b[0], b[1]];
  }
  for (const name of Object.keys(request.fixed ?? {})) free.delete(name);
  return free;
}

/** Checks the design against the request's likelihood and the files' presence; returns the run's configuration. */
export async function heldOutConfig(design: HeldOutDesign, designPath: string, request: ScanRequest, models: Record<string, ComponentModel>): Promise<HeldOutConfig> {
  const free = freeParameters(request, models);
  const freeList = [...free.keys()].join(', ');
  const baseDir = dirname(resolve(designPath));
  for (const [i, point] of design.points.entries()) {
    for (const [name, value] of Object.entries(point.truth)) {
      const p = free.get(name);
      if (!p) {
        throw new Error(`${designPath}: points[${i}].truth names "${name}", which is not a free parameter of the request (free: ${freeList})`);
      }
      if (!(value >= p.bounds[0] && value <= p.bounds[1])) {
        const bounds = p.bounds.map((b) => Number(b.toPrecision(8))).join(', ');
        throw new Error(`${designPath}: points[${i}].truth ${name} = ${value} lies outside its bounds [${bounds}] (the models' training range unless the request sets bounds)`);
      }
    }
    for (const file of point.files) {
      const path = resolve(baseDir, file);
      const info = await stat(path).catch(() => null);
      if (!info?.isFile()) throw new Error(`${designPath}: points[${i}].files: ${file} (${path}) is not a file`);
    }
  }
  const names = [...new Set(design.points.flatMap((p) => Object.keys(p.truth)))];
  const { events, ...rest } = request;
  return {
    reference: 'held-out',
    request: { ...rest, events: { ...(events.weights ? { weights: events.weights } : {}), ...(events.skipBadRows ? { skipBadRows: true } : {}) } },
    points: design.points,
    parameters: names.map((name) => ({ name, unit: free.get(name)!.unit, logScale: free.get(name)!.logScale })),
    models: componentModelHashes(models),
    precision: [...new Set(allFlows(models).map((m) => m.precision))].join('+'),
  };
}

/** Item j of the run: the j-th file, counting through the points in order. */
export function heldOutItems(points: HeldOutPoint[]): { point: number; file: number }[] {
  return points.flatMap((p, point) => p.files.map((_, file) => ({ point, file })));
}

/**
 * Fits item `index`'s file with the request's likelihood (as `flowscan toys` builds it: events outside the models'
 * support are dropped and counted) from the point's truth, with no global search, as the toy reference does: the
 * question is the flows' minimum near the truth. Weighted events get sandwich errors H⁻¹VH⁻¹, for which the pulls
 * have unit width.
 */
export async function runHeldOutItem(config: HeldOutConfig, models: Record<string, ComponentModel>, baseDir: string, index: number): Promise<HeldOutItem> {
  const started = performance.now();
  const { point, file } = heldOutItems(config.points)[index];
  const p = config.points[point];
  const path = resolve(baseDir, p.files[file]);
  const base = { point, file };
  try {
    const { request } = config;
    const features = [...new Set(allFlows(models).flatMap((m) => m.featureNames))];
    const weightColumn = request.events.weights;
    const columns = await readColumns([path], weightColumn ? [...features, weightColumn] : features, request.events.skipBadRows ?? false, undefined, request.events);
    const weights = weightColumn ? columns[weightColumn] : null;
    // Events outside the models' support are dropped and counted (the summary notes them), as for toys.
    const likelihood = requestLikelihood({ ...request, events: { ...request.events, file: path } }, models, columns, {
      outsideSupport: 'drop',
      ...(weights ? { weights } : {}),
    });
    const result = await fitLikelihood(likelihood, { method: request.method ?? 'lbfgsb', start: { ...request.start, ...p.truth }, starts: 1, globalSearch: false });
    const fit = flowFitValues(result);
    if (weights?.some((w) => w !== 1) && result.covariance) Object.assign(fit.errors, (await sandwichErrors(likelihood, result)).errors);
    return { ...base, fit, events: result.data.events, dropped: result.data.droppedOutsideSupport, seconds: (performance.now() - started) / 1000 };
  } catch (error) {
    return { ...base, failure: `${p.files[file]}: ${(error as Error).message}`, seconds: (performance.now() - started) / 1000 };
  }
}
