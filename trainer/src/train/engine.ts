// Training engines: what computes the loss, its gradients and the Adam update of one mini-batch. The loop in
// train.ts (splits, shuffles, schedules, early stopping, checkpoints) is shared, so both engines train the
// same IR from the same initial weights on the same batches:
//   tfjs        — TensorFlow.js autodiff over the IR interpreter (tfjs-engine.ts); fast with tfjs-node.
//   onnxruntime — the IR's own reverse pass emitted as one ONNX training-step graph, run by onnxruntime-node
//                 on the CPU, with Adam in JavaScript (onnx-step.ts); far faster than tfjs-wasm.
import * as tf from '@tensorflow/tfjs-core';
import type { ModelDefinition } from '../flows/config.ts';
import type { ParamSpec } from '../ir/graph.ts';
import type { TrainingData } from './dataset.ts';

export type EngineChoice = 'auto' | 'tfjs' | 'onnxruntime';
export const ENGINE_CHOICES: readonly EngineChoice[] = ['auto', 'tfjs', 'onnxruntime'];
export type Engine = Exclude<EngineChoice, 'auto'>;

/**
 * The engine `auto` stands for: tfjs when TensorFlow.js runs natively (tfjs-node, the 'tensorflow' backend)
 * or when a TensorFlow.js backend was asked for by name, onnxruntime otherwise (the wasm and cpu backends are
 * an order of magnitude slower than onnxruntime's CPU kernels; see `npm run bench`).
 */
export function resolveEngine(choice: EngineChoice, backendRequested = false): Engine {
  if (!ENGINE_CHOICES.includes(choice)) {
    throw new Error(`unknown training engine "${String(choice)}": expected one of ${ENGINE_CHOICES.join(', ')}`);
  }
  if (choice !== 'auto') return choice;
  return backendRequested || tf.getBackend() === 'tensorflow' ? 'tfjs' : 'onnxruntime';
}

/** Events as row-major arrays (weights filled with 1 when the data has none). */
export interface EventArrays {
  x: Float32Array;
  theta: Float32Array;
  w: Float32Array;
  count: number;
}

/** The events at `rows` (all when null) as fresh arrays, or the data's own when no rows are picked. */
export function eventArrays(data: TrainingData, rows: Uint32Array | null, D: number, P: number): EventArrays {
  const count = rows ? rows.length : data.count;
  const pick = (values: Float32Array, width: number): Float32Array => {
    if (!rows) return values;
    const out = new Float32Array(count * width);
    rows.forEach((r, i) => out.set(values.subarray(r * width, (r + 1) * width), i * width));
    return out;
  };
  return { x: pick(data.features, D), theta: pick(data.params, P), w: data.weights ? pick(data.weights, 1) : new Float32Array(count).fill(1), count };
}

/** What every engine starts from: the flow, its initial weights, the events and the loss settings. */
export interface EngineSetup {
  def: ModelDefinition;
  specs: ParamSpec[];
  init: Map<string, Float32Array>;
  validation: EventArrays;
  training: EventArrays;
  clipNorm: number;
  thetaWeightDecay: number;
}

/** Adam's state as checkpoints hold it. */
export interface AdamState {
  step: number;
  m: Map<string, Float32Array>;
  v: Map<string, Float32Array>;
}

export interface TrainingEngine {
  /** What runs the training, as recorded in the model's provenance, e.g. "onnxruntime-cpu" or "tfjs-wasm". */
  readonly label: string;
  /** Replaces the training events (fresh events per epoch). */
  setTraining(events: EventArrays): void;
  /**
   * One step on the training events at `rows`: gradients of the loss (NLL + θ penalty), global-norm clipping,
   * Adam. Returns the batch's weighted mean NLL without the penalty; when it is not finite nothing is updated.
   */
  step(rows: Uint32Array, learningRate: number): Promise<number>;
  /** Weighted mean NLL of the validation events. */
  validationLoss(): Promise<number>;
  /** Copies of the current weights. */
  weights(): Map<string, Float32Array>;
  adamState(): AdamState;
  /** Sets weights and Adam's state (resume). */
  restore(weights: Map<string, Float32Array>, adam: AdamState): void;
  dispose(): Promise<void>;
}
