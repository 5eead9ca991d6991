// A generated sample against a reference, with a ratio panel below (the validation figures of MC amplification,
// Gavranovič & Kerševan, Fig. 1): upper panel the normalised histograms (reference as points with error bars,
// generated as a step line), lower panel generated/reference per bin with the combined statistical error.
import { PALETTE, PLOT_WIDTH, baseSpec, checkIncreasing, fail, type DataRow, type VegaLiteSpec } from './spec.ts';

export interface RatioSeries {
  label: string;
  /** Σw and Σw² per bin. */
  sumw: readonly number[];
  sumw2: readonly number[];
}

export interface RatioComparisonOptions {
  title?: string;
  xTitle: string;
  /** Bin edges, increasing (bins + 1 values). */
  edges: readonly number[];
  reference: RatioSeries;
  generated: RatioSeries;
  width?: number;
  /** Height of the upper panel; the ratio panel is a third of it. */
  height?: number;
}

/**
 * Both histograms are normalised to unit area (a density per unit of x), so samples of different size compare by
 * shape. Ratio r = g/ref with σ_r = r·sqrt(σ²_g/g² + σ²_ref/ref²); bins empty in either sample get no ratio point.
 * Figure data: `datasets.bins` with one row per sample and bin (series, lo, hi, x, y, yLo, yHi; the generated
 * series has one more row closing its step line) and
 * `datasets.ratio` (x, lo, hi, ratio, ratioLo, ratioHi).
 */
export function ratioComparison(options: RatioComparisonOptions): VegaLiteSpec {
  const figure = 'ratioComparison';
  checkIncreasing(figure, 'edges', options.edges, 2);
  const bins = options.edges.length - 1;
  for (const s of [options.reference, options.generated]) {
    if (s.sumw.length !== bins || s.sumw2.length !== bins) fail(figure, `series "${s.label}" has ${s.sumw.length} bins (Σw²: ${s.sumw2.length}), the edges make ${bins}`);
  }
  if (options.reference.label === options.generated.label) fail(figure, `the two series need different labels, both are "${options.reference.label}"`);
  const edges = options.edges;
  const density = (s: RatioSeries): { y: number[]; err: number[] } => {
    const totalW = s.sumw.reduce((a, b) => a + b, 0);
    if (!(totalW > 0)) fail(figure, `series "${s.label}" is empty in [${edges[0]}, ${edges[bins]}]`);
    const width = (b: number): number => edges[b + 1] - edges[b];
    return { y: s.sumw.map((w, b) => w / totalW / width(b)), err: s.sumw2.map((w2, b) => Math.sqrt(w2) / totalW / width(b)) };
  };
  const ref = density(options.reference);
  const gen = density(options.generated);
  const rows: DataRow[] = [];
  const ratio: DataRow[] = [];
  for (let b = 0; b < bins; b++) {
    const common = { lo: edges[b], hi: edges[b + 1], x: (edges[b] + edges[b + 1]) / 2 };
    rows.push({ series: options.reference.label, ...common, y: ref.y[b], yLo: ref.y[b] - ref.err[b], yHi: ref.y[b] + ref.err[b] });
    rows.push({ series: options.generated.label, ...common, y: gen.y[b], yLo: gen.y[b] - gen.err[b], yHi: gen.y[b] + gen.err[b] });
    if (ref.y[b] > 0 && gen.y[b] > 0) {
      const r = gen.y[b] / ref.y[b];
      const sigma = r * Math.hypot(gen.err[b] / gen.y[b], ref.err[b] / ref.y[b]);
      ratio.push({ ...common, ratio: r, ratioLo: r - sigma, ratioHi: r + sigma });
    }
  }
  // A step line drawn 'step-after' from each bin's lower edge needs one more point to close the last bin.
  rows.push({ series: options.generated.label, lo: edges[bins], hi: edges[bins], x: edges[bins], y: gen.y[bins - 1], yLo: null, yHi: null });
  const width = options.width ?? PLOT_WIDTH;
  const height = options.height ?? 300;
  const xScale = { domain: [edges[0], edges[bins]], nice: false, zero: false };
  const labels = [options.reference.label, options.generated.label];
  const color = { field: 'series', type: 'nominal', scale: { domain: labels, range: ['black', PALETTE[0]] }, legend: { title: null, orient: 'top-right' } };
  const spec = baseSpec({ title: options.title, datasets: { bins: rows, ratio } });
  spec.vconcat = [
    {
      width,
      height,
      data: { name: 'bins' },
      layer: [
        {
          transform: [{ filter: `datum.series === ${JSON.stringify(options.generated.label)}` }],
          mark: { type: 'line', interpolate: 'step-after' },
          encoding: { x: { field: 'lo', type: 'quantitative', scale: xScale, axis: { title: null, labels: false } }, y: { field: 'y', type: 'quantitative', title: `Probability density [1/unit of ${options.xTitle}]` }, color },
        },
        {
          transform: [{ filter: `datum.series === ${JSON.stringify(options.reference.label)}` }],
          mark: { type: 'rule' },
          encoding: { x: { field: 'x', type: 'quantitative', scale: xScale }, y: { field: 'yLo', type: 'quantitative' }, y2: { field: 'yHi' }, color },
        },
        {
          transform: [{ filter: `datum.series === ${JSON.stringify(options.reference.label)}` }],
          mark: { type: 'point', filled: true, size: 20 },
          encoding: { x: { field: 'x', type: 'quantitative', scale: xScale }, y: { field: 'y', type: 'quantitative' }, color },
        },
      ],
    },
    {
      width,
      height: Math.round(height / 3),
      data: { name: 'ratio' },
      layer: [
        { mark: { type: 'rule', strokeDash: [4, 3], color: 'gray' }, encoding: { y: { datum: 1, type: 'quantitative' } } },
        {
          mark: { type: 'rule', color: PALETTE[0] },
          encoding: { x: { field: 'x', type: 'quantitative', scale: xScale, title: options.xTitle }, y: { field: 'ratioLo', type: 'quantitative', title: `${options.generated.label} / ${options.reference.label}`, scale: { zero: false } }, y2: { field: 'ratioHi' } },
        },
        { mark: { type: 'point', filled: true, size: 16, color: PALETTE[0] }, encoding: { x: { field: 'x', type: 'quantitative', scale: xScale }, y: { field: 'ratio', type: 'quantitative' } } },
      ],
    },
  ];
  return spec;
}
