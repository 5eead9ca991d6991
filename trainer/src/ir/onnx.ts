// ONNX emitter for the IR: standard ops of the default domain only, opset 18, IR version 8, so the same file
// runs in onnxruntime-node (CPU, WebGPU, CUDA) and onnxruntime-web (WASM, WebGPU). See docs/onnx.md for
// the numerics traps avoided here (softplus written out, no LogSoftmax/Sum/Sign/IsNaN).
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { type GraphBuilder, type Node, type Shape, reachable } from './graph.ts';

const { onnx } = onnxProto;
const FLOAT32 = onnx.TensorProto.DataType.FLOAT;
const FLOAT64 = onnx.TensorProto.DataType.DOUBLE;
const INT64 = onnx.TensorProto.DataType.INT64;
const BOOL = onnx.TensorProto.DataType.BOOL;

export const ONNX_OPSET = 18;
export const ONNX_IR_VERSION = 8;

export interface EmitOptions {
  /** Graph name inside the model. */
  name: string;
  /** Graph outputs: ONNX name → IR node id. */
  outputs: Record<string, number>;
  /**
   * Values of every parameter the outputs need (initializers), or 'inputs': every parameter becomes a graph
   * input after the declared inputs, so one session serves all training steps while the weights change.
   */
  weights: ReadonlyMap<string, Float32Array> | 'inputs';
  docString?: string;
  /**
   * float32 for every exported model; float64 gives a high-precision twin of the same graph, used as the
   * reference for finite-difference checks.
   */
  precision?: 'float32' | 'float64';
}

function bytesOf(a: Float32Array | Float64Array | BigInt64Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice();
}

function valueInfo(name: string, shape: Shape, elemType: number): OnnxTypes.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: {
          dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d.replace(/[^A-Za-z0-9_]/g, '_') })),
        },
      },
    },
  };
}

function intAttr(name: string, i: number): OnnxTypes.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INT, i };
}

function intsAttr(name: string, ints: number[]): OnnxTypes.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INTS, ints };
}

