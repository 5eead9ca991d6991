// Reverse-mode differentiation on the IR: appends to the graph the nodes of the vector–Jacobian product
// ∂/∂target ⟨seed, output⟩ for one or several targets in one shared backward sweep. Used to write the θ-gradient
// graph Σ_i w_i ∇_θ log p(x_i|θ) in standard ONNX ops (seed = the event weights w; the weights are constants
// there) and the training step's gradient of the loss w.r.t. every weight (train/onnx-step.ts). Only the nodes
// on a path from a target to `output` get adjoints.
import { type Dim, type GraphBuilder, type Shape, type T, nodeInputs, reachable } from './graph.ts';

/** Sums `g` over the axes along which a tensor of shape `target` was broadcast to g's shape. */
export function reduceToShape(g: T, target: Shape): T {
  let out = g;
  const lead = out.rank - target.length;
  if (lead > 0) out = out.graph.sum(out, [...Array(lead).keys()], false);
  const axes: number[] = [];
  target.forEach((d: Dim, i) => {
    if (d === 1 && out.shape[i] !== 1) axes.push(i);
    else if (d !== out.shape[i] && out.shape[i] !== 1) {
      if (typeof d !== 'number' || typeof out.shape[i] !== 'number') {
        throw new Error(`reverse pass: cannot reduce [${out.shape.join(',')}] to [${target.join(',')}]`);
      }
    }
  });
  if (axes.length > 0) out = out.graph.sum(out, axes, true);
  return out;
}

/**
 * Returns the adjoint of `target` for the scalar ⟨seed, output⟩, with target's shape.
 * `seed` must have output's shape.
 */
export function vjp(graph: GraphBuilder, output: T, seed: T, target: T): T {
  return vjpMany(graph, output, seed, [target])[0];
}

/**
 * The adjoints of several targets (in their order) for the scalar ⟨seed, output⟩, from one backward sweep:
 * shared intermediate adjoints are built once. Every target must reach the output.
 */
