// `flowscan validate`: are exported flows good enough over their whole θ box, and where not? The toy flows against
// the exact likelihood, or a user's flows against held-out simulated files; sharded for batch systems.
import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { type FlowModel, PRECISION_CHOICES, type PrecisionChoice, Rng, allFlows, loadComponentModels } from '@flowscan/runtime';
import { EXECUTION_PROVIDERS, type ExecutionProviderChoice, loadModel, writeFileAtomic } from '@flowscan/runtime/node';
import { WHOLE_RUN, mergeShards, parseShard, shardFileName } from '../shards/shards.ts';
import { REPO_ROOT } from '../study/toy.ts';
import { ASIMOV_SCALE, type AsimovRow, asimovPoint, asimovTable } from '../validate/asimov.ts';
import { PULL_GOAL, SCALE_GOAL } from '../validate/calibration.ts';
import { TOY_DESIGNS, TOY_DESIGN_NAMES } from '../validate/design.ts';
import { heldOutConfig, heldOutItems, readHeldOutDesign, runHeldOutItem } from '../validate/heldout.ts';
import { VALIDATE_KIND, runValidationShard } from '../validate/run.ts';
import { type ValidationConfig, writeValidationSummary } from '../validate/summary.ts';
import { runToyItem, toyValidationConfig } from '../validate/toy.ts';
import { choiceOption, integerOption } from './options.ts';
import { progressBar } from './progress.ts';
import { readScanRequest } from './scan.ts';

interface ValidateCliOptions {
  models?: string;
  design?: string;
  experiments?: number;
  seed: number;
  shard?: string;
  out: string;
  threads?: number;
  precision: PrecisionChoice;
  ep: ExecutionProviderChoice;
  request?: string;
  asimov?: boolean;
  report?: string;
}

/** What a run needs besides its configuration: how to run item j, and a few words on its result. */
interface PreparedRun {
  config: ValidationConfig;
  total: number;
  runItem(index: number): Promise<unknown>;
  describe(result: unknown): string;
  models: FlowModel[];
}

async function prepareToy(o: ValidateCliOptions, load: (dir: string) => Promise<FlowModel>): Promise<PreparedRun> {
  const name = o.design ?? 'default';
  if (!(TOY_DESIGN_NAMES as string[]).includes(name)) throw new Error(`--design must be one of ${TOY_DESIGN_NAMES.join(', ')} for the toy, got "${name}"`);
  const design = TOY_DESIGNS[name as keyof typeof TOY_DESIGNS];
  const dir = o.models ?? join(REPO_ROOT, 'models');
  const models = { signal: await load(join(dir, 'toy-signal')), background: await load(join(dir, 'toy-background')) };
  const config = toyValidationConfig(design, o.experiments ?? design.experiments, o.seed, models);
  return {
    config,
    total: config.points.length * config.experiments,
    runItem: (index) => runToyItem(config, models, index),
    describe: (item) => {
      const r = item as Awaited<ReturnType<typeof runToyItem>>;
      if ('failure' in r) return `failed: ${r.failure}`;
      return config.parameters.map(({ name: p }) => `${p} ${((r.flow.values[p] - r.exact.values[p]) / (r.exact.errors[p] ?? NaN)).toFixed(2)}σ`).join(' ');
    },
    models: [models.signal, models.background],
  };
}

