// The end of a validation run (directly, or after `flowscan merge` of its shards): the calibration per point and
// parameter as a table (Markdown, so it pastes into a README), the worst points named, summary.json, the
// calibration figures (SVG and PNG) and a self-contained HTML report.
import { join } from 'node:path';
import { writeFileAtomic } from '@flowscan/runtime/node';
import { buildReport, type ReportTable } from '../report/html.ts';
import { writeFigure } from '../report/render.ts';
import type { ShardedKind } from '../shards/kinds.ts';
import type { MergedShards, ShardItem } from '../shards/shards.ts';
import { type Calibration, type ParameterCalibration, type PointCalibration, PULL_GOAL, SCALE_GOAL, heldOutCalibration, toyCalibration } from './calibration.ts';
import { type CalibrationFigure, calibrationSpec } from './figures.ts';
import type { HeldOutConfig, HeldOutItem } from './heldout.ts';
import type { ToyItem, ToyValidationConfig } from './toy.ts';

export type ValidationConfig = ToyValidationConfig | HeldOutConfig;

const minus = (text: string): string => text.replace(/^-/, '−');

function coordinate(v: number): string {
  return minus(Math.abs(v) < 0.01 && v !== 0 ? v.toExponential(2) : String(Number(v.toPrecision(4))));
}

/** "#3 (m_pole 63, gamma 0.725, tau 1.26e-3)" or the point's own name. */
export function pointLabel(p: PointCalibration): string {
  const where = Object.entries(p.truth).map(([k, v]) => `${k} ${coordinate(v)}`).join(', ');
  return `#${p.index + 1} ${p.name ? `"${p.name}" ` : ''}(${where})`;
}

function withError(value: number, error: number | null, digits: number, sign: boolean): string {
  if (!Number.isFinite(value)) return '—';
  const v = sign ? minus(value >= 0 ? `+${value.toFixed(digits)}` : value.toFixed(digits)) : value.toFixed(digits);
  return error === null ? v : `${v} ± ${error.toFixed(digits)}`;
}

interface Column {
  header: string;
  cell(c: ParameterCalibration): string;
}

function columnsFor(calibration: Calibration): Column[] {
  const mark = (text: string, bad: boolean): string => (bad ? `${text} ✗` : text);
  const pull: Column = {
    header: 'pull',
    cell: (c) => mark(withError(c.pull.mean, c.pull.error, 2, true), c.misses.pull),
  };
  if (calibration.reference === 'toy') {
    return [pull, { header: 'σ ratio', cell: (c) => mark(withError(c.scale.value, c.scale.error, 2, false), c.misses.scale) }];
  }
  return [
    pull,
    { header: 'width', cell: (c) => mark(withError(c.scale.value, c.scale.error, 2, false), c.misses.scale) },
    { header: '±1σ', cell: (c) => (c.coverage === undefined ? '—' : `${Math.round(100 * c.coverage)} %`) },
  ];
}

/** The calibration as rows of strings: coordinates, per parameter its columns, pseudo-experiments used, verdict. */
function tableCells(calibration: Calibration): { header: string[]; rows: string[][] } {
  const names = calibration.parameters.map((p) => p.name);
  const columns = columnsFor(calibration);
  const header = ['#', ...names, ...names.flatMap((n) => columns.map((c) => `${n} ${c.header}`)), 'n', 'goal'];
  const rows = calibration.points.map((p) => {
    const used = Math.min(...p.parameters.map((c) => c.pull.n));
    const failing = p.parameters.filter((c) => c.pass === false).map((c) => c.parameter);
    return [
      String(p.index + 1) + (p.name ? ` ${p.name}` : ''),
      ...names.map((n) => (n in p.truth ? coordinate(p.truth[n]) : '—')),
      ...p.parameters.flatMap((c) => columns.map((col) => col.cell(c))),
      `${used}/${p.experiments}`,
      p.pass === null ? 'no data' : p.pass ? '✓' : `✗ ${failing.join(', ')}`,
    ];
  });
  return { header, rows };
}

