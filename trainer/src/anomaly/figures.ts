// Figures of the anomaly-detection report as Vega-Lite specs (rendered to SVG/PNG by report/render.ts): the ROC
// (runtime plots.rocCurve), the SIC curve, the (log p(x|bkg), log p(x|data)) plane and log p against λ⁻¹
// (Tan 2020, Figs. 2–4), signal and background events in contrasting colours.
import { plots, sortedQuantile } from '@flowscan/runtime';
import type { ScoreMetrics } from './metrics.ts';

type VegaLiteSpec = plots.VegaLiteSpec;
type DataRow = plots.DataRow;
const { PALETTE, physicsConfig } = plots;

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';

export function rocFigure(curves: { label: string; metrics: ScoreMetrics }[], title: string): VegaLiteSpec {
  return plots.rocCurve({
    title,
    curves: curves.map(({ label, metrics }) => ({
      label,
      auc: metrics.auc,
      signalEfficiency: metrics.roc.map((p) => p.signalEfficiency),
      backgroundRejection: metrics.roc.map((p) => (p.backgroundEfficiency > 0 ? 1 / p.backgroundEfficiency : Infinity)),
    })),
  });
}

/** SIC = ε_S/√ε_B against ε_S, one line per score (points with fewer than the minimum background count left out). */
export function sicFigure(curves: { label: string; metrics: ScoreMetrics }[], title: string): VegaLiteSpec {
  const rows: DataRow[] = [];
  const entries = curves.map(({ label, metrics }) => `${label} (max ${metrics.maxSic ? metrics.maxSic.sic.toFixed(1) : '—'})`);
  curves.forEach(({ metrics }, c) => metrics.sic.forEach((p, order) => rows.push({ curve: entries[c], order, efficiency: p.signalEfficiency, sic: p.sic })));
  const minCount = curves[0]?.metrics.minBackgroundCount ?? 0;
  return {
    $schema: SCHEMA,
    title: { text: title, subtitle: `points where at least ${minCount} background events pass` },
    config: physicsConfig(),
    width: 420,
    height: 300,
    datasets: { sic: rows },
    data: { name: 'sic' },
    mark: { type: 'line', strokeWidth: 2 },
    encoding: {
      x: { field: 'efficiency', type: 'quantitative', title: 'Signal efficiency ε_S', scale: { domain: [0, 1], nice: false } },
      y: { field: 'sic', type: 'quantitative', title: 'SIC ε_S/√ε_B' },
      color: { field: 'curve', type: 'nominal', title: null, scale: { domain: entries, range: entries.map((_, i) => PALETTE[i % PALETTE.length]) }, legend: { orient: 'bottom', direction: 'vertical' } },
      order: { field: 'order', type: 'quantitative' },
    },
  };
}

/** At most `limit` events of each class, every k-th: a readable scatter without thousands of overlapping marks. */
function subsample(count: number, label: Uint8Array, limit: number): number[] {
  const counts = [0, 0];
  for (const l of label) counts[l]++;
  const stride = counts.map((n) => Math.max(1, Math.ceil(n / limit)));
  const seen = [0, 0];
  const rows: number[] = [];
  for (let i = 0; i < count; i++) if (seen[label[i]]++ % stride[label[i]] === 0) rows.push(i);
  return rows;
}

function scatter(title: string, subtitle: string, x: { values: Float64Array; title: string; clip?: boolean }, y: { values: Float64Array; title: string }, label: Uint8Array, limit: number, diagonal: boolean): VegaLiteSpec {
  let rows = subsample(label.length, label, limit)
    .filter((i) => Number.isFinite(x.values[i]) && Number.isFinite(y.values[i]))
    .map((i) => ({ x: x.values[i], y: y.values[i], class: label[i] ? 'signal' : 'background' }));
  // A few events far out (where a re-fitted background density has a hole) would squeeze the rest into a line;
  // they are left out rather than clipped (resvg aborts on marks drawn far outside the canvas).
  let xScale: Record<string, unknown> = { zero: false };
  if (x.clip) {
    // The 2–98 % range widened by its own width on each side: robust to a few per cent of such events.
    const sorted = Float64Array.from(rows, (r) => r.x).sort();
    const [q02, q98] = [sortedQuantile(sorted, 0.02), sortedQuantile(sorted, 0.98)];
    const domain = [q02 - (q98 - q02), q98 + (q98 - q02)];
    rows = rows.filter((r) => r.x >= domain[0] && r.x <= domain[1]);
    xScale = { domain, nice: false };
  }
  const layers: Record<string, unknown>[] = [
    {
      data: { name: 'events' },
      mark: { type: 'circle', size: 9, opacity: 0.45 },
      encoding: {
        x: { field: 'x', type: 'quantitative', title: x.title, scale: xScale },
        y: { field: 'y', type: 'quantitative', title: y.title, scale: { zero: false } },
        color: { field: 'class', type: 'nominal', title: null, scale: { domain: ['background', 'signal'], range: [PALETTE[0], PALETTE[1]] }, legend: { orient: 'top-left' } },
        order: { field: 'class', type: 'nominal', sort: 'ascending' },
      },
    },
  ];
  if (diagonal) {
    const values = rows.flatMap((r) => [r.x, r.y]);
    const lo = Math.min(...values);
    const hi = Math.max(...values);
    layers.push({ data: { values: [{ x: lo, y: lo }, { x: hi, y: hi }] }, mark: { type: 'line', strokeDash: [6, 4], color: '#808080' }, encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' } } });
  }
  return { $schema: SCHEMA, title: { text: title, subtitle }, config: physicsConfig(), width: 380, height: 320, datasets: { events: rows }, layer: layers };
}

/** Tan Fig. 2: each test event at (log p(x|bkg), log p(x|data)); signal lies above the diagonal (λ < 1). */
export function densityPlaneFigure(logPBackground: Float64Array, logPData: Float64Array, label: Uint8Array, title: string, limit = 1500): VegaLiteSpec {
  return scatter(title, `up to ${limit} events per class; dashed: λ = 1`, { values: logPBackground, title: 'log p(x | bkg)' }, { values: logPData, title: 'log p(x | data)' }, label, limit, true);
}

/**
 * Tan Figs. 3–4: log p(x|data) against log λ⁻¹ = log p(x|data) − log p(x|bkg): a density cut and a ratio cut
 * compared. Events far outside the bulk in log λ⁻¹ (holes of a re-fitted density) are left out.
 */
export function logPVersusInverseLambdaFigure(logPBackground: Float64Array, logPData: Float64Array, label: Uint8Array, title: string, limit = 1500): VegaLiteSpec {
  const logInverseLambda = Float64Array.from(logPData, (l, i) => l - logPBackground[i]);
  return scatter(title, `up to ${limit} events per class; outliers in log λ⁻¹ left out`, { values: logInverseLambda, title: 'log λ⁻¹ = log p(x | data) − log p(x | bkg)', clip: true }, { values: logPData, title: 'log p(x | data)' }, label, limit, false);
}