async function prepareHeldOut(o: ValidateCliOptions, load: (dir: string) => Promise<FlowModel>): Promise<PreparedRun> {
  if (!o.design) throw new Error('--request needs --design design.json: the truth points and their held-out files (schemas/validate-design.schema.json)');
  if (o.models || o.experiments !== undefined) throw new Error('--models and --experiments are for the toy; with --request the request names the models and the design the files');
  // A request written for `flowscan scan`: each design file replaces its events file (its weights column and
  // skipBadRows still apply).
  const { request, baseDir: requestDir } = await readScanRequest(o.request as string);
  const design = await readHeldOutDesign(o.design);
  const models = await loadComponentModels(request, (folder) => load(resolve(requestDir, folder)));
  const config = await heldOutConfig(design, o.design, request, models);
  const baseDir = dirname(resolve(o.design));
  return {
    config,
    total: heldOutItems(config.points).length,
    runItem: (index) => runHeldOutItem(config, models, baseDir, index),
    describe: (item) => {
      const r = item as Awaited<ReturnType<typeof runHeldOutItem>>;
      if ('failure' in r) return `failed: ${r.failure}`;
      const truth = config.points[r.point].truth;
      return Object.keys(truth).map((p) => `${p} ${((r.fit.values[p] - truth[p]) / (r.fit.errors[p] ?? NaN)).toFixed(2)}σ`).join(' ');
    },
    models: allFlows(models),
  };
}

/** `validate toy --asimov`: expected pulls per design point, a table on the terminal and asimov.json. */
async function runAsimov(o: ValidateCliOptions, load: (dir: string) => Promise<FlowModel>): Promise<void> {
  const name = o.design ?? 'default';
  if (!(TOY_DESIGN_NAMES as string[]).includes(name)) throw new Error(`--design must be one of ${TOY_DESIGN_NAMES.join(', ')} for the toy, got "${name}"`);
  const { points } = TOY_DESIGNS[name as keyof typeof TOY_DESIGNS];
  const dir = o.models ?? join(REPO_ROOT, 'models');
  const models = { signal: await load(join(dir, 'toy-signal')), background: await load(join(dir, 'toy-background')) };
  const bar = progressBar('validate --asimov', points.length);
  try {
    const rows: AsimovRow[] = [];
    for (const [k, point] of points.entries()) {
      rows.push(await asimovPoint(models, point, new Rng(o.seed).fork(k).nextUint32()));
      bar.update(rows.length, { point: `${k + 1}/${points.length}` });
    }
    bar.stop();
    const table = asimovTable(rows, { pull: PULL_GOAL, ratio: SCALE_GOAL });
    await mkdir(o.out, { recursive: true });
    const path = join(o.out, 'asimov.json');
    await writeFileAtomic(path, `${JSON.stringify({ format: 'flowscan-validate-asimov', design: name, models: dir, scale: ASIMOV_SCALE, goal: { pull: PULL_GOAL, ratio: SCALE_GOAL }, rows }, null, 2)}\n`);
    const meeting = rows.filter((r) => Object.keys(r.pulls).every((p) => Math.abs(r.pulls[p]) <= PULL_GOAL && Math.abs(r.ratios[p] - 1) <= SCALE_GOAL)).length;
    process.stdout.write(`${table}\n\n${meeting} of ${rows.length} points meet the goal (expected values, no pseudo-experiment noise)\nwrote ${path}\n`);
  } finally {
    bar.stop();
    await models.signal.release();
    await models.background.release();
  }
}

