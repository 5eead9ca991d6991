// Export: writes the ONNX graphs (log-density, batched log-density, θ-gradient, sampler) and manifest.json
// for a trained model. The manifest is validated against schemas/model.schema.json before it is written.
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type GraphName, type ManifestGraph, type ModelManifest, validateManifest } from '@flowscan/runtime';
import { writeFileAtomic } from '@flowscan/runtime/node';
import { type BuiltGraph, logProbBatchGraph, logProbGradGraph, logProbGraph, logProbPreprocessedGraph, preprocessGraph, sampleGraph } from '../flows/graphs.ts';
import { LOGIT_EPSILON } from '../flows/preprocess.ts';
import { activationBytesPerEvaluation } from '../ir/graph.ts';
import { ONNX_IR_VERSION, ONNX_OPSET, emitOnnx } from '../ir/onnx.ts';
import type { TrainedModel } from '../train/saved-model.ts';

export const OUTSIDE_SUPPORT_POLICY =
  'Features outside the support [lo, hi] (training range widened by the margin) are clamped to its edge inside ' +
  'the graph: log p is finite and equals the value at the edge (with the edge Jacobian), never NaN; the ' +
  'runtime counts such events and by default refuses them. Parameters outside the training range are ' +
  'extrapolated by the networks (finite, untrusted); log-scaled parameters ≤ 0 are clamped to 1e-30.';

interface GraphPlan {
  name: GraphName;
  build: () => BuiltGraph;
  inputs: ManifestGraph['inputs'];
  outputs: ManifestGraph['outputs'];
  precision: 'float32' | 'float64';
}

/**
 * The float64 evaluation graphs for CPU fits. Sums of 10^5–10^6 float32 log-densities and gradients carry rounding
 * noise correlated through the shared θ-dependent knots (≈ 0.05 in the toy's NLL, 5 % of a Hessian column at its
 * σ); double costs about the same on one-feature spline flows and 2–3× on wide MLPs (docs/engine.md). They take events through the preprocessing bijection
 * (`preprocess_f64`), which does not depend on θ: a scan runs it once per dataset (it was half of the toy's
 * log-density cost); θ-scaled features pass it unchanged and are mapped in the batched graphs, at each θ. WebGPU has no float64 and keeps the float32 graphs on physical x.
 */
function float64Plans(def: TrainedModel['definition']): GraphPlan[] {
  const D = def.features.length;
  const P = def.params.length;
  const f64 = <X extends object>(t: X): X & { dtype: 'float64' } => ({ ...t, dtype: 'float64' as const });
  const y = f64({ name: 'y', shape: ['N', D], description: `events after the preprocessing bijection (output y of preprocess_f64; θ-scaled features still in physical units)` });
  const logDet = f64({ name: 'log_det', shape: ['N'], description: 'log|det| of the preprocessing per event, θ-scaled features excluded (output log_det of preprocess_f64)' });
  const thetaK = f64({ name: 'theta', shape: ['K', P], description: `K parameter points [K, ${P}] evaluated against the same N events` });
  const logProbKN = f64({ name: 'log_prob', shape: ['K', 'N'], description: 'log p(x_i|θ_k), density in physical units' });
  const list: GraphPlan[] = [
    {
      name: 'preprocess_f64',
      build: () => preprocessGraph(def),
      inputs: [f64({ name: 'x', shape: ['N', D], description: `events [N, ${D}] in physical units (${def.features.map((f) => f.name).join(', ')})` })],
      outputs: [y, logDet],
      precision: 'float64',
    },
  ];
  if (P === 0) {
    list.push({
      name: 'log_prob_batch_f64',
      build: () => logProbPreprocessedGraph(def),
      inputs: [y, logDet],
      outputs: [f64({ name: 'log_prob', shape: ['N'], description: 'log p(x_i), density in physical units' })],
      precision: 'float64',
    });
    return list;
  }
  list.push(
    { name: 'log_prob_batch_f64', build: () => logProbBatchGraph(def, 'preprocessed'), inputs: [y, logDet, thetaK], outputs: [logProbKN], precision: 'float64' },
    {
      name: 'log_prob_grad_f64',
      build: () => logProbGradGraph(def, 'preprocessed'),
      inputs: [y, logDet, thetaK, f64({ name: 'weights', shape: ['J', 'N'], description: 'event weights w_ji, J = 1 (shared by all K points) or J = K (one row per point)' })],
      outputs: [logProbKN, f64({ name: 'grad_theta', shape: ['K', P], description: 'Σ_i w_ki ∂ log p(x_i|θ_k)/∂θ in physical parameter units' })],
      precision: 'float64',
    },
  );
  return list;
}

