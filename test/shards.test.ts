// Shards for batch systems: --shard parsing, the round-robin split, atomic shard files, merging (and what it
// refuses), the sbatch --array value of the missing shards, and `flowscan merge`.
import test from 'ava';
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mergeRun, missingShards } from '../trainer/src/cli/merge.ts';
import { SHARDED_KINDS } from '../trainer/src/shards/kinds.ts';
import {
  MAX_SHARDS,
  type MergedShards,
  type Shard,
  arraySpec,
  configHash,
  finishedShard,
  mergeShards,
  parseShard,
  shardFileName,
  shardItems,
  shardStatus,
  writeShard,
} from '../trainer/src/shards/shards.ts';
import { flowscan } from './helpers/commands.ts';
import { temporaryFolder } from './helpers/temporary.ts';

const KIND = 'test-kind';
const CONFIG = { toys: 7, events: 3000, truth: [91.2, 2.5, 0.01] };
const TOTAL = 7;

/** The work of item j, a pure function of its index, as a sharded command's per-item seed makes it. */
const work = (j: number) => ({ seed: 1000 + j, value: Math.sin(j) * 1e3 });

const root = temporaryFolder('flowscan-shards-');

let folders = 0;
/** A fresh folder holding the shards of one run (all of them unless `skip` names some). */
async function run(count: number, options: { skip?: number[]; kind?: string; config?: unknown; total?: number } = {}): Promise<string> {
  const dir = join(root(), `run-${folders++}`);
  for (let index = 0; index < count; index++) {
    if (options.skip?.includes(index)) continue;
    await writeShardOf(dir, { index, count }, options);
  }
  return dir;
}

function writeShardOf(dir: string, shard: Shard, options: { kind?: string; config?: unknown; total?: number } = {}): Promise<string> {
  const total = options.total ?? TOTAL;
  const items = shardItems(total, shard).map((index) => ({ index, result: work(index) }));
  return writeShard(dir, { kind: options.kind ?? KIND, config: options.config ?? CONFIG, shard, total, items });
}

/** Expands an sbatch --array value ("0-3,7") back into its indices: an oracle independent of arraySpec. */
function expandArraySpec(spec: string): number[] {
  if (spec === '') return [];
  return spec.split(',').flatMap((part) => {
    const [lo, hi = lo] = part.split('-').map(Number);
    return Array.from({ length: hi - lo + 1 }, (_, k) => lo + k);
  });
}

test('parseShard reads i/n (zero-based) and names the value and the range in its errors', (t) => {
  t.deepEqual(parseShard('0/4'), { index: 0, count: 4 });
  t.deepEqual(parseShard(' 3 / 4 '), { index: 3, count: 4 });
  t.deepEqual(parseShard(`0/${MAX_SHARDS}`), { index: 0, count: MAX_SHARDS });
  t.throws(() => parseShard('4/4'), { message: /--shard 4\/4: the index must be in \[0, 3\] \(zero-based; with Slurm use --array=0-3\), got 4/ });
  t.throws(() => parseShard('0/0'), { message: /number of shards must be in \[1, 100000\], got 0/ });
  t.throws(() => parseShard(`0/${MAX_SHARDS + 1}`), { message: /number of shards must be in/ });
  for (const bad of ['', '3', '-1/4', '1/-4', 'a/b', '1.5/4', '1/4/2']) {
    t.throws(() => parseShard(bad), { message: new RegExp(`--shard must be i/n .*got "${bad}"`) }, bad);
  }
});

test('round robin: every item in exactly one shard, shard i takes the items ≡ i mod n, sizes differ by at most 1', (t) => {
  for (const total of [0, 1, 2, 5, 7, 64, 101]) {
    for (let count = 1; count <= 13; count++) {
      const seen = new Array<number>(total).fill(0);
      const sizes: number[] = [];
      for (let index = 0; index < count; index++) {
        const items = shardItems(total, { index, count });
        t.true(items.every((j) => j % count === index), `${total} items, shard ${index}/${count}`);
        for (const j of items) seen[j]++;
        sizes.push(items.length);
      }
      t.true(seen.every((n) => n === 1), `${total} items in ${count} shards`);
      t.true(Math.max(...sizes) - Math.min(...sizes) <= 1);
    }
  }
  t.throws(() => shardItems(-1, { index: 0, count: 1 }), { message: /non-negative integer, got -1/ });
  t.throws(() => shardItems(2.5, { index: 0, count: 1 }), { message: /non-negative integer, got 2.5/ });
});

