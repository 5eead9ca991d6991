// The report of `flowscan hist fit|limit|significance --report DIR`: per channel the observed counts against the
// fitted samples stacked, the pulls and constraints of the constrained nuisance parameters, and for limits the
// CLs scan with its ±1σ/±2σ expected bands; SVG and PNG figures and one report.html.
import { join } from 'node:path';
import { histfactory as hf, plots } from '@flowscan/runtime';
import { writeFileAtomic } from '@flowscan/runtime/node';
import { type ReportFigure, type ReportSection, type ReportTable, buildReport } from './html.ts';
import { writeFigure } from './render.ts';

const { physicsConfig } = plots;

/** A constrained parameter's pull (θ̂ − θ₀)/Δθ and constraint σ̂/Δθ against its pre-fit value θ₀ ± Δθ. */
export interface NuisancePull {
  name: string;
  prefit: number;
  prefitError: number;
  value: number;
  /** σ̂ from the Hessian; null when the fit has no errors. */
  error: number | null;
  pull: number;
  constraint: number | null;
}

/**
 * Pulls of every constrained, free parameter component: Gaussian constraints (normsys, histosys, lumi, staterror)
 * have θ₀ = auxdata and Δθ = σ; shapesys' Poisson constraint Pois(τ | τγ) has γ₀ = 1 and Δγ = 1/√τ.
 */
export function nuisancePulls(model: hf.HistFactoryModel, fit: hf.HistFitResult): NuisancePull[] {
  const names = model.parameterNames;
  const fixed = model.suggestedFixed();
  return model.parameters.flatMap((set) => {
    const constraint = set.constraint;
    if (!constraint) return [];
    return Array.from({ length: set.size }, (_, i) => {
      const index = set.offset + i;
      if (fixed[index]) return null;
      const [prefit, prefitError] = constraint.type === 'normal' ? [constraint.auxdata[i], constraint.sigmas[i]] : [1, 1 / Math.sqrt(constraint.factors[i])];
      const value = fit.parameters[index];
      const error = fit.errors ? fit.errors[index] : null;
      return { name: names[index], prefit, prefitError, value, error, pull: (value - prefit) / prefitError, constraint: error === null ? null : error / prefitError };
    }).filter((p): p is NuisancePull => p !== null);
  });
}

/**
 * The pulls as points with horizontal bars ±σ̂/Δθ, one row per parameter, over the ±1 (green) and ±2 (yellow)
 * bands a parameter the data do not constrain stays within. Figure data: `datasets.pulls` (parameter, pull, lo, hi).
 */
export function pullsFigure(pulls: NuisancePull[], title: string): plots.VegaLiteSpec {
  const rows = pulls.map((p) => ({ parameter: p.name, pull: p.pull, lo: p.pull - (p.constraint ?? 0), hi: p.pull + (p.constraint ?? 0) }));
  const reach = Math.max(2.5, ...rows.map((r) => Math.max(Math.abs(r.lo), Math.abs(r.hi)) + 0.3));
  const whole = Math.floor(reach);
  const ticks = Array.from({ length: 2 * whole + 1 }, (_, i) => i - whole);
  const x = { type: 'quantitative', title: '(θ̂ − θ₀)/Δθ', scale: { domain: [-reach, reach], nice: false }, axis: { values: ticks, format: 'd' } };
  const y = { field: 'parameter', type: 'nominal', title: null, sort: null, axis: { labelLimit: 260 } };
  const band = (k: number, color: string) => ({ data: { values: [{ lo: -k, hi: k }] }, mark: { type: 'rect', color, opacity: 1 }, encoding: { x: { ...x, field: 'lo' }, x2: { field: 'hi' } } });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, subtitle: 'bars: post-fit error σ̂/Δθ; bands: ±1 and ±2 pre-fit errors' },
    config: physicsConfig(),
    width: 420,
    height: Math.max(60, 22 * rows.length),
    datasets: { pulls: rows },
    layer: [
      band(2, '#FFE000'),
      band(1, '#00CC00'),
      { data: { values: [{ zero: 0 }] }, mark: { type: 'rule', strokeDash: [4, 3], color: '#404040' }, encoding: { x: { ...x, field: 'zero' } } },
      { data: { name: 'pulls' }, mark: { type: 'rule', color: '#000000', strokeWidth: 2 }, encoding: { x: { ...x, field: 'lo' }, x2: { field: 'hi' }, y } },
      { data: { name: 'pulls' }, mark: { type: 'point', filled: true, size: 40, opacity: 1, color: '#000000' }, encoding: { x: { ...x, field: 'pull' }, y } },
    ],
  };
}

const sum = (values: number[]) => values.reduce((s, v) => s + v, 0);

/** Per channel: the observed counts and the samples stacked at `parameters` (a HistFactory channel has no bin edges: bins are numbered). */
export function channelFigures(model: hf.HistFactoryModel, parameters: ArrayLike<number>, data: ArrayLike<number>, fitLabel: string): { channel: string; spec: plots.VegaLiteSpec }[] {
  const bySample = model.expectedBySample(parameters);
  return model.channels.map((channel) => ({
    channel: channel.name,
    spec: plots.stackedHistogram({
      title: `${channel.name}: data and the ${fitLabel}`,
      xTitle: 'bin',
      yTitle: 'Events per bin',
      edges: Array.from({ length: channel.bins + 1 }, (_, b) => b),
      // A histosys shift can take a sample below zero in a bin; a stack cannot show that, so it is drawn empty there.
      // The largest sample at the bottom, small ones (a signal) on top.
      stack: bySample
        .filter((s) => s.channel === channel.name)
        .map((s) => ({ label: s.sample, counts: s.yields.map((v) => Math.max(v, 0)) }))
        .sort((a, b) => sum(b.counts) - sum(a.counts)),
      totalLabel: `${fitLabel}: total`,
      data: { label: 'observed', counts: Array.from(data).slice(channel.offset, channel.offset + channel.bins) },
    }),
  }));
}

