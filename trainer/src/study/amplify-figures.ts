// The amplification study's summary figures (Gavranovič & Kerševan Figs. 3–5 and the template deviation): one
// or more series of points against a quantity spanning decades (luminosity, generated events), optionally with
// ±1σ error bars and a horizontal reference line, as Vega-Lite specs in the project's physics-plot look.
import { plots } from '@flowscan/runtime';

export interface SeriesPoint {
  x: number;
  y: number;
  /** Symmetric ±1σ error bar (omitted or NaN: none). */
  error?: number;
}

export interface PointSeries {
  label: string;
  points: SeriesPoint[];
}

export interface SeriesFigureOptions {
  title: string;
  xTitle: string;
  yTitle: string;
  series: PointSeries[];
  logY?: boolean;
  /** A horizontal line (e.g. μ = 1 or Δμ_UL = 0). */
  rule?: number;
  /**
   * Multiplicative x offset between series (e.g. 1.04), so error bars of series at the same x do not hide each
   * other; the data keep the true x in the `x` field.
   */
  dodge?: number;
}

/** Points joined by lines per series on a log x axis, the legend outside the frame (never over a point). Figure data: `datasets.points` (series, x, xShown, y, yLo, yHi). */
export function seriesFigure(o: SeriesFigureOptions): plots.VegaLiteSpec {
  if (o.series.length === 0) throw new Error(`seriesFigure "${o.title}": no series to draw`);
  const dodge = o.dodge ?? 1;
  const rows = o.series.flatMap((s, k) =>
    s.points.map((p) => {
      if (!(Number.isFinite(p.x) && p.x > 0)) throw new Error(`seriesFigure "${o.title}": series "${s.label}" has x = ${p.x}; the log axis needs x > 0`);
      const error = p.error !== undefined && Number.isFinite(p.error) ? p.error : null;
      return {
        series: s.label,
        x: p.x,
        xShown: p.x * dodge ** (k - (o.series.length - 1) / 2),
        y: Number.isFinite(p.y) ? p.y : null,
        yLo: error === null ? null : p.y - error,
        yHi: error === null ? null : p.y + error,
      };
    }),
  );
  const x = { field: 'xShown', type: 'quantitative', title: o.xTitle, scale: { type: 'log', nice: false, padding: 12 } };
  const yScale = o.logY ? { type: 'log', nice: false, padding: 8 } : { zero: false, nice: true, padding: 8 };
  const y = { field: 'y', type: 'quantitative', title: o.yTitle, scale: yScale };
  const color = { field: 'series', type: 'nominal', title: null, sort: o.series.map((s) => s.label), scale: { range: plots.PALETTE }, legend: { orient: 'right' } };
  const layer: Record<string, unknown>[] = [
    { data: { name: 'points' }, mark: { type: 'line', strokeWidth: 1.5, point: { filled: true, size: 36 } }, encoding: { x, y, color } },
    {
      data: { name: 'points' },
      transform: [{ filter: 'datum.yLo !== null' }],
      mark: { type: 'rule', strokeWidth: 1.5 },
      encoding: { x, y: { ...y, field: 'yLo' }, y2: { field: 'yHi' }, color },
    },
  ];
  const datasets: Record<string, plots.DataRow[]> = { points: rows };
  if (o.rule !== undefined) {
    datasets.rule = [{ y: o.rule }];
    layer.unshift({ data: { name: 'rule' }, mark: { type: 'rule', color: '#777777', strokeDash: [5, 4] }, encoding: { y } });
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    datasets,
    config: plots.physicsConfig(),
    title: o.title,
    width: 560,
    height: 380,
    layer,
  };
}
