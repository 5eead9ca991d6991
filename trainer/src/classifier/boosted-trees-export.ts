// Boosted trees as one ONNX graph of standard ops (opset 18, default domain), so that the runtime's
// ClassifierModel scores them in onnxruntime-node and in onnxruntime-web's WASM build, which need not carry the
// ai.onnx.ml tree operators. Every tree's nodes sit in flat tables (feature, threshold, left, right, value); a
// leaf points to itself, so descending one level more leaves it where it is. Trees are descended together, one
// level per step, with one node index per (event, tree):
//   node ← Where(x[event, feature[node]] ≤ threshold[node], left[node], right[node])      (Gather, GatherElements)
// as many steps as the deepest tree has levels. Trees go in groups of similar depth (so a shallow tree does not
// pay for the deepest one, and the [N, group] index tensors stay small); each group's leaf values are summed per
// model by a matmul with a 0/1 membership matrix. The outputs are those of the MLP classifier's graph: the
// models' mean probability and its logit log Σσ(F_k) − log Σσ(−F_k), with log-sum-exp written out.
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { type ClassifierManifest, ClassifierModel, validateClassifierManifest } from '@flowscan/runtime';
import { ONNX_IR_VERSION, ONNX_OPSET } from '../ir/onnx.ts';
import type { TrainedBoostedTrees } from './boosted-trees.ts';
import { classifierGraphEntry, writeClassifierFiles } from './export.ts';
import { type Tree, treeDepth } from './tree.ts';

const { onnx } = onnxProto;
const { DataType } = onnx.TensorProto;
/** Trees descended side by side in one group: bounds the [N, group] int64 node indices (N ≤ 32768 per runtime call). */
const GROUP_SIZE = 64;

/** A minimal builder of ONNX nodes and initializers. */
class OnnxWriter {
  readonly nodes: OnnxTypes.INodeProto[] = [];
  readonly initializers: OnnxTypes.ITensorProto[] = [];
  private counter = 0;

  private fresh(hint: string): string {
    return `${hint}_${this.counter++}`;
  }

  constant(data: Float32Array | BigInt64Array, dims: number[], hint: string): string {
    const name = this.fresh(hint);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
    this.initializers.push({ name, dims, dataType: data instanceof Float32Array ? DataType.FLOAT : DataType.INT64, rawData: bytes });
    return name;
  }

  int64(values: number[], dims = [values.length]): string {
    return this.constant(BigInt64Array.from(values, (v) => BigInt(v)), dims, 'i64');
  }

  op(opType: string, input: string[], attribute: OnnxTypes.IAttributeProto[] = [], output = this.fresh(opType)): string {
    this.nodes.push({ opType, input, output: [output], attribute, name: output });
    return output;
  }

  /** log Σ_k e^{a[:, k]} over axis 1, with the maximum taken out first. */
  logSumExp(a: string, axis: string): string {
    const max = this.op('ReduceMax', [a, axis], [{ name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 1 }]);
    const sum = this.op('ReduceSum', [this.op('Exp', [this.op('Sub', [a, max])]), axis], [{ name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 0 }]);
    return this.op('Add', [this.op('Log', [sum]), this.op('Squeeze', [max, axis])]);
  }

  /** log σ(z) = −softplus(−z) = −(max(−z, 0) + log(1 + e^{−|z|})): finite for every z. */
  logSigmoid(z: string): string {
    const tail = this.op('Log', [this.op('Add', [this.constant(Float32Array.of(1), [], 'one'), this.op('Exp', [this.op('Neg', [this.op('Abs', [z])])])])]);
    return this.op('Neg', [this.op('Add', [this.op('Relu', [this.op('Neg', [z])]), tail])]);
  }
}

interface PlacedTree {
  tree: Tree;
  model: number;
  depth: number;
}