test('the configuration hash ignores key order and undefined keys, and sees every value', (t) => {
  t.is(configHash({ a: 1, b: { c: [1, 2], d: 'x' } }), configHash({ b: { d: 'x', c: [1, 2] }, a: 1, e: undefined }));
  t.not(configHash({ a: 1, b: [1, 2] }), configHash({ a: 1, b: [2, 1] }));
  t.not(configHash({ a: 1 }), configHash({ a: '1' }));
});

test('a shard is written atomically: a failed write leaves no file, partial or temporary', async (t) => {
  const dir = join(root(), 'atomic');
  const shard = { index: 1, count: 3 };
  // A folder where the shard file should go makes the final rename fail after the content was written.
  await mkdir(join(dir, shardFileName(shard)), { recursive: true });
  await t.throwsAsync(writeShardOf(dir, shard), { message: /cannot write .*shard-0001-of-0003\.json/ });
  t.deepEqual(await readdir(dir), [shardFileName(shard)]);
  t.deepEqual(await readdir(join(dir, shardFileName(shard))), []);
});

test('finishedShard: null when the shard (or its folder) is absent, the file when this run wrote it, an error otherwise', async (t) => {
  const dir = await run(3, { skip: [2] });
  t.is(await finishedShard(join(root(), 'no-such-folder'), { index: 0, count: 3 }, KIND, CONFIG), null);
  t.is(await finishedShard(dir, { index: 2, count: 3 }, KIND, CONFIG), null);
  const done = await finishedShard(dir, { index: 1, count: 3 }, KIND, { ...CONFIG });
  t.deepEqual(done?.items, [1, 4].map((index) => ({ index, result: work(index) })));
  await t.throwsAsync(finishedShard(dir, { index: 1, count: 3 }, KIND, { ...CONFIG, events: 3001 }), {
    message: /shard-0001-of-0003\.json was written by another test-kind run \(configuration sha256 [0-9a-f]{12}…, this run [0-9a-f]{12}…\); use a new --out folder/,
  });
  await t.throwsAsync(finishedShard(dir, { index: 1, count: 3 }, 'other-kind', CONFIG), { message: /written by another test-kind run/ });
  // A damaged file is an error, not a shard to redo silently, even when its path contains "ENOENT".
  const odd = join(root(), 'ENOENT-in-name');
  await mkdir(odd);
  await writeFile(join(odd, shardFileName({ index: 0, count: 1 })), '{"format": "flowscan-shard/1", "kind": ');
  await t.throwsAsync(finishedShard(odd, { index: 0, count: 1 }, KIND, CONFIG), { message: /shard-0000-of-0001\.json is not valid JSON/ });
});

test('merge puts the items of every shard back in item order, the same as one unsharded run', async (t) => {
  const whole = await mergeShards(await run(1));
  t.deepEqual(whole.items, Array.from({ length: TOTAL }, (_, index) => ({ index, result: work(index) })));
  for (const count of [2, 3, TOTAL, TOTAL + 2]) {
    const merged = await mergeShards(await run(count), KIND);
    t.like(merged, { kind: KIND, config: CONFIG, configHash: configHash(CONFIG), count });
    t.deepEqual(merged.items, whole.items, `${count} shards`);
  }
});

