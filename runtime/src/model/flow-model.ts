// An exported flow loaded into onnxruntime (node or web: the API is the same, the module is injected).
// Loading validates the manifest, checks each file's size and sha256, the graphs' operators (default ONNX domain,
// the manifest's opset) and their inputs and outputs against the manifest.
import type * as Ort from 'onnxruntime-common';
import { type GraphName, type ManifestGraph, type ModelManifest, checkGraphStructure, validateManifest } from './manifest.ts';
import { type OnnxStructure, readOnnxStructure } from './onnx-structure.ts';

export type OrtModule = Pick<typeof Ort, 'InferenceSession' | 'Tensor'>;

/** Where a model's files come from: a folder on disk (Node), URLs or picked files (browser). */
export interface ModelSource {
  /** Human-readable location, used in messages. */
  readonly location: string;
  /**
   * The bytes of a file of the model; with `expectedBytes` (the manifest's size) a source that can tell the size
   * first refuses a file of another size, or anything but a regular file, before reading it.
   */
  readBytes(file: string, expectedBytes?: number): Promise<Uint8Array>;
}

/** Element type of the batched log-density and θ-gradient evaluations. */
export type Precision = 'float32' | 'float64';
export type PrecisionChoice = 'auto' | Precision;
export const PRECISION_CHOICES: readonly PrecisionChoice[] = ['auto', 'float32', 'float64'];
export type FloatArray = Float32Array | Float64Array;

export interface SessionSettings {
  /** Execution providers to pass to onnxruntime, e.g. ['cpu'] or ['webgpu']. */
  executionProviders: string[];
  intraOpNumThreads?: number;
  /**
   * 'auto' (default): the float64 graphs on the CPU provider when the model has them (exact sums over 10^5–10^6
   * events; about the float32 cost for one-feature spline flows, 2–3× for wide MLPs), float32 elsewhere (WebGPU
   * has no float64).
   */
  precision?: PrecisionChoice;
}

/** The graphs a likelihood evaluation uses at each precision (float64: on events preprocessed once). */
const EVALUATION_GRAPHS: Record<Precision, { batch: GraphName; grad: GraphName; preprocess?: GraphName }> = {
  float32: { batch: 'log_prob_batch', grad: 'log_prob_grad' },
  float64: { batch: 'log_prob_batch_f64', grad: 'log_prob_grad_f64', preprocess: 'preprocess_f64' },
};

/** Events per call of the preprocessing graph when events are made resident. */
const PREPROCESS_CHUNK = 1 << 16;

/**
 * Observed events held for repeated evaluations (a scan's data never changes), in the form the evaluation graphs
 * take: physical x (float32), or y and log_det after the preprocessing (float64). Chunks are views, no copies.
 */
export interface ResidentEvents {
  readonly count: number;
  /** Graph inputs for events [start, end). */
  chunk(start: number, end: number): Record<string, Ort.Tensor>;
}

function choosePrecision(manifest: ModelManifest, settings: SessionSettings, where: string): Precision {
  const choice = settings.precision ?? 'auto';
  if (!PRECISION_CHOICES.includes(choice)) {
    throw new Error(`precision must be ${PRECISION_CHOICES.join(', ')}, got "${String(choice)}"`);
  }
  const hasFloat64 = manifest.graphs.log_prob_batch_f64 !== undefined;
  if (choice === 'float64' && !hasFloat64) {
    throw new Error(`${where} has no float64 graphs (exported before they existed): re-export it with \`flowscan export ${where} --out DIR\`, or use float32`);
  }
  if (choice !== 'auto') return choice;
  return hasFloat64 && settings.executionProviders[0] === 'cpu' ? 'float64' : 'float32';
}

/** Hex sha256 of a file's bytes, as manifests record it (Web Crypto: Node and browsers). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', bytes as unknown as ArrayBuffer);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export async function readManifest(source: ModelSource): Promise<ModelManifest> {
  const where = `${source.location}/manifest.json`;
  const bytes = await source.readBytes('manifest.json');
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new Error(`${where} is not valid JSON (${(error as Error).message})`);
  }
  return validateManifest(json, where);
}

/** The result of a θ-gradient call: log p [K×N] and Σ_i w_i ∇_θ log p [K×P], row-major. */
export interface GradResult {
  logProb: FloatArray;
  grad: FloatArray;
}

export class FlowModel {
  private constructor(
    readonly manifest: ModelManifest,
    private readonly ort: OrtModule,
    private readonly sessions: Map<GraphName, Ort.InferenceSession>,
    readonly executionProvider: string,
    /** Element type of logProbBatch, logProbGrad and their tensors. */
    readonly precision: Precision,
  ) {}

