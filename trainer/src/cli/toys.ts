// `flowscan toys`: pseudo-experiments from the exported flows (or a bootstrap of the data), each fitted like the
// data; pulls, interval coverage, q0, the look-elsewhere effect. Shards for batch systems with --shard i/n.
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import {
  PRECISION_CHOICES,
  type PrecisionChoice,
  type ScanRequest,
  allFlows,
  applyEventCounts,
  checkEnsemble,
  componentModelHashes,
  componentModels,
  fitLikelihood,
  loadComponentModels,
  requestLikelihood,
} from '@flowscan/runtime';
import { EXECUTION_PROVIDERS, type ExecutionProviderChoice, loadModel } from '@flowscan/runtime/node';
import { WHOLE_RUN, parseShard } from '../shards/shards.ts';
import { scanGrid } from '../toys/lee.ts';
import { runToysShard, writeToysSummary } from '../toys/run.ts';
import type { ToysConfig, ToysContext } from '../toys/toys.ts';
import { choiceOption, integerOption, intervalsOption, numberOption, numberPairsOption } from './options.ts';
import { type Progress, progressBar } from './progress.ts';
import { writeToysReport } from '../report/toys.ts';
import { readScanRequest } from './scan.ts';
import { readColumns } from './train.ts';

interface ToysCliOptions {
  request?: string;
  demo?: boolean;
  toys: number;
  out: string;
  truth?: Record<string, number>;
  events?: number;
  bootstrap?: boolean;
  eventWeights?: string;
  profile?: boolean;
  significance?: boolean;
  lee?: string;
  leeReference: number;
  observed?: boolean;
  seed: number;
  shard?: string;
  ep: ExecutionProviderChoice;
  threads?: number;
  precision: PrecisionChoice;
  memory: number;
  report?: string;
}

/** "lo:hi" of the event weights' uniform distribution. */
function parseEventWeights(text: string): { low: number; high: number } {
  const parts = text.split(':').map(Number);
  if (parts.length !== 2 || !parts.every(Number.isFinite) || !(parts[0] >= 0 && parts[0] < parts[1])) {
    throw new Error(`--event-weights must be lo:hi with 0 ≤ lo < hi (weights uniform in [lo, hi]), got "${text}"`);
  }
  return { low: parts[0], high: parts[1] };
}

/** "name=lo:hi:points" of the look-elsewhere scan. */
function parseLookElsewhere(text: string): { parameter: string; lower: number; upper: number; points: number } {
  const match = /^([^=]+)=([^:]+):([^:]+):(\d+)$/.exec(text.trim());
  if (!match) throw new Error(`--lee must be name=lo:hi:points, e.g. m_pole=60:120:61, got "${text}"`);
  const [lo, hi] = Object.values(intervalsOption(`${match[1]}=${match[2]}:${match[3]}`))[0];
  return { parameter: match[1], lower: lo, upper: hi, points: Number(match[4]) };
}

