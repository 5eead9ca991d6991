// Work split into shards for batch systems (Slurm job arrays, HTCondor clusters, Kubernetes Indexed Jobs).
//
// A sharded command (toys, validate) has a list of `total` items (toys, design points × pseudo-experiments), each
// with its own deterministic seed, so the results do not depend on how the items are split. Shard i of n takes
// the items j with j mod n = i (round robin: items that cost more, e.g. the corners of a design, spread over the
// shards) and writes one file, atomically, into the run's folder. `mergeShards` reads them back and refuses a
// set with a missing shard, a shard written twice or written by a different configuration; `shardStatus` lists
// what a killed run still has to do, and `arraySpec` writes it in the form `sbatch --array` takes.
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '@flowscan/runtime/node';

export const SHARD_FORMAT = 'flowscan-shard/1';
/** Shard indices are zero-based, as SLURM_ARRAY_TASK_ID with --array=0-(n-1), $(Process) and JOB_COMPLETION_INDEX. */
export interface Shard {
  index: number;
  count: number;
}

export const MAX_SHARDS = 100_000;

/** "i/n" with 0 ≤ i < n (zero-based, like SLURM_ARRAY_TASK_ID for --array=0-(n-1)). */
export function parseShard(text: string): Shard {
  const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!match) throw new Error(`--shard must be i/n (shard i of n, zero-based: 0/4 … 3/4), got "${text}".`);
  const index = Number(match[1]);
  const count = Number(match[2]);
  if (!(count >= 1 && count <= MAX_SHARDS)) throw new Error(`--shard ${text}: the number of shards must be in [1, ${MAX_SHARDS}], got ${count}.`);
  if (index >= count) {
    throw new Error(`--shard ${text}: the index must be in [0, ${count - 1}] (zero-based; with Slurm use --array=0-${count - 1}), got ${index}.`);
  }
  return { index, count };
}

/** The whole run as a single shard. */
export const WHOLE_RUN: Shard = { index: 0, count: 1 };

/** The item indices of `shard` among `total` items (round robin). */
export function shardItems(total: number, shard: Shard): number[] {
  if (!(Number.isInteger(total) && total >= 0)) throw new Error(`the number of items must be a non-negative integer, got ${total}`);
  const items: number[] = [];
  for (let j = shard.index; j < total; j += shard.count) items.push(j);
  return items;
}

/** sha256 of the configuration's canonical JSON (keys sorted): shards of one run carry the same hash. */
export function configHash(config: unknown): string {
  return createHash('sha256').update(canonicalJson(config)).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export interface ShardItem<T> {
  index: number;
  result: T;
}

export interface ShardFile<T> {
  format: typeof SHARD_FORMAT;
  /** What produced it, e.g. "toys" or "validate". */
  kind: string;
  config: unknown;
  configHash: string;
  shard: Shard;
  /** Items in the whole run. */
  total: number;
  items: ShardItem<T>[];
  /** ISO time the shard finished, and the host that ran it. */
  finished: string;
  host: string;
}

export function shardFileName(shard: Shard): string {
  const width = Math.max(4, String(shard.count).length);
  return `shard-${String(shard.index).padStart(width, '0')}-of-${String(shard.count).padStart(width, '0')}.json`;
}

const SHARD_FILE = /^shard-(\d+)-of-(\d+)\.json$/;

/** Writes a shard's results atomically (a killed job leaves no partial file, so the shard simply counts as missing). */
export async function writeShard<T>(dir: string, file: Omit<ShardFile<T>, 'format' | 'configHash' | 'finished' | 'host'>): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, shardFileName(file.shard));
  const full: ShardFile<T> = {
    format: SHARD_FORMAT,
    ...file,
    configHash: configHash(file.config),
    finished: new Date().toISOString(),
    host: hostname(),
  };
  await writeFileAtomic(path, `${JSON.stringify(full)}\n`);
  return path;
}

const isCount = (n: unknown): n is number => Number.isInteger(n) && (n as number) >= 0;

