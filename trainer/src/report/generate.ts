// The report of `flowscan generate --report DIR`: the histograms filled while the events were generated, one figure per
// binned column with the mixture's components stacked and the total's MC-statistical error √Σw², SVG/PNG and
// report.html.
import { join } from 'node:path';
import { type ModelManifest, featureSupport, plots } from '@flowscan/runtime';
import { writeFileAtomic } from '@flowscan/runtime/node';
import type { GenerateSummary } from '../generate/generate.ts';
import type { BinningSpec, HistogramSetJson } from '../generate/histograms.ts';
import { type ReportFigure, type ReportSection, buildReport } from './html.ts';
import { writeFigure } from './render.ts';

/** Bins of a column histogrammed for the report when --hist does not bin it. */
export const REPORT_BINS = 50;

/**
 * Each feature over the models' supports (their union; a feature's training range where its support is unbounded),
 * for a report asked for without --hist.
 */
export function featureBinnings(manifests: ModelManifest[]): BinningSpec[] {
  const ranges = new Map<string, [number, number][]>();
  for (const m of manifests) {
    const support = featureSupport(m);
    m.features.forEach((f, d) => {
      const [lo, hi] = support[d];
      ranges.set(f.name, [...(ranges.get(f.name) ?? []), Number.isFinite(lo) && Number.isFinite(hi) ? [lo, hi] : f.range]);
    });
  }
  return [...ranges].map(([column, r]) => ({ column, lo: Math.min(...r.map((x) => x[0])), hi: Math.max(...r.map((x) => x[1])), bins: REPORT_BINS }));
}

/** One column's histograms as a stacked figure: the components and their total with its √Σw². */
export function generatedHistogramFigure(column: string, histograms: HistogramSetJson[string], unit: string, weighted: boolean): plots.VegaLiteSpec {
  // The largest component at the bottom of the stack, as a dominant background is drawn, and small ones (a signal) on top.
  const sum = (values: number[]) => values.reduce((s, v) => s + v, 0);
  const entries = Object.entries(histograms.components);
  const parts = entries
    .filter(([name]) => name !== 'total' || entries.length === 1)
    .sort(([, a], [, b]) => sum(b.sumw) - sum(a.sumw));
  const total = histograms.components.total ?? parts[0][1];
  const width = Number((histograms.edges[1] - histograms.edges[0]).toPrecision(3));
  return plots.stackedHistogram({
    title: `${column}: generated events`,
    subtitle: weighted ? 'weighted to the expected yields; bars: MC-statistical error √Σw²' : 'bars: statistical error √N of the generated events',
    xTitle: unit ? `${column} [${unit}]` : column,
    ...(weighted ? { yTitle: `Expected events / ${width}${unit ? ` ${unit}` : ''}` } : {}),
    edges: histograms.edges,
    stack: parts.map(([name, contents]) => ({ label: name, counts: contents.sumw })),
    totalLabel: weighted ? 'total ± √Σw²' : 'total ± √N',
    totalErrors: total.sumw2.map(Math.sqrt),
  });
}

export interface GenerateReportInputs {
  histograms: HistogramSetJson;
  summary: GenerateSummary;
  /** Units by column name (features and parameters). */
  units: Record<string, string>;
  /** Events carry yield/events weights (mixtures and models given a yield). */
  weighted: boolean;
  subtitle: string;
}

/** Writes `<dir>/figures/hist-<column>.svg|png` and `<dir>/report.html`; returns the report's path. */
export async function writeGenerateReport(dir: string, inputs: GenerateReportInputs): Promise<string> {
  const figures: ReportFigure[] = [];
  for (const [column, h] of Object.entries(inputs.histograms)) {
    const name = `hist-${column.replace(/[^A-Za-z0-9_-]/g, '_')}`;
    const total = h.components.total ?? Object.values(h.components)[0];
    const outside = total.underflow.entries + total.overflow.entries;
    const caption =
      `${column} of the generated events in ${h.edges.length - 1} bins on [${h.edges[0]}, ${h.edges.at(-1)}]` +
      `${Object.keys(h.components).length > 1 ? ', the components stacked' : ''}; ${outside} events fell outside (${total.underflow.entries} below, ${total.overflow.entries} above).`;
    figures.push({ name, caption, ...(await writeFigure(join(dir, 'figures'), name, generatedHistogramFigure(column, h, inputs.units[column] ?? '', inputs.weighted))) });
  }
  const s = inputs.summary;
  const sections: ReportSection[] = [
    {
      heading: 'Generation',
      text: `${s.events} events generated, ${s.accepted} accepted, in ${s.seconds.toFixed(1)} s (${Math.round(s.eventsPerSecond)} events/s).`,
      tables: [
        {
          caption: 'Per component',
          columns: ['component', 'generated', 'accepted', 'weight per event'],
          rows: Object.entries(s.components).map(([name, c]) => [name, c.events, c.accepted, c.weight]),
        },
      ],
    },
    { heading: 'Histograms', figures },
  ];
  const reportPath = join(dir, 'report.html');
  await writeFileAtomic(reportPath, buildReport({ title: 'flowscan generate', subtitle: inputs.subtitle, sections }));
  return reportPath;
}
