// The classifier as IR graphs: a multilayer perceptron from physical-unit events to one logit, with the
// standardisation of its inputs built in; the training step (binary cross-entropy with logits and the gradient of
// every weight by the IR's reverse pass); and the ensemble that averages several trained networks.
import { activate } from '../flows/conditioner.ts';
import type { Activation } from '../flows/config.ts';
import { GraphBuilder, type ParamSpec, type T } from '../ir/graph.ts';
import { vjpMany } from '../ir/vjp.ts';

export type ClassifierActivation = Extract<Activation, 'relu' | 'silu'>;
export const CLASSIFIER_ACTIVATIONS: readonly ClassifierActivation[] = ['relu', 'silu'];

/** What fixes a network's function besides its weights. */
export interface NetworkSpec {
  /** Number of input features D. */
  features: number;
  /** Width of each hidden layer, input side first. */
  hidden: number[];
  activation: ClassifierActivation;
  /** Per-feature mean and standard deviation of the training events: x enters the network as (x − mean)/std. */
  standardisation: { mean: number; std: number }[];
}

/** The logit z(x) [N] of one network on events x [N, D]; its weights are named `${prefix}layer${i}.W|b`. */
export function logitOf(g: GraphBuilder, spec: NetworkSpec, x: T, prefix = ''): T {
  const mean = Float32Array.from(spec.standardisation, (s) => s.mean);
  const scale = Float32Array.from(spec.standardisation, (s) => 1 / s.std);
  let h = x.sub(g.constant(mean, [spec.features])).mul(g.constant(scale, [spec.features]));
  const widths = [spec.features, ...spec.hidden, 1];
  for (let i = 0; i + 1 < widths.length; i++) {
    // Uniform ±1/√fan_in, as PyTorch's Linear layers start (the CATHODE classifier's reference implementation).
    const w = g.param(`${prefix}layer${i}.W`, [widths[i], widths[i + 1]], { kind: 'fanIn', gain: 1 });
    h = h.matmul(w, g.param(`${prefix}layer${i}.b`, [widths[i + 1]], { kind: 'zeros' }));
    if (i + 2 < widths.length) h = activate(h, spec.activation);
  }
  return h.squeeze(-1);
}

/** The trainable weights of one network, in the order the step graph's gradients come. */
export function networkWeights(spec: NetworkSpec): ParamSpec[] {
  const g = new GraphBuilder();
  logitOf(g, spec, g.input('x', ['N', spec.features]));
  return [...g.params.values()];
}

export interface ClassifierStep {
  graph: GraphBuilder;
  specs: ParamSpec[];
  logit: T;
  loss: T;
  grads: T[];
}

/**
 * The training step on events x [N, D] with labels y [N] (0 or 1) and weights w [N]: the weighted mean binary
 * cross-entropy Σ w ℓ / Σ w with ℓ = −y log σ(z) − (1 − y) log(1 − σ(z)) = softplus(z) − y z (no log of a
 * rounded probability; the IR's softplus is the stable max(z, 0) + log(1 + e^−|z|)), and ∂loss/∂weight by one
 * reverse sweep.
 */
export function classifierStep(spec: NetworkSpec): ClassifierStep {
  const g = new GraphBuilder();
  const x = g.input('x', ['N', spec.features]);
  const y = g.input('y', ['N']);
  const w = g.input('w', ['N']);
  const logit = logitOf(g, spec, x);
  const perEvent = logit.softplus().sub(y.mul(logit));
  const loss = g.sum(perEvent.mul(w), [0], false).div(g.sum(w, [0], false));
  const specs = [...g.params.values()];
  const grads = vjpMany(g, loss, g.scalar(1), specs.map((s) => g.param(s.name, s.shape)));
  return { graph: g, specs, logit, loss, grads };
}

/** log σ(z) = −softplus(−z), finite for every float z. */
function logSigmoid(z: T): T {
  return z.neg().softplus().neg();
}

/** log(e^a + e^b) = max(a, b) + log(1 + e^−|a−b|): no overflow. */
function logAddExp(a: T, b: T): T {
  return a.maximum(b).add(a.sub(b).abs().neg().softplus());
}

/**
 * The ensemble of K networks (member k's weights prefixed `m${k}.`) on events x [N, D]: the averaged probability
 * p̄ = (1/K) Σ σ(z_k) and its logit log p̄ − log(1 − p̄), written as log Σ σ(z_k) − log Σ σ(−z_k) with log-sum-exp
 * so it stays exact where p̄ rounds to 1 in float32 (the 1/K cancels). For K = 1 the logit is the network's own.
 */
export function ensembleOutputs(g: GraphBuilder, spec: NetworkSpec, x: T, members: number): { probability: T; logit: T } {
  const logits = Array.from({ length: members }, (_, k) => logitOf(g, spec, x, `m${k}.`));
  const probability = logits.map((z) => z.sigmoid()).reduce((a, b) => a.add(b)).mul(1 / members);
  if (members === 1) return { probability, logit: logits[0] };
  const logPositive = logits.map(logSigmoid).reduce(logAddExp);
  const logNegative = logits.map((z) => logSigmoid(z.neg())).reduce(logAddExp);
  return { probability, logit: logPositive.sub(logNegative) };
}

/** The weights of ensemble member k under the names ensembleOutputs gives them. */
export function memberWeights(k: number, weights: ReadonlyMap<string, Float32Array>): [string, Float32Array][] {
  return [...weights].map(([name, value]) => [`m${k}.${name}`, value]);
}