  /** Loads and checks a model. Every failure names the file and the problem. */
  static async load(source: ModelSource, ort: OrtModule, settings: SessionSettings): Promise<FlowModel> {
    const manifest = await readManifest(source);
    const precision = choosePrecision(manifest, settings, source.location);
    // Every file is checked; sessions are made for the graphs this precision uses.
    const unused = new Set<GraphName>(Object.values(EVALUATION_GRAPHS[precision === 'float64' ? 'float32' : 'float64']));
    const sessions = new Map<GraphName, Ort.InferenceSession>();
    for (const [name, graph] of Object.entries(manifest.graphs) as [GraphName, ManifestGraph][]) {
      const where = `${source.location}/${graph.file}`;
      const bytes = await source.readBytes(graph.file, graph.bytes);
      if (bytes.byteLength !== graph.bytes) {
        throw new Error(`${where} has ${bytes.byteLength} bytes, the manifest says ${graph.bytes}: the file is truncated or was replaced`);
      }
      const hash = await sha256Hex(bytes);
      if (hash !== graph.sha256) {
        throw new Error(`${where} fails its sha256 check (file ${hash.slice(0, 12)}…, manifest ${graph.sha256.slice(0, 12)}…): it was modified after export`);
      }
      // onnxruntime reports bytes that are no ONNX model at all in its own words (below); the structure check runs
      // first on anything it can read.
      let structure: OnnxStructure | Error;
      try {
        structure = readOnnxStructure(bytes);
      } catch (error) {
        structure = error as Error;
      }
      if (!(structure instanceof Error)) checkGraphStructure(structure, graph, manifest, where);
      else if (unused.has(name)) throw new Error(`${where} is ${structure.message}`);
      if (unused.has(name)) continue;
      let session: Ort.InferenceSession;
      try {
        session = await ort.InferenceSession.create(bytes, {
          executionProviders: settings.executionProviders,
          graphOptimizationLevel: 'all',
          ...(settings.intraOpNumThreads ? { intraOpNumThreads: settings.intraOpNumThreads } : {}),
        });
      } catch (error) {
        throw new Error(`${where} cannot be loaded by onnxruntime (${settings.executionProviders.join(',')}): ${(error as Error).message}`);
      }
      if (structure instanceof Error) throw new Error(`${where}: onnxruntime loads it, but it is ${structure.message}`);
      sessions.set(name, session);
    }
    return new FlowModel(manifest, ort, sessions, settings.executionProviders[0], precision);
  }

  get name(): string {
    return this.manifest.name;
  }
  get featureNames(): string[] {
    return this.manifest.features.map((f) => f.name);
  }
  get parameterNames(): string[] {
    return this.manifest.parameters.map((p) => p.name);
  }
  get dimension(): number {
    return this.manifest.features.length;
  }
  get parameterCount(): number {
    return this.manifest.parameters.length;
  }

  private session(name: GraphName): Ort.InferenceSession {
    const s = this.sessions.get(name);
    if (!s) throw new Error(`model ${this.name} has no ${name} graph`);
    return s;
  }

  /** A float32 tensor of events [N, D] for logProb, to pass to several calls without copying again. */
  eventsTensor(x: Float32Array, count: number): Ort.Tensor {
    this.checkEvents(x, count);
    return new this.ort.Tensor('float32', x, [count, this.dimension]);
  }

  /**
   * Makes events [N, D] resident for logProbBatch and logProbGrad: float32 x, or, in float64, runs the
   * preprocessing graph once and keeps its output.
   */
  async residentEvents(x: FloatArray, count: number): Promise<ResidentEvents> {
    this.checkEvents(x, count);
    const D = this.dimension;
    const preprocess = EVALUATION_GRAPHS[this.precision].preprocess;
    if (!preprocess) {
      const xs = x instanceof Float32Array ? x : Float32Array.from(x);
      return { count, chunk: (start, end) => ({ x: new this.ort.Tensor('float32', xs.subarray(start * D, end * D), [end - start, D]) }) };
    }
    const xs = x instanceof Float64Array ? x : Float64Array.from(x);
    const y = new Float64Array(count * D);
    const logDet = new Float64Array(count);
    for (let start = 0; start < count; start += PREPROCESS_CHUNK) {
      const end = Math.min(count, start + PREPROCESS_CHUNK);
      const out = await this.session(preprocess).run({ x: new this.ort.Tensor('float64', xs.subarray(start * D, end * D), [end - start, D]) });
      y.set(out.y.data as Float64Array, start * D);
      logDet.set(out.log_det.data as Float64Array, start);
    }
    return {
      count,
      chunk: (start, end) => ({
        y: new this.ort.Tensor('float64', y.subarray(start * D, end * D), [end - start, D]),
        log_det: new this.ort.Tensor('float64', logDet.subarray(start, end), [end - start]),
      }),
    };
  }

  /** An empty array of the evaluation precision. */
  evaluationArray(length: number): FloatArray {
    return this.precision === 'float64' ? new Float64Array(length) : new Float32Array(length);
  }

