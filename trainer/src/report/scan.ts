// The report of a scan (`flowscan scan --report DIR`): the fit table, the data with the fitted components, the ΔNLL
// maps with −∇NLL arrows and the profile curves, as SVG and PNG figures and one self-contained report.html.
import { join } from 'node:path';
import { type ComponentModel, type EnsembleSpread, type FitResult, type FlowModel, Rng, type ScanResultFile, allFlows, featureColumns, featureSupport, plots, sampleFittedComponents } from '@flowscan/runtime';
import { writeFileAtomic } from '@flowscan/runtime/node';
import { type ReportFigure, type ReportSection, type ReportTable, buildReport } from './html.ts';
import { writeFigure } from './render.ts';

/** A value for a table cell: 4 significant digits, exponents for very large or small magnitudes; "—" if absent. */
export function formatValue(v: number | undefined, digits = 4): string {
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

/** The fit table, shared by the terminal summary and the HTML report: one row per parameter, all cells text. */
export function fitTable(fit: FitResult, truth: Record<string, number> = {}): { header: string[]; rows: string[][] } {
  const header = ['parameter', 'best fit', '± error', '68% profile interval', 'truth', 'training range', 'status'];
  const rows = fit.parameters.map((p) => {
    const interval = p.intervals?.find((i) => i.level === 0.5);
    return [
      `${p.name}${p.unit ? ` [${p.unit}]` : ''}`,
      formatValue(p.value),
      p.fixed ? '' : formatValue(p.error, 2),
      interval ? `[${formatValue(interval.lower)}, ${formatValue(interval.upper)}]` : '',
      p.name in truth ? formatValue(truth[p.name]) : '',
      p.trainingRange ? `[${formatValue(p.trainingRange[0], 3)}, ${formatValue(p.trainingRange[1], 3)}]` : '',
      parameterStatus(p),
    ];
  });
  return { header, rows };
}

/**
 * Each ensemble's training spread, shared by the terminal summary and the HTML report: per component and free
 * parameter, the statistical error, the error from the members' training noise, and each member's own fit minus the
 * ensemble's (one Newton step each).
 */
export function trainingSpreadTable(fit: FitResult, spreads: readonly EnsembleSpread[]): { header: string[]; rows: string[][] } {
  const header = ['component', 'parameter', '± error', '± training', "members' own fits − the ensemble's"];
  const rows = spreads.flatMap((spread) =>
    spread.names.map((name, j) => [
      spread.component,
      name,
      formatValue(fit.parameters.find((p) => p.name === name)?.error, 2),
      formatValue(spread.trainingError[j], 2),
      spread.memberOffsets.map((o) => `${o[j] >= 0 ? '+' : ''}${formatValue(o[j], 2)}`).join(', '),
    ]),
  );
  return { header, rows };
}

/**
 * One line on the starts: how many reached the best minimum, and the other minima found (all, warned or not);
 * none for a single start without the global search.
 */
export function startsLine(fit: FitResult): string[] {
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

/** The fit's NLL, convergence, cost and starts in a few sentences. */
export function fitDescription(fit: FitResult): string[] {
  return [
    `NLL ${fit.nll.toFixed(4)} at ${fit.data.events} events (${fit.data.droppedOutsideSupport} dropped outside support); ` +
      `${fit.converged ? 'converged' : 'NOT converged'} (${fit.reason}); ${fit.evaluations.calls} evaluations ` +
      `(${fit.evaluations.points} points, ${fit.evaluations.graphRuns} graph runs) in ${(fit.wallMs / 1000).toFixed(2)} s`,
    ...startsLine(fit),
    ...(fit.significance ? [`local significance of "${fit.significance.signal}": Z = ${fit.significance.z.toFixed(2)} (q0 = ${fit.significance.q0.toFixed(2)})`] : []),
  ];
}

export interface ScanReportInputs {
  result: ScanResultFile;
  /** The fitted models by component name, a list for an ensemble (sampled at the best fit for the data figures). */
  models: Record<string, ComponentModel>;
  /** The fitted events by feature (with their weights, if any). */
  events: Record<string, ArrayLike<number>>;
  weights?: ArrayLike<number>;
  /** Generation point of pseudo-data, drawn as markers and listed in the table. */
  truth?: Record<string, number>;
  /** Seed of the flow samples behind the fitted components (default 1). */
  seed?: number;
  /** Shown under the title, e.g. the request file. */
  subtitle?: string;
}

/** A figure of the report with the Vega-Lite spec it was rendered from. */
export interface ScanReportFigure extends ReportFigure {
  spec: plots.VegaLiteSpec;
}

/** Flow draws per component: 20 per expected event, at least 20k (smooth curves for small yields), at most 200k. */
function sampleSize(expected: number): number {
  return Math.min(200_000, Math.max(20_000, Math.round(20 * expected)));
}

/** Bin counts that split a range into round widths (a 100 GeV window: 10, 5, 4, 2.5, 2, 1.25 and 1 GeV). */
const ROUND_BIN_COUNTS = [10, 20, 25, 40, 50, 80, 100];

/** Bins for a data histogram: the round count nearest √N / 2 (≈ 25 events per bin in the bulk of a flat spectrum). */
function binCount(events: number): number {
  const wanted = Math.sqrt(events) / 2;
  return ROUND_BIN_COUNTS.reduce((best, n) => (Math.abs(Math.log(n / wanted)) < Math.abs(Math.log(best / wanted)) ? n : best));
}

/**
 * The histogram range of a feature: the models' support (a selection window, where the flows are defined) when it
 * is finite and holds the data, else the data's own range.
 */
function featureRange(models: FlowModel[], feature: string, values: ArrayLike<number>): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    lo = Math.min(lo, values[i]);
    hi = Math.max(hi, values[i]);
  }
  const supports = models.flatMap((m) => {
    const d = m.featureNames.indexOf(feature);
    return d < 0 ? [] : [featureSupport(m.manifest)[d]];
  });
  const support: [number, number] = [Math.max(...supports.map((s) => s[0])), Math.min(...supports.map((s) => s[1]))];
  if (Number.isFinite(support[0]) && Number.isFinite(support[1]) && support[0] <= lo && hi <= support[1]) return support;
  return hi > lo ? [lo, hi] : null;
}