test('merge refuses missing shards, naming them as an sbatch --array value', async (t) => {
  const dir = await run(6, { skip: [1, 2, 4] });
  t.like(await shardStatus(dir), { kind: KIND, count: 6, present: [0, 3, 5], missing: [1, 2, 4] });
  await t.throwsAsync(mergeShards(dir), { message: /3 of 6 shards are missing in .*: 1-2,4; run them \(e\.g\. sbatch --array=1-2,4 with the run's shard count 6/ });
  t.deepEqual(await missingShards(dir), { spec: '1-2,4', note: `3 of 6 ${KIND} shards done in ${dir}; missing: 1-2,4` });
  t.is((await missingShards(await run(2))).spec, '');
  await t.throwsAsync(shardStatus(join(root(), 'empty-and-absent')), { message: /cannot read the shard folder/ });
  const empty = join(root(), 'empty');
  await mkdir(empty);
  await t.throwsAsync(mergeShards(empty), { message: /no shard files \(shard-I-of-N\.json\) in .*empty/ });
});

test('merge refuses a shard present twice, under another name or inside one file', async (t) => {
  const dir = await run(3);
  await copyFile(join(dir, shardFileName({ index: 1, count: 3 })), join(dir, 'shard-01-of-03.json'));
  await t.throwsAsync(mergeShards(dir), { message: /shard 1\/3 is there twice: .*shard-0001-of-0003\.json and .*shard-01-of-03\.json; keep one/ });

  const twice = await run(2);
  const path = join(twice, shardFileName({ index: 0, count: 2 }));
  const file = JSON.parse(await readFile(path, 'utf8'));
  file.items.push(file.items[0]);
  await writeFile(path, JSON.stringify(file));
  await t.throwsAsync(mergeShards(twice), { message: /shard-0000-of-0002\.json holds item 0 twice/ });
});

test('merge refuses shards of another run: other configuration, other kind, other split, other item count', async (t) => {
  const foreign = await run(3, { skip: [1] });
  await writeShardOf(foreign, { index: 1, count: 3 }, { config: { ...CONFIG, toys: 8 } });
  await t.throwsAsync(mergeShards(foreign), { message: /shard-0001-of-0003\.json was written by a different run than .*shard-0000-of-0003\.json \(configuration sha256/ });

  const otherKind = await run(2, { skip: [1] });
  await writeShardOf(otherKind, { index: 1, count: 2 }, { kind: 'validate' });
  await t.throwsAsync(mergeShards(otherKind), { message: /\(kind validate, not test-kind\)/ });
  await t.throwsAsync(mergeShards(await run(2), 'toys'), { message: /shard-0000-of-0002\.json holds test-kind results, expected toys/ });

  const otherTotal = await run(2, { skip: [1] });
  await writeShardOf(otherTotal, { index: 1, count: 2 }, { total: TOTAL + 1 });
  await t.throwsAsync(mergeShards(otherTotal), { message: /\(8 items in the run, not 7\)/ });

  const mixed = await run(2);
  await writeShardOf(mixed, { index: 0, count: 3 });
  await t.throwsAsync(mergeShards(mixed), { message: /mixes runs split into (2 and 3|3 and 2) shards/ });

  const renamed = await run(3);
  await rm(join(renamed, shardFileName({ index: 2, count: 3 })));
  await copyFile(join(renamed, shardFileName({ index: 1, count: 3 })), join(renamed, shardFileName({ index: 2, count: 3 })));
  await t.throwsAsync(mergeShards(renamed), { message: /shard-0002-of-0003\.json says it is shard 1\/3, its name says 2\/3/ });

  const outOfRange = await run(2);
  await copyFile(join(outOfRange, shardFileName({ index: 1, count: 2 })), join(outOfRange, 'shard-0002-of-0002.json'));
  await t.throwsAsync(mergeShards(outOfRange), { message: /names shard 2 of 2, but shards are numbered 0 to 1/ });
});

test('merge refuses damaged shard files, saying what is wrong', async (t) => {
  const cases: [string, (file: Record<string, unknown>) => void, RegExp][] = [
    ['format', (f) => (f.format = 'something-else/2'), /is not a flowscan shard file \(expected format "flowscan-shard\/1", got "something-else\/2"\)/],
    ['shard', (f) => (f.shard = { index: 3, count: 2 }), /damaged shard file: shard is not \{index, count\} with 0 ≤ index < count/],
    ['total', (f) => (f.total = -1), /damaged shard file: total is not a non-negative integer/],
    ['items', (f) => (f.items = [{ result: 1 }]), /damaged shard file: items is not a list of \{index, result\}/],
  ];
  for (const [field, damage, message] of cases) {
    const dir = await run(2);
    const path = join(dir, shardFileName({ index: 1, count: 2 }));
    const file = JSON.parse(await readFile(path, 'utf8'));
    damage(file);
    await writeFile(path, JSON.stringify(file));
    await t.throwsAsync(mergeShards(dir), { message }, field);
  }
});

test('arraySpec writes the fewest ranges, and they expand to exactly the indices', (t) => {
  t.is(arraySpec([]), '');
  t.is(arraySpec([0, 1, 2, 3, 7, 9, 10]), '0-3,7,9-10');
  t.is(arraySpec([10, 9, 7, 3, 3, 2, 1, 0]), '0-3,7,9-10');
  t.throws(() => arraySpec([1, -2]), { message: /non-negative integers, got -2/ });
  let state = 12345;
  const random = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let trial = 0; trial < 200; trial++) {
    const indices = Array.from({ length: Math.floor(random() * 30) }, () => Math.floor(random() * 40));
    const spec = arraySpec(indices);
    t.deepEqual(expandArraySpec(spec), [...new Set(indices)].sort((a, b) => a - b), spec);
    // Fewest ranges: consecutive parts never touch.
    const parts = spec === '' ? [] : spec.split(',').map((p) => p.split('-').map(Number));
    for (let k = 1; k < parts.length; k++) t.true(parts[k][0] > parts[k - 1][parts[k - 1].length - 1] + 1, spec);
  }
});

test('mergeRun hands every item to the kind\'s summariser and returns its text; with a report folder, to its report too', async (t) => {
  const seen: MergedShards<unknown>[] = [];
  const reported: MergedShards<unknown>[] = [];
  SHARDED_KINDS[KIND] = async () => ({
    summarize: async (merged, out) => {
      seen.push(merged);
      return `summary of ${merged.items.length} items into ${out}`;
    },
    report: async (merged, dir) => {
      reported.push(merged);
      return join(dir, 'report.html');
    },
  });
  try {
    const dir = await run(3);
    t.is(await mergeRun(dir, join(root(), 'summary')), `summary of ${TOTAL} items into ${join(root(), 'summary')}`);
    t.deepEqual(seen[0].items, (await mergeShards(await run(1))).items);
    t.is(reported.length, 0);
    t.is(await mergeRun(dir, join(root(), 'summary'), join(root(), 'report')), `summary of ${TOTAL} items into ${join(root(), 'summary')}\nwrote ${join(root(), 'report', 'report.html')}`);
    t.deepEqual(reported[0].items, seen[0].items);
  } finally {
    delete SHARDED_KINDS[KIND];
  }
});

test('flowscan merge: --missing prints the sbatch --array value (nothing when complete); an unknown kind is named', async (t) => {
  const partial = await run(5, { skip: [1, 3, 4] });
  const complete = await run(2);
  const [missing, none, unknown, both] = await Promise.all([
    flowscan(['merge', partial, '--missing']),
    flowscan(['merge', complete, '--missing']),
    flowscan(['merge', complete]),
    flowscan(['merge', complete, '--missing', '--out', root()]),
  ]);
  t.is(missing.code, 0, missing.stderr);
  t.is(missing.stdout, '1,3-4\n');
  t.regex(missing.stderr, /2 of 5 test-kind shards done in .*; missing: 1,3-4/);
  t.is(none.code, 0, none.stderr);
  t.is(none.stdout, '');
  t.is(unknown.code, 1);
  t.regex(unknown.stderr, /the shards in .* are of kind "test-kind", which flowscan merge cannot summarise \(known kinds: /);
  t.is(both.code, 1);
  t.regex(both.stderr, /--out has no use with --missing/);
});
