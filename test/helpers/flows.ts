// Shared fixtures for the flow suites: random models of every kind, and IR evaluation in tfjs.
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@flowscan/runtime';
import { type FlowKind, type ModelDefinition, flowConfig } from '../../trainer/src/flows/config.ts';
import { initialWeights, parameterSpecs } from '../../trainer/src/flows/graphs.ts';
import type { GraphBuilder, T } from '../../trainer/src/ir/graph.ts';
import { evaluateGraph } from '../../trainer/src/ir/tfjs.ts';
import type { TrainedModel } from '../../trainer/src/train/saved-model.ts';
import { emitOnnx } from '../../trainer/src/ir/onnx.ts';
import * as ort from 'onnxruntime-node';

export const FLOW_TABLE: FlowKind[] = ['maf', 'nsf', 'nsf-coupling', 'realnvp'];

/** A small model of the given kind over D features in [38, 142] GeV and P parameters (the last log-scaled). */
export function randomModel(kind: FlowKind, D: number, P: number, seed = 1): { def: ModelDefinition; weights: Map<string, Float32Array> } {
  const def: ModelDefinition = {
    features: [...Array(D).keys()].map((i) => ({ name: `x${i}`, unit: 'GeV', range: [40, 140], logScale: false })),
    params: [...Array(P).keys()].map((i) => ({
      name: `p${i}`,
      unit: '',
      range: i === P - 1 && P > 1 ? [1e-3, 1e-1] : [60, 120],
      logScale: i === P - 1 && P > 1,
    })),
    // The linear θ path in one autoregressive and one coupling flow.
    flow: flowConfig(kind, {
      blocks: 2,
      hidden: 12,
      depth: 2,
      bins: 6,
      tailBound: 3,
      base: kind === 'realnvp' ? { kind: 'student-t', nu: 3 } : { kind: 'normal' },
      linearTheta: kind === 'maf' || kind === 'nsf-coupling',
    }),
    // Features alternate between the two maps: a declared window (probit) and an inferred support (logit).
    preprocessing: [...Array(D).keys()].map((i) =>
      i % 2 === 0 ? { lo: 38, hi: 142, map: 'probit' as const, mean: 0, std: 1 } : { lo: 38, hi: 142, map: 'logit' as const, mean: 0.1 * i, std: 1.5 },
    ),
    supportMargin: 0.02,
  };
  const rng = new Rng(seed);
  const weights = initialWeights(parameterSpecs(def), () => rng.uniform());
  // Output heads start near the identity in training; make them larger here so the transforms are far from it
  // (while log p stays in the range of trained models, where float32 resolves it to 1e-5).
  for (const [name, w] of weights) if (name.includes('head') || name.includes('theta')) for (let i = 0; i < w.length; i++) w[i] = (2 * rng.uniform() - 1) * 0.4;
  return { def, weights };
}

/** A random model as the trainer's output, with placeholder provenance, for exportModel. */
export function asTrained(m: ReturnType<typeof randomModel>): TrainedModel {
  return {
    definition: m.def,
    weights: m.weights,
    history: [],
    provenance: { dataHash: '0'.repeat(64), dataFiles: [], events: 10, trainingEvents: 9, validationEvents: 1, epochs: 1, bestEpoch: 1, validationLoss: 0, backend: 'cpu', seed: 1, date: '2026-11-23', trainer: 'test' },
  };
}

/** Draws N events inside the support, some within 0.5 GeV of its edges. */
export function randomEvents(rng: Rng, n: number, D: number, lo = 38, hi = 142): Float32Array {
  const x = new Float32Array(n * D);
  for (let i = 0; i < x.length; i++) {
    const u = rng.uniform();
    x[i] = i % 7 === 0 ? lo + 0.5 * u : i % 11 === 0 ? hi - 0.5 * u : 40 + 100 * u;
  }
  return x;
}

export function randomTheta(rng: Rng, rows: number, def: ModelDefinition): Float32Array {
  const P = def.params.length;
  const t = new Float32Array(rows * P);
  for (let r = 0; r < rows; r++) {
    def.params.forEach((p, j) => {
      const [a, b] = p.range;
      t[r * P + j] = p.logScale ? a * (b / a) ** rng.uniform() : a + (b - a) * rng.uniform();
    });
  }
  return t;
}

export interface Feed {
  data: Float32Array;
  shape: number[];
}

/** Evaluates graph outputs with the TensorFlow.js interpreter (cpu backend). */
export function runIr(graph: GraphBuilder, outputs: T[], feeds: Record<string, Feed>, weights: Map<string, Float32Array>): Float32Array[] {
  return tf.tidy(() => {
    const inputs = Object.fromEntries(Object.entries(feeds).map(([k, f]) => [k, tf.tensor(f.data, f.shape)]));
    const params = Object.fromEntries([...graph.params.values()].map((s) => [s.name, tf.tensor(weights.get(s.name)!, [...s.shape])]));
    return evaluateGraph(graph, outputs.map((o) => o.id), inputs, params).map((t) => t.dataSync() as Float32Array);
  });
}

/**
 * Evaluates graph outputs in float64 with onnxruntime (the float64 twin of the exported graph): the precise
 * reference for finite differences, which float32 cannot resolve.
 */
export async function runOnnx64(
  graph: GraphBuilder,
  outputs: T[],
  feeds: Record<string, { data: ArrayLike<number>; shape: number[] }>,
  weights: Map<string, Float32Array>,
): Promise<Float64Array[]> {
  const names = Object.fromEntries(outputs.map((o, i) => [`out${i}`, o.id]));
  const bytes = emitOnnx(graph, { name: 'float64-reference', outputs: names, weights, precision: 'float64' });
  const session = await ort.InferenceSession.create(bytes);
  const inputs = Object.fromEntries(Object.entries(feeds).map(([k, f]) => [k, new ort.Tensor('float64', Float64Array.from(f.data), f.shape)]));
  const result = await session.run(inputs);
  await session.release();
  return outputs.map((_, i) => result[`out${i}`].data as Float64Array);
}
