// An exported model folder read back as a trained model: the definition from manifest.json, the weights from the
// initializers of its log-density graph (the exporter names them after the weights). `flowscan export` then
// writes the model again with the current exporter, e.g. to add graphs that older exports lack (float64 twins).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { readManifest } from '@flowscan/runtime';
import { folderSource } from '@flowscan/runtime/node';
import { type ModelDefinition, validateFlowConfig } from '../flows/config.ts';
import { parameterSpecs } from '../flows/graphs.ts';
import type { TrainedModel } from '../train/saved-model.ts';

const { onnx } = onnxProto;

/** The model of an export folder, with the name and description its manifest gives. */
export async function loadExportedModel(dir: string): Promise<{ model: TrainedModel; name: string; description?: string }> {
  const manifest = await readManifest(folderSource(dir));
  const definition: ModelDefinition = {
    features: manifest.features.map((f) => ({ name: f.name, unit: f.unit, range: f.range, logScale: f.logScale ?? false })),
    params: manifest.parameters.map((p) => ({ name: p.name, unit: p.unit, range: p.range, logScale: p.logScale ?? false })),
    flow: { ...manifest.flow, linearTheta: manifest.flow.linearTheta ?? false },
    preprocessing: manifest.preprocessing.features,
    supportMargin: manifest.preprocessing.supportMargin,
  };
  validateFlowConfig(definition.flow);

  const file = join(dir, manifest.graphs.log_prob.file);
  const graph = onnx.ModelProto.decode(await readFile(file)).graph;
  const initializers = new Map((graph?.initializer ?? []).map((t) => [t.name ?? '', t]));
  const weights = new Map<string, Float32Array>();
  for (const spec of parameterSpecs(definition)) {
    const tensor = initializers.get(spec.name);
    const size = spec.shape.reduce((a, b) => a * b, 1);
    if (!tensor?.rawData || tensor.dataType !== onnx.TensorProto.DataType.FLOAT || tensor.rawData.byteLength !== 4 * size) {
      throw new Error(`${file} has no float32 weight "${spec.name}" of shape [${spec.shape.join(', ')}]: it does not match its manifest's flow`);
    }
    // Copy: decoded bytes are a view into the file's buffer, with no alignment guarantee.
    weights.set(spec.name, new Float32Array(Uint8Array.from(tensor.rawData).buffer));
  }
  const { exportedAt: _exportedAt, ...provenance } = manifest.provenance;
  const model: TrainedModel = {
    definition,
    weights,
    provenance: {
      ...provenance,
      dataFiles: provenance.dataFiles ?? [],
      trainingEvents: provenance.trainingEvents ?? provenance.events,
      validationEvents: provenance.validationEvents ?? 0,
      bestEpoch: provenance.bestEpoch ?? provenance.epochs,
      seed: provenance.seed ?? 0,
    },
    history: [],
  };
  return { model, name: manifest.name, ...(manifest.description ? { description: manifest.description } : {}) };
}