export function register(program: Command): void {
  program
    .command('toys')
    .description('Pseudo-experiments: sample toys from the flows (or bootstrap the data), fit each; pulls, coverage, q0, look-elsewhere effect.')
    .option('--request <file>', 'scan request JSON (as for `flowscan scan`): the likelihood every toy is fitted with')
    .option('--demo', 'the shipped toy models at the paper\'s point (91.2, 2.5, 0.01) with 101k events per toy')
    .requiredOption('--toys <n>', 'number of pseudo-experiments', integerOption('--toys', 1, 1_000_000))
    .requiredOption('--out <dir>', 'folder for the shard files, summary.json and figures/')
    .option('--truth <pairs>', 'generation point, every free parameter, e.g. "m_pole=91.2,gamma=2.5,tau=0.01" (default: the fit of the observed events)', numberPairsOption)
    .option('--events <n>', 'events per toy with fixed fractions (default: as many as the observed events); extended yields draw Poisson numbers from the truth\'s n_<component>', integerOption('--events', 1))
    .option('--bootstrap', 'resample the observed events with replacement instead of sampling the flows (truth: the fit of the observed events)')
    .option('--event-weights <lo:hi>', 'give each toy event a weight uniform in [lo, hi] (checks the errors of weighted fits)')
    .option('--profile', 'also profile-likelihood intervals (their coverage; ~2× the time per toy)')
    .option('--significance', 'also the background-only fit: the distribution of q0')
    .option('--lee <name=lo:hi:points>', 'background-only toys scanned over a signal parameter: the look-elsewhere effect (toys and Gross–Vitells)')
    .option('--lee-reference <u0>', 'reference level of the upcrossings for Gross–Vitells', numberOption('--lee-reference', (v) => v > 0, 'a positive number'), 1)
    .option('--observed', 'with --lee: also scan the observed events and give their global significance')
    .option('--seed <n>', 'random seed (toy k draws from its own stream of this seed)', integerOption('--seed', 0), 1)
    .option('--report <dir>', 'also write the summary, pull and coverage figures (SVG and PNG) and report.html into DIR')
    .option('--shard <i/n>', 'run only shard i of n (zero-based; Slurm: $SLURM_ARRAY_TASK_ID/n); merge with `flowscan merge DIR`')
    .option('--ep <provider>', `execution provider: ${EXECUTION_PROVIDERS.join(' | ')}`, choiceOption('--ep', EXECUTION_PROVIDERS), 'auto')
    .option('--threads <n>', 'onnxruntime intra-op threads (shards side by side: give each a share of the cores)', integerOption('--threads', 1, 1024))
    .option('--precision <p>', 'graph precision: auto | float32 | float64', choiceOption('--precision', PRECISION_CHOICES), 'auto')
    .option('--memory <MiB>', 'memory for the graphs of an evaluation, MiB', integerOption('--memory', 4, 1 << 20), 128)
    .addHelpText(
      'after',
      `
Every toy has its own random stream (the seed and its index), so shards give the same toys as one run. Without
--shard the command runs every toy and writes summary.json and figures/ into --out; with --shard it writes one
shard file (a finished shard of the same configuration is not run again), and \`flowscan merge DIR\` summarises.

Examples:
  flowscan toys --demo --toys 200 --out out/toys --profile          # pulls and coverage at the paper's point
  flowscan toys --demo --toys 200 --out out/toys-weighted --event-weights 0:2
  flowscan toys --demo --toys 200 --out out/lee --lee m_pole=62:118:57 --observed
  flowscan toys --request request.json --toys 1000 --out runs/toys --shard 3/10`,
    )
    .action(async (o: ToysCliOptions) => {
      if (!o.request === !o.demo) throw new Error('give either --request FILE or --demo');
      if (o.bootstrap && o.lee) throw new Error('--lee draws background-only toys from the flows; it does not combine with --bootstrap');
      if (o.observed && !o.lee) throw new Error('--observed goes with --lee (the observed events\' global significance)');
      const shard = o.shard ? parseShard(o.shard) : WHOLE_RUN;
      if (o.report && shard.count > 1) throw new Error(`--report goes with a whole run, not --shard ${o.shard}: \`flowscan merge ${o.out}\` writes the summary and figures of the merged shards`);
      let request: ScanRequest;
      let baseDir: string;
      let observedColumns: Record<string, Float64Array> | null = null;
      let truth = o.truth;
      if (o.demo) {
        const { demoRequest } = await import('../study/toy.ts');
        const demo = demoRequest();
        // The demo request leaves out the background-only fit (scan --demo stays fast); toys name the signal.
        request = { ...demo.request, signal: 'signal' };
        baseDir = demo.baseDir;
        observedColumns = demo.events;
        truth ??= demo.truth;
      } else {
        ({ request, baseDir } = await readScanRequest(o.request!));
      }
      const models = await loadComponentModels(request, (folder) => loadModel(resolve(baseDir, folder), { ep: o.ep, ...(o.threads ? { threads: o.threads } : {}), precision: o.precision }));
      const featuresOf = (component: string) => componentModels({ model: models[component] })[0].featureNames;
      const features = featuresOf(request.components[0].name);
      for (const c of request.components) {
        if (featuresOf(c.name).join(',') !== features.join(',')) {
          throw new Error(`toys sample every component's events: the models must share their features, but ${c.name} has ${featuresOf(c.name).join(', ')} and ${request.components[0].name} ${features.join(', ')}`);
        }
      }
      const needObserved = o.bootstrap || o.observed || !truth || (o.events === undefined && (request.yields ?? 'fixed-fractions') === 'fixed-fractions');
      let observedWeights: Float64Array | null = null;
      if (needObserved && !observedColumns) {
        const columns = await readColumns([resolve(baseDir, request.events.file)], [...features, ...(request.events.weights ? [request.events.weights] : [])], request.events.skipBadRows ?? false, undefined, request.events);
        observedWeights = request.events.weights ? columns[request.events.weights] : null;
        observedColumns = Object.fromEntries(features.map((f) => [f, columns[f]]));
      }
      const observedCount = observedColumns ? observedColumns[features[0]].length : 0;
      request = applyEventCounts(request, o.events ?? observedCount);
      const memoryBudget = o.memory * 2 ** 20;
      if (!truth) {
        process.stderr.write(`toys: no --truth given: fitting the ${observedCount} observed events for the generation point\n`);
        const fit = await fitLikelihood(requestLikelihood(request, models, observedColumns!, { ...(observedWeights ? { weights: observedWeights } : {}), memoryBudget }), { start: request.start ?? {} });
        truth = Object.fromEntries(fit.parameters.filter((p) => !p.fixed).map((p) => [p.name, p.value]));
      }
      const lee = o.lee ? parseLookElsewhere(o.lee) : null;
      if (lee) {
        // The scan evaluates each component's members itself, not through a likelihood that would check them.
        for (const c of request.components) checkEnsemble(c.name, componentModels({ model: models[c.name] }));
        const signal = request.components.find((c) => c.name === request.signal);
        if (!signal) throw new Error('--lee needs the request to name its signal component ("signal": "…")');
        const signalParams = componentModels({ model: models[signal.name] })[0].parameterNames.map((p) => signal.rename?.[p] ?? p);
        if (!signalParams.includes(lee.parameter)) throw new Error(`--lee scans a parameter of the signal component (${signalParams.join(', ')}), got ${lee.parameter}`);
      }
      const config: ToysConfig = {
        request,
        models: componentModelHashes(models),
        truth,
        toys: o.toys,
        seed: o.seed,
        generation: o.bootstrap
          ? { from: 'bootstrap', events: observedCount, observedSha256: sha256Columns(observedColumns!, features) }
          : { from: 'flows', events: (request.yields ?? 'fixed-fractions') === 'extended' ? null : (o.events ?? observedCount) },
        eventWeights: o.eventWeights ? parseEventWeights(o.eventWeights) : null,
        profile: o.profile ?? false,
        significance: o.significance ?? false,
        lookElsewhere: lee ? { grid: scanGrid(lee.parameter, lee.lower, lee.upper, lee.points), referenceLevel: o.leeReference, observed: o.observed ?? false } : null,
        precision: allFlows(models)[0].precision,
      };
      const context: ToysContext = {
        config,
        models,
        observed: observedColumns ? { columns: observedColumns, weights: observedWeights, count: observedCount } : null,
        memoryBudget,
      };
      // One line per toy in a log, with the rate and an ETA (the bar is made at the first toy, which knows the total).
      const progress: { bar: Progress | null } = { bar: null };
      try {
        const run = await runToysShard(context, shard, o.out, (done, total, last) => {
          progress.bar ??= progressBar(shard.count > 1 ? `toys (shard ${shard.index}/${shard.count})` : 'toys', total);
          progress.bar.update(done, { 's/toy': last.seconds.toFixed(1), ...(last.fit ? { NLL: last.fit.nll.toFixed(2), converged: last.fit.converged ? 'yes' : 'no' } : {}) });
        });
        progress.bar?.stop();
        if (run.reused) process.stderr.write(`toys: ${run.path} was already finished by this configuration: kept\n`);
        if (shard.count > 1) {
          process.stdout.write(`wrote ${run.path} (${run.items.length} items); when all ${shard.count} shards are done: flowscan merge ${o.out}\n`);
        } else {
          const results = run.items.map((i) => i.result);
          process.stdout.write(`${await writeToysSummary(config, results, o.out)}\n`);
          if (o.report) process.stdout.write(`wrote ${await writeToysReport(o.report, config, results)}\n`);
        }
      } finally {
        progress.bar?.stop();
        for (const m of allFlows(models)) await m.release();
      }
    });
}

/** sha256 of the observed events a bootstrap resamples (its identity in the run's configuration). */
function sha256Columns(columns: Record<string, Float64Array>, features: string[]): string {
  const hash = createHash('sha256');
  for (const f of features) hash.update(new Uint8Array(columns[f].buffer, columns[f].byteOffset, columns[f].byteLength));
  return hash.digest('hex');
}
