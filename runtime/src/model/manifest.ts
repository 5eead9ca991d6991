// The model manifest: types that follow schemas/model.schema.json, and its validation (ajv).
import schema from '../../../schemas/model.schema.json' with { type: 'json' };
import type { OnnxStructure } from './onnx-structure.ts';
import { schemaValidator } from '../schema-validator.ts';

export interface ManifestVariable {
  name: string;
  unit: string;
  range: [number, number];
  logScale?: boolean;
}

export interface ManifestTensor {
  name: string;
  shape: (string | number)[];
  description: string;
  /** Element type; absent means float32. */
  dtype?: 'float32' | 'float64';
}

export interface ManifestGraph {
  file: string;
  sha256: string;
  bytes: number;
  inputs: ManifestTensor[];
  outputs: ManifestTensor[];
  /** Upper bound on intermediate bytes per evaluation (event × parameter point); absent in older exports. */
  bytesPerEvaluation?: number;
}

export type GraphName = 'log_prob' | 'log_prob_batch' | 'log_prob_grad' | 'preprocess_f64' | 'log_prob_batch_f64' | 'log_prob_grad_f64' | 'sample';

export interface ModelManifest {
  format: 'flowscan-model';
  formatVersion: 1;
  name: string;
  description?: string;
  features: ManifestVariable[];
  parameters: ManifestVariable[];
  flow: {
    kind: 'maf' | 'nsf' | 'nsf-coupling' | 'realnvp';
    blocks: number;
    hidden: number;
    depth: number;
    activation: 'tanh' | 'silu' | 'relu';
    bins: number;
    tailBound: number;
    base: { kind: 'normal' } | { kind: 'student-t'; nu: number };
    /** A linear θ path beside the conditioner networks (absent in models exported before it existed). */
    linearTheta?: boolean;
  };
  preprocessing: {
    supportMargin: number;
    logitEpsilon: number;
    /**
     * knots: the quantile map's x_0 = lo < … < x_K = hi, F̂(x_k) = k/K (the graphs hold them; recorded for readers).
     * scaledBy: the parameter a feature is measured in units of (lo, hi and the map are of x/θ; `support` is physical).
     */
    features: { lo: number; hi: number; map: 'logit' | 'probit' | 'quantile'; mean: number; std: number; knots?: number[]; scaledBy?: string }[];
  };
  support?: [number, number][];
  graphs: {
    log_prob: ManifestGraph;
    log_prob_batch: ManifestGraph;
    log_prob_grad?: ManifestGraph;
    /** float64 evaluation graphs (CPU fits): the preprocessing once per dataset, then the batched graphs on its output; absent in older exports. */
    preprocess_f64?: ManifestGraph;
    log_prob_batch_f64?: ManifestGraph;
    log_prob_grad_f64?: ManifestGraph;
    sample: ManifestGraph;
  };
  onnx: { opset: 18; irVersion: 8 };
  provenance: {
    dataHash: string;
    dataFiles?: string[];
    events: number;
    trainingEvents?: number;
    validationEvents?: number;
    epochs: number;
    bestEpoch?: number;
    validationLoss: number;
    backend: string;
    seed?: number;
    date: string;
    trainer: string;
    exportedAt?: string;
  };
  outsideSupport: string;
}

const manifestSchema = schemaValidator<ModelManifest>(schema);

/** Validates a parsed manifest; throws naming the source and every schema violation. */
export function validateManifest(json: unknown, source: string): ModelManifest {
  if (!manifestSchema.valid(json)) {
    throw new Error(`${source} does not follow the model manifest schema: ${manifestSchema.problems().join('; ')}`);
  }
  const m = json;
  m.parameters.forEach((p) => {
    if (!(p.range[0] <= p.range[1])) throw new Error(`${source}: parameter ${p.name} has range [${p.range.join(', ')}] with min > max`);
  });
  if (m.preprocessing.features.length !== m.features.length) {
    throw new Error(`${source}: preprocessing lists ${m.preprocessing.features.length} features, the model has ${m.features.length}`);
  }
  m.preprocessing.features.forEach((p, d) => {
    if (p.scaledBy !== undefined && !m.parameters.some((q) => q.name === p.scaledBy)) {
      throw new Error(`${source}: feature ${m.features[d].name} is scaled by "${p.scaledBy}", which is not one of the parameters (${m.parameters.map((q) => q.name).join(', ') || 'none'})`);
    }
  });
  if (m.parameters.length > 0 && !m.graphs.log_prob_grad) {
    throw new Error(`${source}: a conditional model must export the log_prob_grad graph`);
  }
  return m;
}

