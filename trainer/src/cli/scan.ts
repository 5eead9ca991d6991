// `flowscan scan`: fit observed events with exported flows; writes the result JSON and prints a summary.
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { type FitResult, type FlowModel, type ScanRequest, type ScanResultFile, runScan, validateScanRequest } from '@flowscan/runtime';
import { EXECUTION_PROVIDERS, type ExecutionProviderChoice, loadModel, writeFileAtomic } from '@flowscan/runtime/node';
import { PRECISION_CHOICES, type PrecisionChoice } from '@flowscan/runtime';
import { readColumns } from './train.ts';
import { choiceOption, integerOption, numberOption, numberPairsOption } from './options.ts';
import { progressBar } from './progress.ts';
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
  const models: Record<string, FlowModel> = {};
  for (const c of request.components) {
    models[c.name] = await loadModel(resolve(base, c.model), {
      ep: o.ep ?? 'auto',
      ...(o.threads ? { threads: o.threads } : {}),
      ...(o.precision ? { precision: o.precision } : {}),
    });
  }
  const featureNames = [...new Set(Object.values(models).flatMap((m) => m.featureNames))];
  let events = o.events;
  let weights: Float64Array | undefined;
  if (!events) {
    const columns = [...featureNames, ...(request.events.weights ? [request.events.weights] : [])];
    events = await readColumns([resolve(base, request.events.file)], columns, request.events.skipBadRows ?? false, request.events.weights, request.events);
    if (request.events.weights) weights = events[request.events.weights];
  }
  const provider = Object.values(models)[0].executionProvider;
  const bar = o.quiet ? null : progressBar('fit', 1);
  let calls = 0;
  try {
    return await runScan({
      request,
      models,
      events,
      ...(weights ? { weights } : {}),
      executionProvider: provider,
      flowscanVersion: TRAINER_VERSION,
      ...(o.memoryBudget ? { memoryBudget: o.memoryBudget } : {}),
      onProgress: (stage, p) => {
        calls = p.calls;
        bar?.update(0, { stage, calls, 'NLL': p.lowestValue.toFixed(3), 'starts left': p.activeStarts });
      },
      onMapRow: (map, done, total) => bar?.update(done / total, { stage: `map ${map + 1}/${request.maps?.length ?? 0}, row ${done}/${total}` }),
    });
  } finally {
    bar?.update(1, { calls });
    bar?.stop();
    for (const m of Object.values(models)) await m.release();
  }
}

function format(v: number | undefined, digits = 4): string {
  if (v === undefined || !Number.isFinite(v)) return '—';
  return Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(digits - 1) : v.toPrecision(digits);
}

/**
 * What is wrong with a fitted parameter, for the table's status column; empty when nothing is: a free parameter
 * inside its bounds and training range, with an error.
 */
function parameterStatus(p: FitResult['parameters'][number]): string {
  if (p.fixed) return 'fixed';
  const problems: string[] = [];
  if (p.atBound !== 'free') problems.push(`on ${p.atBound} bound`);
  else if (p.error === undefined) problems.push('no error');
  if (p.trainingRange && (p.value < p.trainingRange[0] || p.value > p.trainingRange[1])) problems.push('outside training range');
  return problems.join(', ');
}

/**
 * One line on the starts: how many reached the best minimum, and the other minima found (all, warned or not);
 * none for a single start without the global search.
 */
function startsLine(fit: FitResult): string[] {
  const m = fit.multistart;
  if (m.starts === 1 && m.searchPoints === 0) return [];
  const search = m.searchPoints > 0 ? ` after a ${m.searchPoints}-point Sobol' scan` : '';
  const ended = [
    `${m.reachedBest} reached the best minimum`,
    ...(m.abandoned > 0 ? [`${m.abandoned} abandoned far above it`] : []),
    ...(m.stoppedShort > 0 ? [`${m.stoppedShort} stopped short of a minimum`] : []),
    ...(m.otherMinima.length > 0 ? [`other minima at ΔNLL ${m.otherMinima.map((o) => o.deltaNll.toFixed(2)).join(', ')}`] : []),
  ];
  return [`${m.starts} start${m.starts === 1 ? '' : 's'}${search}: ${ended.join('; ')}`];
}

/** A plain-text table of the fit, for the terminal: a status column names what is wrong with a parameter. */
export function summaryTable(fit: FitResult, truth: Record<string, number> = {}): string {
  const header = ['parameter', 'best fit', '± error', '68% profile interval', 'truth', 'training range', 'status'];
  const rows = fit.parameters.map((p) => {
    const interval = p.intervals?.find((i) => i.level === 0.5);
    return [
      `${p.name}${p.unit ? ` [${p.unit}]` : ''}`,
      format(p.value),
      p.fixed ? '' : format(p.error, 2),
      interval ? `[${format(interval.lower)}, ${format(interval.upper)}]` : '',
      p.name in truth ? format(truth[p.name]) : '',
      p.trainingRange ? `[${format(p.trainingRange[0], 3)}, ${format(p.trainingRange[1], 3)}]` : '',
      parameterStatus(p),
    ];
  });
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (cells: string[]): string => cells.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd();
  const lines = [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)];
  lines.push(
    '',
    `NLL ${fit.nll.toFixed(4)} at ${fit.data.events} events (${fit.data.droppedOutsideSupport} dropped outside support); ` +
      `${fit.converged ? 'converged' : 'NOT converged'} (${fit.reason}); ${fit.evaluations.calls} evaluations ` +
      `(${fit.evaluations.points} points, ${fit.evaluations.graphRuns} graph runs) in ${(fit.wallMs / 1000).toFixed(2)} s`,
    ...startsLine(fit),
  );
  if (fit.significance) lines.push(`local significance of "${fit.significance.signal}": Z = ${fit.significance.z.toFixed(2)} (q0 = ${fit.significance.q0.toFixed(2)})`);
  for (const w of fit.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n');
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
    .addHelpText(
      'after',
      `
A request names the events and the components of the likelihood, e.g.
  { "events": { "file": "pseudo-data.csv" },
    "components": [ { "name": "signal", "model": "models/toy-signal", "fraction": 0.0099 },
                    { "name": "background", "model": "models/toy-background", "fraction": 0.9901 } ],
    "signal": "signal", "maps": [ { "x": "m_pole", "y": "gamma" } ] }
Model and event paths are relative to the request file.

Examples:
  flowscan scan --demo
  flowscan scan --request request.json --out result.json --ep cpu --profile`,
    )
    .action(async (o: { request?: string; demo?: boolean; out: string; ep: ExecutionProviderChoice; threads?: number; precision: PrecisionChoice; memory: number; start?: Record<string, number>; profile?: boolean; globalSearch: boolean; maxEvaluations?: number; gtol?: number; ftolAbs?: number; maxEventEvaluations?: number }) => {
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
      const result = await scanWithFiles(request, {
        ep: o.ep,
        ...(o.threads ? { threads: o.threads } : {}),
        precision: o.precision,
        memoryBudget: o.memory * 2 ** 20,
        ...(events ? { events } : {}),
        baseDir,
      });
      await writeFileAtomic(o.out, `${JSON.stringify(result, null, 2)}\n`);
      process.stdout.write(`${summaryTable(result.fit, truth)}\nexecution provider: ${result.environment.executionProvider}\nwrote ${o.out}\n`);
    });
}
