// An exported binary classifier (flowscan classify train, or the trainer's trainClassifier) loaded into
// onnxruntime, node or web: the manifest (schemas/classifier.schema.json) is validated, the graph's size, sha256,
// inputs and outputs are checked, and events in physical units are scored in chunks. Browser-safe.
import type * as Ort from 'onnxruntime-common';
import schema from '../../../schemas/classifier.schema.json' with { type: 'json' };
import { type ModelSource, type OrtModule, sha256Hex } from './flow-model.ts';
import { schemaValidator } from '../schema-validator.ts';

export interface ClassifierFeature {
  name: string;
  unit: string;
  /** [min, max] seen in training. */
  range: [number, number];
  /** The graph standardises the feature as (x − mean)/std before its first layer. */
  mean: number;
  std: number;
}

export interface ClassifierEpoch {
  epoch: number;
  /** Weighted mean binary cross-entropy of the epoch's training batches (nats per event). */
  trainLoss: number;
  /** Weighted mean binary cross-entropy on the validation split after the epoch. */
  validationLoss: number;
  seconds: number;
}

export interface ClassifierTensor {
  name: string;
  shape: (string | number)[];
  description: string;
}

/** Gradient-boosted decision trees (trainer/src/classifier/boosted-trees.ts) in place of a network. */
export interface BoostedTreesNetwork {
  kind: 'boosted-trees';
  /** Boosted models averaged in probability. */
  models: number;
  /** Trees of all models together. */
  trees: number;
  maxDepth: number;
  maxLeafNodes: number;
  learningRate: number;
  minSamplesLeaf: number;
  l2: number;
  maxBins: number;
}

export interface ClassifierManifest {
  format: 'flowscan-classifier';
  formatVersion: 1;
  name: string;
  description?: string;
  features: ClassifierFeature[];
  /** [label 0, label 1]; the probability is that of label 1. */
  classes: [string, string];
  network: { hidden: number[]; activation: 'relu' | 'silu' } | BoostedTreesNetwork;
  ensemble: {
    /** Epochs whose networks the graph averages, lowest validation loss first. */
    epochs: number[];
    validationLosses: number[];
    average: 'probability';
    /** Binary cross-entropy of the averaged probability on the validation split. */
    validationLoss: number;
  };
  graph: { file: string; sha256: string; bytes: number; inputs: ClassifierTensor[]; outputs: ClassifierTensor[] };
  onnx: { opset: 18; irVersion: 8 };
  provenance: {
    dataHash: string;
    dataFiles?: string[];
    /** Events of label 0 and label 1. */
    events: [number, number];
    trainingEvents: number;
    validationEvents: number;
    /** Factor on every event weight of label 0 and label 1 in the loss. */
    classWeights: [number, number];
    epochs: number;
    bestEpoch: number;
    stoppedBy: 'early-stopping' | 'max-epochs';
    history: ClassifierEpoch[];
    seed: number;
    date: string;
    trainer: string;
  };
}

const manifestSchema = schemaValidator<ClassifierManifest>(schema);

/** Validates a parsed classifier manifest; throws naming the source and every schema violation. */
export function validateClassifierManifest(json: unknown, source: string): ClassifierManifest {
  if (!manifestSchema.valid(json)) {
    throw new Error(`${source} does not follow the classifier manifest schema: ${manifestSchema.problems().join('; ')}`);
  }
  const { ensemble } = json;
  if (ensemble.epochs.length !== ensemble.validationLosses.length) {
    throw new Error(`${source}: the ensemble lists ${ensemble.epochs.length} epochs but ${ensemble.validationLosses.length} validation losses`);
  }
  return json;
}

/** Scores of N events: the (ensemble-averaged) probability of label 1 and its logit log p/(1 − p). */
export interface ClassifierScores {
  probability: Float32Array;
  logit: Float32Array;
}

/** Events per graph call: bounds the memory of the hidden layers (N × width floats each). */
const SCORE_CHUNK = 1 << 15;

export class ClassifierModel {
  private constructor(
    readonly manifest: ClassifierManifest,
    private readonly ort: OrtModule,
    private readonly session: Ort.InferenceSession,
  ) {}

  /** Loads and checks an exported classifier (manifest.json and its graph); every failure names the file. */
  static async load(source: ModelSource, ort: OrtModule, executionProviders: string[] = ['cpu']): Promise<ClassifierModel> {
    const where = `${source.location}/manifest.json`;
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder().decode(await source.readBytes('manifest.json')));
    } catch (error) {
      throw new Error(`${where} is not valid JSON (${(error as Error).message})`);
    }
    const manifest = validateClassifierManifest(json, where);
    const bytes = await source.readBytes(manifest.graph.file);
    return ClassifierModel.fromGraph(manifest, bytes, ort, executionProviders, `${source.location}/${manifest.graph.file}`);
  }

  /** A classifier from a manifest and its graph's bytes already in memory (the trainer scores this way). */
  static async fromGraph(manifest: ClassifierManifest, bytes: Uint8Array, ort: OrtModule, executionProviders: string[] = ['cpu'], where = manifest.graph.file): Promise<ClassifierModel> {
    if (bytes.byteLength !== manifest.graph.bytes) {
      throw new Error(`${where} has ${bytes.byteLength} bytes, the manifest says ${manifest.graph.bytes}: the file is truncated or was replaced`);
    }
    const hash = await sha256Hex(bytes);
    if (hash !== manifest.graph.sha256) {
      throw new Error(`${where} fails its sha256 check (file ${hash.slice(0, 12)}…, manifest ${manifest.graph.sha256.slice(0, 12)}…): it was modified after export`);
    }
    let session: Ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(bytes, { executionProviders, graphOptimizationLevel: 'all' });
    } catch (error) {
      throw new Error(`${where} cannot be loaded by onnxruntime (${executionProviders.join(',')}): ${(error as Error).message}`);
    }
    const io = [...session.inputNames, '→', ...session.outputNames].join(' ');
    const declared = [...manifest.graph.inputs.map((t) => t.name), '→', ...manifest.graph.outputs.map((t) => t.name)].join(' ');
    if (io !== declared) {
      await session.release();
      throw new Error(`${where}: the graph maps ${io}, the manifest declares ${declared}`);
    }
    return new ClassifierModel(manifest, ort, session);
  }

  get featureNames(): string[] {
    return this.manifest.features.map((f) => f.name);
  }

  /** Scores events x [count, D] (row-major, physical units, features in the manifest's order). */
  async score(x: Float32Array | Float64Array, count: number): Promise<ClassifierScores> {
    const D = this.manifest.features.length;
    if (!(Number.isInteger(count) && count >= 0) || x.length !== count * D) {
      throw new Error(`events hold ${x.length} values, expected ${count} events × ${D} features (${this.featureNames.join(', ')})`);
    }
    const values = x instanceof Float32Array ? x : Float32Array.from(x);
    const bad = values.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      throw new Error(`event ${Math.floor(bad / D) + 1}, feature ${this.featureNames[bad % D]} is ${values[bad]} (as float32): the classifier needs finite features`);
    }
    const probability = new Float32Array(count);
    const logit = new Float32Array(count);
    for (let start = 0; start < count; start += SCORE_CHUNK) {
      const end = Math.min(count, start + SCORE_CHUNK);
      const out = await this.session.run({ x: new this.ort.Tensor('float32', values.subarray(start * D, end * D), [end - start, D]) });
      probability.set(out.probability.data as Float32Array, start);
      logit.set(out.logit.data as Float32Array, start);
    }
    return { probability, logit };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
