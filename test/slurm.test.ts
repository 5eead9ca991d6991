// The shipped sbatch script on a real Slurm (.ci/start-slurm.sh starts one on this machine): a sharded run as a
// job array, merged and compared item by item with the same run unsharded, then the resume path (a lost shard is
// named by merge, listed by merge --missing, resubmitted alone with the run's shard count, and the merge succeeds).
// Without sbatch on PATH the Slurm test is skipped, unless FLOWSCAN_REQUIRE_SLURM=1 (CI), where it fails.
import test from 'ava';
import { constants } from 'node:fs';
import { access, readdir, readFile, rm } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ShardItem, mergeShards, shardFileName } from '../trainer/src/shards/shards.ts';
import { FLOWSCAN_CLI, flowscan, flowscanEnvironment, runCommand } from './helpers/commands.ts';
import { HANG_GUARD_MS } from './helpers/hang-guard.ts';
import { temporaryFolder } from './helpers/temporary.ts';

const SBATCH_SCRIPT = join(import.meta.dirname, '..', 'trainer', 'batch', 'flowscan-array.sbatch');
/** A small sharded run: 6 pseudo-experiments fitted with the shipped toy models, a few seconds per shard. */
const SHARDED_RUN = ['toys', '--demo', '--toys', '6', '--events', '3000', '--threads', '1'];
const SHARDS = 3;

async function onPath(command: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    try {
      await access(join(dir, command), constants.X_OK);
      return true;
    } catch {
      // not in this folder
    }
  }
  return false;
}

const haveSlurm = await onPath('sbatch');
const requireSlurm = process.env.FLOWSCAN_REQUIRE_SLURM === '1';

const root = temporaryFolder('flowscan-slurm-');

