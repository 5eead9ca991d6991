// TensorFlow.js interpreter of the IR: evaluates a graph with tf ops, so training (tfjs autodiff over the
// weights) runs on exactly the graph that is exported.
import * as tf from '@tensorflow/tfjs-core';
// The union package registers the gradients of every tf op (tfjs-core's CommonJS build has none).
import '@tensorflow/tfjs';
import { type GraphBuilder, type Node, type Shape, reachable } from './graph.ts';

export type TensorMap = Record<string, tf.Tensor>;

function evalNode(node: Node, shape: Shape, v: (id: number) => tf.Tensor, inputs: TensorMap, params: TensorMap): tf.Tensor {
  switch (node.kind) {
    case 'input': {
      const t = inputs[node.name];
      if (!t) throw new Error(`graph input ${node.name} was not given`);
      return t;
    }
    case 'param': {
      const t = params[node.name];
      if (!t) throw new Error(`weight ${node.name} is missing`);
      return t;
    }
    case 'const':
      return tf.tensor(node.value, shape as number[]);
    case 'unary': {
      const x = v(node.x);
      switch (node.op) {
        case 'neg':
          return tf.neg(x);
        case 'exp':
          return tf.exp(x);
        case 'log':
          return tf.log(x);
        case 'sqrt':
          return tf.sqrt(x);
        case 'tanh':
          return tf.tanh(x);
        case 'sigmoid':
          return tf.sigmoid(x);
        case 'softplus':
          // Same stable form as the ONNX emission: max(x,0) + log(1 + exp(−|x|)).
          return tf.add(tf.relu(x), tf.log1p(tf.exp(tf.neg(tf.abs(x)))));
        case 'abs':
          return tf.abs(x);
        case 'square':
          return tf.square(x);
      }
      break;
    }
    case 'binary': {
      const a = v(node.a);
      const b = v(node.b);
      switch (node.op) {
        case 'add':
          return tf.add(a, b);
        case 'sub':
          return tf.sub(a, b);
        case 'mul':
          return tf.mul(a, b);
        case 'div':
          return tf.div(a, b);
        case 'maximum':
          return tf.maximum(a, b);
        case 'minimum':
          return tf.minimum(a, b);
      }
      break;
    }
    case 'compare': {
      // Comparisons select (bins, tails); they carry no gradient, which tfjs must be told explicitly.
      const a = v(node.a);
      const b = v(node.b);
      const compare = tf.customGrad(() => ({
        value: tf.cast(node.op === 'greaterEqual' ? tf.greaterEqual(a, b) : tf.equal(a, b), 'float32'),
        gradFunc: () => [tf.zerosLike(a), tf.zerosLike(b)],
      }));
      return compare(a, b);
    }
    case 'where': {
      const cond = v(node.cond);
      const a = v(node.a);
      const b = v(node.b);
      const shape = tf.broadcastTo(tf.zeros([1]), broadcastStatic([cond.shape, a.shape, b.shape])).shape;
      return tf.where(tf.cast(tf.broadcastTo(cond, shape), 'bool'), tf.broadcastTo(a, shape), tf.broadcastTo(b, shape));
    }
    case 'matmul': {
      const x = v(node.x);
      const w = v(node.w) as tf.Tensor2D;
      const flat = tf.reshape(x, [-1, w.shape[0]]) as tf.Tensor2D;
      const product = tf.matMul(flat, w);
      return tf.reshape(node.bias === undefined ? product : tf.add(product, v(node.bias)), [...x.shape.slice(0, -1), w.shape[1]]);
    }
    case 'transpose':
      return tf.transpose(v(node.x));
    case 'contractLeading': {
      const [m, n] = shape as [number, number];
      return tf.matMul(tf.reshape(v(node.x), [-1, m]) as tf.Tensor2D, tf.reshape(v(node.g), [-1, n]) as tf.Tensor2D, true, false);
    }
    case 'sharedDot':
      return tf.sum(tf.mul(v(node.rows), v(node.vector)), -1);
    case 'sharedDotAdjoint': {
      const rows = v(node.rows);
      const rowAxes = [...Array(rows.rank - 2).keys()].map((a) => a + 1);
      return tf.sum(tf.mul(rows, tf.expandDims(v(node.g), -1)), rowAxes, true);
    }
    case 'sum':
      return tf.sum(v(node.x), node.axes, node.keepDims);
    case 'softmaxLast':
      return tf.softmax(v(node.x), -1);
    case 'cumsumLast': {
      const x = v(node.x);
      return tf.cumsum(x, x.rank - 1, node.exclusive, node.reverse);
    }
    case 'splitLast': {
      const x = v(node.x);
      return tf.reshape(x, [...x.shape.slice(0, -1), ...node.sizes]);
    }
    case 'mergeLast': {
      const x = v(node.x);
      const s = x.shape;
      return tf.reshape(x, [...s.slice(0, -2), s[s.length - 2] * s[s.length - 1]]);
    }
    case 'unsqueeze':
      return tf.expandDims(v(node.x), node.axis);
    case 'squeeze':
      return tf.squeeze(v(node.x), [node.axis]);
    case 'expandAs': {
      const x = v(node.x);
      const like = v(node.like);
      return tf.broadcastTo(x, broadcastStatic([x.shape, like.shape]));
    }
  }
  throw new Error(`unknown IR node ${JSON.stringify(node)}`);
}

function broadcastStatic(shapes: number[][]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    s.forEach((d, i) => {
      const at = i + rank - s.length;
      out[at] = Math.max(out[at], d);
    });
  }
  return out;
}

/**
 * Evaluates `outputs` (node ids) of the graph. Call inside tf.tidy (or a gradient function): intermediate
 * tensors are not disposed here.
 */
export function evaluateGraph(graph: GraphBuilder, outputs: number[], inputs: TensorMap, params: TensorMap): tf.Tensor[] {
  const values = new Map<number, tf.Tensor>();
  for (const id of reachable(graph, outputs)) {
    values.set(id, evalNode(graph.nodes[id].node, graph.nodes[id].shape, (i) => values.get(i)!, inputs, params));
  }
  return outputs.map((id) => values.get(id)!);
}