/** The feature support of a model: where its density is defined (the training range with the margin). */
export function featureSupport(m: ModelManifest): [number, number][] {
  return m.support ?? m.preprocessing.features.map((p) => [p.lo, p.hi]);
}

/** TensorProto.DataType codes of the element types a manifest declares. */
const ONNX_ELEMENT_TYPES: Record<NonNullable<ManifestTensor['dtype']>, number> = { float32: 1, float64: 11 };
/** The default ONNX domain, as models write it. */
const DEFAULT_DOMAINS = ['', 'ai.onnx'];

function shapeText(dims: readonly (number | string | null)[] | null): string {
  return dims === null ? 'unknown' : `[${dims.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;
}

/**
 * Checks an exported graph against its manifest before it is trusted: standard operators of the default domain at
 * the manifest's opset and IR version only (another domain, e.g. com.microsoft, runs only in some onnxruntime
 * builds and can compute something else than the exporter meant), no model-local functions, and inputs and
 * outputs with the declared names, element types and shapes (a graph of another model put in its place fails
 * here, naming the file and the model, not at the first evaluation). `where` names the file.
 */
export function checkGraphStructure(structure: OnnxStructure, graph: ManifestGraph, manifest: ModelManifest, where: string): void {
  const fail = (problem: string): never => {
    throw new Error(`${where} (model ${manifest.name}): ${problem}`);
  };
  if (structure.irVersion !== manifest.onnx.irVersion) fail(`IR version ${structure.irVersion}, the manifest says ${manifest.onnx.irVersion}`);
  for (const { domain, version } of structure.opsets) {
    if (!DEFAULT_DOMAINS.includes(domain)) fail(`imports operator set "${domain}": only the default ONNX domain is allowed`);
    if (version !== manifest.onnx.opset) fail(`imports opset ${version}, the manifest says ${manifest.onnx.opset}`);
  }
  const foreign = structure.nodes.findIndex((n) => !DEFAULT_DOMAINS.includes(n.domain));
  if (foreign >= 0) {
    const node = structure.nodes[foreign];
    fail(`node ${foreign + 1} (${node.opType}) is in domain "${node.domain}": only standard operators of the default ONNX domain are allowed`);
  }
  if (structure.functions > 0) fail(`defines ${structure.functions} model-local function(s): only standard operators are allowed`);
  for (const [kind, declared, actual] of [
    ['input', graph.inputs, structure.inputs],
    ['output', graph.outputs, structure.outputs],
  ] as const) {
    const names = actual.map((t) => t.name);
    if (names.length !== declared.length || declared.some((t) => !names.includes(t.name))) {
      fail(`graph ${kind}s are [${names.join(', ')}], the manifest declares [${declared.map((t) => t.name).join(', ')}]`);
    }
    for (const want of declared) {
      const got = actual.find((t) => t.name === want.name)!;
      const type = ONNX_ELEMENT_TYPES[want.dtype ?? 'float32'];
      if (got.elemType !== type) fail(`${kind} ${want.name} has ONNX element type ${got.elemType}, the manifest declares ${want.dtype ?? 'float32'} (${type})`);
      // Sizes must agree; a symbolic size (events N, points K) must stay symbolic, whatever the exporter named it.
      const agrees = (d: number | string, g: number | string | null): boolean => (typeof d === 'number' ? g === d : typeof g !== 'number');
      const matches = got.dims !== null && got.dims.length === want.shape.length && want.shape.every((d, i) => agrees(d, got.dims![i]));
      if (!matches) fail(`${kind} ${want.name} has shape ${shapeText(got.dims)}, the manifest declares ${shapeText(want.shape)}`);
    }
  }
}
