// CLs against the parameter of interest (the "Brazil band"): the observed CLs, the expected median dashed, the
// ±1σ (green) and ±2σ (yellow) expected bands, and the CLs level as a red line, on a log scale in CLs.
import { PLOT_HEIGHT, PLOT_WIDTH, baseSpec, checkFinite, fail, insideLegend, logAxis, type DataRow, type VegaLiteSpec } from './spec.ts';

export interface BrazilBandOptions {
  title?: string;
  /** Name of the parameter of interest for the x axis (default μ). */
  poiName?: string;
  poi: number[];
  observed: number[];
  /** Expected CLs per point: [−2σ, −1σ, median, +1σ, +2σ]. */
  expected: number[][];
  /** CLs level drawn as a line (default 0.05). */
  level?: number;
  width?: number;
  height?: number;
}

/** Figure data: `datasets.cls` (poi, observed, m2, m1, median, p1, p2) and `datasets.level` (level). */
export function brazilBand(options: BrazilBandOptions): VegaLiteSpec {
  const figure = 'brazilBand';
  const n = options.poi.length;
  if (n < 2) fail(figure, `needs at least two points, got ${n}`);
  if (options.observed.length !== n || options.expected.length !== n) {
    fail(figure, `poi, observed and expected must have one entry per point; got ${n}, ${options.observed.length} and ${options.expected.length}`);
  }
  const rows: DataRow[] = options.poi.map((poi, i) => {
    checkFinite(figure, `poi[${i}]`, poi);
    const band = options.expected[i];
    if (band.length !== 5) fail(figure, `expected[${i}] must hold the 5 values −2σ, −1σ, median, +1σ, +2σ; got ${band.length}`);
    return { poi, observed: options.observed[i], m2: band[0], m1: band[1], median: band[2], p1: band[3], p2: band[4] };
  });
  const level = options.level ?? 0.05;
  const positive = rows.flatMap((r) => [r.observed, r.m2].map(Number)).filter((v) => v > 0);
  const lo = 10 ** Math.max(Math.floor(Math.log10(Math.min(level / 10, ...positive))), -8);
  const spec = baseSpec({ title: options.title, datasets: { cls: rows, level: [{ level }] } });
  spec.width = options.width ?? PLOT_WIDTH;
  spec.height = options.height ?? PLOT_HEIGHT;
  const x = { field: 'poi', type: 'quantitative', title: options.poiName ?? 'μ', scale: { zero: false, nice: false } };
  const y = { type: 'quantitative', title: 'CLs', scale: { type: 'log', domain: [lo, 1], clamp: true }, axis: logAxis(lo, 1) };
  spec.layer = [
    { data: { name: 'cls' }, mark: { type: 'area', color: '#FFE000' }, encoding: { x, y: { ...y, field: 'm2' }, y2: { field: 'p2' } } },
    { data: { name: 'cls' }, mark: { type: 'area', color: '#00CC00' }, encoding: { x, y: { ...y, field: 'm1' }, y2: { field: 'p1' } } },
    { data: { name: 'cls' }, mark: { type: 'line', color: '#000000', strokeDash: [6, 4] }, encoding: { x, y: { ...y, field: 'median' } } },
    { data: { name: 'cls' }, mark: { type: 'line', color: '#000000', strokeWidth: 2, point: { filled: true, size: 25, color: '#000000' } }, encoding: { x, y: { ...y, field: 'observed' } } },
    { data: { name: 'level' }, mark: { type: 'rule', color: '#D00000' }, encoding: { y: { ...y, field: 'level' } } },
    legendLayer(level),
  ];
  return spec;
}

/**
 * Invisible marks that carry the legend: the observed and the expected median as lines (the latter dashed), the
 * bands as squares, the level as a red line. Bottom left, where CLs curves falling from 1 at μ = 0 leave room.
 */
function legendLayer(level: number): Record<string, unknown> {
  const entries = ['observed', 'expected (median)', 'expected ± 1σ', 'expected ± 2σ', `CLs = ${level}`];
  const scale = (range: unknown[]) => ({ domain: entries, range });
  return {
    data: { values: entries.map((entry) => ({ entry })) },
    mark: { type: 'point', filled: true, opacity: 0, strokeWidth: 2 },
    encoding: {
      color: { field: 'entry', type: 'nominal', scale: scale(['#000000', '#000000', '#00CC00', '#FFE000', '#D00000']), legend: { ...insideLegend(null), orient: 'bottom-left' } },
      stroke: { field: 'entry', type: 'nominal', scale: scale(['#000000', '#000000', '#00CC00', '#FFE000', '#D00000']) },
      shape: { field: 'entry', type: 'nominal', scale: scale(['stroke', 'stroke', 'square', 'square', 'stroke']) },
      strokeDash: { field: 'entry', type: 'nominal', scale: scale([[1, 0], [6, 4], [1, 0], [1, 0], [1, 0]]) },
    },
  };
}
