// The report of scores of labelled events (`flowscan anomaly evaluate --report DIR`, `flowscan classify score|train
// --report DIR`): the ROC with the AUC and its DeLong error, the SIC curve, the score distributions of signal and
// background, and for a classifier's probabilities the calibration (reliability) curve; SVG/PNG and report.html.
import { join } from 'node:path';
import { plots, sortedQuantile } from '@flowscan/runtime';
import { writeFileAtomic } from '@flowscan/runtime/node';
import { rocFigure, sicFigure } from '../anomaly/figures.ts';
import { type ScoreMetrics, scoreMetrics } from '../anomaly/metrics.ts';
import { type ReportFigure, type ReportSection, buildReport } from './html.ts';
import { writeFigure } from './render.ts';

const { PALETTE, physicsConfig } = plots;

export interface ScoreReportInputs {
  /** The command, e.g. "flowscan anomaly evaluate". */
  title: string;
  subtitle: string;
  /** What the scores are, for legends and axes, e.g. "score" or "probability p(signal | x)". */
  scoreName: string;
  score: ArrayLike<number>;
  /** 1 signal, 0 background. */
  label: Uint8Array;
  minBackground: number;
  /**
   * A classifier's probabilities, with the class prior they estimate the signal probability under ([background,
   * signal] totals; [1, 1] for a classifier trained on balanced classes): adds the calibration curve.
   */
  calibration?: { probability: ArrayLike<number>; prior: [number, number] };
  /** Further sections (e.g. the training's loss curves), placed after the separation figures. */
  sections?: ReportSection[];
}

/** A figure of the report with the Vega-Lite spec it was rendered from. */
export interface ScoreReportFigure extends ReportFigure {
  spec: plots.VegaLiteSpec;
}

/** Bins of the score histograms and of the calibration curve. */
const SCORE_BINS = 50;
const CALIBRATION_BINS = 10;
/** Above this ratio of the fullest to the emptiest filled bin the score histograms get a log y axis. */
const LOG_Y_RATIO = 100;

/**
 * The window of the score histograms: the scores' 0.5–99.5 % range widened by a tenth of its width on each side,
 * so a few extreme scores (an anomaly score's far tail) do not squeeze the bulk into a bin or two; [0, 1] for
 * probabilities.
 */
export function scoreRange(score: ArrayLike<number>, probability: boolean): [number, number] {
  if (probability) return [0, 1];
  const sorted = Float64Array.from(score).filter(Number.isFinite).sort();
  const [lo, hi] = [sortedQuantile(sorted, 0.005), sortedQuantile(sorted, 0.995)];
  const pad = 0.1 * (hi - lo) || Math.max(1, Math.abs(lo)) * 0.1;
  return [lo - pad, hi + pad];
}

/** Signal and background score distributions, each normalised to unit area (their shapes compared). */
export function scoreHistogramFigure(score: ArrayLike<number>, label: Uint8Array, scoreName: string, range: [number, number]): plots.VegaLiteSpec {
  const pick = (c: number) => Float64Array.from({ length: label.length }, (_, i) => i).filter((i) => label[i] === c).map((i) => score[i]);
  const [background, signal] = [pick(0), pick(1)];
  const filled = [background, signal].flatMap((values) => Array.from(plots.histogram1d(values, { range, bins: SCORE_BINS }).sumW).map((w) => w / values.length)).filter((w) => w > 0);
  return plots.histogramComparison({
    title: `${scoreName}: signal and background`,
    xTitle: scoreName,
    range,
    bins: SCORE_BINS,
    normalize: 'density',
    logY: filled.length > 0 && Math.max(...filled) / Math.min(...filled) > LOG_Y_RATIO,
    series: [
      { label: `background (${background.length} events)`, values: background, style: 'filled', color: PALETTE[0] },
      { label: `signal (${signal.length} events)`, values: signal, style: 'line', color: PALETTE[1] },
    ],
  });
}

export interface CalibrationBin {
  lo: number;
  hi: number;
  /** Mean predicted probability of the bin's events. */
  predicted: number;
  /** Their signal fraction with the classes weighted to the prior. */
  observed: number;
  /** Binomial error of `observed` with the effective number of events (Σw)²/Σw². */
  error: number;
  events: number;
}

/**
 * Reliability of predicted probabilities: per bin of p, the fraction of signal among its events, each class weighted
 * so the classes' totals stand in the ratio of the prior the probability refers to (a balanced classifier's p is
 * P(signal | x) for equal priors, not for the scored sample's own mix). A calibrated classifier lies on the diagonal.
 */
export function calibrationBins(probability: ArrayLike<number>, label: Uint8Array, prior: [number, number], bins = CALIBRATION_BINS): CalibrationBin[] {
  const counts = [0, 0];
  for (const l of label) counts[l]++;
  if (counts[0] === 0 || counts[1] === 0) throw new Error(`calibration needs events of both classes, got ${counts[1]} signal and ${counts[0]} background`);
  const weight = [prior[0] / counts[0], prior[1] / counts[1]];
  const sums = Array.from({ length: bins }, () => ({ w: 0, w2: 0, signal: 0, p: 0, events: 0 }));
  for (let i = 0; i < label.length; i++) {
    const p = probability[i];
    if (!(p >= 0 && p <= 1)) throw new Error(`probability ${i + 1} is ${p}; expected a number in [0, 1]`);
    const s = sums[Math.min(bins - 1, Math.floor(p * bins))];
    const w = weight[label[i]];
    s.w += w;
    s.w2 += w * w;
    s.signal += label[i] === 1 ? w : 0;
    s.p += w * p;
    s.events += 1;
  }
  return sums.flatMap((s, b) => {
    if (s.events === 0) return [];
    const observed = s.signal / s.w;
    const effective = (s.w * s.w) / s.w2;
    return [{ lo: b / bins, hi: (b + 1) / bins, predicted: s.p / s.w, observed, error: Math.sqrt((observed * (1 - observed)) / effective), events: s.events }];
  });
}

