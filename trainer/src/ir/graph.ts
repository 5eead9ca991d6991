// A small typed tensor-expression IR: the single description of every flow.
//
// A flow is written once against `GraphBuilder`; from that one graph come the TensorFlow.js interpreter
// (training, `tfjs.ts`), the ONNX emitter (`onnx.ts`) and the reverse-mode pass that writes the θ-gradient
// (`vjp.ts`). One source of truth means the exported graph cannot drift from the trained model.
//
// Conventions: every tensor is float32; the feature axis is always the LAST axis, and operations broadcast
// NumPy-style over the leading (batch) axes, so the same flow code builds rank-2 graphs ([N, D] events,
// [B, P] parameters) and rank-3 graphs ([K, N, D] for K parameter points against N events). Shapes are
// tracked symbolically (numbers, or names such as 'N' and 'K') so the reverse pass knows statically which
// axes were broadcast.

export type Dim = number | string;
export type Shape = readonly Dim[];

/** Unary element-wise ops with a derivative. */
export type UnaryOp = 'neg' | 'exp' | 'log' | 'sqrt' | 'tanh' | 'sigmoid' | 'softplus' | 'abs' | 'square';
/** Binary element-wise ops with broadcasting. */
export type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'maximum' | 'minimum';
/** Comparisons; they return 0/1 as float32 and carry no gradient. */
export type CompareOp = 'greaterEqual' | 'equal';

export type Node =
  | { kind: 'input'; name: string }
  | { kind: 'param'; name: string }
  | { kind: 'const'; value: Float32Array }
  | { kind: 'unary'; op: UnaryOp; x: number }
  | { kind: 'binary'; op: BinaryOp; a: number; b: number }
  | { kind: 'compare'; op: CompareOp; a: number; b: number }
  /** cond is a 0/1 float mask; selects a where cond = 1, b elsewhere (a true select: no 0·Inf = NaN). */
  | { kind: 'where'; cond: number; a: number; b: number }
  /** x[..., m] @ w[m, n]; w must not depend on graph inputs (a parameter or constant). */
  /** x[..., m] @ w[m, n] (+ bias[n]); w and the bias must not depend on graph inputs (parameters or constants). */
  | { kind: 'matmul'; x: number; w: number; bias?: number }
  /** 2-D transpose of a parameter or constant (used by the reverse pass for matmul). */
  | { kind: 'transpose'; x: number }
  /**
   * Σ over every leading axis of x[..., m] ⊗ g[..., n] → [m, n]: the adjoint of a matmul's weight (the reverse
   * pass w.r.t. the weights, for training in onnxruntime). x and g have the same leading axes (maybe none).
   */
  | { kind: 'contractLeading'; x: number; g: number }
  /**
   * Σ_m rows[s, r…, m] · vector[s, 1…, m] → [s, r…]: every row of the leading group s dotted with that group's one
   * vector (rows: a bin mask over events, vector: a per-θ table). One batched MatMul per group instead of a
   * broadcast product and a reduction over all rows.
   */
  | { kind: 'sharedDot'; rows: number; vector: number }
  /** The vector's adjoint of sharedDot: Σ_r rows[s, r…, m] · g[s, r…] → [s, 1…, m] (rowsᵀ g per group). */
  | { kind: 'sharedDotAdjoint'; rows: number; g: number }
  | { kind: 'sum'; x: number; axes: number[]; keepDims: boolean }
  | { kind: 'softmaxLast'; x: number }
  | { kind: 'cumsumLast'; x: number; exclusive: boolean; reverse: boolean }
  /** [..., a·b] → [..., a, b] */
  | { kind: 'splitLast'; x: number; sizes: [number, number] }
  /** [..., a, b] → [..., a·b] */
  | { kind: 'mergeLast'; x: number }
  | { kind: 'unsqueeze'; x: number; axis: number }
  | { kind: 'squeeze'; x: number; axis: number }
  /** Broadcasts x to the shape of `like`. */
  | { kind: 'expandAs'; x: number; like: number };

export interface GraphNode {
  readonly id: number;
  readonly node: Node;
  readonly shape: Shape;
}

/** How a weight starts: zeros, or uniform in ±gain/√fan_in (fan_in = first dimension). */
export type ParamInit = { kind: 'zeros' } | { kind: 'fanIn'; gain: number };

export interface ParamSpec {
  readonly name: string;
  readonly shape: readonly [number] | readonly [number, number];
  readonly init: ParamInit;
}

export interface InputSpec {
  readonly name: string;
  readonly shape: Shape;
}