/** The shard file at `path`, checked field by field; null when there is no such file (the shard is still to do). */
async function readShardFileIfPresent(path: string): Promise<ShardFile<unknown> | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`cannot read shard ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`${path} is not valid JSON (${(error as Error).message}); delete it and run its shard again.`);
  }
  const f = parsed as ShardFile<unknown>;
  if (f?.format !== SHARD_FORMAT) throw new Error(`${path} is not a flowscan shard file (expected format "${SHARD_FORMAT}", got ${JSON.stringify(f?.format)})`);
  const problem =
    typeof f.kind !== 'string' ? 'kind is not a string' :
    typeof f.configHash !== 'string' ? 'configHash is not a string' :
    !(isCount(f.shard?.index) && isCount(f.shard?.count) && f.shard.index < f.shard.count) ? 'shard is not {index, count} with 0 ≤ index < count' :
    !isCount(f.total) ? 'total is not a non-negative integer' :
    !Array.isArray(f.items) || !f.items.every((item) => isCount(item?.index)) ? 'items is not a list of {index, result}' : null;
  if (problem) throw new Error(`${path} is a damaged shard file: ${problem}; delete it and run its shard again.`);
  return f;
}

async function readShardFile(path: string): Promise<ShardFile<unknown>> {
  const f = await readShardFileIfPresent(path);
  if (!f) throw new Error(`shard ${path} disappeared while reading the folder`);
  return f;
}

/**
 * The finished shard at `shard` in `dir` written by the same configuration, or null when there is none (to do).
 * A shard written by another configuration is an error: results of different runs are never mixed.
 */
export async function finishedShard(dir: string, shard: Shard, kind: string, config: unknown): Promise<ShardFile<unknown> | null> {
  const path = join(dir, shardFileName(shard));
  const f = await readShardFileIfPresent(path);
  if (!f) return null;
  if (f.kind !== kind || f.configHash !== configHash(config)) {
    throw new Error(
      `${path} was written by another ${f.kind} run (configuration sha256 ${f.configHash.slice(0, 12)}…, this run ${configHash(config).slice(0, 12)}…); ` +
        'use a new --out folder, or remove the old shards.',
    );
  }
  return f;
}

export interface ShardSetStatus {
  kind: string;
  count: number;
  present: number[];
  missing: number[];
}

async function shardFilesIn(dir: string): Promise<{ path: string; index: number; count: number }[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    throw new Error(`cannot read the shard folder ${dir}: ${(error as Error).message}`);
  }
  const files = names.sort().flatMap((name) => {
    const m = SHARD_FILE.exec(name);
    return m ? [{ path: join(dir, name), index: Number(m[1]), count: Number(m[2]) }] : [];
  });
  const byIndex = new Map<string, string>();
  for (const f of files) {
    if (f.index >= f.count) throw new Error(`${f.path} names shard ${f.index} of ${f.count}, but shards are numbered 0 to ${f.count - 1}; remove it.`);
    // The same shard under two names (other zero padding, e.g. copied in by hand) would count its items twice.
    const key = `${f.index}/${f.count}`;
    const other = byIndex.get(key);
    if (other) throw new Error(`shard ${key} is there twice: ${other} and ${f.path}; keep one.`);
    byIndex.set(key, f.path);
  }
  return files.sort((a, b) => a.index - b.index);
}

/** Which shards of the run in `dir` are finished and which are missing. */
export async function shardStatus(dir: string): Promise<ShardSetStatus> {
  const files = await shardFilesIn(dir);
  if (files.length === 0) throw new Error(`no shard files (shard-I-of-N.json) in ${dir}`);
  const counts = [...new Set(files.map((f) => f.count))];
  if (counts.length > 1) {
    throw new Error(`${dir} mixes runs split into ${counts.join(' and ')} shards; keep the shards of one run per folder.`);
  }
  const count = counts[0];
  const first = await readShardFile(files[0].path);
  const present = files.map((f) => f.index);
  const have = new Set(present);
  const missing: number[] = [];
  for (let i = 0; i < count; i++) if (!have.has(i)) missing.push(i);
  return { kind: first.kind, count, present, missing };
}

/** Indices as an sbatch --array value: 0-3,7,9-10 (sorted, each once). */
export function arraySpec(indices: readonly number[]): string {
  const bad = indices.find((i) => !isCount(i));
  if (bad !== undefined) throw new Error(`array indices must be non-negative integers, got ${bad}`);
  const sorted = [...new Set(indices)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(j === i ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

export interface MergedShards<T> {
  kind: string;
  config: unknown;
  configHash: string;
  count: number;
  /** Every item of the run, in item order. */
  items: ShardItem<T>[];
}

/**
 * All items of the run in `dir`, in order. Refuses a set with missing shards (naming them and the array to rerun),
 * shards of different runs, and any item present twice or absent.
 */
export async function mergeShards<T>(dir: string, kind?: string): Promise<MergedShards<T>> {
  const status = await shardStatus(dir);
  if (status.missing.length > 0) {
    throw new Error(
      `${status.missing.length} of ${status.count} shards are missing in ${dir}: ${arraySpec(status.missing)}; ` +
        `run them (e.g. sbatch --array=${arraySpec(status.missing)} with the run's shard count ${status.count}; ` +
        `\`flowscan merge ${dir} --missing\` prints the list) and merge again.`,
    );
  }
  const files = await shardFilesIn(dir);
  let reference: ShardFile<unknown> | null = null;
  const items = new Map<number, ShardItem<T>>();
  for (const { path, index } of files) {
    const f = await readShardFile(path);
    if (kind !== undefined && f.kind !== kind) throw new Error(`${path} holds ${f.kind} results, expected ${kind}`);
    if (f.shard.index !== index || f.shard.count !== status.count) {
      throw new Error(`${path} says it is shard ${f.shard.index}/${f.shard.count}, its name says ${index}/${status.count}`);
    }
    reference ??= f;
    const differs =
      f.kind !== reference.kind ? `kind ${f.kind}, not ${reference.kind}` :
      f.configHash !== reference.configHash ? `configuration sha256 ${f.configHash.slice(0, 12)}…, not ${reference.configHash.slice(0, 12)}…` :
      f.total !== reference.total ? `${f.total} items in the run, not ${reference.total}` : null;
    if (differs) throw new Error(`${path} was written by a different run than ${files[0].path} (${differs}); keep one run per folder.`);
    const expected = new Set(shardItems(f.total, f.shard));
    for (const item of f.items as ShardItem<T>[]) {
      if (items.has(item.index)) throw new Error(`${path} holds item ${item.index} twice`);
      if (!expected.has(item.index)) throw new Error(`${path} holds item ${item.index}, which belongs to another shard`);
      items.set(item.index, item);
    }
  }
  const ref = reference as ShardFile<unknown>;
  const absent: number[] = [];
  for (let j = 0; j < ref.total; j++) if (!items.has(j)) absent.push(j);
  if (absent.length > 0) throw new Error(`items ${arraySpec(absent)} of ${ref.total} are absent from the shards in ${dir}`);
  return {
    kind: ref.kind,
    config: ref.config,
    configHash: ref.configHash,
    count: status.count,
    items: [...items.values()].sort((a, b) => a.index - b.index),
  };
}