/** The calibration bins as points with error bars against the diagonal. Figure data: `datasets.calibration`. */
export function calibrationFigure(bins: CalibrationBin[], title: string): plots.VegaLiteSpec {
  const rows = bins.map((b) => ({ ...b, low: Math.max(0, b.observed - b.error), high: Math.min(1, b.observed + b.error) }));
  const x = (field: string) => ({ field, type: 'quantitative', title: 'Mean predicted probability p', scale: { domain: [0, 1], nice: false } });
  const y = (field: string) => ({ field, type: 'quantitative', title: 'Signal fraction (classes weighted to the prior)', scale: { domain: [0, 1], nice: false } });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, subtitle: `${bins.length} bins of p; dashed: perfect calibration` },
    config: physicsConfig(),
    width: 380,
    height: 380,
    datasets: { calibration: rows },
    layer: [
      { data: { values: [{ p: 0 }, { p: 1 }] }, mark: { type: 'line', strokeDash: [6, 4], color: '#808080', strokeWidth: 1.5 }, encoding: { x: x('p'), y: y('p') } },
      { data: { name: 'calibration' }, mark: { type: 'rule', color: 'black', strokeWidth: 1.5 }, encoding: { x: x('predicted'), y: y('low'), y2: { field: 'high' } } },
      { data: { name: 'calibration' }, mark: { type: 'point', filled: true, size: 40, opacity: 1, color: 'black' }, encoding: { x: x('predicted'), y: y('observed') } },
    ],
  };
}

function metricsText(m: ScoreMetrics): string {
  const sic = m.maxSic ? `max SIC ${m.maxSic.sic.toFixed(2)} at ε_S = ${m.maxSic.signalEfficiency.toFixed(3)}, ε_B = ${m.maxSic.backgroundEfficiency.toExponential(2)}` : `no threshold leaves ${m.minBackgroundCount} background events`;
  return `${m.signalEvents} signal and ${m.backgroundEvents} background events: AUC ${m.auc.toFixed(4)} ± ${m.aucError.toFixed(4)} (DeLong), ${sic} (where at least ${m.minBackgroundCount} background events pass).`;
}

/** Writes `<dir>/figures/*.svg|png` and `<dir>/report.html`; returns the report's path and its figures. */
export async function writeScoreReport(dir: string, inputs: ScoreReportInputs): Promise<{ reportPath: string; figures: ScoreReportFigure[] }> {
  const figDir = join(dir, 'figures');
  const figure = async (name: string, caption: string, spec: plots.VegaLiteSpec): Promise<ScoreReportFigure> => ({ name, caption, spec, ...(await writeFigure(figDir, name, spec)) });
  const metrics = scoreMetrics(inputs.score, inputs.label, inputs.minBackground);
  const curves = [{ label: inputs.scoreName, metrics }];
  const range = scoreRange(inputs.score, inputs.calibration !== undefined);
  const outside = Array.from(inputs.score).filter((s) => !(s >= range[0] && s <= range[1])).length;
  const figures = [
    await figure('roc', `Background rejection 1/ε_B against signal efficiency ε_S; AUC ${metrics.auc.toFixed(4)} ± ${metrics.aucError.toFixed(4)} (DeLong's standard error). Dashed: a random score.`, rocFigure(curves, `ROC: AUC = ${metrics.auc.toFixed(3)} ± ${metrics.aucError.toFixed(3)}`)),
    await figure('sic', `Significance improvement ε_S/√ε_B against ε_S, where at least ${metrics.minBackgroundCount} background events pass the cut.`, sicFigure(curves, 'Significance improvement')),
    await figure('scores', `Distributions of ${inputs.scoreName} for signal and background events, each normalised to unit area${outside > 0 ? `; ${outside} events outside the window shown (the 0.5–99.5 % range, widened) are not drawn` : ''}.`, scoreHistogramFigure(inputs.score, inputs.label, inputs.scoreName, range)),
  ];
  if (inputs.calibration) {
    const { probability, prior } = inputs.calibration;
    const priorText = prior[0] === prior[1] ? 'equal class priors (balanced training)' : `class priors background : signal = ${prior[0]} : ${prior[1]} (the training's)`;
    figures.push(await figure('calibration', `Reliability of the predicted probability: the signal fraction among the events of each bin of p (binomial errors), with ${priorText}.`, calibrationFigure(calibrationBins(probability, inputs.label, prior), 'Calibration')));
  }
  const sections: ReportSection[] = [{ heading: 'Separation of signal and background', text: metricsText(metrics), figures }, ...(inputs.sections ?? [])];
  const reportPath = join(dir, 'report.html');
  await writeFileAtomic(reportPath, buildReport({ title: inputs.title, subtitle: inputs.subtitle, sections }));
  return { reportPath, figures };
}