/** Emits the part of the graph that `outputs` need as a serialized ONNX ModelProto. */
export function emitOnnx(graph: GraphBuilder, options: EmitOptions): Uint8Array {
  const nodes: OnnxTypes.INodeProto[] = [];
  const initializers: OnnxTypes.ITensorProto[] = [];
  const inputs: OnnxTypes.IValueInfoProto[] = [];
  const names = new Map<number, string>();
  const boolNames = new Map<number, string>();
  const FLOAT = options.precision === 'float64' ? FLOAT64 : FLOAT32;
  const floatData = (a: Float32Array): Float32Array | Float64Array => (FLOAT === FLOAT64 ? Float64Array.from(a) : a);
  let counter = 0;
  const fresh = (hint: string): string => `${hint}_${counter++}`;

  const addInitializer = (name: string, dims: number[], data: Float32Array | BigInt64Array, dataType: number): void => {
    initializers.push({ name, dims, dataType, rawData: bytesOf(data instanceof Float32Array ? floatData(data) : data) });
  };
  const int64Const = (values: number[]): string => {
    const name = fresh('i64');
    addInitializer(name, [values.length], BigInt64Array.from(values.map(BigInt)), INT64);
    return name;
  };
  const op = (opType: string, ins: string[], attribute: OnnxTypes.IAttributeProto[] = [], hint = opType): string => {
    const out = fresh(hint);
    nodes.push({ opType, input: ins, output: [out], attribute, name: out });
    return out;
  };
  const boolOf = (id: number): string => {
    const known = boolNames.get(id);
    if (known) return known;
    const b = op('Cast', [names.get(id)!], [intAttr('to', BOOL)]);
    boolNames.set(id, b);
    return b;
  };

  const emit = (id: number, node: Node, shape: Shape): string => {
    const n = (i: number): string => names.get(i)!;
    switch (node.kind) {
      case 'input':
        inputs.push(valueInfo(node.name, shape, FLOAT));
        return node.name;
      case 'param': {
        if (options.weights === 'inputs') {
          inputs.push(valueInfo(node.name, shape, FLOAT));
          return node.name;
        }
        const value = options.weights.get(node.name);
        if (!value) throw new Error(`no value for weight ${node.name}`);
        addInitializer(node.name, shape as number[], value, FLOAT);
        return node.name;
      }
      case 'const': {
        const name = fresh('const');
        addInitializer(name, shape as number[], node.value, FLOAT);
        return name;
      }
      case 'unary': {
        const x = n(node.x);
        switch (node.op) {
          case 'neg':
            return op('Neg', [x]);
          case 'exp':
            return op('Exp', [x]);
          case 'log':
            return op('Log', [x]);
          case 'sqrt':
            return op('Sqrt', [x]);
          case 'tanh':
            return op('Tanh', [x]);
          case 'sigmoid':
            return op('Sigmoid', [x]);
          case 'abs':
            return op('Abs', [x]);
          case 'square':
            return op('Mul', [x, x]);
          case 'softplus': {
            // ONNX Softplus loses accuracy far below zero on WebGPU: write max(x,0) + log(1 + exp(−|x|)).
            const one = fresh('one');
            addInitializer(one, [], Float32Array.of(1), FLOAT);
            const tail = op('Log', [op('Add', [one, op('Exp', [op('Neg', [op('Abs', [x])])])])]);
            return op('Add', [op('Relu', [x]), tail], [], 'softplus');
          }
        }
        break;
      }
      case 'binary': {
        const types = { add: 'Add', sub: 'Sub', mul: 'Mul', div: 'Div', maximum: 'Max', minimum: 'Min' } as const;
        return op(types[node.op], [n(node.a), n(node.b)]);
      }
      case 'compare': {
        const b = op(node.op === 'greaterEqual' ? 'GreaterOrEqual' : 'Equal', [n(node.a), n(node.b)]);
        boolNames.set(id, b);
        return op('Cast', [b], [intAttr('to', FLOAT)]);
      }
      case 'where':
        return op('Where', [boolOf(node.cond), n(node.a), n(node.b)]);
      case 'matmul': {
        if (node.bias === undefined) return op('MatMul', [n(node.x), n(node.w)]);
        // With a bias: one Gemm on the events flattened to rows (onnxruntime fuses no MatMul + Add above rank 2),
        // then back to the leading shape.
        const [m, k] = graph.nodes[node.w].shape as [number, number];
        const xShape = graph.nodes[node.x].shape;
        if (xShape.length === 2) return op('Gemm', [n(node.x), n(node.w), n(node.bias)]);
        const rows = op('Gemm', [op('Reshape', [n(node.x), int64Const([-1, m])]), n(node.w), n(node.bias)]);
        const leading = op('Shape', [n(node.x)], [intAttr('end', -1)]);
        return op('Reshape', [rows, op('Concat', [leading, int64Const([k])], [intAttr('axis', 0)])]);
      }
      case 'transpose':
        return op('Transpose', [n(node.x)], [intsAttr('perm', [1, 0])]);
      case 'contractLeading': {
        // Flatten the leading axes, then one Gemm with A transposed: xᵀ g.
        const [m, k] = shape as [number, number];
        const flat = (i: number, width: number): string => op('Reshape', [n(i), int64Const([-1, width])]);
        return op('Gemm', [flat(node.x, m), flat(node.g, k)], [intAttr('transA', 1)]);
      }
      case 'sharedDot': {
        // Per group s: rows [R*, M] @ vector [M, 1], one MatMul batched over s; then back to rows' leading shape.
        const m = graph.nodes[node.rows].shape.at(-1) as number;
        const rows = op('Reshape', [n(node.rows), int64Const([0, -1, m])]);
        const column = op('Reshape', [n(node.vector), int64Const([0, m, 1])]);
        const leading = op('Shape', [n(node.rows)], [intAttr('end', -1)]);
        return op('Reshape', [op('MatMul', [rows, column]), leading]);
      }
      case 'sharedDotAdjoint': {
        // Per group s: rowsᵀ [M, R*] @ g [R*, 1] → [M, 1], reshaped to [s, 1…, M].
        const m = shape.at(-1) as number;
        const rows = op('Transpose', [op('Reshape', [n(node.rows), int64Const([0, -1, m])])], [intsAttr('perm', [0, 2, 1])]);
        const column = op('Reshape', [n(node.g), int64Const([0, -1, 1])]);
        return op('Reshape', [op('MatMul', [rows, column]), int64Const(shape.map((d, i) => (i === 0 ? 0 : (d as number))))]);
      }
      case 'sum':
        return op('ReduceSum', [n(node.x), int64Const(node.axes)], [intAttr('keepdims', node.keepDims ? 1 : 0)]);
      case 'softmaxLast':
        return op('Softmax', [n(node.x)], [intAttr('axis', -1)]);
      case 'cumsumLast': {
        const axis = fresh('axis');
        addInitializer(axis, [], BigInt64Array.of(-1n), INT64);
        const attrs = [intAttr('exclusive', node.exclusive ? 1 : 0), intAttr('reverse', node.reverse ? 1 : 0)];
        return op('CumSum', [n(node.x), axis], attrs);
      }
      case 'splitLast':
      case 'mergeLast': {
        // Reshape with 0 = "keep this dimension", so symbolic batch axes pass through.
        const target = shape.map((d, i) => (i < shape.length - (node.kind === 'splitLast' ? 2 : 1) ? 0 : (d as number)));
        return op('Reshape', [n(node.x), int64Const(target)]);
      }
      case 'unsqueeze':
        return op('Unsqueeze', [n(node.x), int64Const([node.axis])]);
      case 'squeeze':
        return op('Squeeze', [n(node.x), int64Const([node.axis])]);
      case 'expandAs':
        return op('Expand', [n(node.x), op('Shape', [n(node.like)])]);
    }
    throw new Error(`cannot emit IR node ${JSON.stringify(node)}`);
  };

  const outputIds = Object.values(options.outputs);
  for (const id of reachable(graph, outputIds)) {
    const { node, shape } = graph.nodes[id];
    names.set(id, emit(id, node, shape));
  }
  // Graph outputs get their public names through Identity nodes (an output may also be an input).
  const outputs: OnnxTypes.IValueInfoProto[] = [];
  for (const [name, id] of Object.entries(options.outputs)) {
    nodes.push({ opType: 'Identity', input: [names.get(id)!], output: [name], name: `out_${name}` });
    outputs.push(valueInfo(name, graph.nodes[id].shape, FLOAT));
  }
  // Inputs in declaration order, as the caller declared them.
  const order = [...graph.inputs.map((i) => i.name), ...graph.params.keys()];
  inputs.sort((a, b) => order.indexOf(a.name!) - order.indexOf(b.name!));

  const model = onnx.ModelProto.create({
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'flowscan',
    producerVersion: '0.1.0',
    docString: options.docString ?? '',
    graph: { name: options.name, node: nodes, initializer: initializers, input: inputs, output: outputs },
  });
  // encode() may return a view into a shared pool: copy it.
  return onnx.ModelProto.encode(model).finish().slice();
}
