// Density models for anomaly detection: a flow p(x) (or p(x | m) with the localising variable m as the
// condition, as ANODE's) trained by maximum likelihood on event tables, and its log-density on any events,
// evaluated by onnxruntime from the same IR graph that `flowscan export` writes.
import * as ort from 'onnxruntime-node';
import type { FlowConfig } from '../flows/config.ts';
import { type Rng } from '@flowscan/runtime';
import { logProbGraph, sampleGraph } from '../flows/graphs.ts';
import { emitOnnx } from '../ir/onnx.ts';
import type { TrainingData } from '../train/dataset.ts';
import { runTraining } from '../train/run.ts';
import type { TrainedModel } from '../train/saved-model.ts';
import type { TrainOptions } from '../train/train.ts';
import type { AnomalyEvents } from './events.ts';

/** The condition a density takes: none (p(x)) or the localising variable (p(x | m)). */
export type Conditioning = 'none' | 'm';

/** A trained density: what `flowscan export` writes as ONNX graphs, so the runtime and the browser can score. */
export type DensityModel = TrainedModel;

export function conditioningOf(model: DensityModel): Conditioning {
  return model.definition.params.length > 0 ? 'm' : 'none';
}

export const LOCALISING_VARIABLE = 'mjj';

function trainingData(events: AnomalyEvents, conditioning: Conditioning, weights?: Float32Array): TrainingData {
  if (weights && weights.length !== events.count) throw new Error(`${weights.length} event weights for ${events.count} events`);
  return {
    features: Float32Array.from(events.x),
    params: conditioning === 'm' ? Float32Array.from(events.m) : new Float32Array(0),
    count: events.count,
    ...(weights ? { weights } : {}),
  };
}

export interface DensityTrainingOptions {
  flow: FlowConfig;
  conditioning: Conditioning;
  train: Partial<TrainOptions>;
  /** Support margin of every feature (fraction of its training range per side; logit map). */
  margin?: number;
  /** Files the events came from (the model's provenance). */
  dataFiles?: string[];
  /**
   * Per-event weights of the likelihood (default 1). Weight 0 leaves an event out of the fit while it still sets
   * the preprocessing (feature ranges) and the seeded validation split and batch order, so two densities trained
   * on the same events with the same seed differ only through the weights (bootstrap.ts, methods.ts).
   */
  weights?: Float32Array;
}

/** Trains a density on `events` (all features, logit-standardised preprocessing from their ranges). */
export async function trainDensity(events: AnomalyEvents, options: DensityTrainingOptions): Promise<DensityModel> {
  if (events.count < 20) throw new Error(`a density needs at least 20 training events, got ${events.count}`);
  return runTraining({
    label: 'density',
    data: trainingData(events, options.conditioning, options.weights),
    dataFiles: options.dataFiles ?? [],
    features: events.features.map((name) => ({ name, ...(options.margin !== undefined ? { margin: options.margin } : {}) })),
    params: options.conditioning === 'm' ? [{ name: LOCALISING_VARIABLE }] : [],
    flow: options.flow,
    train: options.train,
    engine: 'onnxruntime',
    ...(options.train.threads !== undefined ? { threads: options.train.threads } : {}),
    quiet: true,
  });
}

/** Events per onnxruntime call: bounds the memory of one evaluation. */
const SCORE_CHUNK = 16_384;

/**
 * log p(x_i) (or log p(x_i | m_i)) of every event, in the physical units of the features. Events outside the
 * training support are clamped to its edge inside the graph (export.ts: OUTSIDE_SUPPORT_POLICY), so a test
 * event beyond the training range gets the edge density rather than NaN.
 */
export async function logDensity(model: DensityModel, events: AnomalyEvents, threads = 1): Promise<Float64Array> {
  const def = model.definition;
  const D = def.features.length;
  if (events.features.join() !== def.features.map((f) => f.name).join()) {
    throw new Error(`the density models features (${def.features.map((f) => f.name).join(', ')}) but the events hold (${events.features.join(', ')})`);
  }
  const built = logProbGraph(def);
  const bytes = emitOnnx(built.graph, { name: 'log_prob', outputs: { log_prob: built.outputs.log_prob.id }, weights: model.weights });
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], intraOpNumThreads: threads, graphOptimizationLevel: 'all' });
  const out = new Float64Array(events.count);
  try {
    for (let s = 0; s < events.count; s += SCORE_CHUNK) {
      const e = Math.min(s + SCORE_CHUNK, events.count);
      const feeds: Record<string, ort.Tensor> = { x: new ort.Tensor('float32', Float32Array.from(events.x.subarray(s * D, e * D)), [e - s, D]) };
      if (conditioningOf(model) === 'm') feeds.theta = new ort.Tensor('float32', Float32Array.from(events.m.subarray(s, e)), [e - s, 1]);
      const result = await session.run(feeds);
      out.set(result.log_prob.data as Float32Array, s);
    }
  } finally {
    await session.release();
  }
  return out;
}

