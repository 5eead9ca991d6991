// `flowscan scan`: fit observed events with exported flows; writes the result JSON and prints a summary.
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_GTOL, type EnsembleSpread, type FitResult, type YieldMode, STAGE1_EVALUATIONS, type ScanRequest, type ScanResultFile, allFlows, loadComponentModels, runScan, validateScanRequest } from '@flowscan/runtime';
import { EXECUTION_PROVIDERS, type ExecutionProviderChoice, loadModel, writeFileAtomic } from '@flowscan/runtime/node';
import { PRECISION_CHOICES, type PrecisionChoice } from '@flowscan/runtime';
import { readColumns } from './train.ts';
import { choiceOption, integerOption, numberOption, numberPairsOption } from './options.ts';
import { fitProgress } from './progress.ts';
import { fitDescription, fitTable, trainingSpreadTable, writeScanReport } from '../report/scan.ts';
import { TRAINER_VERSION } from '../train/saved-model.ts';

export interface ScanRunOptions {
  ep?: ExecutionProviderChoice;
  threads?: number;
  precision?: PrecisionChoice;
  /** Bytes of graph intermediates per call. */
  memoryBudget?: number;
  /** Events already in memory (the demo); otherwise read from request.events.file. */
  events?: Record<string, Float64Array>;
  /** Folder that relative model and event paths in the request are resolved against. */
  baseDir?: string;
  quiet?: boolean;
  /** Write the figures and report.html of the fit into this folder (writeScanReport). */
  report?: { dir: string; truth?: Record<string, number>; subtitle?: string };
}

/** Reads and validates a scan request file; relative paths in it are relative to `baseDir`, its folder. */
export async function readScanRequest(path: string): Promise<{ request: ScanRequest; baseDir: string }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new Error(`scan request ${path} cannot be read`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`scan request ${path} is not valid JSON (${(error as Error).message})`);
  }
  return { request: validateScanRequest(json, path), baseDir: dirname(resolve(path)) };
}

/** Loads the request's models and events and runs it (Node). */
export async function scanWithFiles(request: ScanRequest, o: ScanRunOptions = {}): Promise<ScanResultFile> {
  const base = o.baseDir ?? process.cwd();
  const models = await loadComponentModels(request, (folder) =>
    loadModel(resolve(base, folder), {
      ep: o.ep ?? 'auto',
      ...(o.threads ? { threads: o.threads } : {}),
      ...(o.precision ? { precision: o.precision } : {}),
    }),
  );
  const featureNames = [...new Set(allFlows(models).flatMap((m) => m.featureNames))];
  let events = o.events;
  let weights: Float64Array | undefined;
  if (!events) {
    const columns = [...featureNames, ...(request.events.weights ? [request.events.weights] : [])];
    events = await readColumns([resolve(base, request.events.file)], columns, request.events.skipBadRows ?? false, request.events.weights, request.events);
    if (request.events.weights) weights = events[request.events.weights];
  }
  const provider = allFlows(models)[0].executionProvider;
  const eventCount = Object.values(events)[0]?.length ?? 0;
  const progress = o.quiet
    ? null
    : fitProgress('scan', { events: eventCount, maxEvaluations: request.maxEvaluations ?? STAGE1_EVALUATIONS, gtol: request.gtol ?? DEFAULT_GTOL });
  try {
    const result = await runScan({
      request,
      models,
      events,
      ...(weights ? { weights } : {}),
      executionProvider: provider,
      flowscanVersion: TRAINER_VERSION,
      ...(o.memoryBudget ? { memoryBudget: o.memoryBudget } : {}),
      ...(progress
        ? {
            onProgress: (stage, p) => progress.iteration(stage, p),
            onStage: (stage, calls, seconds) => progress.stage(stage, calls, seconds),
            onMapRow: (map, done, total) => progress.rows(`map ${map + 1}/${request.maps?.length ?? 0} (${request.maps![map].x} × ${request.maps![map].y})`, done, total),
          }
        : {}),
    });
    if (o.report) {
      const written = await writeScanReport(o.report.dir, {
        result,
        models,
        events,
        ...(weights ? { weights } : {}),
        ...(o.report.truth ? { truth: o.report.truth } : {}),
        ...(o.report.subtitle ? { subtitle: o.report.subtitle } : {}),
      });
      if (!o.quiet) process.stderr.write(`scan: wrote ${written.reportPath} and ${written.figures.length} figures (SVG and PNG) in ${join(o.report.dir, 'figures')}\n`);
    }
    return result;
  } finally {
    progress?.stop();
    for (const m of allFlows(models)) await m.release();
  }
}