export function register(program: Command): void {
  program
    .command('validate')
    .description('Calibrate exported flows over their θ box: pulls and error ratios per design point against a reference, and where they miss the goal.')
    .argument('[reference]', 'toy: the toy flows against the exact likelihood (omit it with --request)', choiceOption('reference', ['toy'] as const))
    .requiredOption('--out <dir>', 'output folder: shard files, summary.json, figures/, report.html')
    .option('--models <dir>', 'toy: folder with toy-signal/ and toy-background/ (default: the shipped models/)')
    .option('--design <name|file>', `toy: ${TOY_DESIGN_NAMES.join(' | ')} (default: default); with --request: design.json (schemas/validate-design.schema.json)`)
    .option('--experiments <m>', 'toy: pseudo-experiments per design point (default: the design\'s, 4 for default)', integerOption('--experiments', 1, 10_000))
    .option('--seed <n>', 'toy: seed of the pseudo-experiments (item j draws from stream j of it)', integerOption('--seed', 0), 1)
    .option('--request <file>', 'your own flows: a scan request (schemas/scan-request.schema.json) whose components, yields and fractions define the fit; each design file replaces its events file')
    .option('--asimov', 'toy: expected pulls and error ratios from one large exact sample per point (no pseudo-experiment noise; seconds per point)')
    .option('--report <dir>', 'also write the summary, calibration figures (SVG and PNG) and report.html into DIR (they are always written into --out too)')
    .option('--shard <i/n>', 'run shard i of n (zero-based, e.g. $SLURM_ARRAY_TASK_ID/n) and write only its shard file; `flowscan merge DIR` summarises')
    .option('--threads <n>', 'onnxruntime intra-op threads (default: one per core); 1 for shards running side by side on one machine', integerOption('--threads', 1, 1024))
    .option('--precision <p>', 'graph precision: auto (float64 on the CPU) | float32 | float64', choiceOption('--precision', PRECISION_CHOICES), 'auto')
    .option('--ep <provider>', `execution provider: ${EXECUTION_PROVIDERS.join(' | ')}`, choiceOption('--ep', EXECUTION_PROVIDERS), 'auto')
    .addHelpText(
      'after',
      `
The goal (flowscan issue 12): at every design point |mean pull| ≤ 0.3σ and the error scale (σ_flow/σ_exact, or the
width of the pulls against held-out files) within 10 %. The run prints the table, the worst point per parameter
and every point that misses the goal.

Examples:
  flowscan validate toy --design quick --out out/validate-quick
  flowscan validate toy --out out/validate --shard 0/2 --threads 1 & flowscan validate toy --out out/validate --shard 1/2 --threads 1
  flowscan merge out/validate
  flowscan validate --request request.json --design design.json --out out/validate-mine
where design.json is { "points": [ { "truth": { "m_pole": 91.2, "gamma": 2.5 }, "files": ["heldout-0.csv", "heldout-1.csv"] } ] }.`,
    )
    .action(async (reference: 'toy' | undefined, o: ValidateCliOptions) => {
      if ((reference === 'toy') === (o.request !== undefined)) throw new Error('give either the reference "toy" or --request FILE --design design.json');
      const shard = o.shard !== undefined ? parseShard(o.shard) : WHOLE_RUN;
      if (o.report && (o.shard !== undefined || o.asimov)) {
        throw new Error(`--report goes with a whole run${o.asimov ? ', not --asimov (it prints its table)' : `, not --shard ${o.shard}: \`flowscan merge ${o.out}\` writes report.html into ${o.out}`}`);
      }
      const load = (dir: string) => loadModel(dir, { ep: o.ep, precision: o.precision, ...(o.threads ? { threads: o.threads } : {}) });
      if (o.asimov) {
        if (reference !== 'toy' || o.shard !== undefined || o.experiments !== undefined) {
          throw new Error('--asimov goes with the toy reference, without --shard or --experiments (one large sample per point, no pseudo-experiments)');
        }
        await runAsimov(o, load);
        return;
      }
      const prepared = reference === 'toy' ? await prepareToy(o, load) : await prepareHeldOut(o, load);
      try {
        const outcome = await runValidationShard({
          out: o.out,
          shard,
          config: prepared.config,
          total: prepared.total,
          runItem: prepared.runItem,
          describe: prepared.describe,
        });
        const shardPath = join(o.out, shardFileName(shard));
        if (outcome.reused) process.stderr.write(`${shardPath} is already done by this configuration: not run again\n`);
        if (o.shard === undefined) {
          const merged = await mergeShards(o.out, VALIDATE_KIND);
          process.stdout.write(`${(await writeValidationSummary(prepared.config, merged.items, o.out)).text}\n`);
          // The same summary, figures and report.html in the folder a user keeps reports in.
          if (o.report) process.stdout.write(`report: ${(await writeValidationSummary(prepared.config, merged.items, o.report)).text.split('\n').at(-1)}\n`);
        } else {
          process.stdout.write(`shard ${shard.index}/${shard.count}: ${outcome.items.length} of ${prepared.total} items in ${shardPath}; when all ${shard.count} shards are done: flowscan merge ${o.out}\n`);
        }
      } finally {
        for (const m of prepared.models) await m.release();
      }
    });
}
