// Named float32 arrays with a JSON index: packed into one array (the checkpoint file embeds it), or written to
// a binary file of their own (the trained model's weights.bin).
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '@flowscan/runtime/node';
import type { ParamSpec } from '../ir/graph.ts';

export interface WeightIndexEntry {
  group: string;
  name: string;
  shape: number[];
  offset: number;
  length: number;
}

export type WeightGroups = Record<string, Map<string, Float32Array>>;

/** Every group's weights, in `specs` order, in one array, with the index that finds them again. */
export function packWeightGroups(specs: ParamSpec[], groups: WeightGroups): { index: WeightIndexEntry[]; values: Float32Array } {
  const index: WeightIndexEntry[] = [];
  let total = 0;
  for (const [group, weights] of Object.entries(groups)) {
    for (const s of specs) {
      const w = weights.get(s.name);
      if (!w) throw new Error(`weight ${s.name} missing from ${group}`);
      index.push({ group, name: s.name, shape: [...s.shape], offset: total, length: w.length });
      total += w.length;
    }
  }
  const values = new Float32Array(total);
  for (const e of index) values.set(groups[e.group].get(e.name)!, e.offset);
  return { index, values };
}

/** The groups that `index` locates in `values` (read from `where`), each checked against the architecture's specs. */
export function unpackWeightGroups(values: Float32Array, index: WeightIndexEntry[], specs: ParamSpec[], where: string): WeightGroups {
  const groups: WeightGroups = {};
  for (const e of index) {
    if (e.offset + e.length > values.length) throw new Error(`${where} is truncated: ${e.name} lies past its end`);
    (groups[e.group] ??= new Map()).set(e.name, values.slice(e.offset, e.offset + e.length));
  }
  for (const [group, weights] of Object.entries(groups)) {
    for (const s of specs) {
      const w = weights.get(s.name);
      const size = s.shape.reduce((a, b) => a * b, 1);
      if (!w || w.length !== size) {
        throw new Error(`${where}: weight ${s.name} of ${group} is missing or has the wrong size (the architecture changed?)`);
      }
    }
  }
  return groups;
}

export async function writeWeightGroups(binPath: string, specs: ParamSpec[], groups: WeightGroups): Promise<WeightIndexEntry[]> {
  const { index, values } = packWeightGroups(specs, groups);
  await writeFileAtomic(binPath, new Uint8Array(values.buffer));
  return index;
}

export async function readWeightGroups(binPath: string, index: WeightIndexEntry[], specs: ParamSpec[]): Promise<WeightGroups> {
  let bytes: Buffer;
  try {
    bytes = await readFile(binPath);
  } catch {
    throw new Error(`weights file ${binPath} cannot be read`);
  }
  if (bytes.byteLength % 4 !== 0) throw new Error(`weights file ${binPath} is truncated (${bytes.byteLength} bytes)`);
  const values = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  return unpackWeightGroups(values, index, specs, `weights file ${binPath}`);
}
