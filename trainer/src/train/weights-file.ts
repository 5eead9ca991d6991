// Named float32 arrays in one binary file with a JSON index: the trained-model and checkpoint format.
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

export async function writeWeightGroups(
  binPath: string,
  specs: ParamSpec[],
  groups: Record<string, Map<string, Float32Array>>,
): Promise<WeightIndexEntry[]> {
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
  const all = new Float32Array(total);
  for (const e of index) all.set(groups[e.group].get(e.name)!, e.offset);
  await writeFileAtomic(binPath, new Uint8Array(all.buffer));
  return index;
}

export async function readWeightGroups(
  binPath: string,
  index: WeightIndexEntry[],
  specs: ParamSpec[],
): Promise<Record<string, Map<string, Float32Array>>> {
  let bytes: Buffer;
  try {
    bytes = await readFile(binPath);
  } catch {
    throw new Error(`weights file ${binPath} cannot be read`);
  }
  if (bytes.byteLength % 4 !== 0) throw new Error(`weights file ${binPath} is truncated (${bytes.byteLength} bytes)`);
  const all = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const groups: Record<string, Map<string, Float32Array>> = {};
  for (const e of index) {
    if (e.offset + e.length > all.length) throw new Error(`weights file ${binPath} is truncated: ${e.name} lies past its end`);
    (groups[e.group] ??= new Map()).set(e.name, all.slice(e.offset, e.offset + e.length));
  }
  for (const [group, weights] of Object.entries(groups)) {
    for (const s of specs) {
      const w = weights.get(s.name);
      const size = s.shape.reduce((a, b) => a * b, 1);
      if (!w || w.length !== size) {
        throw new Error(`${binPath}: weight ${s.name} of ${group} is missing or has the wrong size (the architecture changed?)`);
      }
    }
  }
  return groups;
}
