// onnxruntime-web for the page: the native WebGPU provider (`onnxruntime-web/webgpu`, the same C++ code as
// onnxruntime-node's) when the browser has a WebGPU adapter, WASM otherwise. onnxruntime does not fall back
// by itself when a provider cannot start (docs/onnx.md, Execution providers), so providers are tried in order here and the one
// that ran is reported. This runs in the page's fit worker (worker.ts); graph runs are made cooperative so that
// the worker hears Cancel between them.
import * as ort from 'onnxruntime-web/webgpu';
import type * as Ort from 'onnxruntime-common';
import { FlowModel, type ModelSource, type OrtModule } from '../model/flow-model.ts';
import { FitCancelled } from './protocol.ts';

export type ProviderChoice = 'auto' | 'webgpu' | 'wasm';

export interface WebGpuStatus {
  available: boolean;
  /** A software adapter (e.g. SwiftShader): it works, but WASM is faster, so 'auto' does not pick it. */
  fallback: boolean;
  /** Why WebGPU cannot be used, or the adapter's description. */
  detail: string;
}

export interface EnvironmentInfo {
  crossOriginIsolated: boolean;
  hardwareConcurrency: number;
  /** WASM threads asked of onnxruntime (it uses 1 when the page is not cross-origin isolated). */
  requestedThreads: number;
  webgpu: WebGpuStatus;
}

/** Most WASM threads worth asking for: the flows are small, more threads mostly add synchronisation. */
const MAX_WASM_THREADS = 8;

/**
 * Points onnxruntime at its .wasm/.mjs files (served from `wasmBase`, same version as the bundle) and asks for
 * one WASM thread per logical core. Threads need SharedArrayBuffer, i.e. a cross-origin-isolated page
 * (COOP: same-origin + COEP: require-corp); without it only one thread is possible.
 */
export async function configureOrt(wasmBase: string): Promise<EnvironmentInfo> {
  const isolated = globalThis.crossOriginIsolated === true;
  const cores = navigator.hardwareConcurrency || 1;
  ort.env.wasm.wasmPaths = new URL(wasmBase, globalThis.location.href).href;
  ort.env.wasm.numThreads = isolated ? Math.max(1, Math.min(cores, MAX_WASM_THREADS)) : 1;
  ort.env.logLevel = 'error';
  return { crossOriginIsolated: isolated, hardwareConcurrency: cores, requestedThreads: ort.env.wasm.numThreads, webgpu: await probeWebGpu() };
}

async function probeWebGpu(): Promise<WebGpuStatus> {
  // Typed here: the TypeScript DOM library's WebGPU types lack GPUAdapter.info (Chrome 114+).
  const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<{ info?: Record<string, string | boolean> } | null> } }).gpu;
  if (!gpu) return { available: false, fallback: false, detail: 'this browser has no WebGPU (navigator.gpu is missing)' };
  try {
    const adapter = await gpu.requestAdapter();
    if (!adapter) return { available: false, fallback: false, detail: 'the browser found no WebGPU adapter (no usable GPU, or GPU access is disabled)' };
    const info = adapter.info ?? {};
    const name = [info.vendor, info.architecture, info.description].filter((s) => s).join(' ') || 'unnamed adapter';
    const fallback = info.isFallbackAdapter === true;
    return { available: true, fallback, detail: fallback ? `${name}, a software fallback adapter` : name };
  } catch (error) {
    return { available: false, fallback: false, detail: `requesting a WebGPU adapter failed: ${(error as Error).message}` };
  }
}

/** WASM threads onnxruntime actually runs with (it lowers env.wasm.numThreads to 1 when threads are impossible). */
export function wasmThreads(): number {
  return ort.env.wasm.numThreads ?? 1;
}

/** How long graph runs may go on back to back before the worker reads its messages (ms). */
const SLICE_MS = 16;

/**
 * Lets the worker's message queue in between graph runs (where a Cancel waits) and stops the work with
 * FitCancelled once `cancel()` was called. The fit itself never sees this: it only awaits graph runs, which
 * now sometimes take one extra task.
 */
export class RunControl {
  private cancelled = false;
  private lastYield = performance.now();
  private readonly channel = new MessageChannel();

  cancel(): void {
    this.cancelled = true;
  }

  reset(): void {
    this.cancelled = false;
  }

  async checkpoint(): Promise<void> {
    if (performance.now() - this.lastYield > SLICE_MS) {
      // A message task rather than setTimeout(0), which browsers clamp to 4 ms once nested.
      await new Promise<void>((resolve) => {
        this.channel.port1.onmessage = () => resolve();
        this.channel.port2.postMessage(null);
      });
      this.lastYield = performance.now();
    }
    if (this.cancelled) throw new FitCancelled();
  }
}

/** onnxruntime with every session's run() going through `control.checkpoint()` first. */
function cooperativeOrt(control: RunControl): OrtModule {
  const create = async (bytes: Uint8Array, options: Ort.InferenceSession.SessionOptions): Promise<Ort.InferenceSession> => {
    const session = await ort.InferenceSession.create(bytes, options);
    return {
      get inputNames() {
        return session.inputNames;
      },
      get outputNames() {
        return session.outputNames;
      },
      get inputMetadata() {
        return session.inputMetadata;
      },
      get outputMetadata() {
        return session.outputMetadata;
      },
      async run(feeds: Ort.InferenceSession.FeedsType, ...rest: unknown[]) {
        await control.checkpoint();
        return (session.run as (...args: unknown[]) => Promise<Ort.InferenceSession.ReturnType>)(feeds, ...rest);
      },
      release: () => session.release(),
      startProfiling: () => session.startProfiling(),
      endProfiling: () => session.endProfiling(),
    } as Ort.InferenceSession;
  };
  return { InferenceSession: { create } as unknown as OrtModule['InferenceSession'], Tensor: ort.Tensor as unknown as OrtModule['Tensor'] };
}

export interface LoadedModel {
  model: FlowModel;
  /** Where its files came from (ModelSource.location). */
  location: string;
  /** 'webgpu' or 'wasm'. */
  provider: string;
  /** Providers tried first that could not run this model, with onnxruntime's reason. */
  skipped: string[];
}

/**
 * Loads a model with the chosen provider; 'auto' tries WebGPU (when a hardware adapter exists) and then WASM.
 * A file that fails its checks (manifest schema, size, sha256) fails the same everywhere and is not retried.
 */
export async function loadFlowModel(source: ModelSource, choice: ProviderChoice, env: EnvironmentInfo, control: RunControl): Promise<LoadedModel> {
  if (choice === 'webgpu' && !env.webgpu.available) {
    throw new Error(`WebGPU was chosen but cannot run here: ${env.webgpu.detail}. Choose "auto" or "WASM".`);
  }
  const order = choice === 'auto' ? (env.webgpu.available && !env.webgpu.fallback ? ['webgpu', 'wasm'] : ['wasm']) : [choice];
  const attempt = async (index: number, skipped: string[]): Promise<LoadedModel> => {
    const provider = order[index];
    try {
      const model = await FlowModel.load(source, cooperativeOrt(control), { executionProviders: [provider] });
      return { model, location: source.location, provider, skipped };
    } catch (error) {
      const message = (error as Error).message;
      if (index + 1 < order.length && message.includes('cannot be loaded by onnxruntime')) {
        return attempt(index + 1, [...skipped, `${provider}: ${message}`]);
      }
      throw skipped.length === 0 ? error : new Error(`${message} (tried before: ${skipped.join('; ')})`);
    }
  };
  return attempt(0, []);
}