  /**
   * Peak live intermediate bytes per evaluation (event × point) of the batched log-density and θ-gradient graphs in
   * use, added up (each session keeps its own memory); null when the manifest does not record them.
   */
  get evaluationBytes(): number | null {
    const graphs = EVALUATION_GRAPHS[this.precision];
    const batch = this.manifest.graphs[graphs.batch]?.bytesPerEvaluation;
    const grad = this.parameterCount > 0 ? this.manifest.graphs[graphs.grad]?.bytesPerEvaluation : 0;
    return batch === undefined || grad === undefined ? null : batch + grad;
  }

  private checkEvents(x: FloatArray, count: number): void {
    if (x.length !== count * this.dimension) {
      throw new Error(`events hold ${x.length} values, expected ${count} events × ${this.dimension} features`);
    }
  }

  private floatTensor(values: ArrayLike<number> & { length: number }, dims: number[]): Ort.Tensor {
    if (this.precision === 'float64') return new this.ort.Tensor('float64', values instanceof Float64Array ? values : Float64Array.from(values), dims);
    return new this.ort.Tensor('float32', values instanceof Float32Array ? values : Float32Array.from(values), dims);
  }

  /** θ for the float32 per-event graphs: one point ([P]) or one per event ([n×P]). */
  private perEventTheta(theta: Float32Array, n: number): Ort.Tensor {
    const P = this.parameterCount;
    const rows = theta.length === P ? 1 : n;
    if (theta.length !== rows * P) throw new Error(`θ holds ${theta.length} values, expected ${rows} × ${P} (${this.parameterNames.join(', ')})`);
    return new this.ort.Tensor('float32', theta, [rows, P]);
  }

  private thetaRows(theta: ArrayLike<number>): number {
    const P = this.parameterCount;
    const rows = theta.length / P;
    if (!Number.isInteger(rows) || rows < 1) throw new Error(`θ holds ${theta.length} values, expected K × ${P} (${this.parameterNames.join(', ')})`);
    return rows;
  }

  private checkEvaluationEvents(events: Record<string, Ort.Tensor>): void {
    const types = Object.values(events).map((t) => t.type);
    if (types.length === 0 || types.some((t) => t !== this.precision)) {
      throw new Error(`events are ${types.join(', ') || 'missing'}, this model evaluates in ${this.precision}: make them with residentEvents`);
    }
  }

  /** log p(x_i|θ) [N] (float32 graph); θ is one point ([P]) or one per event ([N×P]). */
  async logProb(events: Ort.Tensor, theta: Float32Array): Promise<Float32Array> {
    const n = events.dims[0] as number;
    const feeds: Record<string, Ort.Tensor> = { x: events };
    if (this.parameterCount > 0) feeds.theta = this.perEventTheta(theta, n);
    const out = await this.session('log_prob').run(feeds);
    return out.log_prob.data as Float32Array;
  }

  /** log p for K parameter points against the same N events: [K×N], in the evaluation precision. */
  async logProbBatch(events: Record<string, Ort.Tensor>, thetas: ArrayLike<number>): Promise<FloatArray> {
    this.checkEvaluationEvents(events);
    const feeds: Record<string, Ort.Tensor> = { ...events };
    if (this.parameterCount > 0) feeds.theta = this.floatTensor(thetas, [this.thetaRows(thetas), this.parameterCount]);
    const out = await this.session(EVALUATION_GRAPHS[this.precision].batch).run(feeds);
    return out.log_prob.data as FloatArray;
  }

  /** log p [K×N] and Σ_i w_ki ∇_θ log p(x_i|θ_k) [K×P] for K parameter points, in one call. */
  async logProbGrad(events: Record<string, Ort.Tensor>, thetas: ArrayLike<number>, weights: Ort.Tensor): Promise<GradResult> {
    this.checkEvaluationEvents(events);
    const theta = this.floatTensor(thetas, [this.thetaRows(thetas), this.parameterCount]);
    const out = await this.session(EVALUATION_GRAPHS[this.precision].grad).run({ ...events, theta, weights });
    return { logProb: out.log_prob.data as FloatArray, grad: out.grad_theta.data as FloatArray };
  }

  /** Event weights for logProbGrad: one row [N] shared by all points, or `rows` rows (one per point). */
  weightsTensor(w: FloatArray, rows = 1): Ort.Tensor {
    if (w.length % rows !== 0) throw new Error(`${w.length} weights do not split into ${rows} rows`);
    return this.floatTensor(w, [rows, w.length / rows]);
  }

  /** Maps base draws z [N×D] to events at θ (one point or one per draw). */
  async sample(z: Float32Array, theta: Float32Array): Promise<Float32Array> {
    const n = z.length / this.dimension;
    if (!Number.isInteger(n)) throw new Error(`base draws hold ${z.length} values, not a multiple of ${this.dimension}`);
    const feeds: Record<string, Ort.Tensor> = { z: new this.ort.Tensor('float32', z, [n, this.dimension]) };
    if (this.parameterCount > 0) feeds.theta = this.perEventTheta(theta, n);
    const out = await this.session('sample').run(feeds);
    return out.x.data as Float32Array;
  }

  async release(): Promise<void> {
    for (const s of this.sessions.values()) await s.release();
  }
}