/** The graph's bytes: x [N, D] → probability [N], logit [N]. */
export function boostedTreesGraph(model: TrainedBoostedTrees, name: string): Uint8Array {
  const D = model.features.length;
  const K = model.members.length;
  const w = new OnnxWriter();
  const placed: PlacedTree[] = model.members.flatMap((m, k) => m.trees.map((tree) => ({ tree, model: k, depth: treeDepth(tree) })));
  placed.sort((a, b) => a.depth - b.depth);
  const eventCount = w.op('Shape', ['x'], [{ name: 'end', type: onnx.AttributeProto.AttributeType.INT, i: 1 }]);
  let raw = w.constant(Float32Array.from(model.members, (m) => m.baseScore), [1, K], 'base');
  for (let start = 0; start < placed.length; start += GROUP_SIZE) {
    const group = placed.slice(start, start + GROUP_SIZE);
    const offsets: number[] = [];
    const feature: number[] = [];
    const threshold: number[] = [];
    const left: number[] = [];
    const right: number[] = [];
    const value: number[] = [];
    for (const { tree } of group) {
      const offset = feature.length;
      offsets.push(offset);
      tree.feature.forEach((f, i) => {
        const leaf = f < 0;
        feature.push(leaf ? 0 : f);
        threshold.push(tree.threshold[i]);
        left.push(offset + (leaf ? i : tree.left[i]));
        right.push(offset + (leaf ? i : tree.right[i]));
        value.push(tree.value[i]);
      });
    }
    const G = group.length;
    const tables = {
      feature: w.int64(feature),
      threshold: w.constant(Float32Array.from(threshold), [threshold.length], 'threshold'),
      left: w.int64(left),
      right: w.int64(right),
      value: w.constant(Float32Array.from(value), [value.length], 'value'),
    };
    let node = w.op('Expand', [w.int64(offsets, [1, G]), w.op('Concat', [eventCount, w.int64([G])], [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 0 }])]);
    for (let level = 0; level < group[G - 1].depth; level++) {
      const x = w.op('GatherElements', ['x', w.op('Gather', [tables.feature, node])], [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 }]);
      const goesLeft = w.op('LessOrEqual', [x, w.op('Gather', [tables.threshold, node])]);
      node = w.op('Where', [goesLeft, w.op('Gather', [tables.left, node]), w.op('Gather', [tables.right, node])]);
    }
    const membership = new Float32Array(G * K);
    group.forEach((t, i) => (membership[i * K + t.model] = 1));
    const perModel = w.op('MatMul', [w.op('Gather', [tables.value, node]), w.constant(membership, [G, K], 'membership')]);
    raw = w.op('Add', [raw, perModel]);
  }
  // With no tree at all (every model a constant), broadcast the base scores to [N, K].
  if (placed.length === 0) raw = w.op('Expand', [raw, w.op('Concat', [eventCount, w.int64([K])], [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 0 }])]);
  const axis = w.int64([1]);
  w.op('ReduceMean', [w.op('Sigmoid', [raw]), axis], [{ name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 0 }], 'probability');
  w.op('Sub', [w.logSumExp(w.logSigmoid(raw), axis), w.logSumExp(w.logSigmoid(w.op('Neg', [raw])), axis)], [], 'logit');
  const tensor = (tensorName: string, dims: (number | string)[]): OnnxTypes.IValueInfoProto => ({
    name: tensorName,
    type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  });
  const proto = onnx.ModelProto.create({
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'flowscan',
    producerVersion: '0.1.0',
    docString: `flowscan boosted trees "${name}": P(${model.classes[1]} | x), ${K} model${K === 1 ? '' : 's'} of ${placed.length} trees in all, averaged`,
    graph: {
      name: `${name}_boosted_trees`,
      node: w.nodes,
      initializer: w.initializers,
      input: [tensor('x', ['N', D])],
      output: [tensor('probability', ['N']), tensor('logit', ['N'])],
    },
  });
  return onnx.ModelProto.encode(proto).finish().slice();
}

/** The graph's bytes and the manifest that describes them (validated against the classifier schema). */
export function exportBoostedTreesGraph(model: TrainedBoostedTrees, name: string, description?: string): { manifest: ClassifierManifest; bytes: Uint8Array } {
  const bytes = boostedTreesGraph(model, name);
  const D = model.features.length;
  const K = model.members.length;
  const first = model.members[0];
  const featureList = model.features.map((f) => f.name).join(', ');
  const s = model.settings;
  const manifest = {
    format: 'flowscan-classifier',
    formatVersion: 1,
    name,
    ...(description ? { description } : {}),
    // Trees read the features as they are: the standardisation is the identity.
    features: model.features.map((f) => ({ ...f, mean: 0, std: 1 })),
    classes: model.classes,
    network: {
      kind: 'boosted-trees',
      models: K,
      trees: model.members.reduce((n, m) => n + m.trees.length, 0),
      maxDepth: Math.max(0, ...model.members.flatMap((m) => m.trees.map(treeDepth))),
      maxLeafNodes: s.maxLeafNodes,
      learningRate: s.learningRate,
      minSamplesLeaf: s.minSamplesLeaf,
      l2: s.l2,
      maxBins: s.maxBins,
    },
    ensemble: {
      epochs: model.members.map((m) => m.trees.length),
      validationLosses: model.members.map((m) => m.validationLoss),
      average: 'probability',
      validationLoss: model.members.reduce((a, m) => a + m.validationLoss, 0) / K,
    },
    graph: classifierGraphEntry(bytes, D, featureList, `P(${model.classes[1]} | x): the mean of the ${K} boosted models' σ(F_k)`),
    onnx: { opset: ONNX_OPSET, irVersion: ONNX_IR_VERSION },
    provenance: {
      ...model.provenance,
      trainingEvents: first.trainingEvents,
      validationEvents: first.validationEvents,
      epochs: first.iterations,
      bestEpoch: first.trees.length,
      stoppedBy: first.stoppedBy === 'max-iterations' ? 'max-epochs' : 'early-stopping',
      history: first.history,
    },
  };
  return { manifest: validateClassifierManifest(JSON.parse(JSON.stringify(manifest)), `classifier "${name}"`), bytes };
}

/** Writes `dir/manifest.json` and `dir/classifier.onnx`; returns the manifest. */
export function saveBoostedTrees(model: TrainedBoostedTrees, dir: string, name: string, description?: string): Promise<ClassifierManifest> {
  return writeClassifierFiles(dir, exportBoostedTreesGraph(model, name, description));
}

/** The exported graph in an onnxruntime session, without files. */
export function boostedTreesScorer(model: TrainedBoostedTrees): Promise<ClassifierModel> {
  const { manifest, bytes } = exportBoostedTreesGraph(model, 'in-memory');
  return ClassifierModel.fromGraph(manifest, bytes, ort);
}