export function vjpMany(graph: GraphBuilder, output: T, seed: T, targets: readonly T[]): T[] {
  const forward = reachable(graph, [output.id]);
  const targetIds = new Set(targets.map((t) => t.id));
  // Only nodes that depend on a target carry adjoints.
  const dependsOnTarget = new Set<number>(targetIds);
  for (const id of forward) {
    if (nodeInputs(graph.nodes[id].node).some((i) => dependsOnTarget.has(i))) dependsOnTarget.add(id);
  }
  if (!dependsOnTarget.has(output.id)) throw new Error('vjp: output does not depend on the target');

  const adjoints = new Map<number, T>([[output.id, seed]]);
  const accumulate = (id: number, g: T): void => {
    if (!dependsOnTarget.has(id)) return;
    const shaped = reduceToShape(g, graph.nodes[id].shape);
    const known = adjoints.get(id);
    adjoints.set(id, known ? known.add(shaped) : shaped);
  };

  for (let k = forward.length - 1; k >= 0; k--) {
    const id = forward[k];
    const adjoint = adjoints.get(id);
    if (!adjoint || targetIds.has(id)) continue;
    const node = graph.nodes[id].node;
    const out = graph.handle(id);
    const h = (i: number): T => graph.handle(i);
    // An adjoint may stay broadcast (a reduction's adjoint is its input's adjoint along the reduced axes, with no
    // Expand: the element-wise rules broadcast it for free). Rules that reshape, contract or scan the last axis
    // need it at the node's full shape.
    const g = ELEMENTWISE.has(node.kind) || sameShape(adjoint.shape, out.shape) ? adjoint : graph.expandAs(adjoint, out);
    switch (node.kind) {
      case 'input':
      case 'param':
      case 'const':
      case 'compare':
      case 'transpose':
      case 'contractLeading':
        break;
      case 'unary': {
        const x = h(node.x);
        switch (node.op) {
          case 'neg':
            accumulate(node.x, g.neg());
            break;
          case 'exp':
            accumulate(node.x, g.mul(out));
            break;
          case 'log':
            accumulate(node.x, g.div(x));
            break;
          case 'sqrt':
            accumulate(node.x, g.mul(0.5).div(out));
            break;
          case 'tanh':
            accumulate(node.x, g.mul(graph.scalar(1).sub(out.square())));
            break;
          case 'sigmoid':
            accumulate(node.x, g.mul(out.mul(graph.scalar(1).sub(out))));
            break;
          case 'softplus':
            accumulate(node.x, g.mul(x.sigmoid()));
            break;
          case 'abs':
            accumulate(node.x, graph.where(x.greaterEqual(0), g, g.neg()));
            break;
          case 'square':
            accumulate(node.x, g.mul(x).mul(2));
            break;
        }
        break;
      }
      case 'binary': {
        const a = h(node.a);
        const b = h(node.b);
        switch (node.op) {
          case 'add':
            accumulate(node.a, g);
            accumulate(node.b, g);
            break;
          case 'sub':
            accumulate(node.a, g);
            accumulate(node.b, g.neg());
            break;
          case 'mul':
            accumulate(node.a, g.mul(b));
            accumulate(node.b, g.mul(a));
            break;
          case 'div':
            accumulate(node.a, g.div(b));
            accumulate(node.b, g.mul(out).div(b).neg());
            break;
          case 'maximum':
          case 'minimum': {
            // The gradient goes to the selected operand (to `a` on ties).
            const picksA = node.op === 'maximum' ? a.greaterEqual(b) : b.greaterEqual(a);
            accumulate(node.a, graph.where(picksA, g, 0));
            accumulate(node.b, graph.where(picksA, 0, g));
            break;
          }
        }
        break;
      }
      case 'where':
        accumulate(node.a, graph.where(h(node.cond), g, 0));
        accumulate(node.b, graph.where(h(node.cond), 0, g));
        break;
      case 'matmul':
        accumulate(node.x, g.matmul(graph.transpose(h(node.w))));
        // A weight's adjoint only when one is wanted: the θ-gradient graph must not grow by unused nodes.
        if (dependsOnTarget.has(node.w)) accumulate(node.w, graph.contractLeading(h(node.x), g));
        if (node.bias !== undefined) accumulate(node.bias, g);
        break;
      case 'sharedDot':
        accumulate(node.vector, graph.sharedDotAdjoint(h(node.rows), g));
        if (dependsOnTarget.has(node.rows)) accumulate(node.rows, g.unsqueeze(-1).mul(h(node.vector)));
        break;
      case 'sharedDotAdjoint':
        throw new Error('reverse pass: a graph that already holds a reverse pass (sharedDotAdjoint) cannot be differentiated again');
      case 'sum': {
        let broadcast = g;
        if (!node.keepDims) for (const axis of node.axes) broadcast = broadcast.unsqueeze(axis);
        accumulate(node.x, broadcast);
        break;
      }
      case 'softmaxLast':
        accumulate(node.x, out.mul(g.sub(g.mul(out).sumLast(true))));
        break;
      case 'cumsumLast':
        accumulate(node.x, g.cumsumLast(node.exclusive, !node.reverse));
        break;
      case 'splitLast':
        accumulate(node.x, g.mergeLast());
        break;
      case 'mergeLast': {
        const s = graph.nodes[node.x].shape;
        accumulate(node.x, g.splitLast(s[s.length - 2] as number, s[s.length - 1] as number));
        break;
      }
      case 'unsqueeze':
        accumulate(node.x, g.squeeze(node.axis));
        break;
      case 'squeeze':
        accumulate(node.x, g.unsqueeze(node.axis));
        break;
      case 'expandAs':
        accumulate(node.x, g);
        break;
    }
  }
  return targets.map((t) => {
    const result = adjoints.get(t.id);
    if (!result) throw new Error(`vjp: no gradient reached the target (node ${t.id}${describe(graph, t.id)})`);
    return sameShape(result.shape, t.shape) ? result : graph.expandAs(result, t);
  });
}

/** Rules that take a broadcast adjoint as it is (they broadcast it themselves). */
const ELEMENTWISE = new Set(['unary', 'binary', 'where', 'sum', 'unsqueeze', 'squeeze', 'expandAs']);

function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function describe(graph: GraphBuilder, id: number): string {
  const node = graph.nodes[id].node;
  return node.kind === 'param' || node.kind === 'input' ? `, ${node.kind} ${node.name}` : '';
}
