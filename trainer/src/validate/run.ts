// One shard of a validation run: its items in order (round robin over the design, trainer/src/shards), a progress
// bar over them, and the shard file written atomically at the end. A shard already finished by the same
// configuration is not run again, so a job array can simply be resubmitted after a failure.
import { type Shard, type ShardItem, finishedShard, shardItems, writeShard } from '../shards/shards.ts';
import { progressBar } from '../cli/progress.ts';

export const VALIDATE_KIND = 'validate';

export interface ShardRun<T> {
  out: string;
  shard: Shard;
  config: unknown;
  /** Items of the whole run. */
  total: number;
  runItem(index: number): Promise<T>;
  /** A few words on a finished item for the progress line. */
  describe(result: T): string;
  quiet?: boolean;
}

export interface ShardOutcome<T> {
  items: ShardItem<T>[];
  /** The shard file was there already (same configuration): nothing ran. */
  reused: boolean;
}

export async function runValidationShard<T>(run: ShardRun<T>): Promise<ShardOutcome<T>> {
  const done = await finishedShard(run.out, run.shard, VALIDATE_KIND, run.config);
  if (done) return { items: done.items as ShardItem<T>[], reused: true };
  const indices = shardItems(run.total, run.shard);
  const label = run.shard.count > 1 ? `validate (shard ${run.shard.index}/${run.shard.count})` : 'validate';
  const bar = run.quiet ? null : progressBar(label, indices.length);
  const items: ShardItem<T>[] = [];
  try {
    for (const index of indices) {
      const result = await run.runItem(index);
      items.push({ index, result });
      bar?.update(items.length, { item: index, last: run.describe(result) });
    }
  } finally {
    bar?.stop();
  }
  await writeShard(run.out, { kind: VALIDATE_KIND, config: run.config, shard: run.shard, total: run.total, items });
  return { items, reused: false };
}
