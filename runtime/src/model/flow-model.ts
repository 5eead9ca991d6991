// An exported flow loaded into onnxruntime (node or web: the API is the same, the module is injected).
// Loading validates the manifest, checks each file's sha256 and the graphs' inputs and outputs.
import type * as Ort from 'onnxruntime-common';
import { type GraphName, type ModelManifest, validateManifest } from './manifest.ts';

export type OrtModule = Pick<typeof Ort, 'InferenceSession' | 'Tensor'>;

/** Where a model's files come from: a folder on disk (Node), URLs or picked files (browser). */
export interface ModelSource {
  /** Human-readable location, used in messages. */
  readonly location: string;
  readBytes(file: string): Promise<Uint8Array>;
}

export interface SessionSettings {
  /** Execution providers to pass to onnxruntime, e.g. ['cpu'] or ['webgpu']. */
  executionProviders: string[];
  intraOpNumThreads?: number;
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
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
  logProb: Float32Array;
  grad: Float32Array;
}

export class FlowModel {
  private constructor(
    readonly manifest: ModelManifest,
    private readonly ort: OrtModule,
    private readonly sessions: Map<GraphName, Ort.InferenceSession>,
    readonly executionProvider: string,
  ) {}

  /** Loads and checks a model. Every failure names the file and the problem. */
  static async load(source: ModelSource, ort: OrtModule, settings: SessionSettings): Promise<FlowModel> {
    const manifest = await readManifest(source);
    const sessions = new Map<GraphName, Ort.InferenceSession>();
    for (const [name, graph] of Object.entries(manifest.graphs) as [GraphName, ModelManifest['graphs']['log_prob']][]) {
      const where = `${source.location}/${graph.file}`;
      const bytes = await source.readBytes(graph.file);
      if (bytes.byteLength !== graph.bytes) {
        throw new Error(`${where} has ${bytes.byteLength} bytes, the manifest says ${graph.bytes}: the file is truncated or was replaced`);
      }
      const hash = await sha256Hex(bytes);
      if (hash !== graph.sha256) {
        throw new Error(`${where} fails its sha256 check (file ${hash.slice(0, 12)}…, manifest ${graph.sha256.slice(0, 12)}…): it was modified after export`);
      }
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
      const expectIo = (kind: string, actual: readonly string[], declared: { name: string }[]): void => {
        const want = declared.map((t) => t.name);
        if (actual.length !== want.length || want.some((n) => !actual.includes(n))) {
          throw new Error(`${where}: graph ${kind} are [${actual.join(', ')}], the manifest declares [${want.join(', ')}]`);
        }
      };
      expectIo('inputs', session.inputNames, graph.inputs);
      expectIo('outputs', session.outputNames, graph.outputs);
      sessions.set(name, session);
    }
    return new FlowModel(manifest, ort, sessions, settings.executionProviders[0]);
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

  /** A float32 tensor of events [N, D] to pass to several calls without copying again. */
  eventsTensor(x: Float32Array, count: number): Ort.Tensor {
    if (x.length !== count * this.dimension) {
      throw new Error(`events hold ${x.length} values, expected ${count} events × ${this.dimension} features`);
    }
    return new this.ort.Tensor('float32', x, [count, this.dimension]);
  }

  private thetaTensor(theta: Float32Array, rows: number): Ort.Tensor {
    const P = this.parameterCount;
    if (theta.length !== rows * P) throw new Error(`θ holds ${theta.length} values, expected ${rows} × ${P} (${this.parameterNames.join(', ')})`);
    return new this.ort.Tensor('float32', theta, [rows, P]);
  }

  /** log p(x_i|θ) [N]; θ is one point ([P]) or one per event ([N×P]). */
  async logProb(events: Ort.Tensor, theta: Float32Array): Promise<Float32Array> {
    const n = events.dims[0] as number;
    const feeds: Record<string, Ort.Tensor> = { x: events };
    if (this.parameterCount > 0) feeds.theta = this.thetaTensor(theta, theta.length === this.parameterCount ? 1 : n);
    const out = await this.session('log_prob').run(feeds);
    return out.log_prob.data as Float32Array;
  }

  /** log p for K parameter points against the same N events: [K×N]. */
  async logProbBatch(events: Ort.Tensor, thetas: Float32Array): Promise<Float32Array> {
    const k = thetas.length / this.parameterCount;
    const out = await this.session('log_prob_batch').run({ x: events, theta: this.thetaTensor(thetas, k) });
    return out.log_prob.data as Float32Array;
  }

  /** log p [K×N] and Σ_i w_ki ∇_θ log p(x_i|θ_k) [K×P] for K parameter points, in one call. */
  async logProbGrad(events: Ort.Tensor, thetas: Float32Array, weights: Ort.Tensor): Promise<GradResult> {
    const k = thetas.length / this.parameterCount;
    const out = await this.session('log_prob_grad').run({ x: events, theta: this.thetaTensor(thetas, k), weights });
    return { logProb: out.log_prob.data as Float32Array, grad: out.grad_theta.data as Float32Array };
  }

  /** Event weights for logProbGrad: one row [N] shared by all points, or `rows` rows (one per point). */
  weightsTensor(w: Float32Array, rows = 1): Ort.Tensor {
    if (w.length % rows !== 0) throw new Error(`${w.length} weights do not split into ${rows} rows`);
    return new this.ort.Tensor('float32', w, [rows, w.length / rows]);
  }

  /** Maps base draws z [N×D] to events at θ (one point or one per draw). */
  async sample(z: Float32Array, theta: Float32Array): Promise<Float32Array> {
    const n = z.length / this.dimension;
    if (!Number.isInteger(n)) throw new Error(`base draws hold ${z.length} values, not a multiple of ${this.dimension}`);
    const feeds: Record<string, Ort.Tensor> = { z: new this.ort.Tensor('float32', z, [n, this.dimension]) };
    if (this.parameterCount > 0) feeds.theta = this.thetaTensor(theta, theta.length === this.parameterCount ? 1 : n);
    const out = await this.session('sample').run(feeds);
    return out.x.data as Float32Array;
  }

  async release(): Promise<void> {
    for (const s of this.sessions.values()) await s.release();
  }
}