/**
 * One event from p(x | m_i) for each condition value m_i (CATHODE's background samples at signal-region m):
 * base draws (normal or Student-t, as the flow's) through the sampler graph, onnxruntime on the CPU.
 */
export async function sampleDensity(model: DensityModel, m: Float64Array, rng: Rng, threads = 1): Promise<Float64Array> {
  if (conditioningOf(model) !== 'm') throw new Error('sampling at condition values needs a conditional density p(x | m)');
  const D = model.definition.features.length;
  const built = sampleGraph(model.definition);
  const bytes = emitOnnx(built.graph, { name: 'sample', outputs: { x: built.outputs.x.id }, weights: model.weights });
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], intraOpNumThreads: threads, graphOptimizationLevel: 'all' });
  const base = model.definition.flow.base;
  const out = new Float64Array(m.length * D);
  try {
    for (let s = 0; s < m.length; s += SCORE_CHUNK) {
      const e = Math.min(s + SCORE_CHUNK, m.length);
      const z = new Float32Array((e - s) * D);
      if (base.kind === 'normal') rng.fillNormal(z);
      else rng.fillStudentT(z, base.nu);
      const result = await session.run({ z: new ort.Tensor('float32', z, [e - s, D]), theta: new ort.Tensor('float32', Float32Array.from(m.subarray(s, e)), [e - s, 1]) });
      out.set(result.x.data as Float32Array, s * D);
    }
  } finally {
    await session.release();
  }
  return out;
}

/**
 * The bootstrap's re-fit of p(x|bkg) (bootstrap.ts `fitBackground`): a density on all of `data` with the removed
 * events at weight 0, trained with the data density's options and seed. Both densities then share the
 * preprocessing, validation split, initial weights and batch order, and differ only through the removed events.
 * A flow trained on the kept events alone (its own seed) fits its logit support to their narrower range and its
 * training noise does not cancel in λ: on the LHCO data that re-fit put 39–190 test events into holes with
 * λ < e^−20 and scored at random (test AUC 0.46–0.56), where this one puts 0–3 there and scores AUC 0.64–0.71
 * (docs/anomaly.md).
 */
export function weightedRefit(data: AnomalyEvents, options: DensityTrainingOptions, threads = 1) {
  return async (_kept: AnomalyEvents, _iteration: number, keep: Uint8Array): Promise<{ model: DensityModel; logP: Float64Array }> => {
    const model = await trainDensity(data, { ...options, weights: Float32Array.from(keep) });
    return { model, logP: await logDensity(model, data, threads) };
  };
}

/** Trains `members` densities on the same events with seeds seed, seed + 1, …: an ensemble (score-model.ts). */
export async function trainDensityEnsemble(events: AnomalyEvents, options: DensityTrainingOptions, members: number): Promise<DensityModel[]> {
  if (!(Number.isInteger(members) && members >= 1)) throw new Error(`an ensemble needs a whole number ≥ 1 of flows, got ${members}`);
  const seed = options.train.seed ?? 1;
  const models: DensityModel[] = [];
  for (let k = 0; k < members; k++) models.push(await trainDensity(events, { ...options, train: { ...options.train, seed: seed + k } }));
  return models;
}

/** The mean of the members' log p: the log of their geometric mean, what an ensemble scores with. */
export async function ensembleLogDensity(models: DensityModel[], events: AnomalyEvents, threads = 1): Promise<Float64Array> {
  const out = new Float64Array(events.count);
  for (const model of models) {
    const logP = await logDensity(model, events, threads);
    for (let i = 0; i < out.length; i++) out[i] += logP[i] / models.length;
  }
  return out;
}

/**
 * Bits per dimension of events under a density: −Σ log₂ p(x_i) / (N·D), in the features' physical units
 * (Tan 2020, Table 1, reports it per class: overall, signal and background).
 */
export function bitsPerDimension(logP: Float64Array, dimensions: number, rows?: (i: number) => boolean): number {
  let sum = 0;
  let n = 0;
  for (let i = 0; i < logP.length; i++) {
    if (rows && !rows(i)) continue;
    sum += logP[i];
    n++;
  }
  if (n === 0) throw new Error('bits per dimension of no events: the selection is empty');
  return -sum / (n * dimensions * Math.LN2);
}