export function markdownTable(calibration: Calibration): string {
  const { header, rows } = tableCells(calibration);
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** The worst point per parameter, and which points miss the goal: the answer to "good enough, and where?". */
export function verdictText(calibration: Calibration): string {
  const scaleName = calibration.reference === 'toy' ? 'σ ratio' : 'pull width';
  const lines: string[] = [];
  for (const w of calibration.worst) {
    const parts: string[] = [];
    if (w.pull) parts.push(`|pull| largest at ${pointLabel(calibration.points[w.pull.point])}: ${withError(w.pull.value, null, 2, true)}σ`);
    if (w.scale) parts.push(`${scaleName} furthest from 1 at ${pointLabel(calibration.points[w.scale.point])}: ${w.scale.value.toFixed(2)}`);
    lines.push(`worst ${w.parameter}: ${parts.length > 0 ? parts.join('; ') : 'no usable pseudo-experiment'}`);
  }
  const failing = calibration.points.filter((p) => p.pass === false);
  const empty = calibration.points.filter((p) => p.pass === null);
  const goal =
    calibration.reference === 'toy'
      ? `|mean pull| ≤ ${PULL_GOAL}σ and σ ratio within 1 ± ${SCALE_GOAL} for every parameter`
      : `bias within ±${PULL_GOAL}σ and pull width within 1 ± ${SCALE_GOAL}, up to ${calibration.goal.heldOutMargin} standard errors`;
  lines.push(`${calibration.points.length - failing.length - empty.length} of ${calibration.points.length} points meet the goal (${goal}).`);
  if (failing.length > 0) {
    lines.push('NOT GOOD ENOUGH at:');
    for (const p of failing) lines.push(`  ${pointLabel(p)}: ${p.parameters.flatMap((c) => c.problems).join('; ')}`);
  }
  for (const p of empty) lines.push(`no usable pseudo-experiment at ${pointLabel(p)}`);
  for (const p of calibration.points) for (const note of p.notes) lines.push(`note at #${p.index + 1}: ${note}`);
  return lines.join('\n');
}

function figuresFor(calibration: Calibration): { name: string; caption: string; figure: CalibrationFigure }[] {
  const toy = calibration.reference === 'toy';
  const pullFigure: CalibrationFigure = {
    title: toy ? 'Pull (flow − exact)/σ_exact, mean over pseudo-experiments' : 'Pull (fit − truth)/σ_fit, mean over files',
    quantity: (c) => ({ value: c.pull.mean, error: c.pull.error }),
    yTitle: (p) => `${p} pull`,
    ideal: 0,
    band: [-PULL_GOAL, PULL_GOAL],
    meets: (c) => !c.misses.pull,
  };
  const scaleFigure: CalibrationFigure = {
    title: toy ? 'σ_flow/σ_exact, mean over pseudo-experiments' : 'Width of the pulls (1 if the errors are right)',
    quantity: (c) => ({ value: c.scale.value, error: c.scale.error }),
    yTitle: (p) => `${p} ${toy ? 'σ ratio' : 'pull width'}`,
    ideal: 1,
    band: [1 - SCALE_GOAL, 1 + SCALE_GOAL],
    meets: (c) => !c.misses.scale,
  };
  const perPoint = 'per design point against each coordinate of the truth, ± its standard error; grey: the goal';
  return [
    { name: 'pulls', caption: `Mean pull ${perPoint} ±${PULL_GOAL}σ.`, figure: pullFigure },
    { name: toy ? 'sigma-ratios' : 'pull-widths', caption: `${toy ? 'Mean σ_flow/σ_exact' : 'Pull width'} ${perPoint} 1 ± ${SCALE_GOAL}.`, figure: scaleFigure },
  ];
}

function describeRun(config: ValidationConfig, calibration: Calibration): string {
  const items = calibration.points.reduce((s, p) => s + p.experiments, 0);
  const time = `${(calibration.itemSeconds / 60).toFixed(1)} minutes of fitting, all items together`;
  if (config.reference === 'toy') {
    const experiments = `${config.experiments} pseudo-experiment${config.experiments === 1 ? '' : 's'}`;
    return (
      `Design "${config.design}": ${config.points.length} points × ${experiments} of ${config.size.nSignal} signal + ${config.size.nBackground} ` +
      `background events (fixed fractions), seed ${config.seed}; ${time}. Each pseudo-experiment is fitted from the truth with the flows ` +
      `(${config.precision} graphs) and with the exact likelihood; pull = (flow − exact)/σ_exact, σ ratio = σ_flow/σ_exact.`
    );
  }
  return (
    `${config.points.length} points with held-out files (${items} in all); ${time}. Each file is fitted from its point's truth with the request's ` +
    `likelihood (${config.precision} graphs); pull = (fit − truth)/σ_fit, its mean is the bias and its width the error scale.`
  );
}

/** Writes summary.json, the figures and report.html into `out`; returns the table and verdict for the terminal. */
export async function writeValidationSummary(config: ValidationConfig, items: ShardItem<unknown>[], out: string): Promise<{ calibration: Calibration; text: string }> {
  const calibration =
    config.reference === 'toy' ? toyCalibration(config, items as ShardItem<ToyItem>[]) : heldOutCalibration(config, items as ShardItem<HeldOutItem>[]);
  const table = markdownTable(calibration);
  const verdict = verdictText(calibration);
  const run = describeRun(config, calibration);
  const figureDir = join(out, 'figures');
  const figures = [];
  for (const f of figuresFor(calibration)) figures.push({ name: f.name, caption: f.caption, ...(await writeFigure(figureDir, f.name, calibrationSpec(calibration, f.figure))) });
  const { header, rows } = tableCells(calibration);
  const reportTable: ReportTable = { caption: 'Calibration per design point (✗: misses the goal)', columns: header, rows };
  const reportPath = join(out, 'report.html');
  await writeFileAtomic(
    reportPath,
    buildReport({
      title: `flowscan validate — ${config.reference === 'toy' ? 'toy flows against the exact likelihood' : 'flows against held-out simulation'}`,
      subtitle: `${calibration.points.length} design points`,
      sections: [
        { heading: 'Verdict', text: verdict.split('\n').join('\n\n') },
        { heading: 'Calibration', text: run, tables: [reportTable], figures },
      ],
    }),
  );
  await writeFileAtomic(join(out, 'summary.json'), `${JSON.stringify({ format: 'flowscan-validate-summary', config, calibration }, null, 2)}\n`);
  const text = `${run}\n\n${table}\n\n${verdict}\n\nwrote ${join(out, 'summary.json')}, ${reportPath} and figures in ${figureDir}`;
  return { calibration, text };
}

/** For `flowscan merge`: the summary of a validation run from its shards. */
export const validateKind: ShardedKind = {
  async summarize(merged: MergedShards<unknown>, out: string): Promise<string> {
    return (await writeValidationSummary(merged.config as ValidationConfig, merged.items, out)).text;
  },
  async report(merged: MergedShards<unknown>, dir: string): Promise<string> {
    await writeValidationSummary(merged.config as ValidationConfig, merged.items, dir);
    return join(dir, 'report.html');
  },
};
