// The training step as one IR graph: events x [N, D], θ [N, P] (conditional flows only) and event weights
// w [N] → the weighted mean NLL Σw(−log p)/Σw, the loss (the NLL plus the θ penalty λΣW² when λ > 0) and the
// gradient of the loss w.r.t. every weight, by one reverse sweep on the IR (vjpMany). Emitted with the weights
// as graph inputs, it lets onnxruntime run training (onnx-step.ts); the tfjs path trains the same IR.
import { isThetaInputWeight } from '../flows/conditioner.ts';
import type { ModelDefinition } from '../flows/config.ts';
import { flowGraphs } from '../flows/flow.ts';
import { GraphBuilder, type ParamSpec, type T } from '../ir/graph.ts';
import { vjpMany } from '../ir/vjp.ts';

export interface StepGraph {
  graph: GraphBuilder;
  /** The trainable weights, in declaration order (the order of `grads`). */
  specs: ParamSpec[];
  logProb: T;
  nll: T;
  loss: T;
  /** ∂loss/∂weight, one per spec. */
  grads: T[];
}

/** Name of the gradient output of a weight in the emitted step graph. */
export function gradName(weight: string): string {
  return `grad:${weight}`;
}

export function stepGraph(def: ModelDefinition, thetaWeightDecay: number): StepGraph {
  const g = new GraphBuilder();
  // θ has the events' batch axis 'N' (not a separate 'B' as in the exported log-density graph): the reverse
  // pass then reduces every adjoint to a shape it can name.
  const x = g.input('x', ['N', def.features.length]);
  const theta = def.params.length > 0 ? g.input('theta', ['N', def.params.length]) : null;
  const w = g.input('w', ['N']);
  const logProb = flowGraphs(g, def).logProb(x, theta);
  const nll = g.sum(logProb.mul(w), [0], false).neg().div(g.sum(w, [0], false));
  const specs = [...g.params.values()];
  let loss = nll;
  if (thetaWeightDecay > 0) {
    const penalised = specs.filter((s) => isThetaInputWeight(s.name)).map((s) => g.param(s.name, s.shape));
    if (penalised.length === 0) throw new Error('θ weight decay: this flow has no weights that carry θ into its networks');
    const squares = penalised.map((p) => g.sum(p.square(), [...p.shape.keys()], false)).reduce((a, b) => a.add(b));
    loss = nll.add(squares.mul(thetaWeightDecay));
  }
  const grads = vjpMany(g, loss, g.scalar(1), specs.map((s) => g.param(s.name, s.shape)));
  return { graph: g, specs, logProb, nll, loss, grads };
}
