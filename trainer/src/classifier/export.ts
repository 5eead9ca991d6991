// A trained classifier as one ONNX graph (opset 18, default domain, weights as initializers) and its manifest
// (schemas/classifier.schema.json): physical-unit events in, the ensemble's averaged probability and its logit out.
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { type ClassifierManifest, ClassifierModel, validateClassifierManifest } from '@flowscan/runtime';
import { writeFileAtomic } from '@flowscan/runtime/node';
import { GraphBuilder } from '../ir/graph.ts';
import { ONNX_IR_VERSION, ONNX_OPSET, emitOnnx } from '../ir/onnx.ts';
import { ensembleOutputs, memberWeights } from './network.ts';
import type { TrainedClassifier } from './train.ts';

const GRAPH_FILE = 'classifier.onnx';

/** The graph's bytes and the manifest that describes them (validated against the schema). */
export function exportClassifierGraph(model: TrainedClassifier, name: string, description?: string): { manifest: ClassifierManifest; bytes: Uint8Array } {
  const D = model.features.length;
  const K = model.members.length;
  const g = new GraphBuilder();
  const x = g.input('x', ['N', D]);
  const out = ensembleOutputs(g, model.network, x, K);
  const bytes = emitOnnx(g, {
    name: `${name}_classifier`,
    outputs: { probability: out.probability.id, logit: out.logit.id },
    weights: new Map(model.members.flatMap((member, k) => memberWeights(k, member.weights))),
    docString: `flowscan classifier "${name}": P(${model.classes[1]} | x), ${K} network${K === 1 ? '' : 's'} averaged`,
  });
  const featureList = model.features.map((f) => f.name).join(', ');
  const manifest = {
    format: 'flowscan-classifier',
    formatVersion: 1,
    name,
    ...(description ? { description } : {}),
    features: model.features.map((f, d) => ({ ...f, ...model.network.standardisation[d] })),
    classes: model.classes,
    network: { hidden: model.network.hidden, activation: model.network.activation },
    ensemble: {
      epochs: model.members.map((m) => m.epoch),
      validationLosses: model.members.map((m) => m.validationLoss),
      average: 'probability',
      validationLoss: model.ensembleValidationLoss,
    },
    graph: classifierGraphEntry(bytes, D, featureList, `P(${model.classes[1]} | x): the mean of the ${K} networks' sigmoid outputs`),
    onnx: { opset: ONNX_OPSET, irVersion: ONNX_IR_VERSION },
    provenance: model.provenance,
  };
  return { manifest: validateClassifierManifest(JSON.parse(JSON.stringify(manifest)), `classifier "${name}"`), bytes };
}

/** The manifest's graph entry of a classifier (either kind): x [N, D] → probability [N] (described by the caller) and its logit. */
export function classifierGraphEntry(bytes: Uint8Array, D: number, featureList: string, probability: string): ClassifierManifest['graph'] {
  return {
    file: GRAPH_FILE,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    bytes: bytes.byteLength,
    inputs: [{ name: 'x', shape: ['N', D], description: `events [N, ${D}] in physical units (${featureList})` }],
    outputs: [
      { name: 'probability', shape: ['N'], description: probability },
      { name: 'logit', shape: ['N'], description: 'log p/(1 − p) of the averaged probability p; with balanced classes an estimate of log p₁(x)/p₀(x)' },
    ],
  };
}

/** Writes `dir/manifest.json` and `dir/classifier.onnx`; returns the manifest. */
export function saveClassifier(model: TrainedClassifier, dir: string, name: string, description?: string): Promise<ClassifierManifest> {
  return writeClassifierFiles(dir, exportClassifierGraph(model, name, description));
}

/** Writes an exported classifier (a graph and its manifest, network or trees) into `dir`. */
export async function writeClassifierFiles(dir: string, { manifest, bytes }: { manifest: ClassifierManifest; bytes: Uint8Array }): Promise<ClassifierManifest> {
  await mkdir(dir, { recursive: true });
  await writeFileAtomic(join(dir, GRAPH_FILE), bytes);
  await writeFileAtomic(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/** The exported graph in an onnxruntime session, without files: what the trainer scores events with. */
export function classifierScorer(model: TrainedClassifier): Promise<ClassifierModel> {
  const { manifest, bytes } = exportClassifierGraph(model, 'in-memory');
  return ClassifierModel.fromGraph(manifest, bytes, ort);
}
