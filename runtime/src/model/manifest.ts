// The model manifest: types that follow schemas/model.schema.json, and its validation (ajv).
import AjvModule from 'ajv';
import schema from '../../../schemas/model.schema.json' with { type: 'json' };

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
    features: { lo: number; hi: number; map: 'logit' | 'probit'; mean: number; std: number }[];
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

const Ajv = AjvModule.default ?? AjvModule;
const validator = new Ajv({ allErrors: true, strict: false }).compile<ModelManifest>(schema);

/** Validates a parsed manifest; throws naming the source and every schema violation. */
export function validateManifest(json: unknown, source: string): ModelManifest {
  if (!validator(json)) {
    const problems = (validator.errors ?? []).map((e) => `${e.instancePath || '(top level)'} ${e.message ?? ''}`.trim());
    throw new Error(`${source} does not follow the model manifest schema: ${problems.join('; ')}`);
  }
  const m = json;
  m.parameters.forEach((p) => {
    if (!(p.range[0] <= p.range[1])) throw new Error(`${source}: parameter ${p.name} has range [${p.range.join(', ')}] with min > max`);
  });
  if (m.preprocessing.features.length !== m.features.length) {
    throw new Error(`${source}: preprocessing lists ${m.preprocessing.features.length} features, the model has ${m.features.length}`);
  }
  if (m.parameters.length > 0 && !m.graphs.log_prob_grad) {
    throw new Error(`${source}: a conditional model must export the log_prob_grad graph`);
  }
  return m;
}

/** The feature support of a model: where its density is defined (the training range with the margin). */
export function featureSupport(m: ModelManifest): [number, number][] {
  return m.support ?? m.preprocessing.features.map((p) => [p.lo, p.hi]);
}
