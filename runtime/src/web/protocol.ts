// Messages between the page (main thread) and its fit worker (worker.ts): the worker owns onnxruntime-web, the
// loaded flows, the likelihood and the fits, so the page stays responsive while they run and Cancel is heard
// at once. Everything here is structured-cloneable (plain objects, typed arrays, File).
import type { FitResult } from '../likelihood/fit.ts';
import type { ModelManifest } from '../model/manifest.ts';
import type { FitMap } from '../likelihood/map.ts';
import type { ComponentName, EventTable, FitSettings, PredictedComponent, PseudoDataRequest } from './analysis.ts';
import type { EnvironmentInfo, ProviderChoice } from './engine.ts';

/** Where a model's files come from: a served folder (absolute URL) or files picked from disk. */
export type ModelSpec = { kind: 'url'; url: string } | { kind: 'files'; location: string; files: File[] };

/** What the page needs of a model loaded in the worker. */
export interface ModelInfo {
  name: string;
  location: string;
  /** 'webgpu' or 'wasm'. */
  provider: string;
  /** Providers tried first that could not run this model, with onnxruntime's reason. */
  skipped: string[];
  manifest: ModelManifest;
  parameterNames: string[];
  featureNames: string[];
}

export interface LoadedModels {
  models: Record<ComponentName, ModelInfo>;
  /** WASM threads onnxruntime runs with (it lowers the request to 1 without cross-origin isolation). */
  wasmThreads: number;
}

export interface FitJob {
  events: Pick<EventTable, 'columns' | 'count' | 'source'>;
  settings: FitSettings;
  /** The ΔNLL map's axes and points per axis, or null for none. */
  map: { x: string; y: string; points: number } | null;
  /** Flow samples per component for the fitted-model histogram, and their seed. */
  prediction: { samples: number; seed: number };
}

export interface FitOutcome {
  fit: FitResult;
  map: FitMap | null;
  prediction: PredictedComponent[];
  /** The estimate announced before the fit started (s). */
  expectedSeconds: number;
}

/** Each call: what the page sends and what the worker answers. */
export interface WorkerCalls {
  start: { request: { wasmBase: string }; reply: EnvironmentInfo };
  'load-models': { request: { choice: ProviderChoice; sources: Record<ComponentName, ModelSpec> }; reply: LoadedModels };
  generate: { request: PseudoDataRequest; reply: EventTable };
  fit: { request: FitJob; reply: FitOutcome };
}
export type CallName = keyof WorkerCalls;

export type WorkerRequest = { [K in CallName]: { id: number; call: K; request: WorkerCalls[K]['request'] } }[CallName] | { id: 0; call: 'cancel' };

/** Progress of a running call: a line for the status, optionally a fraction done and the expected duration. */
export interface Progress {
  text: string;
  done?: number;
  total?: number;
  expectedSeconds?: number;
}

export type WorkerReply =
  | { id: number; kind: 'progress'; progress: Progress }
  | { id: number; kind: 'done'; value: unknown }
  | { id: number; kind: 'failed'; message: string; cancelled: boolean };

/** Thrown after Cancel: in the worker by the next graph run, in the page for the call that was running. */
export class FitCancelled extends Error {
  constructor() {
    super('cancelled by the user');
    this.name = 'FitCancelled';
  }
}
