// `flowscan merge DIR`: the shards of a sharded run (toys, validate) back into one result, summarised by the
// command that wrote them; `--missing` prints the shards still to run as an `sbatch --array` value.
import type { Command } from 'commander';
import { SHARDED_KINDS } from '../shards/kinds.ts';
import { arraySpec, mergeShards, shardStatus } from '../shards/shards.ts';

interface MergeOptions {
  missing?: boolean;
  out?: string;
  report?: string;
}

/** The missing shards as `sbatch --array` takes them ("" when the run is complete), and a line for people. */
export async function missingShards(dir: string): Promise<{ spec: string; note: string }> {
  const status = await shardStatus(dir);
  const done = `${status.present.length} of ${status.count} ${status.kind} shards done in ${dir}`;
  const spec = arraySpec(status.missing);
  return { spec, note: spec === '' ? `${done}; none missing` : `${done}; missing: ${spec}` };
}

/**
 * Merges the run in `dir` and returns what its kind's summariser prints; summaries are written into `out`, and with
 * `report` also the summary, figures and report.html into that folder.
 */
export async function mergeRun(dir: string, out: string, report?: string): Promise<string> {
  const { kind } = await shardStatus(dir);
  const load = Object.hasOwn(SHARDED_KINDS, kind) ? SHARDED_KINDS[kind] : undefined;
  if (!load) {
    const known = Object.keys(SHARDED_KINDS).join(', ') || 'none';
    throw new Error(`the shards in ${dir} are of kind "${kind}", which flowscan merge cannot summarise (known kinds: ${known}).`);
  }
  const merged = await mergeShards<unknown>(dir, kind);
  const summariser = await load();
  const text = await summariser.summarize(merged, out);
  return report === undefined ? text : `${text}\nwrote ${await summariser.report(merged, report)}`;
}

export function register(program: Command): void {
  program
    .command('merge')
    .description('Merge the shards of a sharded run (flowscan toys|validate --shard i/n) and summarise it, or list the shards still to run.')
    .argument('<dir>', 'the run\'s --out folder, holding shard-I-of-N.json files')
    .option('--missing', 'print the missing shard indices as an sbatch --array value (nothing when none) and exit 0')
    .option('--out <dir>', 'folder for the summary (default: the shard folder)')
    .option('--report <dir>', 'also write the summary, its figures (SVG and PNG) and report.html into DIR')
    .addHelpText(
      'after',
      `
Merging refuses a run with missing shards, a shard present twice, or shards of another run or command.
A killed array resumes with only the missing shards; pass the run's shard count again, not the new array's size:

  missing=$(flowscan merge runs/toys --missing)
  [ -n "$missing" ] && sbatch --array="$missing" --export=ALL,FLOWSCAN_SHARDS=8 trainer/batch/flowscan-array.sbatch toys …
  flowscan merge runs/toys

See docs/batch.md (Slurm, HTCondor, Kubernetes Indexed Jobs).`,
    )
    .action(async (dir: string, o: MergeOptions) => {
      if (o.missing) {
        if (o.out !== undefined || o.report !== undefined) throw new Error(`${o.out !== undefined ? '--out' : '--report'} has no use with --missing (it writes nothing); drop one of them.`);
        const { spec, note } = await missingShards(dir);
        process.stderr.write(`${note}\n`);
        if (spec !== '') process.stdout.write(`${spec}\n`);
        return;
      }
      const summary = await mergeRun(dir, o.out ?? dir, o.report);
      process.stdout.write(summary.endsWith('\n') ? summary : `${summary}\n`);
    });
}
