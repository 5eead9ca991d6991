// Binned 1-D comparisons: data (points with Poisson error bars) against model or flow samples (step
// lines), as in Saito et al. (ISGC 2024) Fig. 2 (M_reco for several (M_pole, Γ) bins) and Fig. 4
// (leading-jet mass for several (m_X, m_Y)).

import { histogram1d, histogramTotal, type Histogram1D } from './binning.ts';
import {
  PALETTE,
  PLOT_HEIGHT,
  PLOT_WIDTH,
  baseSpec,
  checkBins,
  checkRange,
  compactNumber,
  fail,
  insideLegend,
  insideLegendHeight,
  linearDomainWithHeadroom,
  logAxis,
  logDomainWithHeadroom,
  unitOf,
  type DataRow,
  type VegaLiteSpec,
} from './spec.ts';

export type HistogramStyle = 'points' | 'line' | 'filled';
export type HistogramNormalization = 'density' | 'counts';

export interface HistogramSeries {
  label: string;
  values: ArrayLike<number>;
  /** Per-event weights (e.g. MC weights); errors become sqrt(Σw²). */
  weights?: ArrayLike<number>;
  style: HistogramStyle;
  /** CSS colour; by default the first 'points' series is black and the rest take the palette. */
  color?: string;
}

export interface HistogramComparisonOptions {
  title?: string;
  xTitle: string;
  /** Default: "Events / <bin width> <unit>" for counts, "Probability density [1/<unit>]" for density. */
  yTitle?: string;
  range: [number, number];
  bins: number;
  series: HistogramSeries[];
  /** 'counts' (default): Σw per bin. 'density': Σw / (Σw in range · bin width), so each integrates to 1. */
  normalize?: HistogramNormalization;
  logY?: boolean;
  width?: number;
  height?: number;
}

/**
 * Data as points with Poisson (sqrt Σw²) error bars, model or flow samples as step lines or filled
 * steps. Figure data: `datasets.histogram`, rows with role 'bin' (series, index, lo, hi, x, y, yLo,
 * yHi) and role 'step' (series, order, x, y, base) tracing each step line.
 */
export function histogramComparison(options: HistogramComparisonOptions): VegaLiteSpec {
  const figure = 'histogramComparison';
  const range = checkRange(figure, options.range);
  const bins = checkBins(figure, options.bins);
  const normalize = checkNormalization(figure, options.normalize ?? 'counts');
  const series = options.series;
  if (!Array.isArray(series) || series.length === 0) {
    fail(figure, 'series must hold at least one { label, values, style } entry');
  }
  const labels = series.map((s, i) => {
    if (typeof s.label !== 'string' || s.label === '') fail(figure, `series[${i}].label must be a non-empty string`);
    if (!['points', 'line', 'filled'].includes(s.style)) {
      fail(figure, `series[${i}].style must be 'points', 'line' or 'filled', got ${JSON.stringify(s.style)}`);
    }
    return s.label;
  });
  const duplicate = labels.find((label, i) => labels.indexOf(label) !== i);
  if (duplicate !== undefined) fail(figure, `series labels must be unique (they name legend entries), "${duplicate}" appears twice`);

  const width = options.width ?? PLOT_WIDTH;
  const height = options.height ?? PLOT_HEIGHT;
  const logY = options.logY ?? false;
  const colors = defaultColors(series);

  const rows: DataRow[] = [];
  series.forEach((s, i) => {
    const histogram = binSeries(figure, `series[${i}] ("${s.label}")`, s.values, s.weights, range, bins);
    rows.push(...histogramRows(histogram, normalize, s.style === 'points', { series: s.label, style: s.style }));
  });
  const floor = logY ? applyLogFloor(rows) : 0;

  const legendPx = insideLegendHeight(series.length, false);
  const yDomain = yDomainFor(rows, logY, floor, legendPx, height);
  const x = xEncoding(range, options.xTitle);
  const y = yEncoding(yDomain, logY, options.yTitle ?? defaultYTitle(options.xTitle, range, bins, normalize));
  const color = { field: 'series', type: 'nominal', scale: { domain: labels, range: colors } };
  const shape = {
    field: 'series',
    type: 'nominal',
    scale: { domain: labels, range: series.map((s) => LEGEND_SHAPE[s.style]) },
  };

  const spec = baseSpec({ title: options.title, datasets: { histogram: rows } });
  spec.width = width;
  spec.height = height;
  spec.data = { name: 'histogram' };
  spec.layer = [
    ...stepLayers("datum.style === 'filled'", "datum.style === 'filled' || datum.style === 'line'", x, y, color),
    ...pointLayers("datum.style === 'points'", x, y, color),
    legendLayer('datum.index === 0', x, y, { color: { ...color, legend: insideLegend(null) }, shape }),
  ];
  return spec;
}