/** A tensor handle in a graph under construction. */
export class T {
  constructor(
    readonly graph: GraphBuilder,
    readonly id: number,
  ) {}

  get shape(): Shape {
    return this.graph.nodes[this.id].shape;
  }
  get rank(): number {
    return this.shape.length;
  }
  /** Size of the last (feature) axis, which is always static. */
  get width(): number {
    const last = this.shape[this.shape.length - 1];
    if (typeof last !== 'number') throw new Error(`feature axis of node ${this.id} is symbolic (${last})`);
    return last;
  }

  add(o: T | number): T {
    return this.graph.binary('add', this, o);
  }
  sub(o: T | number): T {
    return this.graph.binary('sub', this, o);
  }
  mul(o: T | number): T {
    return this.graph.binary('mul', this, o);
  }
  div(o: T | number): T {
    return this.graph.binary('div', this, o);
  }
  maximum(o: T | number): T {
    return this.graph.binary('maximum', this, o);
  }
  minimum(o: T | number): T {
    return this.graph.binary('minimum', this, o);
  }
  neg(): T {
    return this.graph.unary('neg', this);
  }
  exp(): T {
    return this.graph.unary('exp', this);
  }
  log(): T {
    return this.graph.unary('log', this);
  }
  sqrt(): T {
    return this.graph.unary('sqrt', this);
  }
  tanh(): T {
    return this.graph.unary('tanh', this);
  }
  sigmoid(): T {
    return this.graph.unary('sigmoid', this);
  }
  softplus(): T {
    return this.graph.unary('softplus', this);
  }
  abs(): T {
    return this.graph.unary('abs', this);
  }
  square(): T {
    return this.graph.unary('square', this);
  }
  clamp(lo: number, hi: number): T {
    return this.maximum(lo).minimum(hi);
  }
  greaterEqual(o: T | number): T {
    return this.graph.compare('greaterEqual', this, o);
  }
  equal(o: T | number): T {
    return this.graph.compare('equal', this, o);
  }
  matmul(w: T, bias?: T): T {
    return this.graph.matmul(this, w, bias);
  }
  sumLast(keepDims = false): T {
    return this.graph.sum(this, [-1], keepDims);
  }
  softmaxLast(): T {
    return this.graph.push({ kind: 'softmaxLast', x: this.id }, this.shape);
  }
  cumsumLast(exclusive: boolean, reverse = false): T {
    return this.graph.push({ kind: 'cumsumLast', x: this.id, exclusive, reverse }, this.shape);
  }
  splitLast(a: number, b: number): T {
    if (a * b !== this.width) throw new Error(`splitLast: ${this.width} is not ${a}×${b}`);
    return this.graph.push({ kind: 'splitLast', x: this.id, sizes: [a, b] }, [...this.shape.slice(0, -1), a, b]);
  }
  mergeLast(): T {
    const s = this.shape;
    const a = s[s.length - 2];
    const b = s[s.length - 1];
    if (typeof a !== 'number' || typeof b !== 'number') throw new Error('mergeLast needs static last two axes');
    return this.graph.push({ kind: 'mergeLast', x: this.id }, [...s.slice(0, -2), a * b]);
  }
  unsqueeze(axis: number): T {
    const s = [...this.shape];
    const at = axis < 0 ? s.length + 1 + axis : axis;
    s.splice(at, 0, 1);
    return this.graph.push({ kind: 'unsqueeze', x: this.id, axis: at }, s);
  }
  squeeze(axis: number): T {
    const s = [...this.shape];
    const at = axis < 0 ? s.length + axis : axis;
    if (s[at] !== 1) throw new Error(`squeeze: axis ${at} has size ${String(s[at])}, expected 1`);
    s.splice(at, 1);
    return this.graph.push({ kind: 'squeeze', x: this.id, axis: at }, s);
  }
}

/** Broadcast two symbolic shapes (right-aligned). Distinct symbols broadcast to a combined symbol. */
export function broadcastShapes(a: Shape, b: Shape): Dim[] {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const da = i < rank - a.length ? 1 : a[i - (rank - a.length)];
    const db = i < rank - b.length ? 1 : b[i - (rank - b.length)];
    if (da === db || db === 1) out.push(da);
    else if (da === 1) out.push(db);
    else if (typeof da === 'number' && typeof db === 'number') {
      throw new Error(`cannot broadcast shapes [${a.join(',')}] and [${b.join(',')}]`);
    } else {
      // Two symbolic sizes (e.g. B = 1 or N against N): a combined name, each symbol once.
      const names = new Set([...String(da).split('|'), ...String(db).split('|')]);
      out.push([...names].sort().join('|'));
    }
  }
  return out;
}

