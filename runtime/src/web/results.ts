// The page's results: the fit table and summary, the ΔNLL map with gradient arrows, and the data histogram with
// the fitted model (weighted flow samples from the worker), drawn with the runtime's Vega-Lite specs.
import type { FitResult } from '../likelihood/fit.ts';
import type { ManifestVariable } from '../model/manifest.ts';
import { type HistogramSeries, histogramComparison } from '../plots/histograms.ts';
import { deltaNllMap } from '../plots/scans.ts';
import type { FitMap } from '../likelihood/map.ts';
import { COMPONENTS, type ComponentName, type EventTable, type FitSettings, type PredictedComponent } from './analysis.ts';
import { element, formatValue, inPageTerms, label } from './dom.ts';
import { clearFigure, renderFigure } from './render.ts';

/** Flow samples per component for the fitted-model histogram: smooth next to 10^5 observed events. */
export const PREDICTION_SAMPLES = 200_000;

function cellRow(cells: string[]): HTMLTableRowElement {
  const row = document.createElement('tr');
  for (const text of cells) {
    const cell = document.createElement('td');
    cell.textContent = text;
    row.append(cell);
  }
  return row;
}

/** The fit table, summary and warnings; clears the figures of an earlier fit. */
export function showFit(fit: FitResult, settings: FitSettings, events: EventTable, providers: Record<ComponentName, string>): void {
  element('fit-table')
    .querySelector('tbody')!
    .replaceChildren(
      ...fit.parameters.map((p) => {
        const note = p.fixed ? 'fixed' : p.atBound !== 'free' ? `at ${p.atBound} bound` : '';
        const truth = events.truth?.[p.name];
        const row = cellRow([
          label(p),
          formatValue(p.value, 6),
          p.fixed ? '' : formatValue(p.error, 3),
          truth === undefined ? '' : formatValue(truth, 6),
          p.trainingRange ? `[${formatValue(p.trainingRange[0], 4)}, ${formatValue(p.trainingRange[1], 4)}]` : '',
          note,
        ]);
        row.dataset.parameter = p.name;
        return row;
      }),
    );
  const ranOn = COMPONENTS.map((c) => `${c}: ${providers[c]}`).join('; ');
  const mode = settings.yields === 'extended' ? 'extended likelihood' : `fixed fractions (signal ${formatValue(settings.signalFraction, 6)})`;
  const lines = [
    `NLL ${fit.nll.toFixed(4)} at ${fit.data.events} events${fit.data.droppedOutsideSupport ? ` (${fit.data.droppedOutsideSupport} outside the support dropped)` : ''}, ${mode}.`,
    `${fit.converged ? 'Converged' : 'NOT converged'} (${fit.reason}); ${fit.evaluations.calls} evaluations (${fit.evaluations.points} points, ${fit.evaluations.graphRuns} graph runs) in ${(fit.wallMs / 1000).toFixed(2)} s.`,
    fit.significance ? `Local significance of the signal: Z = ${fit.significance.z.toFixed(2)} (q0 = ${fit.significance.q0.toFixed(2)}).` : '',
    fit.hessianMessage ? `No errors: ${fit.hessianMessage}` : '',
    `Ran on ${ranOn}.`,
  ];
  element('fit-summary').textContent = lines.filter((l) => l).join('\n');
  element('fit-warnings').replaceChildren(
    ...fit.warnings.map((w) => {
      const item = document.createElement('li');
      item.textContent = `warning: ${inPageTerms(w)}`;
      return item;
    }),
  );
  clearFigure(element('map-figure'));
  clearFigure(element('hist-figure'));
  element('map-caption').textContent = '';
  element('hist-caption').textContent = '';
  element('results-section').hidden = false;
}

/** What the figures need besides the results: the likelihood's parameters and the models' features. */
export interface FigureContext {
  parameters: readonly { name: string; unit: string }[];
  /** Each component's features (the same names in both, checked when the events were read). */
  features: Record<ComponentName, readonly ManifestVariable[]>;
}

async function drawMap(map: FitMap, events: EventTable, context: FigureContext): Promise<void> {
  const unitOf = (name: string) => context.parameters.find((p) => p.name === name)?.unit ?? '';
  const truth = events.truth && events.truth[map.x] !== undefined && events.truth[map.y] !== undefined ? { x: events.truth[map.x], y: events.truth[map.y] } : undefined;
  const spec = deltaNllMap({
    xTitle: label({ name: map.x, unit: unitOf(map.x) }),
    yTitle: label({ name: map.y, unit: unitOf(map.y) }),
    x: map.xs,
    y: map.ys,
    deltaNll: map.deltaNll,
    gradient: { gx: map.gradX, gy: map.gradY },
    bestFit: map.best,
    ...(truth ? { truth } : {}),
  });
  await renderFigure(spec, element('map-figure'));
  element('map-caption').textContent =
    `ΔNLL = NLL − NLL(best fit) over ${map.x} × ${map.y}, the other parameters at the best fit; arrows point along −∇NLL (downhill) from the θ-gradient graph; contours at ΔNLL = 0.5 and 2.`;
}

/** One feature's column of sampled events [n × D]. */
function featureColumn(events: Float32Array, dimension: number, d: number): Float32Array {
  return Float32Array.from({ length: events.length / dimension }, (_, i) => events[i * dimension + d]);
}

async function drawHistogram(events: EventTable, prediction: PredictedComponent[], feature: string, bins: number, context: FigureContext): Promise<void> {
  const signalFeatures = context.features.signal;
  const d = signalFeatures.findIndex((f) => f.name === feature);
  const lo = Math.min(...COMPONENTS.map((c) => context.features[c][d].range[0]));
  const hi = Math.max(...COMPONENTS.map((c) => context.features[c][d].range[1]));
  const values = prediction.map((p) => featureColumn(p.events, signalFeatures.length, d));
  const total = values.reduce((n, v) => n + v.length, 0);
  const all = new Float32Array(total);
  const weights = new Float32Array(total);
  let at = 0;
  prediction.forEach((p, k) => {
    all.set(values[k], at);
    weights.fill(p.weight, at, at + values[k].length);
    at += values[k].length;
  });
  const series: HistogramSeries[] = [{ label: `data (${events.count} events)`, values: events.columns[feature], style: 'points' }];
  const background = prediction.findIndex((p) => p.component === 'background');
  if (background >= 0) {
    const v = values[background];
    series.push({ label: 'fit: background', values: v, weights: new Float32Array(v.length).fill(prediction[background].weight), style: 'filled', color: '#9ecae1' });
  }
  series.push({ label: 'fit: signal + background', values: all, weights, style: 'line', color: '#D55E00' });
  await renderFigure(histogramComparison({ xTitle: label(signalFeatures[d]), range: [lo, hi], bins, series }), element('hist-figure'));
  element('hist-caption').textContent =
    `Observed events (points, Poisson errors) and the fitted model: each flow sampled ${PREDICTION_SAMPLES} times at its best-fit parameters, weighted to its fitted share of the events.`;
}

export async function drawFigures(
  events: EventTable,
  map: FitMap | null,
  prediction: PredictedComponent[],
  histogram: { feature: string; bins: number },
  context: FigureContext,
): Promise<void> {
  if (map) await drawMap(map, events, context);
  await drawHistogram(events, prediction, histogram.feature, histogram.bins, context);
}