export interface ThetaGroup {
  /** Legend / panel label of the θ bin, e.g. "M_pole = 91 GeV, Γ = 2.5 GeV". */
  thetaLabel: string;
  /** Training (simulated) events of this θ bin: drawn as points with error bars. */
  reference: ArrayLike<number>;
  /** Flow samples at this θ: drawn as a step line. */
  model: ArrayLike<number>;
}

export interface DistributionsByThetaOptions {
  title?: string;
  xTitle: string;
  yTitle?: string;
  range: [number, number];
  bins: number;
  groups: ThetaGroup[];
  /** Default 'density': groups of different size compare by shape, as in the paper's Fig. 2 and 4. */
  normalize?: HistogramNormalization;
  /** Legend title naming θ, e.g. "(M_pole, Γ)". */
  thetaTitle?: string;
  referenceLabel?: string;
  modelLabel?: string;
  /** One panel per group instead of overlaying; default: facet when there are more than 6 groups. */
  facet?: boolean;
  /** Panels per row when faceted (default 3). */
  columns?: number;
  /** Plot-area size in pixels; per panel when faceted (default 560×380, panels 250×170). */
  width?: number;
  height?: number;
}

const MAX_OVERLAID_GROUPS = 6;

/**
 * Training distributions (points) against flow samples (lines), one colour per θ bin; faceted into
 * one panel per θ bin when there are many. Figure data: `datasets.histogram` with role 'bin' rows
 * (group, kind 'reference' | 'model', index, lo, hi, x, y, yLo, yHi) and role 'step' rows.
 */
export function distributionsByTheta(options: DistributionsByThetaOptions): VegaLiteSpec {
  const figure = 'distributionsByTheta';
  const range = checkRange(figure, options.range);
  const bins = checkBins(figure, options.bins);
  const normalize = checkNormalization(figure, options.normalize ?? 'density');
  const groups = options.groups;
  if (!Array.isArray(groups) || groups.length === 0) {
    fail(figure, 'groups must hold at least one { thetaLabel, reference, model } entry');
  }
  const labels = groups.map((g, i) => {
    if (typeof g.thetaLabel !== 'string' || g.thetaLabel === '') fail(figure, `groups[${i}].thetaLabel must be a non-empty string`);
    return g.thetaLabel;
  });
  const duplicate = labels.find((label, i) => labels.indexOf(label) !== i);
  if (duplicate !== undefined) fail(figure, `groups need distinct thetaLabel values, "${duplicate}" appears twice`);
  const referenceLabel = options.referenceLabel ?? 'training events';
  const modelLabel = options.modelLabel ?? 'flow samples';
  const facet = options.facet ?? groups.length > MAX_OVERLAID_GROUPS;

  const rows: DataRow[] = [];
  groups.forEach((g, i) => {
    const reference = binSeries(figure, `groups[${i}].reference ("${g.thetaLabel}")`, g.reference, undefined, range, bins);
    const model = binSeries(figure, `groups[${i}].model ("${g.thetaLabel}")`, g.model, undefined, range, bins);
    rows.push(...histogramRows(reference, normalize, true, { group: g.thetaLabel, kind: 'reference' }));
    rows.push(...histogramRows(model, normalize, false, { group: g.thetaLabel, kind: 'model' }));
  });
  const yTitle = options.yTitle ?? defaultYTitle(options.xTitle, range, bins, normalize);
  const x = xEncoding(range, options.xTitle);
  const kindShape = { field: 'kind', type: 'nominal', scale: { domain: ['reference', 'model'], range: ['circle', 'stroke'] } };
  const kindLegendLabels = `datum.value === 'reference' ? ${JSON.stringify(referenceLabel)} : ${JSON.stringify(modelLabel)}`;
  const spec = baseSpec({ title: options.title, datasets: { histogram: rows } });
  spec.data = { name: 'histogram' };

  if (facet) {
    // One panel per θ bin: colour now tells reference from model. The y scale is shared, so panels
    // compare directly and only the left column carries a y axis.
    const y = { field: 'y', type: 'quantitative', title: yTitle, scale: { zero: true } };
    const color = { field: 'kind', type: 'nominal', scale: { domain: ['reference', 'model'], range: ['black', PALETTE[0]] } };
    const kindLegend = { title: null, orient: 'top', direction: 'horizontal', labelExpr: kindLegendLabels };
    spec.facet = { field: 'group', type: 'nominal', sort: labels, title: options.thetaTitle ?? null };
    spec.columns = options.columns ?? 3;
    spec.spec = {
      width: options.width ?? 250,
      height: options.height ?? 170,
      layer: [
        ...stepLayers('false', "datum.kind === 'model'", x, y, color),
        ...pointLayers("datum.kind === 'reference'", x, y, color),
        legendLayer("datum.index === 0 && datum.group === " + JSON.stringify(labels[0]), x, y, {
          color: { ...color, legend: kindLegend },
          shape: { ...kindShape, legend: kindLegend },
        }),
      ],
    };
    return spec;
  }

  const width = options.width ?? PLOT_WIDTH;
  const height = options.height ?? PLOT_HEIGHT;
  const colors = labels.map((_, i) => PALETTE[i % PALETTE.length]);
  // Vega sets the two top-right legends side by side, so the taller one sets the headroom.
  const legendPx = Math.max(insideLegendHeight(groups.length, options.thetaTitle !== undefined), insideLegendHeight(2, false));
  const y = yEncoding(yDomainFor(rows, false, 0, legendPx, height), false, yTitle);
  const color = { field: 'group', type: 'nominal', scale: { domain: labels, range: colors } };
  spec.width = width;
  spec.height = height;
  spec.layer = [
    ...stepLayers('false', "datum.kind === 'model'", x, y, color),
    ...pointLayers("datum.kind === 'reference'", x, y, color),
    legendLayer("datum.index === 0 && datum.kind === 'reference'", x, y, {
      color: { ...color, legend: { ...insideLegend(options.thetaTitle ?? null), symbolType: 'square' } },
    }),
    legendLayer("datum.index === 0 && datum.group === " + JSON.stringify(labels[0]), x, y, {
      shape: { ...kindShape, legend: { ...insideLegend(null), labelExpr: kindLegendLabels } },
    }, { color: 'black', stroke: 'black', strokeWidth: 2 }),
  ];
  return spec;
}