function plans(model: TrainedModel): GraphPlan[] {
  const def = model.definition;
  const D = def.features.length;
  const P = def.params.length;
  const x = { name: 'x', shape: ['N', D], description: `events [N, ${D}] in physical units (${def.features.map((f) => f.name).join(', ')})` };
  const thetaPerEvent = { name: 'theta', shape: ['B', P], description: `parameters [1 or N, ${P}] (${def.params.map((p) => p.name).join(', ')})` };
  const thetaK = { name: 'theta', shape: ['K', P], description: `K parameter points [K, ${P}] evaluated against the same N events` };
  const list: GraphPlan[] = [
    {
      name: 'log_prob',
      build: () => logProbGraph(def),
      inputs: P > 0 ? [x, thetaPerEvent] : [x],
      outputs: [{ name: 'log_prob', shape: ['N'], description: 'log p(x_i|θ) per event, nats, density in physical units' }],
      precision: 'float32',
    },
    {
      name: 'sample',
      build: () => sampleGraph(def),
      inputs: [
        { name: 'z', shape: ['N', D], description: `base-distribution draws (${def.flow.base.kind})` },
        ...(P > 0 ? [thetaPerEvent] : []),
      ],
      outputs: [{ name: 'x', shape: ['N', D], description: 'events in physical units' }],
      precision: 'float32',
    },
  ];
  if (P > 0) {
    const batch: GraphPlan = {
      name: 'log_prob_batch',
      build: () => logProbBatchGraph(def),
      inputs: [x, thetaK],
      outputs: [{ name: 'log_prob', shape: ['K', 'N'], description: 'log p(x_i|θ_k)' }],
      precision: 'float32',
    };
    const grad: GraphPlan = {
      name: 'log_prob_grad',
      build: () => logProbGradGraph(def),
      inputs: [x, thetaK, { name: 'weights', shape: ['J', 'N'], description: 'event weights w_ji, J = 1 (shared by all K points) or J = K (one row per point)' }],
      outputs: [
        { name: 'log_prob', shape: ['K', 'N'], description: 'log p(x_i|θ_k)' },
        { name: 'grad_theta', shape: ['K', P], description: 'Σ_i w_ki ∂ log p(x_i|θ_k)/∂θ in physical parameter units' },
      ],
      precision: 'float32',
    };
    list.push(batch, grad);
  } else {
    // An unconditional flow: the batched graph is the plain one with K = 1 (no θ input).
    list.push({ name: 'log_prob_batch', build: () => logProbGraph(def), inputs: [x], outputs: [{ name: 'log_prob', shape: ['N'], description: 'log p(x_i)' }], precision: 'float32' });
  }
  return [...list, ...float64Plans(def)];
}

export interface ExportOptions {
  name: string;
  description?: string;
}

/**
 * Where each feature's density is defined, in physical units. A θ-scaled feature's support [lo, hi] is of x/θ_j, so
 * in x it moves with θ: the manifest gives its union over the parameter's range, [lo·min θ_j, hi·max θ_j] (the
 * graphs clamp an event outside the support at the θ it is evaluated at, as they do at any support edge).
 */
function physicalSupport(def: TrainedModel['definition']): [number, number][] {
  return def.preprocessing.map((p) => {
    if (p.scaledBy === undefined) return [p.lo, p.hi];
    const [min, max] = def.params.find((q) => q.name === p.scaledBy)!.range;
    return [Math.min(p.lo * min, p.lo * max), Math.max(p.hi * min, p.hi * max)];
  });
}

/** Writes `outDir/manifest.json` and one .onnx file per graph; returns the manifest. */
export async function exportModel(model: TrainedModel, outDir: string, options: ExportOptions): Promise<ModelManifest> {
  await mkdir(outDir, { recursive: true });
  const def = model.definition;
  const graphs: Partial<Record<GraphName, ManifestGraph>> = {};
  for (const plan of plans(model)) {
    const built = plan.build();
    const outputs = Object.fromEntries(plan.outputs.map((o) => [o.name, built.outputs[o.name].id]));
    const bytes = emitOnnx(built.graph, {
      name: `${options.name}_${plan.name}`,
      outputs,
      weights: model.weights,
      docString: `flowscan ${def.flow.kind} flow "${options.name}": ${plan.name}`,
      precision: plan.precision,
    });
    const file = `${plan.name}.onnx`;
    await writeFileAtomic(join(outDir, file), bytes);
    graphs[plan.name] = {
      file,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      bytes: bytes.byteLength,
      inputs: plan.inputs,
      outputs: plan.outputs,
      bytesPerEvaluation: activationBytesPerEvaluation(built.graph, Object.values(outputs), 'N', plan.precision === 'float64' ? 8 : 4),
    };
  }
  const manifest = {
    format: 'flowscan-model',
    formatVersion: 1,
    name: options.name,
    ...(options.description ? { description: options.description } : {}),
    features: def.features.map((f) => ({ name: f.name, unit: f.unit, range: f.range })),
    parameters: def.params.map((p) => ({ name: p.name, unit: p.unit, range: p.range, logScale: p.logScale })),
    flow: def.flow,
    preprocessing: { supportMargin: def.supportMargin, logitEpsilon: LOGIT_EPSILON, features: def.preprocessing },
    support: physicalSupport(def),
    graphs,
    onnx: { opset: ONNX_OPSET, irVersion: ONNX_IR_VERSION },
    provenance: { ...model.provenance, exportedAt: new Date().toISOString() },
    outsideSupport: OUTSIDE_SUPPORT_POLICY,
  };
  const where = join(outDir, 'manifest.json');
  const valid = validateManifest(JSON.parse(JSON.stringify(manifest)), where);
  await writeFileAtomic(where, `${JSON.stringify(valid, null, 2)}\n`);
  return valid;
}
