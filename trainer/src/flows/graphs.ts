// The graphs built from one flow description: training (tfjs) and the exported ONNX graphs.
import type { ModelDefinition } from './config.ts';
import { flowGraphs } from './flow.ts';
import { GraphBuilder, type ParamSpec, type T } from '../ir/graph.ts';
import { vjp } from '../ir/vjp.ts';

export interface BuiltGraph {
  graph: GraphBuilder;
  /** Output name → node. */
  outputs: Record<string, T>;
}

/** x [N, D] and per-event θ [N, P] (or [1, P]) → log p [N]: the graph that is trained and exported. */
export function logProbGraph(def: ModelDefinition): BuiltGraph {
  const g = new GraphBuilder();
  const x = g.input('x', ['N', def.features.length]);
  const theta = def.params.length > 0 ? g.input('theta', ['B', def.params.length]) : null;
  return { graph: g, outputs: { log_prob: flowGraphs(g, def).logProb(x, theta) } };
}

/**
 * Which events a batched graph takes: physical x [N, D], or x already through the preprocessing bijection
 * (y [N, D] and its log|det| [N], from `preprocessGraph`), which a scan computes once per dataset.
 */
export type EventInput = 'physical' | 'preprocessed';

/** The same N events against K parameter points: x [N, D] (or y, log_det), θ [K, P] → log p [K, N]. */
function batchedLogProb(g: GraphBuilder, def: ModelDefinition, events: EventInput): { theta: T; logProb: T } {
  const flow = flowGraphs(g, def);
  const D = def.features.length;
  const x = g.input(events === 'physical' ? 'x' : 'y', ['N', D]);
  const preLogDet = events === 'preprocessed' ? g.input('log_det', ['N']) : null;
  const theta = g.input('theta', ['K', def.params.length]);
  const logProb = preLogDet
    ? flow.logProbPreprocessed(x.unsqueeze(0), preLogDet.unsqueeze(0), theta.unsqueeze(1))
    : flow.logProb(x.unsqueeze(0), theta.unsqueeze(1));
  return { theta, logProb };
}

export function logProbBatchGraph(def: ModelDefinition, events: EventInput = 'physical'): BuiltGraph {
  const g = new GraphBuilder();
  return { graph: g, outputs: { log_prob: batchedLogProb(g, def, events).logProb } };
}

/** The preprocessing bijection alone, the part independent of θ: x [N, D] → y [N, D] and its log|det| [N]. */
export function preprocessGraph(def: ModelDefinition): BuiltGraph {
  const g = new GraphBuilder();
  const { y, logDet } = flowGraphs(g, def).preprocess(g.input('x', ['N', def.features.length]));
  return { graph: g, outputs: { y, log_det: logDet } };
}

/** An unconditional flow's log-density from preprocessed events: y [N, D], log_det [N] → log p [N]. */
export function logProbPreprocessedGraph(def: ModelDefinition): BuiltGraph {
  const g = new GraphBuilder();
  const y = g.input('y', ['N', def.features.length]);
  const preLogDet = g.input('log_det', ['N']);
  return { graph: g, outputs: { log_prob: flowGraphs(g, def).logProbPreprocessed(y, preLogDet, null) } };
}

/**
 * θ-gradient: x [N, D], θ [K, P], weights w [J, N] (J = 1: the same weights for every point, or J = K: one
 * row per point, as mixture responsibilities need) → log p [K, N] and Σ_i w_ki ∇_θ log p(x_i|θ_k) [K, P], by
 * the reverse pass on the IR (seed = w broadcast to [K, N]).
 */
export function logProbGradGraph(def: ModelDefinition, events: EventInput = 'physical'): BuiltGraph {
  if (def.params.length === 0) throw new Error('an unconditional flow has no θ-gradient');
  const g = new GraphBuilder();
  const { theta, logProb } = batchedLogProb(g, def, events);
  const weights = g.input('weights', ['J', 'N']);
  const grad = vjp(g, logProb, g.expandAs(weights, logProb), theta);
  return { graph: g, outputs: { log_prob: logProb, grad_theta: grad } };
}

/** Sampler: base draws z [N, D] and θ [N or 1, P] → x [N, D] in physical units. */
export function sampleGraph(def: ModelDefinition): BuiltGraph {
  const g = new GraphBuilder();
  const z = g.input('z', ['N', def.features.length]);
  const theta = def.params.length > 0 ? g.input('theta', ['B', def.params.length]) : null;
  return { graph: g, outputs: { x: flowGraphs(g, def).sample(z, theta) } };
}

/** The trainable weights of a flow (same names in every graph of it). */
export function parameterSpecs(def: ModelDefinition): ParamSpec[] {
  return [...logProbGraph(def).graph.params.values()];
}

/** Initial weights: zeros, or uniform in ±gain/√fan_in. `uniform` returns values in (0, 1). */
export function initialWeights(specs: ParamSpec[], uniform: () => number): Map<string, Float32Array> {
  const weights = new Map<string, Float32Array>();
  for (const spec of specs) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const w = new Float32Array(size);
    if (spec.init.kind === 'fanIn') {
      const bound = spec.init.gain / Math.sqrt(spec.shape[0]);
      for (let i = 0; i < size; i++) w[i] = (2 * uniform() - 1) * bound;
    }
    weights.set(spec.name, w);
  }
  return weights;
}