// ---- shared building blocks ----

const LEGEND_SHAPE: Record<HistogramStyle, string> = { points: 'circle', line: 'stroke', filled: 'square' };

function checkNormalization(figure: string, normalize: string): HistogramNormalization {
  if (normalize !== 'density' && normalize !== 'counts') {
    fail(figure, `normalize must be 'density' or 'counts', got ${JSON.stringify(normalize)}`);
  }
  return normalize;
}

function binSeries(
  figure: string,
  what: string,
  values: ArrayLike<number>,
  weights: ArrayLike<number> | undefined,
  range: [number, number],
  bins: number,
): Histogram1D {
  if (!values || typeof values.length !== 'number') fail(figure, `${what}: values must be an array or typed array of numbers`);
  if (weights && weights.length !== values.length) {
    fail(figure, `${what}: weights has ${weights.length} entries but values has ${values.length}; pass one weight per event`);
  }
  return histogram1d(values, { range, bins, weights });
}

function defaultColors(series: HistogramSeries[]): string[] {
  let nextPalette = 0;
  let firstPoints = true;
  return series.map((s) => {
    if (s.color) return s.color;
    if (s.style === 'points' && firstPoints) {
      firstPoints = false;
      return 'black';
    }
    const color = PALETTE[nextPalette % PALETTE.length];
    nextPalette += 1;
    return color;
  });
}

/**
 * Bin rows (centre, height, Poisson error band) and step rows (n + 1 vertices for a 'step-after'
 * line: the left edge of each bin, then the right edge of the last) of one histogram.
 */
function histogramRows(
  histogram: Histogram1D,
  normalize: HistogramNormalization,
  withErrors: boolean,
  keys: Record<string, string>,
): DataRow[] {
  const { edges, sumW, sumW2 } = histogram;
  const bins = sumW.length;
  const total = histogramTotal(histogram);
  const rows: DataRow[] = [];
  const steps: DataRow[] = [];
  for (let i = 0; i < bins; i += 1) {
    const binWidth = edges[i + 1] - edges[i];
    const scale = normalize === 'density' ? (total > 0 ? 1 / (total * binWidth) : 0) : 1;
    const y = sumW[i] * scale;
    const error = Math.sqrt(sumW2[i]) * scale;
    rows.push({
      ...keys,
      role: 'bin',
      index: i,
      lo: edges[i],
      hi: edges[i + 1],
      x: 0.5 * (edges[i] + edges[i + 1]),
      y,
      yLo: withErrors ? y - error : y,
      yHi: withErrors ? y + error : y,
    });
    steps.push({ ...keys, role: 'step', order: i, x: edges[i], y, base: 0 });
  }
  steps.push({ ...keys, role: 'step', order: bins, x: edges[bins], y: steps[bins - 1].y, base: 0 });
  return [...rows, ...steps];
}

