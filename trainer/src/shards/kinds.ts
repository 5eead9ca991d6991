// The sharded commands that `flowscan merge` can summarise, by the kind their shard files carry.
import type { MergedShards } from './shards.ts';

export interface ShardedKind {
  /** Writes the run's summary (JSON, figures) into `out` from every item of the run; returns the text to print. */
  summarize(merged: MergedShards<unknown>, out: string): Promise<string>;
  /** Writes the run's summary, figures and one report.html into `dir` (`flowscan merge --report`); returns the report's path. */
  report(merged: MergedShards<unknown>, dir: string): Promise<string>;
}

/** Loaded on demand, so `merge` pulls in only the command whose shards it reads. */
export const SHARDED_KINDS: Record<string, () => Promise<ShardedKind>> = {
  toys: async () => (await import('../toys/run.ts')).toysKind,
  validate: async () => (await import('../validate/summary.ts')).validateKind,
};