export class GraphBuilder {
  readonly nodes: GraphNode[] = [];
  readonly inputs: InputSpec[] = [];
  readonly params = new Map<string, ParamSpec>();
  private readonly paramNodes = new Map<string, number>();
  private readonly scalarConsts = new Map<number, number>();

  push(node: Node, shape: Shape): T {
    const id = this.nodes.length;
    this.nodes.push({ id, node, shape: [...shape] });
    return new T(this, id);
  }

  input(name: string, shape: Shape): T {
    if (this.inputs.some((i) => i.name === name)) throw new Error(`duplicate graph input ${name}`);
    this.inputs.push({ name, shape });
    return this.push({ kind: 'input', name }, shape);
  }

  /** A trainable weight; the same name always returns the same node. */
  param(name: string, shape: readonly [number] | readonly [number, number], init: ParamInit = { kind: 'fanIn', gain: 1 }): T {
    const known = this.params.get(name);
    if (known) {
      if (known.shape.join() !== shape.join()) throw new Error(`parameter ${name} redeclared with another shape`);
      return new T(this, this.paramNodes.get(name)!);
    }
    this.params.set(name, { name, shape, init });
    const t = this.push({ kind: 'param', name }, shape);
    this.paramNodes.set(name, t.id);
    return t;
  }

  constant(value: Float32Array | number[], shape: Shape): T {
    const data = value instanceof Float32Array ? value : Float32Array.from(value);
    const size = shape.reduce<number>((p, d) => p * (d as number), 1);
    if (size !== data.length) throw new Error(`constant of ${data.length} values does not fill shape [${shape.join(',')}]`);
    return this.push({ kind: 'const', value: data }, shape);
  }

  scalar(v: number): T {
    const known = this.scalarConsts.get(v);
    if (known !== undefined) return new T(this, known);
    const t = this.constant([v], []);
    this.scalarConsts.set(v, t.id);
    return t;
  }

  private lift(o: T | number): T {
    return typeof o === 'number' ? this.scalar(o) : o;
  }

  unary(op: UnaryOp, x: T): T {
    return this.push({ kind: 'unary', op, x: x.id }, x.shape);
  }

  binary(op: BinaryOp, a: T, b: T | number): T {
    const bb = this.lift(b);
    return this.push({ kind: 'binary', op, a: a.id, b: bb.id }, broadcastShapes(a.shape, bb.shape));
  }

  compare(op: CompareOp, a: T, b: T | number): T {
    const bb = this.lift(b);
    return this.push({ kind: 'compare', op, a: a.id, b: bb.id }, broadcastShapes(a.shape, bb.shape));
  }

  where(cond: T, a: T | number, b: T | number): T {
    const aa = this.lift(a);
    const bb = this.lift(b);
    const shape = broadcastShapes(broadcastShapes(cond.shape, aa.shape), bb.shape);
    return this.push({ kind: 'where', cond: cond.id, a: aa.id, b: bb.id }, shape);
  }

  /** x @ w, plus a bias added in the same op (one Gemm in ONNX: no separate pass over the output). */
  matmul(x: T, w: T, bias?: T): T {
    const [m, n] = w.shape;
    if (w.rank !== 2 || x.width !== m) {
      throw new Error(`matmul: [${x.shape.join(',')}] @ [${w.shape.join(',')}] does not match`);
    }
    if (bias && (bias.rank !== 1 || bias.width !== n)) throw new Error(`matmul: bias [${bias.shape.join(',')}] does not match ${n} outputs`);
    return this.push({ kind: 'matmul', x: x.id, w: w.id, ...(bias ? { bias: bias.id } : {}) }, [...x.shape.slice(0, -1), n]);
  }

  transpose(w: T): T {
    if (w.rank !== 2) throw new Error('transpose is for 2-D weights');
    return this.push({ kind: 'transpose', x: w.id }, [w.shape[1], w.shape[0]]);
  }

  contractLeading(x: T, g: T): T {
    // Rank 1 (no leading axes) is the outer product: a layer fed by a bias alone (a one-feature unconditional MADE).
    if (x.rank !== g.rank || x.shape.slice(0, -1).join() !== g.shape.slice(0, -1).join()) {
      throw new Error(`contractLeading: [${x.shape.join(',')}] and [${g.shape.join(',')}] need the same leading axes`);
    }
    return this.push({ kind: 'contractLeading', x: x.id, g: g.id }, [x.width, g.width]);
  }