/**
 * On a log axis, empty bins and error bars reaching zero are drawn down to a floor one factor of 3
 * below the smallest positive entry; points of empty bins are dropped (y = null).
 */
function applyLogFloor(rows: DataRow[]): number {
  let minPositive = Infinity;
  for (const row of rows) {
    const y = row.y as number;
    if (y > 0 && y < minPositive) minPositive = y;
  }
  const floor = Number.isFinite(minPositive) ? minPositive / 3 : 1e-3;
  for (const row of rows) {
    if (row.role === 'step') {
      row.y = Math.max(row.y as number, floor);
      row.base = floor;
    } else if ((row.y as number) <= 0) {
      row.y = null;
      row.yLo = null;
      row.yHi = null;
    } else {
      row.yLo = Math.max(row.yLo as number, floor);
    }
  }
  return floor;
}

function yDomainFor(rows: DataRow[], logY: boolean, floor: number, legendPx: number, height: number): [number, number] {
  let max = 0;
  for (const row of rows) {
    const top = row.role === 'bin' ? row.yHi : row.y;
    if (typeof top === 'number' && top > max) max = top;
  }
  return logY ? logDomainWithHeadroom(floor, max, legendPx, height) : linearDomainWithHeadroom(max, legendPx, height);
}

function defaultYTitle(xTitle: string, range: [number, number], bins: number, normalize: HistogramNormalization): string {
  const unit = unitOf(xTitle);
  if (normalize === 'density') return unit ? `Probability density [1/${unit}]` : 'Probability density';
  const binWidth = compactNumber((range[1] - range[0]) / bins);
  return unit ? `Events / ${binWidth} ${unit}` : `Events / ${binWidth}`;
}

function xEncoding(range: [number, number], title: string): Record<string, unknown> {
  return { field: 'x', type: 'quantitative', title, scale: { domain: range, nice: false, zero: false } };
}

function yEncoding(domain: [number, number], logY: boolean, title: string): Record<string, unknown> {
  return {
    field: 'y',
    type: 'quantitative',
    title,
    scale: logY ? { type: 'log', domain, nice: false } : { domain, nice: false, zero: true },
    ...(logY ? { axis: logAxis(domain[0], domain[1]) } : {}),
  };
}

function stepLayers(
  filledFilter: string,
  lineFilter: string,
  x: Record<string, unknown>,
  y: Record<string, unknown>,
  color: Record<string, unknown>,
): Record<string, unknown>[] {
  const stepFilter = (condition: string) => [{ filter: `datum.role === 'step' && (${condition})` }];
  return [
    {
      transform: stepFilter(filledFilter),
      mark: { type: 'area', interpolate: 'step-after', fillOpacity: 0.3, clip: true },
      encoding: { x, y: { ...y, stack: null }, y2: { field: 'base' }, color },
    },
    {
      transform: stepFilter(lineFilter),
      mark: { type: 'line', interpolate: 'step-after', strokeWidth: 2, clip: true },
      encoding: { x, y, color, order: { field: 'order' } },
    },
  ];
}

function pointLayers(
  filter: string,
  x: Record<string, unknown>,
  y: Record<string, unknown>,
  color: Record<string, unknown>,
): Record<string, unknown>[] {
  // Empty bins get no point: a marker at zero with a zero-length error bar only clutters the axis.
  const transform = [{ filter: `datum.role === 'bin' && datum.y > 0 && (${filter})` }];
  return [
    {
      transform,
      mark: { type: 'rule', strokeWidth: 1.5, clip: true },
      encoding: { x, y: { ...y, field: 'yLo' }, y2: { field: 'yHi' }, color },
    },
    {
      transform,
      mark: { type: 'point', filled: true, size: 28, opacity: 1, clip: true },
      encoding: { x, y, color },
    },
  ];
}

/**
 * Invisible points (one per legend entry) that carry the legend, so its symbols say how each entry
 * is drawn (circle for points, stroke for lines, square for filled) whatever layers exist.
 */
function legendLayer(
  filter: string,
  x: Record<string, unknown>,
  y: Record<string, unknown>,
  channels: Record<string, unknown>,
  markStyle: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    transform: [{ filter: `datum.role === 'bin' && (${filter})` }],
    mark: { type: 'point', filled: true, opacity: 0, ...markStyle },
    encoding: { x, y: { ...y, field: 'yHi' }, ...channels },
  };
}
