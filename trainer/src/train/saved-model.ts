// A trained model on disk (before export): model.json (definition, provenance, history, weight index) and
// weights.bin. `flowscan export` turns it into ONNX graphs and a manifest.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@flowscan/runtime/node';
import type { ModelDefinition } from '../flows/config.ts';
import { validateFlowConfig } from '../flows/config.ts';
import { parameterSpecs } from '../flows/graphs.ts';
import type { EpochReport } from './train.ts';
import { type WeightIndexEntry, readWeightGroups, writeWeightGroups } from './weights-file.ts';

export interface Provenance {
  dataHash: string;
  dataFiles: string[];
  events: number;
  trainingEvents: number;
  validationEvents: number;
  epochs: number;
  bestEpoch: number;
  /** Mean negative log-likelihood per event on the validation split, nats, physical units. */
  validationLoss: number;
  backend: string;
  seed: number;
  date: string;
  trainer: string;
}

export interface TrainedModel {
  definition: ModelDefinition;
  weights: Map<string, Float32Array>;
  provenance: Provenance;
  history: EpochReport[];
}

interface ModelFile {
  format: 'flowscan-trained-model';
  version: 1;
  definition: ModelDefinition;
  provenance: Provenance;
  history: EpochReport[];
  index: WeightIndexEntry[];
}

export const TRAINER_VERSION = 'flowscan 0.1.0';

export async function saveTrainedModel(dir: string, model: TrainedModel): Promise<void> {
  await mkdir(dir, { recursive: true });
  const index = await writeWeightGroups(join(dir, 'weights.bin'), parameterSpecs(model.definition), { weights: model.weights });
  const file: ModelFile = {
    format: 'flowscan-trained-model',
    version: 1,
    definition: model.definition,
    provenance: model.provenance,
    history: model.history,
    index,
  };
  await writeFileAtomic(join(dir, 'model.json'), JSON.stringify(file, null, 2));
}

export async function loadTrainedModel(dir: string): Promise<TrainedModel> {
  const path = join(dir, 'model.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new Error(`${path} not found: expected a folder written by \`flowscan train --out\``);
  }
  let file: ModelFile;
  try {
    file = JSON.parse(text) as ModelFile;
  } catch (error) {
    throw new Error(`${path} is not valid JSON (${(error as Error).message})`);
  }
  if (file.format !== 'flowscan-trained-model' || file.version !== 1) {
    throw new Error(`${path} is not a flowscan trained model (format ${String(file.format)}, version ${String(file.version)})`);
  }
  // Runs saved before the linear θ path existed have none.
  file.definition.flow.linearTheta ??= false;
  validateFlowConfig(file.definition.flow);
  // Runs saved before declared windows existed all used the logit map.
  for (const p of file.definition.preprocessing) p.map ??= 'logit';
  const groups = await readWeightGroups(join(dir, 'weights.bin'), file.index, parameterSpecs(file.definition));
  return { definition: file.definition, weights: groups.weights, provenance: file.provenance, history: file.history };
}
