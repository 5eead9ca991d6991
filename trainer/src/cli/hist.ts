// `flowscan hist fit|limit|significance workspace.json`: HistFactory fits, CLs upper limits (with a Brazil-band
// figure) and discovery significance on pyhf JSON workspaces, printed as tables and optionally written as JSON.
import { readFile, writeFile } from 'node:fs/promises';
import { histfactory as hf, plots } from '@flowscan/runtime';
import type { Command } from 'commander';
import { writeHistReport } from '../report/hist.ts';
import { writeFigure } from '../report/render.ts';
import { choiceOption, numberOption } from './options.ts';

interface HistOptions {
  measurement?: string;
  poi?: string;
  normsys: hf.NormsysInterpolation;
  histosys: hf.HistosysInterpolation;
  json?: string;
  report?: string;
}

interface LimitOptions extends HistOptions {
  testStat: hf.TestStatistic;
  level: number;
  scan?: { from: number; to: number; points: number };
  plot?: string;
}

interface SignificanceOptions extends HistOptions {
  toys?: number;
  seed: number;
}

/** "0:5:21": 21 evenly spaced μ from 0 to 5. */
function scanOption(value: string): { from: number; to: number; points: number } {
  const parts = value.split(':').map(Number);
  if (parts.length !== 3 || !parts.every(Number.isFinite) || !(parts[1] > parts[0]) || !Number.isInteger(parts[2]) || parts[2] < 2) {
    throw new Error(`--scan must be FROM:TO:POINTS with FROM < TO and at least 2 points (e.g. 0:5:21), got "${value}".`);
  }
  return { from: parts[0], to: parts[1], points: parts[2] };
}

async function loadModel(path: string, o: HistOptions): Promise<hf.HistFactoryModel> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new Error(`cannot read the workspace ${path}: ${(error as Error).message}`);
  }
  const model = new hf.HistFactoryModel(hf.parseWorkspace(json, path), {
    ...(o.measurement !== undefined ? { measurement: o.measurement } : {}),
    ...(o.poi !== undefined ? { poi: o.poi } : {}),
    normsys: o.normsys,
    histosys: o.histosys,
  });
  for (const warning of model.warnings) process.stderr.write(`warning: ${warning}\n`);
  return model;
}

const fmt = (v: number | null | undefined, digits = 6) => (v === null || v === undefined || !Number.isFinite(v) ? '—' : Math.abs(v) !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5) ? v.toExponential(digits - 2) : v.toPrecision(digits));

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

async function writeJson(path: string | undefined, value: unknown): Promise<void> {
  if (!path) return;
  await writeFile(path, `${JSON.stringify(value, (_, v) => (v instanceof Float64Array ? Array.from(v) : v), 2)}\n`);
  process.stdout.write(`wrote ${path}\n`);
}

function header(path: string, model: hf.HistFactoryModel): string {
  const bins = model.channels.map((c) => `${c.name} (${c.bins})`).join(', ');
  return `${path}: measurement '${model.measurement.name}', POI '${model.poi}', ${model.dimension} parameters, channels ${bins}\n`;
}

async function runFit(path: string, o: HistOptions): Promise<void> {
  const model = await loadModel(path, o);
  const result = await hf.fit(model, model.observedData(), { errors: true });
  process.stdout.write(header(path, model));
  const fixed = model.suggestedFixed();
  const bounds = model.suggestedBounds();
  const rows = model.parameterNames.map((name, i) => [
    name,
    fmt(result.parameters[i]),
    fixed[i] ? 'fixed' : fmt(result.errors?.[i]),
    `[${bounds[i][0]}, ${bounds[i][1]}]`,
  ]);
  process.stdout.write(`${table(['parameter', 'value', 'error', 'bounds'], rows)}\n`);
  process.stdout.write(`−2 log L = ${result.nll * 2}  (${result.converged ? 'converged' : 'NOT converged'}: ${result.message})\n`);
  if (result.errorMessage) process.stdout.write(`no errors: ${result.errorMessage}\n`);
  await writeJson(o.json, { workspace: path, poi: model.poi, parameterNames: model.parameterNames, ...result });
  if (o.report) process.stdout.write(`wrote ${await writeHistReport(o.report, 'fit', { workspace: path, model, data: model.observedData(), fit: result })}\n`);
}

const BAND = ['−2σ', '−1σ', 'median', '+1σ', '+2σ'];

async function runLimit(path: string, o: LimitOptions): Promise<void> {
  const model = await loadModel(path, o);
  const data = model.observedData();
  const options = { testStatistic: o.testStat };
  const limits = o.scan
    ? hf.limitsFromScan(await hf.clsScan(model, data, Array.from({ length: o.scan.points }, (_, i) => o.scan!.from + ((o.scan!.to - o.scan!.from) * i) / (o.scan!.points - 1)), options), o.level)
    : await hf.upperLimit(model, data, { ...options, level: o.level });
  process.stdout.write(header(path, model));
  process.stdout.write(`${(1 - o.level) * 100}% CLs upper limits on ${model.poi} (${o.testStat}, asymptotic, ${o.scan ? `${o.scan.points}-point scan, interpolated` : 'root finding'}):\n`);
  process.stdout.write(`${table(['', 'limit'], [['observed', fmt(limits.observed)], ...BAND.map((b, i) => [`expected ${b}`, fmt(limits.expected[i])])])}\n`);
  if (o.scan) {
    const rows = limits.points.map((r) => [fmt(r.poiValue), fmt(r.cls), ...r.expected.map((v) => fmt(v, 4))]);
    process.stdout.write(`\n${table([model.poi, 'CLs obs', ...BAND.map((b) => `exp ${b}`)], rows)}\n`);
  } else {
    process.stdout.write(`(${limits.points.length} hypothesis tests; --scan FROM:TO:POINTS prints CLs on a grid)\n`);
  }
  if (limits.observed === null || limits.expected.includes(null)) {
    process.stdout.write(`some CLs curves do not cross ${o.level} in the scanned range: widen --scan (or the POI's bounds).\n`);
  }
  if (o.plot) {
    const spec = plots.brazilBand({
      title: `CLs upper limit on ${model.poi}`,
      poiName: model.poi,
      poi: limits.points.map((r) => r.poiValue),
      observed: limits.points.map((r) => r.cls),
      expected: limits.points.map((r) => r.expected),
      level: o.level,
    });
    const { svgPath } = await writeFigure(o.plot, 'cls-brazil', spec);
    process.stdout.write(`wrote ${svgPath}\n`);
  }
  await writeJson(o.json, { workspace: path, poi: model.poi, testStatistic: o.testStat, ...limits });
  if (o.report) {
    // Root finding tests μ where the curves cross the level; the figure wants CLs over the whole range.
    const scan = o.scan ? limits.points : await hf.clsScan(model, data, reportGrid(limits), options);
    const fit = await hf.fit(model, data, { errors: true });
    process.stdout.write(`wrote ${await writeHistReport(o.report, 'limit', { workspace: path, model, data, fit, limits: { result: limits, scan, testStatistic: o.testStat } })}\n`);
  }
}

