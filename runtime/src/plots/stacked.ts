// Pre-binned counts as a stacked histogram: components (fitted HistFactory samples, generated mixture components)
// filled on top of one another, their total as a line with its uncertainty as error bars, and observed counts as
// points with Poisson errors √n. For contents that exist only as bins: a HistFactory channel (pyhf workspaces
// carry no bin edges, so its x axis is the bin index) or histograms filled while events were generated.

import {
  PALETTE,
  PLOT_HEIGHT,
  PLOT_WIDTH,
  baseSpec,
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

export interface StackedComponent {
  label: string;
  /** Expected (or Σw) counts per bin. */
  counts: ArrayLike<number>;
}

export interface StackedHistogramOptions {
  title?: string;
  subtitle?: string;
  xTitle: string;
  /** Default: "Events / <bin width> <unit>" for equal bins, "Events per bin" otherwise. */
  yTitle?: string;
  /** bins + 1 increasing bin edges. */
  edges: ArrayLike<number>;
  /** Stacked from the bottom up in this order. */
  stack: StackedComponent[];
  /** Label of the stack's total line (default "total"). */
  totalLabel?: string;
  /** Uncertainty of the total per bin (e.g. the MC-statistical √Σw²), drawn as error bars on the total. */
  totalErrors?: ArrayLike<number>;
  /** Observed counts, drawn as points with errors √n. */
  data?: { label?: string; counts: ArrayLike<number> };
  /** Default: when the filled bins span more than two decades. */
  logY?: boolean;
  width?: number;
  height?: number;
}

/** Above this ratio of the largest to the smallest filled bin the y axis is logarithmic by default. */
const LOG_Y_RATIO = 100;
const DATA_COLOR = '#000000';
/** The total in vermillion; components in the palette's other colours. */
const TOTAL_COLOR = PALETTE[1];
const COMPONENT_COLORS = [PALETTE[0], PALETTE[2], PALETTE[5], PALETTE[4], PALETTE[3]];

/**
 * Figure data: `datasets.stack` (series, order, x, lower, upper: the vertices of each component's band, a
 * 'step-after' outline with the last bin's right edge repeated) and `datasets.bins` (series, index, lo, hi, x, y,
 * yLo, yHi) for the total and the data.
 */
export function stackedHistogram(options: StackedHistogramOptions): VegaLiteSpec {
  const figure = 'stackedHistogram';
  const edges = Array.from(options.edges ?? []);
  const bins = edges.length - 1;
  if (bins < 1) fail(figure, `edges must hold at least 2 bin edges, got ${edges.length}`);
  edges.forEach((e, i) => {
    if (!Number.isFinite(e) || (i > 0 && !(e > edges[i - 1]))) fail(figure, `edges must be finite and increasing, but edges[${i}] = ${e} follows ${edges[i - 1]}`);
  });
  if (!Array.isArray(options.stack) || options.stack.length === 0) fail(figure, 'stack must hold at least one { label, counts } component');
  const checkCounts = (what: string, counts: ArrayLike<number>): number[] => {
    if (!counts || counts.length !== bins) fail(figure, `${what} has ${counts?.length} entries for ${bins} bins; pass one count per bin`);
    const values = Array.from(counts);
    const bad = values.findIndex((v) => !(Number.isFinite(v) && v >= 0));
    if (bad >= 0) fail(figure, `${what}[${bad}] = ${values[bad]}; counts must be finite and ≥ 0`);
    return values;
  };
  const totalLabel = options.totalLabel ?? 'total';
  const dataLabel = options.data?.label ?? 'data';
  const labels = [...options.stack.map((c) => c.label), totalLabel, ...(options.data ? [dataLabel] : [])];
  const duplicate = labels.find((l, i) => labels.indexOf(l) !== i);
  if (duplicate !== undefined) fail(figure, `series labels must be unique (they name legend entries), "${duplicate}" appears twice`);

  const stacked = options.stack.map((c, k) => ({ label: c.label, counts: checkCounts(`stack[${k}] ("${c.label}").counts`, c.counts) }));
  const total = new Array<number>(bins).fill(0);
  const bands = stacked.map((c) => {
    const lower = [...total];
    c.counts.forEach((v, b) => (total[b] += v));
    return { label: c.label, lower, upper: [...total] };
  });
  const totalErrors = options.totalErrors ? checkCounts('totalErrors', options.totalErrors) : new Array<number>(bins).fill(0);
  const data = options.data ? checkCounts('data.counts', options.data.counts) : null;

  const filled = [...total, ...(data ?? [])].filter((v) => v > 0);
  const logY = options.logY ?? (filled.length > 0 && Math.max(...filled) / Math.min(...filled) > LOG_Y_RATIO);
  // On a log axis the bottom band starts from a floor a factor 3 below the smallest filled bin, not from 0.
  const floor = logY ? (filled.length > 0 ? Math.min(...filled) / 3 : 0.1) : 0;

  const center = (b: number) => 0.5 * (edges[b] + edges[b + 1]);
  const binRow = (series: string, b: number, y: number, error: number): DataRow => ({
    series,
    index: b,
    lo: edges[b],
    hi: edges[b + 1],
    x: center(b),
    y,
    yLo: Math.max(y - error, floor),
    yHi: y + error,
  });
  const stackRows: DataRow[] = bands.flatMap((band) =>
    edges.map((x, i) => {
      const b = Math.min(i, bins - 1);
      return { series: band.label, order: i, x, lower: Math.max(band.lower[b], floor), upper: Math.max(band.upper[b], floor) };
    }),
  );
  const binRows: DataRow[] = [
    ...total.map((y, b) => binRow(totalLabel, b, y, totalErrors[b])),
    ...(data ? data.map((n, b) => binRow(dataLabel, b, n, Math.sqrt(n))) : []),
  ];

  const width = options.width ?? PLOT_WIDTH;
  const height = options.height ?? PLOT_HEIGHT;
  const top = Math.max(...binRows.map((r) => r.yHi as number), 0);
  const legendPx = insideLegendHeight(labels.length, false);
  const domain = logY ? logDomainWithHeadroom(floor, top, legendPx, height) : linearDomainWithHeadroom(top, legendPx, height);
  // Whole-number edges (a channel's bin indices): whole-number ticks, not 0.4, 0.8, ….
  const wholeEdges = edges.every(Number.isInteger);
  const x = {
    field: 'x',
    type: 'quantitative',
    title: options.xTitle,
    scale: { domain: [edges[0], edges[bins]], nice: false, zero: false },
    ...(wholeEdges ? { axis: { tickMinStep: 1, format: 'd' } } : {}),
  };
  const yScale = logY ? { type: 'log', domain, nice: false } : { domain, nice: false, zero: true };
  const y = { type: 'quantitative', title: options.yTitle ?? defaultYTitle(options.xTitle, edges), scale: yScale, ...(logY ? { axis: logAxis(domain[0], domain[1]) } : {}) };
  const colors = [...stacked.map((_, k) => COMPONENT_COLORS[k % COMPONENT_COLORS.length]), TOTAL_COLOR, ...(data ? [DATA_COLOR] : [])];
  const shapes = [...stacked.map(() => 'square'), 'stroke', ...(data ? ['circle'] : [])];
  const color = { field: 'series', type: 'nominal', scale: { domain: labels, range: colors } };
  const only = (series: string) => [{ filter: `datum.series === ${JSON.stringify(series)}` }];

  const spec = baseSpec({ title: options.title, subtitle: options.subtitle, datasets: { stack: stackRows, bins: binRows } });
  spec.width = width;
  spec.height = height;
  spec.layer = [
    {
      data: { name: 'stack' },
      mark: { type: 'area', interpolate: 'step-after', fillOpacity: 0.55, clip: true },
      encoding: { x, y: { ...y, field: 'upper', stack: null }, y2: { field: 'lower' }, color },
    },
    {
      data: { name: 'stack' },
      transform: only(bands[bands.length - 1].label),
      mark: { type: 'line', interpolate: 'step-after', strokeWidth: 2, color: TOTAL_COLOR, clip: true },
      encoding: { x, y: { ...y, field: 'upper' }, order: { field: 'order' } },
    },
    ...(options.totalErrors
      ? [{ data: { name: 'bins' }, transform: only(totalLabel), mark: { type: 'rule', color: TOTAL_COLOR, strokeWidth: 1.5, clip: true }, encoding: { x, y: { ...y, field: 'yLo' }, y2: { field: 'yHi' } } }]
      : []),
    ...(data
      ? [
          { data: { name: 'bins' }, transform: [{ filter: `datum.series === ${JSON.stringify(dataLabel)} && datum.y > 0` }], mark: { type: 'rule', color: DATA_COLOR, strokeWidth: 1.5, clip: true }, encoding: { x, y: { ...y, field: 'yLo' }, y2: { field: 'yHi' } } },
          { data: { name: 'bins' }, transform: [{ filter: `datum.series === ${JSON.stringify(dataLabel)} && datum.y > 0` }], mark: { type: 'point', filled: true, size: 30, opacity: 1, color: DATA_COLOR, clip: true }, encoding: { x, y: { ...y, field: 'y' } } },
        ]
      : []),
    // Invisible marks that carry the legend: a square for each component, a stroke for the total, a dot for data.
    {
      data: { values: labels.map((series) => ({ series })) },
      mark: { type: 'point', filled: true, opacity: 0, strokeWidth: 2 },
      encoding: {
        color: { ...color, legend: insideLegend(null) },
        // The same scale as colour, so the two merge into one legend whose stroke symbol (the total) is drawn.
        stroke: color,
        shape: { field: 'series', type: 'nominal', scale: { domain: labels, range: shapes } },
      },
    },
  ];
  return spec;
}

function defaultYTitle(xTitle: string, edges: number[]): string {
  const width = edges[1] - edges[0];
  const equal = edges.every((e, i) => i === 0 || Math.abs(e - edges[i - 1] - width) <= 1e-9 * Math.abs(width));
  if (!equal) return 'Events per bin';
  const unit = unitOf(xTitle);
  return unit ? `Events / ${compactNumber(width)} ${unit}` : `Events / ${compactNumber(width)}`;
}