/** Axis title of a named quantity with its unit, e.g. "m_pole [GeV]". */
function titled(name: string, unit: string | undefined): string {
  return unit ? `${name} [${unit}]` : name;
}

/**
 * Writes `<dir>/figures/*.svg|png` and `<dir>/report.html` for a scan result; returns the report's path and figures.
 * The data figures need the models still loaded: call it before releasing them.
 */
export async function writeScanReport(dir: string, inputs: ScanReportInputs): Promise<{ reportPath: string; figures: ScanReportFigure[] }> {
  const { result, models, truth = {} } = inputs;
  const fit = result.fit;
  const figDir = join(dir, 'figures');
  const parameter = (name: string) => fit.parameters.find((p) => p.name === name)!;
  const figure = async (name: string, caption: string, spec: plots.VegaLiteSpec): Promise<ScanReportFigure> => ({ name, caption, spec, ...(await writeFigure(figDir, name, spec)) });

  // Data with the fitted components, one figure per feature.
  const components = result.request.components.map((c) => ({
    name: c.name,
    model: models[c.name],
    ...(c.fraction !== undefined ? { fraction: c.fraction } : {}),
    ...(c.rename ? { rename: c.rename } : {}),
  }));
  const drawn = await sampleFittedComponents(components, result.request.yields ?? 'fixed-fractions', fit, sampleSize, new Rng(inputs.seed ?? 1));
  const yields = Object.fromEntries(drawn.map((d) => [d.component, d.expected]));
  const samples = Object.fromEntries(drawn.map((d) => [d.component, featureColumns(d.model, d.events)]));
  const flows = allFlows(models);
  const features = [...new Set(flows.flatMap((m) => m.featureNames))];
  const dataFigures: ScanReportFigure[] = [];
  for (const f of features) {
    const values = inputs.events[f];
    const range = featureRange(flows, f, values);
    if (!range) continue;
    const unit = flows.flatMap((m) => m.manifest.features).find((v) => v.name === f)?.unit;
    const parts = result.request.components.filter((c) => f in (samples[c.name] ?? {}));
    const spec = plots.fittedComponents({
      title: `${f}: data and the fit`,
      xTitle: titled(f, unit),
      range,
      bins: binCount(fit.data.events),
      data: { values, ...(inputs.weights ? { weights: inputs.weights } : {}) },
      components: parts.map((c) => ({ label: c.name, samples: samples[c.name][f], expected: yields[c.name], style: c.name === result.request.signal ? 'filled' : 'line' })),
    });
    const yieldText = parts.map((c) => `${c.name} ${yields[c.name].toFixed(1)}`).join(', ');
    dataFigures.push(await figure(`data-${slug(f)}`, `The ${fit.data.events} fitted events in ${f} (points, Poisson errors) and the fit: each component sampled from its flow at the best fit and scaled to its fitted yield (${yieldText} events).`, spec));
  }

  // ΔNLL maps with −∇NLL arrows.
  const mapFigures: ScanReportFigure[] = [];
  for (const m of result.maps) {
    const [px, py] = [parameter(m.x), parameter(m.y)];
    const others = fit.freeNames.filter((n) => n !== m.x && n !== m.y);
    const spec = plots.deltaNllMap({
      title: `ΔNLL over (${m.x}, ${m.y}); arrows: −∇NLL`,
      xTitle: titled(m.x, px.unit),
      yTitle: titled(m.y, py.unit),
      x: m.xs,
      y: m.ys,
      deltaNll: m.deltaNll,
      gradient: { gx: m.gradX, gy: m.gradY },
      bestFit: { x: px.value, y: py.value },
      ...(m.x in truth && m.y in truth ? { truth: { x: truth[m.x], y: truth[m.y] } } : {}),
    });
    const held = others.length > 0 ? ` ${others.join(', ')} held at the best fit.` : '';
    mapFigures.push(await figure(`map-${slug(m.x)}-${slug(m.y)}`, `ΔNLL on a ${m.xs.length} × ${m.ys.length} grid with contours at 0.5 and 2 and arrows along −∇NLL from the flows' θ-gradient graphs; the cross marks the best fit${m.x in truth ? ', the star the truth' : ''}.${held}`, spec));
  }

  // Profile curves.
  const profileFigures: ScanReportFigure[] = [];
  for (const p of fit.parameters) {
    if (!p.profile || p.profile.values.length < 2) continue;
    const spec = plots.profileCurve({
      title: `Profile likelihood of ${p.name}`,
      xTitle: titled(p.name, p.unit),
      x: p.profile.values,
      deltaNll: p.profile.deltaNll,
      bestFit: p.value,
      ...(p.error !== undefined ? { parabola: { center: p.value, sigma: p.error } } : {}),
      ...(p.name in truth ? { truth: truth[p.name] } : {}),
    });
    profileFigures.push(await figure(`profile-${slug(p.name)}`, `Profile ΔNLL of ${p.name} (the other free parameters re-minimised at each of the ${p.profile.values.length} points the interval search computed); the dotted drops mark the 68% and 95% intervals${p.error !== undefined ? '; dashed: the parabola of the Hessian error' : ''}.`, spec));
  }

  const table = fitTable(fit, truth);
  const spread = result.trainingSpread ? trainingSpreadTable(fit, result.trainingSpread) : null;
  const spreadTables: ReportTable[] = spread
    ? [
        {
          caption:
            "Training spread of each ensemble: every member's own fit minus the ensemble's (one Newton step from the best fit with the fit's covariance); ± training is their standard deviation over √M, the error of the ensemble's fit from its members' training noise, to add to the statistical one in quadrature.",
          columns: spread.header,
          rows: spread.rows,
        },
      ]
    : [];
  const sections: ReportSection[] = [
    {
      heading: 'Fit',
      text: fitDescription(fit).join('\n\n'),
      tables: [{ caption: 'Fitted parameters (status: what is wrong with a parameter, if anything)', columns: table.header, rows: table.rows }, ...spreadTables, ...correlationTable(fit)],
    },
  ];
  if (fit.warnings.length > 0) sections.push({ heading: 'Warnings', text: fit.warnings.join('\n\n') });
  if (dataFigures.length > 0) sections.push({ heading: 'Data and fitted components', figures: dataFigures });
  if (mapFigures.length > 0) sections.push({ heading: 'ΔNLL maps', figures: mapFigures });
  sections.push(
    profileFigures.length > 0
      ? { heading: 'Profile likelihood', figures: profileFigures }
      : { heading: 'Profile likelihood', text: 'No profile curves: run the scan with --profile (request: "profile": true) to compute them.' },
  );
  const reportPath = join(dir, 'report.html');
  const env = result.environment;
  await writeFileAtomic(
    reportPath,
    buildReport({
      title: 'flowscan scan',
      ...(inputs.subtitle ? { subtitle: inputs.subtitle } : {}),
      sections,
      provenance: {
        notes: [
          `execution provider ${env.executionProvider}${env.precision ? `, ${env.precision} graphs` : ''}; flowscan ${env.flowscan}`,
          ...Object.entries(env.models ?? {}).map(([c, sha]) => `component ${c}: log_prob sha256 ${sha}`),
        ],
      },
    }),
  );
  return { reportPath, figures: [...dataFigures, ...mapFigures, ...profileFigures] };
}

function correlationTable(fit: FitResult): ReportTable[] {
  if (!fit.correlation || fit.freeNames.length < 2) return [];
  return [{ caption: 'Correlations of the free parameters (from the Hessian)', columns: ['', ...fit.freeNames], rows: fit.freeNames.map((n, i) => [n, ...fit.correlation![i]]) }];
}

/** A name as a figure file stem and anchor. */
function slug(name: string): string {
  return name.replace(/[^A-Za-z0-9_-]/g, '_');
}
