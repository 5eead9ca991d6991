// Global against local p-values of a search over a signal parameter (the look-elsewhere effect): the fraction of
// background-only toys whose maximum test statistic exceeds u, with binomial error bars, against analytic curves
// (the local ½P(χ²₁ > u) and the Gross–Vitells estimate), on a log scale in p against the local significance.
import { PALETTE, PLOT_HEIGHT, PLOT_WIDTH, baseSpec, checkFinite, fail, insideLegend, logAxis, type DataRow, type VegaLiteSpec } from './spec.ts';

export interface PValueSeries {
  label: string;
  /** Local significance Z = √u of each point. */
  z: number[];
  p: number[];
  /** Standard errors of p (toys): drawn as error bars, and the series as points. */
  error?: number[];
}

export interface PValueCurvesOptions {
  title?: string;
  series: PValueSeries[];
  /** Observed local significance, drawn as a vertical line. */
  observedZ?: number;
  width?: number;
  height?: number;
}

/** Figure data: `datasets.curves` (series, z, p, pLo, pHi) and `datasets.observed` (z). */
export function pValueCurves(options: PValueCurvesOptions): VegaLiteSpec {
  const figure = 'pValueCurves';
  if (!Array.isArray(options.series) || options.series.length === 0) fail(figure, 'series must hold at least one { label, z, p } entry');
  const rows: DataRow[] = [];
  for (const s of options.series) {
    if (s.z.length !== s.p.length) fail(figure, `series "${s.label}" has ${s.z.length} z values and ${s.p.length} p values`);
    s.z.forEach((z, i) => {
      checkFinite(figure, `${s.label}.z[${i}]`, z);
      const p = s.p[i];
      if (!(p > 0)) return; // a p of 0 (no toy above u) has no place on a log scale
      const e = s.error?.[i] ?? 0;
      rows.push({ series: s.label, kind: s.error ? 'toys' : 'curve', z, p, pLo: Math.max(p - e, p / 10), pHi: p + e });
    });
  }
  if (rows.length === 0) fail(figure, 'no series has a positive p-value to draw');
  const pMin = Math.min(...rows.map((r) => r.pLo as number));
  const lo = 10 ** Math.floor(Math.log10(pMin));
  const spec = baseSpec({ title: options.title, datasets: { curves: rows, observed: options.observedZ !== undefined ? [{ z: options.observedZ }] : [] } });
  spec.width = options.width ?? PLOT_WIDTH;
  spec.height = options.height ?? PLOT_HEIGHT;
  const labels = options.series.map((s) => s.label);
  const color = { field: 'series', type: 'nominal', scale: { domain: labels, range: PALETTE.slice(0, labels.length) }, legend: insideLegend(null) };
  const x = { field: 'z', type: 'quantitative', title: 'local significance Z = √u', scale: { zero: false, nice: false } };
  const y = { field: 'p', type: 'quantitative', title: 'P(max q ≥ u)', scale: { type: 'log', domain: [lo, 1] }, axis: logAxis(lo, 1) };
  spec.layer = [
    { data: { name: 'curves' }, transform: [{ filter: "datum.kind === 'curve'" }], mark: { type: 'line', strokeWidth: 2 }, encoding: { x, y, color } },
    { data: { name: 'curves' }, transform: [{ filter: "datum.kind === 'toys'" }], mark: { type: 'rule' }, encoding: { x, y: { ...y, field: 'pLo' }, y2: { field: 'pHi' }, color } },
    { data: { name: 'curves' }, transform: [{ filter: "datum.kind === 'toys'" }], mark: { type: 'point', filled: true, size: 40 }, encoding: { x, y, color } },
    { data: { name: 'observed' }, mark: { type: 'rule', strokeDash: [6, 4], color: '#000000' }, encoding: { x: { field: 'z', type: 'quantitative' } } },
  ];
  return spec;
}