test('the sbatch script runs flowscan with --shard TASK/FLOWSCAN_SHARDS and refuses what would split the run wrongly', async (t) => {
  const script = (args: string[], env: Record<string, string>) =>
    runCommand('bash', [SBATCH_SCRIPT, ...args], { env: { SLURM_ARRAY_TASK_ID: '', FLOWSCAN_SHARDS: '', FLOWSCAN_BIN: '/bin/echo', ...env } });
  // A resubmitted --array=2 has one task (SLURM_ARRAY_TASK_COUNT=1); the shard count stays the run's.
  const resubmitted = await script(['toys', '--out', 'runs/t'], { SLURM_ARRAY_TASK_ID: '2', SLURM_ARRAY_TASK_COUNT: '1', FLOWSCAN_SHARDS: '5' });
  t.is(resubmitted.code, 0, resubmitted.stderr);
  t.is(resubmitted.stdout.trim().split('\n').at(-1), 'toys --out runs/t --shard 2/5');
  const refusals: [string[], Record<string, string>, RegExp][] = [
    [['toys'], { FLOWSCAN_SHARDS: '3' }, /not an array task: submit with sbatch --array=0-\(N-1\)/],
    [['toys'], { SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_TASK_COUNT: '3' }, /FLOWSCAN_SHARDS is unset: give the run's shard count/],
    [['toys'], { SLURM_ARRAY_TASK_ID: '1', FLOWSCAN_SHARDS: '3x' }, /FLOWSCAN_SHARDS must be a positive integer, got "3x"/],
    [['toys'], { SLURM_ARRAY_TASK_ID: '3', FLOWSCAN_SHARDS: '3' }, /array task 3 is outside the run's shards 0-2 \(FLOWSCAN_SHARDS=3\)/],
    [[], { SLURM_ARRAY_TASK_ID: '0', FLOWSCAN_SHARDS: '3' }, /no flowscan command given/],
    [['toys', '--shard', '0/3'], { SLURM_ARRAY_TASK_ID: '0', FLOWSCAN_SHARDS: '3' }, /do not pass --shard/],
  ];
  for (const [args, env, message] of refusals) {
    const result = await script(args, env);
    t.is(result.code, 2, JSON.stringify(env));
    t.regex(result.stderr, message);
    t.is(result.stdout, '', 'flowscan did not run');
  }
});

/** Submits the shipped script as an array over `indices` ("0-2", "1") of a run split into SHARDS shards. */
async function submit(indices: string, out: string): Promise<string> {
  const result = await runCommand(
    'sbatch',
    ['--parsable', `--array=${indices}`, `--output=${join(root(), 'slurm-%A_%a.out')}`, `--chdir=${root()}`, SBATCH_SCRIPT, ...SHARDED_RUN, '--out', out],
    // The tasks run flowscan as the test's own commands do: from the build when it is fresh (sbatch passes the environment on).
    { env: { FLOWSCAN_SHARDS: String(SHARDS), FLOWSCAN_BIN: FLOWSCAN_CLI, ...(await flowscanEnvironment()) } },
  );
  if (result.code !== 0) throw new Error(`sbatch failed (${result.code}): ${result.stderr}`);
  return result.stdout.trim().split(';')[0];
}

interface ArrayTask {
  index: number;
  state?: string;
  exit?: string;
  /** Seconds since the epoch (Slurm's times have whole seconds). */
  start: number;
  end: number;
}

/**
 * Waits until no task of the job is queued or running (the tasks take seconds alone, but share the cores with the
 * rest of the suite: only a hang is cut short); then every task must have completed with exit code 0.
 * Returns the tasks as the controller recorded them.
 */
async function waitForJob(job: string, indices: number[]): Promise<ArrayTask[]> {
  const deadline = Date.now() + HANG_GUARD_MS;
  for (;;) {
    const queued = await runCommand('squeue', ['--noheader', `--jobs=${job}`, '--format=%i %T']);
    if (queued.code !== 0) throw new Error(`squeue failed: ${queued.stderr}`);
    if (queued.stdout.trim() === '') break;
    if (Date.now() > deadline) {
      await runCommand('scancel', [job]);
      throw new Error(`job ${job} still queued or running after ${HANG_GUARD_MS / 1000} s (cancelled): ${queued.stdout}`);
    }
    await sleep(500);
  }
  // One line per array task while the controller keeps finished jobs (MinJobAge, 300 s by default).
  const shown = await runCommand('scontrol', ['--oneliner', 'show', 'job', job]);
  const time = (line: string, field: string) => Date.parse(new RegExp(`${field}=(\\S+)`).exec(line)?.[1] ?? '') / 1000;
  const tasks: ArrayTask[] = shown.stdout.trim().split('\n').map((line) => ({
    index: Number(/ArrayTaskId=(\d+)/.exec(line)?.[1]),
    state: /JobState=(\S+)/.exec(line)?.[1],
    exit: /ExitCode=(\S+)/.exec(line)?.[1],
    start: time(line, 'StartTime'),
    end: time(line, 'EndTime'),
  }));
  const failed = tasks.filter((task) => task.state !== 'COMPLETED' || task.exit !== '0:0');
  const logs = await Promise.all(
    failed.map(async ({ index }) => readFile(join(root(), `slurm-${job}_${index}.out`), 'utf8').catch((error: Error) => error.message)),
  );
  if (failed.length > 0) throw new Error(`job ${job}: ${JSON.stringify(failed)}\n${logs.join('\n')}`);
  const ran = tasks.map((task) => task.index).sort((a, b) => a - b);
  if (JSON.stringify(ran) !== JSON.stringify(indices)) throw new Error(`job ${job} ran tasks ${ran}, expected ${indices}: ${shown.stdout}`);
  return tasks;
}

/** Whether some task started before another one ended (sequential tasks start no earlier than the previous end). */
function ranSideBySide(tasks: ArrayTask[]): boolean {
  return tasks.some((a) => tasks.some((b) => a !== b && a.start <= b.start && b.start < a.end));
}

/** The items without their wall-clock `seconds`, the one field that differs between two runs of the same toys. */
async function mergedWithoutTimes(dir: string): Promise<ShardItem<Record<string, unknown>>[]> {
  const { items } = await mergeShards<Record<string, unknown>>(dir);
  return items.map(({ index, result }) => ({ index, result: Object.fromEntries(Object.entries(result).filter(([key]) => key !== 'seconds')) }));
}

const slurmTitle = 'a Slurm job array runs the shards, merge equals the unsharded run, and a lost shard is resubmitted alone';
const slurmTest = haveSlurm || requireSlurm ? test : test.skip;
slurmTest(haveSlurm || requireSlurm ? slurmTitle : `${slurmTitle} (skipped: sbatch is not on PATH; .ci/start-slurm.sh starts a local Slurm)`, async (t) => {
  if (!haveSlurm) {
    t.fail('FLOWSCAN_REQUIRE_SLURM=1 but sbatch is not on PATH: run .ci/start-slurm.sh first (as .ci/run does).');
    return;
  }
  const sharded = join(root(), 'sharded');
  const whole = join(root(), 'whole');
  // The unsharded run on this machine while Slurm runs the array.
  const [job, unsharded] = await Promise.all([submit(`0-${SHARDS - 1}`, sharded), flowscan([...SHARDED_RUN, '--out', whole])]);
  t.is(unsharded.code, 0, unsharded.stderr);
  const tasks = await waitForJob(job, [0, 1, 2]);
  const cpus = Number((await runCommand('sinfo', ['--noheader', '--format=%c'])).stdout.trim());
  t.log(`node CPUs ${cpus}; tasks ${tasks.map((task) => `${task.index}: ${task.end - task.start} s`).join(', ')}`);
  if (cpus >= 2) t.true(ranSideBySide(tasks), `a node with ${cpus} CPUs runs 1-CPU array tasks side by side: ${JSON.stringify(tasks)}`);
  t.deepEqual((await readdir(sharded)).filter((name) => name.startsWith('shard-')).sort(), [0, 1, 2].map((index) => shardFileName({ index, count: SHARDS })));

  const merged = await flowscan(['merge', sharded]);
  t.is(merged.code, 0, merged.stderr);
  t.log(merged.stdout.trim());
  const reference = await mergedWithoutTimes(whole);
  t.is(reference.length, 6);
  t.deepEqual(await mergedWithoutTimes(sharded), reference);

  // Resume: shard 1 lost (as a killed task leaves it, with no file).
  await rm(join(sharded, shardFileName({ index: 1, count: SHARDS })));
  const refused = await flowscan(['merge', sharded]);
  t.is(refused.code, 1);
  t.regex(refused.stderr, /1 of 3 shards are missing in .*: 1; run them/);
  const missing = await flowscan(['merge', sharded, '--missing']);
  t.is(missing.code, 0, missing.stderr);
  t.is(missing.stdout, '1\n');
  await waitForJob(await submit(missing.stdout.trim(), sharded), [1]);
  const resumed = await flowscan(['merge', sharded]);
  t.is(resumed.code, 0, resumed.stderr);
  t.deepEqual(await mergedWithoutTimes(sharded), reference);
});