export interface HistReportInputs {
  workspace: string;
  model: hf.HistFactoryModel;
  data: Float64Array;
  /** The free fit (with errors) whose samples and pulls are drawn. */
  fit: hf.HistFitResult;
  /** Limits and the CLs scan of their figure (`hist limit`). */
  limits?: { result: hf.UpperLimits; scan: hf.HypotestResult[]; testStatistic: string };
  /** The discovery test (`hist significance`). */
  significance?: hf.HypotestResult;
}

const BAND = ['−2σ', '−1σ', 'median', '+1σ', '+2σ'];

function slug(name: string): string {
  return name.replace(/[^A-Za-z0-9_-]/g, '_');
}

/** Writes `<dir>/figures/*.svg|png` and `<dir>/report.html`; returns the report's path. */
export async function writeHistReport(dir: string, command: 'fit' | 'limit' | 'significance', inputs: HistReportInputs): Promise<string> {
  const { model, fit } = inputs;
  const figDir = join(dir, 'figures');
  const figure = async (name: string, caption: string, spec: plots.VegaLiteSpec): Promise<ReportFigure> => ({ name, caption, ...(await writeFigure(figDir, name, spec)) });
  const sections: ReportSection[] = [];

  if (inputs.limits) {
    const { result, scan, testStatistic } = inputs.limits;
    const spec = plots.brazilBand({
      title: `CLs against ${model.poi}`,
      poiName: model.poi,
      poi: scan.map((r) => r.poiValue),
      observed: scan.map((r) => r.cls),
      expected: scan.map((r) => r.expected),
      level: result.level,
    });
    sections.push({
      heading: 'Upper limits',
      text: `${(1 - result.level) * 100}% CL upper limits on ${model.poi} by the asymptotic CLs method (${testStatistic}).`,
      tables: [{ caption: `Upper limits on ${model.poi}`, columns: ['', 'limit'], rows: [['observed', result.observed ?? Number.NaN], ...BAND.map((b, i) => [`expected ${b}`, result.expected[i] ?? Number.NaN])] }],
      figures: [await figure('cls', `Observed CLs (points) and the expected CLs (dashed) with its ±1σ (green) and ±2σ (yellow) bands at ${scan.length} values of ${model.poi}; the red line is the level ${result.level}, the limits are where the curves cross it.`, spec)],
    });
  }
  if (inputs.significance) {
    const s = inputs.significance;
    const z = (p: number) => hf.normalQuantile(1 - p);
    sections.push({
      heading: 'Discovery significance',
      text: `Test of ${model.poi} = 0 with q0 (${s.calculator}${s.toys ? `, ${s.toys} toys per hypothesis` : ''}): q0 = ${s.q.toPrecision(4)}, best-fit ${model.poi} = ${s.poiHat.toPrecision(4)}.`,
      tables: [{ caption: 'p-value of the background-only hypothesis and its significance Z = Φ⁻¹(1 − p0)', columns: ['', 'p0', 'Z'], rows: [['observed', s.pValue, z(s.pValue)], ...BAND.map((b, i) => [`expected ${b}`, s.expected[i], z(s.expected[i])])] }],
    });
  }

  const fixed = model.suggestedFixed();
  const parameterTable: ReportTable = {
    caption: `Best fit (−log L = ${fit.nll.toPrecision(8)}, ${fit.converged ? 'converged' : 'NOT converged'}); errors from the Hessian`,
    columns: ['parameter', 'value', 'error'],
    rows: model.parameterNames.map((name, i) => [name, fit.parameters[i], fixed[i] ? 'fixed' : (fit.errors?.[i] ?? Number.NaN)]),
  };
  const channels = channelFigures(model, fit.parameters, inputs.data, 'fit');
  const channelFigs: ReportFigure[] = [];
  for (const c of channels) {
    channelFigs.push(await figure(`channel-${slug(c.channel)}`, `Channel ${c.channel}: observed counts (points, errors √n) and the expected counts of each sample at the best fit, stacked; the line is their sum.`, c.spec));
  }
  sections.push({ heading: 'Fit', ...(fit.errorMessage ? { text: `No errors: ${fit.errorMessage}` } : {}), tables: [parameterTable], figures: channelFigs });

  const pulls = nuisancePulls(model, fit);
  if (pulls.length > 0) {
    sections.push({
      heading: 'Nuisance parameters',
      figures: [await figure('pulls', 'Pulls (θ̂ − θ₀)/Δθ of the constrained parameters against their pre-fit values θ₀ ± Δθ, with the constraint σ̂/Δθ as bars: a bar shorter than 1 means the data constrain the parameter beyond its prior.', pullsFigure(pulls, `Pulls of ${pulls.length} nuisance parameters`))],
      tables: [{ caption: 'Pre-fit and post-fit values of the constrained parameters', columns: ['parameter', 'θ₀', 'Δθ', 'θ̂', 'σ̂', 'pull', 'constraint'], rows: pulls.map((p) => [p.name, p.prefit, p.prefitError, p.value, p.error ?? Number.NaN, p.pull, p.constraint ?? Number.NaN]) }],
    });
  }

  const reportPath = join(dir, 'report.html');
  const subtitle = `${inputs.workspace}: measurement '${model.measurement.name}', POI '${model.poi}', channels ${model.channels.map((c) => `${c.name} (${c.bins} bin${c.bins === 1 ? '' : 's'})`).join(', ')}`;
  await writeFileAtomic(reportPath, buildReport({ title: `flowscan hist ${command}`, subtitle, sections }));
  return reportPath;
}