  /**
   * Σ_last rows · vector when the vector has size 1 on every axis between the first and the last (it does not vary
   * over the rows) and the same first axis as the rows; otherwise the plain broadcast product and sum.
   */
  sharedDot(rows: T, vector: T): T {
    const shape = vector.shape;
    const shared =
      rows.rank === vector.rank && rows.rank >= 3 && shape[0] === rows.shape[0] && shape[shape.length - 1] === rows.width && shape.slice(1, -1).every((d) => d === 1);
    if (!shared) return rows.mul(vector).sumLast();
    return this.push({ kind: 'sharedDot', rows: rows.id, vector: vector.id }, rows.shape.slice(0, -1));
  }

  sharedDotAdjoint(rows: T, g: T): T {
    return this.push({ kind: 'sharedDotAdjoint', rows: rows.id, g: g.id }, [rows.shape[0], ...rows.shape.slice(1, -1).map(() => 1), rows.width]);
  }

  sum(x: T, axes: number[], keepDims: boolean): T {
    const rank = x.rank;
    const norm = [...new Set(axes.map((a) => (a < 0 ? rank + a : a)))].sort((p, q) => p - q);
    const shape = x.shape.flatMap((d, i) => (norm.includes(i) ? (keepDims ? [1] : []) : [d]));
    return this.push({ kind: 'sum', x: x.id, axes: norm, keepDims }, shape);
  }

  /** Broadcasts x to like's shape (x must be broadcastable to it: equal dims, 1, or symbolic at run time). */
  expandAs(x: T, like: T): T {
    if (x.rank > like.rank) throw new Error(`expandAs: rank ${x.rank} cannot broadcast to rank ${like.rank}`);
    broadcastShapes(x.shape, like.shape);
    return this.push({ kind: 'expandAs', x: x.id, like: like.id }, like.shape);
  }

  handle(id: number): T {
    return new T(this, id);
  }
}

/** Ids of the nodes that the given outputs depend on, in topological (creation) order. */
export function reachable(graph: GraphBuilder, outputs: number[]): number[] {
  const seen = new Set<number>();
  const stack = [...outputs];
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    stack.push(...nodeInputs(graph.nodes[id].node));
  }
  return [...seen].sort((a, b) => a - b);
}

export function nodeInputs(node: Node): number[] {
  switch (node.kind) {
    case 'input':
    case 'param':
    case 'const':
      return [];
    case 'unary':
    case 'transpose':
    case 'sum':
    case 'softmaxLast':
    case 'cumsumLast':
    case 'splitLast':
    case 'mergeLast':
    case 'unsqueeze':
    case 'squeeze':
      return [node.x];
    case 'binary':
    case 'compare':
      return [node.a, node.b];
    case 'where':
      return [node.cond, node.a, node.b];
    case 'matmul':
      return node.bias === undefined ? [node.x, node.w] : [node.x, node.w, node.bias];
    case 'contractLeading':
      return [node.x, node.g];
    case 'sharedDot':
      return [node.rows, node.vector];
    case 'sharedDotAdjoint':
      return [node.rows, node.g];
    case 'expandAs':
      return [node.x, node.like];
  }
}

/**
 * Peak bytes of intermediate tensors per evaluation (one event at one parameter point) that the given outputs
 * need, as a runtime that frees each tensor after its last use sees them: nodes run in creation order, a node's
 * result lives from its node to its last consumer (outputs to the end), and only tensors with an event axis count.
 * The runtime sizes its event chunks from this.
 */
export function activationBytesPerEvaluation(graph: GraphBuilder, outputs: number[], eventAxis: string, bytesPerValue: number): number {
  const order = reachable(graph, outputs);
  const size = (id: number): number => {
    const shape = graph.nodes[id].shape;
    if (!shape.some((d) => typeof d === 'string' && d.split('|').includes(eventAxis))) return 0;
    return shape.reduce<number>((p, d) => p * (typeof d === 'number' ? d : 1), 1);
  };
  const lastUse = new Map<number, number>();
  order.forEach((id, step) => nodeInputs(graph.nodes[id].node).forEach((input) => lastUse.set(input, step)));
  for (const id of outputs) lastUse.set(id, order.length);
  let live = 0;
  let peak = 0;
  order.forEach((id, step) => {
    live += size(id);
    peak = Math.max(peak, live);
    for (const input of new Set(nodeInputs(graph.nodes[id].node))) if (lastUse.get(input) === step) live -= size(input);
    if (!lastUse.has(id)) live -= size(id);
  });
  return peak * bytesPerValue;
}
