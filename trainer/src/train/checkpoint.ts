// Per-epoch checkpoints (weights, best weights, Adam moments, loop state, what identifies the run: the hash of the
// training data and the settings of the validation split) so `--resume` continues a run, on the same data only.
//
// One file, replaced atomically (written beside it, then renamed over it): a run killed at any moment leaves the
// previous epoch's checkpoint or the new one, never the loop state of one epoch with the weights of another.
// Layout: the 8 ASCII bytes MAGIC, the header's byte length (uint32, little-endian), the header (UTF-8 JSON: state
// and weight index), zero padding to a multiple of 4 bytes, then the float32 weights (little-endian).
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@flowscan/runtime/node';
import type { ParamSpec } from '../ir/graph.ts';
import type { EpochReport } from './train.ts';
import { type WeightIndexEntry, packWeightGroups, unpackWeightGroups } from './weights-file.ts';

export interface Checkpoint {
  epoch: number;
  learningRate: number;
  bestValidationLoss: number;
  bestEpoch: number;
  epochsWithoutImprovement: number;
  history: EpochReport[];
  adamStep: number;
}

export interface CheckpointWeights {
  weights: Map<string, Float32Array>;
  bestWeights: Map<string, Float32Array>;
  adamM: Map<string, Float32Array>;
  adamV: Map<string, Float32Array>;
}

/** What a resumed run must share with the run that wrote the checkpoint. */
export interface RunIdentity {
  /** sha256 of the training data (dataset.ts dataHash): a resumed run must train on the same events. */
  dataHash: string;
  /** The seed and fraction that drew the validation split: others would move validation events into training. */
  seed: number;
  validationFraction: number;
}

interface CheckpointHeader extends RunIdentity {
  format: 'flowscan-checkpoint';
  version: 2;
  state: Checkpoint;
  index: WeightIndexEntry[];
}

export const CHECKPOINT_NAME = 'checkpoint.flowscan';
/** The JSON half of the two-file checkpoint of earlier versions (no data hash). */
const OLD_CHECKPOINT_NAME = 'checkpoint.json';
const MAGIC = 'FSCKPT02';
const PREFIX_BYTES = MAGIC.length + 4;

export async function saveCheckpoint(dir: string, specs: ParamSpec[], run: RunIdentity, state: Checkpoint, weights: CheckpointWeights): Promise<void> {
  await mkdir(dir, { recursive: true });
  const { index, values } = packWeightGroups(specs, { ...weights });
  const header: CheckpointHeader = { format: 'flowscan-checkpoint', version: 2, ...run, state, index };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const weightsAt = Math.ceil((PREFIX_BYTES + json.byteLength) / 4) * 4;
  const bytes = new Uint8Array(weightsAt + values.byteLength);
  bytes.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(bytes.buffer).setUint32(MAGIC.length, json.byteLength, true);
  bytes.set(json, PREFIX_BYTES);
  bytes.set(new Uint8Array(values.buffer), weightsAt);
  await writeFileAtomic(join(dir, CHECKPOINT_NAME), bytes);
}

/** The checkpoint in `dir`, refused unless it was written by a run with the same data and validation split. */
export async function loadCheckpoint(dir: string, specs: ParamSpec[], run: RunIdentity): Promise<{ state: Checkpoint } & CheckpointWeights> {
  const path = join(dir, CHECKPOINT_NAME);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch {
    if (await stat(join(dir, OLD_CHECKPOINT_NAME)).catch(() => null)) {
      throw new Error(
        `${join(dir, OLD_CHECKPOINT_NAME)} was written by an older flowscan and holds no hash of its training data, so a resumed run ` +
          'cannot be checked to train on the same events: train anew without --resume',
      );
    }
    throw new Error(`no readable checkpoint in ${dir} (expected ${CHECKPOINT_NAME} from an earlier run with the same --out)`);
  }
  if (bytes.byteLength < PREFIX_BYTES || bytes.toString('latin1', 0, MAGIC.length) !== MAGIC) throw new Error(`${path} is not a flowscan checkpoint`);
  const jsonBytes = bytes.readUInt32LE(MAGIC.length);
  const weightsAt = Math.ceil((PREFIX_BYTES + jsonBytes) / 4) * 4;
  if (weightsAt > bytes.byteLength) throw new Error(`${path} is truncated (${bytes.byteLength} bytes, its header alone needs ${weightsAt})`);
  let header: CheckpointHeader;
  try {
    header = JSON.parse(bytes.toString('utf8', PREFIX_BYTES, PREFIX_BYTES + jsonBytes)) as CheckpointHeader;
  } catch (error) {
    throw new Error(`${path} has an unreadable header (${(error as Error).message})`);
  }
  if (header.format !== 'flowscan-checkpoint' || header.version !== 2) throw new Error(`${path} is not a flowscan checkpoint of version 2`);
  const weightBytes = header.index.reduce((end, e) => Math.max(end, 4 * (e.offset + e.length)), 0);
  if (bytes.byteLength !== weightsAt + weightBytes) {
    throw new Error(`${path} is truncated or padded: ${bytes.byteLength} bytes, its index describes ${weightsAt + weightBytes}`);
  }
  if (header.dataHash !== run.dataHash) {
    throw new Error(
      `${path} was written for other training data (hash ${header.dataHash.slice(0, 12)}…), these data hash to ${run.dataHash.slice(0, 12)}…: ` +
        '--resume continues a run only on the events it started with (the same files, columns, weights and rows). ' +
        'Pass the original data, or train anew without --resume (into another --out, or with --force).',
    );
  }
  if (header.seed !== run.seed || header.validationFraction !== run.validationFraction) {
    throw new Error(
      `${path} was written by a run with seed ${header.seed} and validation fraction ${header.validationFraction}, this run has ` +
        `${run.seed} and ${run.validationFraction}: they draw the validation split, and another split would move validation events ` +
        'into training. Resume with the original --seed and --validation, or train anew without --resume.',
    );
  }
  const values = new Float32Array(bytes.buffer.slice(bytes.byteOffset + weightsAt, bytes.byteOffset + bytes.byteLength));
  const groups = unpackWeightGroups(values, header.index, specs, path);
  return { state: header.state, weights: groups.weights, bestWeights: groups.bestWeights, adamM: groups.adamM, adamV: groups.adamV };
}