/** A plain-text table of the fit, for the terminal: a status column names what is wrong with a parameter. */
/** A table as aligned text lines: header, rule, rows. */
function textTable({ header, rows }: { header: string[]; rows: string[][] }): string[] {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (cells: string[]): string => cells.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd();
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)];
}

export function summaryTable(fit: FitResult, truth: Record<string, number> = {}, trainingSpread: readonly EnsembleSpread[] = []): string {
  const lines = [...textTable(fitTable(fit, truth)), ''];
  if (trainingSpread.length > 0) lines.push('training spread of the ensembles (each member\'s own fit as one Newton step from the best fit):', ...textTable(trainingSpreadTable(fit, trainingSpread)), '');
  lines.push(...fitDescription(fit));
  for (const w of fit.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n');
}

interface ScanCliOptions {
  request?: string;
  demo?: boolean;
  out: string;
  ep: ExecutionProviderChoice;
  threads?: number;
  precision: PrecisionChoice;
  memory: number;
  start?: Record<string, number>;
  profile?: boolean;
  globalSearch: boolean;
  maxEvaluations?: number;
  gtol?: number;
  ftolAbs?: number;
  maxEventEvaluations?: number;
  signalEvents?: number;
  componentEvents?: Record<string, number>;
  yields?: YieldMode;
  report?: string;
}

const YIELD_MODES: readonly YieldMode[] = ['fixed-fractions', 'extended'];

/**
 * The request with the command line's expected counts on its components (--signal-events, --component-events).
 * They replace the request's fractions, of the other components too: those share the rest of the sample (see
 * applyEventCounts), which a fraction typed for the old split would no longer match.
 */
export function withEventCounts(request: ScanRequest, signalEvents: number | undefined, componentEvents: Record<string, number> = {}): ScanRequest {
  const names = request.components.map((c) => c.name);
  const counts = { ...componentEvents };
  if (signalEvents !== undefined) {
    const signal = request.signal ?? (names.includes('signal') ? 'signal' : undefined);
    if (!signal) throw new Error(`--signal-events needs the signal component: set "signal" in the request or name a component "signal" (components: ${names.join(', ')})`);
    counts[signal] = signalEvents;
  }
  for (const [name, n] of Object.entries(counts)) {
    if (!names.includes(name)) throw new Error(`--component-events names "${name}", which is not a component (${names.join(', ')})`);
    if (!(n >= 0)) throw new Error(`--component-events ${name}=${n}: a count must be ≥ 0`);
  }
  if (Object.keys(counts).length === 0) return request;
  return {
    ...request,
    components: request.components.map(({ fraction: _replaced, events, ...c }) => {
      const n = counts[c.name] ?? events;
      return n === undefined ? c : { ...c, events: n };
    }),
  };
}

export function register(program: Command): void {
  program
    .command('scan')
    .description('Fit observed events with exported flows (mixture likelihood): best fit, errors, intervals, significance, ΔNLL maps.')
    .option('--request <file>', 'scan request JSON (schemas/scan-request.schema.json)')
    .option('--demo', 'fit the toy pseudo-data (1k signal + 100k background at (91.2, 2.5, 0.01)) with the shipped models/')
    .option('--out <file>', 'where to write the result JSON', 'scan-result.json')
    .option('--ep <provider>', `execution provider: ${EXECUTION_PROVIDERS.join(' | ')}`, choiceOption('--ep', EXECUTION_PROVIDERS), 'auto')
    .option(
      '--threads <n>',
      'onnxruntime intra-op threads (default: one per core); give scans running side by side a share each, e.g. 1 for two scans on 2 cores',
      integerOption('--threads', 1, 1024),
    )
    .option('--precision <p>', 'graph precision: auto (float64 on the CPU, float32 on GPUs) | float32 | float64', choiceOption('--precision', PRECISION_CHOICES), 'auto')
    .option('--memory <MiB>', 'memory for the graphs of an evaluation, MiB (events are evaluated in chunks that fit)', integerOption('--memory', 4, 1 << 20), 128)
    .option('--start <pairs>', 'override start values, e.g. "m_pole=90,gamma=2"', numberPairsOption)
    .option('--profile', 'also compute profile-likelihood intervals')
    .option('--no-global-search', 'fit from the start alone, without the Sobol\' scan of the box (docs/fitting.md)')
    .option('--max-evaluations <n>', 'evaluations each start may spend in the gradient stage (request: maxEvaluations; default 30)', integerOption('--max-evaluations', 1, 100000))
    .option('--gtol <g>', 'convergence on the scaled projected-gradient norm (request: gtol; default 0.02)', numberOption('--gtol', (n) => n > 0, 'a number > 0'))
    .option('--ftol-abs <f>', 'convergence on the NLL change per iteration (request: ftolAbs; default 2e-4)', numberOption('--ftol-abs', (n) => n > 0, 'a number > 0'))
    .option(
      '--max-event-evaluations <n>',
      'refuse requests that plan more event × point evaluations (request: maxEventEvaluations; default 1e9, ~15 min on one core)',
      numberOption('--max-event-evaluations', (n) => n > 0, 'a number > 0'),
    )
    .option('--signal-events <n>', 'expected events of the signal component (request.signal, else the one named "signal") instead of fractions; the other component takes the rest of the sample', numberOption('--signal-events', (n) => n >= 0, 'a number ≥ 0'))
    .option('--component-events <pairs>', 'expected events per component, e.g. "signal=1000,background=100000" (request: components[].events)', numberPairsOption)
    .option('--yields <mode>', 'fixed-fractions (fractions or counts fixed) | extended (fit the yields n_<component>; counts become their starts)', choiceOption('--yields', YIELD_MODES))
    .option('--report <dir>', 'also write figures (SVG and PNG: data with the fitted components, ΔNLL maps, profile curves) and report.html into DIR')
    .addHelpText(
      'after',
      `
Yields. With fixed fractions (the default) each component has a fraction of the events, or an expected count:
  every component counted: f_c = n_c / Σ n; all but one: f_c = n_c / N, the last takes the rest (N: the events read,
  Σ of their weights when weighted, before any outside-support drop). Counts on the command line replace the
  request's fractions.
With "yields": "extended" the fit has one more free parameter per component, its expected yield n_<component>
(unit: events; bounds [0, 10·Σw + 100]; start: the component's count if given, else Σw / components; a Gaussian
constraint, e.g. "constraints": { "n_background": { "mean": 1e5, "width": 300 } }, adds an auxiliary measurement).
The NLL is then Σ_c n_c − Σ_i w_i log Σ_c n_c p_c(x_i|θ_c) and the significance fits n_<signal> = 0.

A request names the events and the components of the likelihood, e.g.
  { "events": { "file": "pseudo-data.csv" },
    "components": [ { "name": "signal", "model": "models/toy-signal", "fraction": 0.0099 },
                    { "name": "background", "model": "models/toy-background", "fraction": 0.9901 } ],
    "signal": "signal", "maps": [ { "x": "m_pole", "y": "gamma" } ] }
Model and event paths are relative to the request file.

Examples:
  flowscan scan --demo
  flowscan scan --request request.json --out result.json --ep cpu --profile
  flowscan scan --request request.json --signal-events 1000 --profile --report out/report   # figures + report.html`,
    )
    .action(async (o: ScanCliOptions) => {
      if (!o.request === !o.demo) throw new Error('give either --request FILE or --demo');
      let request: ScanRequest;
      let events: Record<string, Float64Array> | undefined;
      let baseDir: string;
      let truth: Record<string, number> = {};
      if (o.demo) {
        const { demoRequest } = await import('../study/toy.ts');
        const demo = demoRequest();
        request = demo.request;
        events = demo.events;
        truth = demo.truth;
        baseDir = demo.baseDir;
      } else {
        ({ request, baseDir } = await readScanRequest(o.request!));
      }
      if (o.start) request.start = { ...request.start, ...o.start };
      if (o.profile) request.profile = true;
      if (!o.globalSearch) request.globalSearch = false;
      for (const key of ['maxEvaluations', 'gtol', 'ftolAbs', 'maxEventEvaluations'] as const) if (o[key] !== undefined) request[key] = o[key];
      if (o.yields) request.yields = o.yields;
      request = withEventCounts(request, o.signalEvents, o.componentEvents);
      const result = await scanWithFiles(request, {
        ep: o.ep,
        ...(o.threads ? { threads: o.threads } : {}),
        precision: o.precision,
        memoryBudget: o.memory * 2 ** 20,
        ...(events ? { events } : {}),
        baseDir,
        ...(o.report ? { report: { dir: o.report, truth, subtitle: o.demo ? 'the toy demo: 1k signal + 100k background pseudo-events' : `request ${o.request}` } } : {}),
      });
      await writeFileAtomic(o.out, `${JSON.stringify(result, null, 2)}\n`);
      process.stdout.write(`${summaryTable(result.fit, truth, result.trainingSpread)}\nexecution provider: ${result.environment.executionProvider}\nwrote ${o.out}\n`);
    });
}
