// Data with the fitted mixture on top: each component drawn from its flow at the best fit and scaled to its fitted
// yield, and their sum (Saito et al., ISGC 2024, Fig. 5). Flows have no closed-form bin integrals, so each component is
// a weighted sample: M draws at θ̂ with weight ν̂_c / M give the expected counts ν̂_c ∫_bin p_c(x|θ̂) dx per bin, up to
// the sample's own Poisson noise of relative size 1/√(M per bin).

import { histogram1d } from './binning.ts';
import { histogramComparison, type HistogramSeries } from './histograms.ts';
import { PALETTE, fail, type VegaLiteSpec } from './spec.ts';

export interface FittedComponent {
  label: string;
  /** Draws of the feature from the component's flow at the best fit. */
  samples: ArrayLike<number>;
  /** The component's fitted yield in events (fraction × events with fixed fractions). */
  expected: number;
  /** 'filled' for the component to stand out (a signal), 'line' otherwise (default). */
  style?: 'line' | 'filled';
}

export interface FittedComponentsOptions {
  title?: string;
  xTitle: string;
  range: [number, number];
  bins: number;
  data: { label?: string; values: ArrayLike<number>; weights?: ArrayLike<number> };
  components: FittedComponent[];
  /** Log y axis; default: when the data's filled bins span more than two decades. */
  logY?: boolean;
}

/** The total in vermillion over the data's black points; components in the other colour-blind-safe colours. */
const TOTAL_COLOR = PALETTE[1];
const COMPONENT_COLORS = [PALETTE[0], PALETTE[2], PALETTE[3], PALETTE[4], PALETTE[5]];

/** Above this ratio of the largest to the smallest filled data bin the y axis is logarithmic by default. */
const LOG_Y_RATIO = 100;

/**
 * The observed events as points with Poisson errors, each component scaled to its yield (when there are several)
 * and the fit's total as lines. Figure data as histogramComparison's, with series "<data label>", "fit: <component>"
 * and "fit: total".
 */
export function fittedComponents(options: FittedComponentsOptions): VegaLiteSpec {
  const figure = 'fittedComponents';
  if (!Array.isArray(options.components) || options.components.length === 0) fail(figure, 'components must hold at least one { label, samples, expected }');
  const weighted = options.components.map((c, i) => {
    if (!(Number.isFinite(c.expected) && c.expected >= 0)) fail(figure, `components[${i}] ("${c.label}"): expected must be a number ≥ 0, got ${c.expected}`);
    if (c.samples.length === 0) fail(figure, `components[${i}] ("${c.label}") has no samples`);
    return { ...c, weights: new Float64Array(c.samples.length).fill(c.expected / c.samples.length) };
  });
  const total = {
    values: concatenate(weighted.map((c) => c.samples)),
    weights: concatenate(weighted.map((c) => c.weights)),
  };
  const dataHistogram = histogram1d(options.data.values, { range: options.range, bins: options.bins, ...(options.data.weights ? { weights: options.data.weights } : {}) });
  const filled = dataHistogram.sumW.filter((v) => v > 0);
  const logY = options.logY ?? (filled.length > 0 && Math.max(...filled) / Math.min(...filled) > LOG_Y_RATIO);
  // Components first and the total last, so that the total's line is drawn over a component that makes up most of it.
  const series: HistogramSeries[] = [
    { label: options.data.label ?? 'data', values: options.data.values, ...(options.data.weights ? { weights: options.data.weights } : {}), style: 'points' },
    ...(weighted.length > 1
      ? weighted.map((c, i) => ({ label: `fit: ${c.label}`, values: c.samples, weights: c.weights, style: c.style ?? 'line', color: COMPONENT_COLORS[i % COMPONENT_COLORS.length] }))
      : []),
    { label: 'fit: total', values: total.values, weights: total.weights, style: 'line', color: TOTAL_COLOR },
  ];
  return histogramComparison({
    ...(options.title ? { title: options.title } : {}),
    xTitle: options.xTitle,
    range: options.range,
    bins: options.bins,
    normalize: 'counts',
    logY,
    series,
  });
}

function concatenate(parts: ArrayLike<number>[]): Float64Array {
  const out = new Float64Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