/**
 * μ from 0 to 1.5 times the largest limit found (observed or expected; the largest μ tested when none was), in 31
 * steps, for the report's CLs figure.
 */
function reportGrid(limits: hf.UpperLimits): number[] {
  const found = [limits.observed, ...limits.expected].filter((v): v is number => v !== null && Number.isFinite(v));
  const top = found.length > 0 ? 1.5 * Math.max(...found) : Math.max(...limits.points.map((p) => p.poiValue));
  return Array.from({ length: 31 }, (_, i) => (top * i) / 30);
}

async function runSignificance(path: string, o: SignificanceOptions): Promise<void> {
  const model = await loadModel(path, o);
  const data = model.observedData();
  const result = o.toys
    ? await hf.toyHypotest(model, data, 0, { testStatistic: 'q0', toys: o.toys, seed: o.seed })
    : await hf.hypotest(model, data, 0, { testStatistic: 'q0' });
  process.stdout.write(header(path, model));
  const z = (p: number) => hf.normalQuantile(1 - p);
  process.stdout.write(`discovery test of ${model.poi} = 0 (q0, ${result.calculator}${result.toys ? `, ${result.toys} toys per hypothesis, seed ${o.seed}` : ''}): q0 = ${fmt(result.q)}, best-fit ${model.poi} = ${fmt(result.poiHat)}\n`);
  const rows = [['observed', fmt(result.pValue), fmt(z(result.pValue), 4)], ...BAND.map((b, i) => [`expected ${b}`, fmt(result.expected[i]), fmt(z(result.expected[i]), 4)])];
  process.stdout.write(`${table(['', 'p0', 'Z'], rows)}\n`);
  await writeJson(o.json, { workspace: path, poi: model.poi, ...result, significance: z(result.pValue) });
  if (o.report) {
    const fit = await hf.fit(model, data, { errors: true });
    process.stdout.write(`wrote ${await writeHistReport(o.report, 'significance', { workspace: path, model, data, fit, significance: result })}\n`);
  }
}

function commonOptions(command: Command): Command {
  return command
    .argument('<workspace>', 'pyhf JSON workspace (schemas/histfactory-workspace.schema.json)')
    .option('--measurement <name>', 'measurement to use (default: the first)')
    .option('--poi <name>', 'parameter of interest (default: the measurement\'s)')
    .option('--normsys <code>', 'normsys interpolation: code1 | code4', choiceOption('--normsys', ['code1', 'code4'] as const), 'code4')
    .option('--histosys <code>', 'histosys interpolation: code0 | code4p', choiceOption('--histosys', ['code0', 'code4p'] as const), 'code4p')
    .option('--json <file>', 'write the full result as JSON')
    .option('--report <dir>', 'also write figures (SVG and PNG: data against the fitted samples per channel, nuisance-parameter pulls, for limit the CLs scan with its bands) and report.html into DIR');
}

export function register(program: Command): void {
  const hist = program
    .command('hist')
    .description('HistFactory statistical analysis of a pyhf JSON workspace: fit, CLs upper limit, discovery significance (docs/histfactory.md).');
  commonOptions(hist.command('fit').description('Maximum-likelihood fit of all parameters, with errors from the Hessian.')).action(runFit);
  commonOptions(hist.command('limit').description('Asymptotic CLs upper limit on the POI, observed and expected (±1σ, ±2σ).'))
    .option('--test-stat <name>', 'qtilde | q', choiceOption('--test-stat', ['qtilde', 'q'] as const), 'qtilde')
    .option('--level <alpha>', 'CLs level', numberOption('--level', (v) => v > 0 && v < 1, 'in (0, 1)'), 0.05)
    .option('--scan <from:to:points>', 'scan μ on a grid and interpolate (like pyhf upper_limit with scan=) instead of root finding', scanOption)
    .option('--plot <dir>', 'write the CLs-vs-μ Brazil band as <dir>/cls-brazil.svg (and .png)')
    .action(runLimit);
  commonOptions(hist.command('significance').description('Discovery p-value and significance of the POI > 0 (q0), observed and expected.'))
    .option('--toys <n>', 'pseudo-experiments per hypothesis instead of asymptotics', numberOption('--toys', (v) => Number.isInteger(v) && v >= 1, 'a whole number ≥ 1'))
    .option('--seed <n>', 'random seed for --toys', numberOption('--seed', Number.isSafeInteger, 'an integer'), 0)
    .action(runSignificance);
}
