// Per-epoch checkpoints (weights, best weights, Adam moments, loop state) so `--resume` continues a run.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@flowscan/runtime/node';
import type { ParamSpec } from '../ir/graph.ts';
import type { EpochReport } from './train.ts';
import { type WeightIndexEntry, readWeightGroups, writeWeightGroups } from './weights-file.ts';

export interface Checkpoint {
  epoch: number;
  learningRate: number;
  bestValidationLoss: number;
  bestEpoch: number;
  epochsWithoutImprovement: number;
  history: EpochReport[];
  adamStep: number;
}

interface CheckpointFile {
  format: 'flowscan-checkpoint';
  version: 1;
  state: Checkpoint;
  index: WeightIndexEntry[];
}

const JSON_NAME = 'checkpoint.json';
const BIN_NAME = 'checkpoint.bin';

export async function saveCheckpoint(
  dir: string,
  specs: ParamSpec[],
  state: Checkpoint,
  weights: { weights: Map<string, Float32Array>; bestWeights: Map<string, Float32Array>; adamM: Map<string, Float32Array>; adamV: Map<string, Float32Array> },
): Promise<void> {
  await mkdir(dir, { recursive: true });
  const index = await writeWeightGroups(join(dir, BIN_NAME), specs, { ...weights });
  const file: CheckpointFile = { format: 'flowscan-checkpoint', version: 1, state, index };
  await writeFileAtomic(join(dir, JSON_NAME), JSON.stringify(file));
}

export async function loadCheckpoint(dir: string, specs: ParamSpec[]) {
  let file: CheckpointFile;
  try {
    file = JSON.parse(await readFile(join(dir, JSON_NAME), 'utf8')) as CheckpointFile;
  } catch {
    throw new Error(`no readable checkpoint in ${dir} (expected ${JSON_NAME} from an earlier run with the same --out)`);
  }
  if (file.format !== 'flowscan-checkpoint' || file.version !== 1) throw new Error(`${join(dir, JSON_NAME)} is not a flowscan checkpoint`);
  const groups = await readWeightGroups(join(dir, BIN_NAME), file.index, specs);
  return { state: file.state, weights: groups.weights, bestWeights: groups.bestWeights, adamM: groups.adamM, adamV: groups.adamV };
}
