// The LHCO-like study's figures and report (Saito et al., ISGC 2024, §3.2): flows against the simulation (paper
// Fig. 4), the interpolation to the left-out m_Z′ (Fig. 5), the pseudo-data with the fitted mixture, the ΔNLL maps
// (Fig. 7), the training curves, and report.html with the fit table, the KS tables and the timings.
import { join } from 'node:path';
import { type FitMap, type FitResult, type FlowModel, Rng, plots, sampleFittedComponents } from '@flowscan/runtime';
import { writeFileAtomic } from '@flowscan/runtime/node';
import { LHCO_FEATURES, LHCO_GRID, LHCO_MODEL, type LhcoFeature, type LhcoPoint } from '../data/lhco.ts';
import { type ReportFigure, type ReportSection, type ReportTable, buildReport } from '../report/html.ts';
import { type FigurePaths, writeFigure } from '../report/render.ts';
import type { TrainedModel } from '../train/saved-model.ts';
import { LHCO_SIGNAL_MJJ_MARGIN, LHCO_SIGNAL_THETA_DECAY, LHCO_SPLINE_BINS, type LhcoParameterResult, type LhcoScale } from './lhco-config.ts';
import { LHCO_ANALYSIS_MJJ_WINDOW, LHCO_INTERPOLATION_M_ZPRIME, LHCO_STUDY_TRUTH, type LhcoStudyPseudoData, flowColumns, flowEvents, pointLabel, simulateSelectedSignal } from './lhco-data.ts';
import type { LhcoInterpolationResult } from './lhco-interpolation.ts';

const FEATURE_TITLES: Record<LhcoFeature, string> = {
  mj1: 'm_J1 (heavier jet) [GeV]',
  dmj: 'm_J1 − m_J2 [GeV]',
  tau21j1: 'τ21 of J1',
  tau21j2: 'τ21 of J2',
  mjj: 'm_J1J2 [GeV]',
};
const FEATURE_RANGES: Record<LhcoFeature, [number, number]> = {
  mj1: [0, 1200],
  dmj: [0, 1200],
  tau21j1: [0, 1],
  tau21j2: [0, 1],
  mjj: [...LHCO_ANALYSIS_MJJ_WINDOW],
};
const PARAMETER_TITLES: Record<string, string> = { m_zprime: 'm_Z′ [GeV]', m_x: 'm_X [GeV]', m_y: 'm_Y [GeV]' };


/** Signal events simulated per training epoch (before the m_JJ selection): every grid point but the left-out m_Z′. */
function signalEventsSimulated(scale: LhcoScale): number {
  return LHCO_GRID.filter((p) => p.mZprime !== LHCO_INTERPOLATION_M_ZPRIME).length * scale.signalPerPoint;
}

/** What the study computed, for its figures and report. */
export interface LhcoReportInputs {
  out: string;
  scaleName: string;
  scale: LhcoScale;
  seed: number;
  /** Seed of the pseudo-data. */
  dataSeed: number;
  /** performance.now() when the study started (the report gives its wall time). */
  started: number;
  /** The trained flows: the signal ensemble's members (one unless asked for more) and the background flow. */
  trained: { signal: TrainedModel[]; background: TrainedModel };
  /** The exported flows, loaded (float64 graphs where they have them): the signal ensemble's members, the background flow. */
  sModels: FlowModel[];
  bModel: FlowModel;
  data: LhcoStudyPseudoData;
  signalFraction: number;
  /** Pseudo-data events dropped outside a flow's training range. */
  dropped: number;
  fit: FitResult;
  parameters: LhcoParameterResult[];
  significance: { z: number; q0: number; nllBackgroundOnly: number };
  /** The likelihood's free parameters and its bounds. */
  names: string[];
  bounds: { lower: Float64Array; upper: Float64Array };
  /** Where the fit started, and whether that was the coarse scan's best point or the truth. */
  fitStart: { x: Float64Array; from: 'scan' | 'truth' };
  maps: FitMap[];
  interpolation: LhcoInterpolationResult;
  backgroundSim: Record<LhcoFeature, Float64Array>;
  backgroundFlow: Record<LhcoFeature, Float64Array>;
  backgroundKs: Record<LhcoFeature, number>;
  timings: Record<string, number>;
}

/** Writes figures/ (SVG and PNG) and report.html into s.out. */
export async function writeLhcoReport(s: LhcoReportInputs): Promise<{ reportPath: string; figures: Record<string, FigurePaths> }> {
  const { scale, sModels, bModel, trained, data, fit, parameters, significance, interpolation, backgroundSim, backgroundFlow, backgroundKs, timings } = s;
  const figDir = join(s.out, 'figures');
  const figures: Record<string, FigurePaths> = {};
  const figureRng = new Rng(s.seed).fork(4);
  const n = scale.sampleEvents;
  const byTheta = async (name: string, feature: LhcoFeature, points: LhcoPoint[], title: string, reference: string): Promise<void> => {
    const groups = [];
    for (const p of points) {
      const simulated = simulateSelectedSignal(figureRng, n, p);
      const sampled = await flowEvents(sModels, [p.mZprime, p.mX, p.mY], n, figureRng);
      groups.push({ thetaLabel: pointLabel(p), reference: simulated[feature], model: sampled[feature] });
    }
    figures[name] = await writeFigure(figDir, name, plots.distributionsByTheta({
      title,
      xTitle: FEATURE_TITLES[feature],
      range: FEATURE_RANGES[feature],
      bins: feature.startsWith('tau') ? 50 : 120,
      groups,
      thetaTitle: '(m_Z′, m_X, m_Y) [GeV]',
      referenceLabel: reference,
      modelLabel: 'flow samples',
    }));
  };
  const P = (mZprime: number, mX: number, mY: number): LhcoPoint => ({ mZprime, mX, mY });
  // Paper Fig. 4: m_J1J2 follows m_Z′; m_J1 peaks at m_X, and at m_Y when X lost a prong and its jet became the lighter one.
  await byTheta('signal-mjj', 'mjj', [P(3000, 500, 100), P(3500, 500, 100), P(4500, 500, 100)], 'Signal m_J1J2: simulation vs flow samples (trained m_Z′)', 'simulation');
  await byTheta('signal-mj1', 'mj1', [P(3500, 250, 100), P(3500, 500, 100), P(3500, 750, 300), P(3500, 1000, 200)], 'Signal m_J1 (heavier jet): simulation vs flow samples', 'simulation');
  const shapePoints = [P(3000, 250, 50), P(3500, 500, 100), P(4500, 1000, 300)];
  await byTheta('signal-dmj', 'dmj', shapePoints, 'Signal m_J1 − m_J2: simulation vs flow samples', 'simulation');
  await byTheta('signal-tau21j1', 'tau21j1', shapePoints, 'Signal τ21 of J1: simulation vs flow samples', 'simulation');
  await byTheta('signal-tau21j2', 'tau21j2', shapePoints, 'Signal τ21 of J2: simulation vs flow samples', 'simulation');
  // Paper Fig. 5: at the m_Z′ the flow never saw.
  const left = LHCO_INTERPOLATION_M_ZPRIME;
  await byTheta('interpolation-mjj', 'mjj', [P(left, 500, 100), P(left, 750, 300), P(left, 1000, 200)], `Interpolation: m_J1J2 at m_Z′ = ${left} GeV (not in training)`, 'simulation (not trained)');
  await byTheta('interpolation-mj1', 'mj1', [P(left, 500, 100), P(left, 750, 300), P(left, 1000, 200)], `Interpolation: m_J1 at m_Z′ = ${left} GeV (not in training)`, 'simulation (not trained)');
  for (const f of LHCO_FEATURES) {
    figures[`background-${f}`] = await writeFigure(figDir, `background-${f}`, plots.histogramComparison({
      title: `QCD background ${FEATURE_TITLES[f].replace(/ \[GeV\]$/, '')}: simulation vs flow samples`,
      xTitle: FEATURE_TITLES[f],
      range: FEATURE_RANGES[f],
      bins: f.startsWith('tau') ? 50 : 120,
      normalize: 'density',
      logY: f === 'mjj',
      series: [
        { label: 'simulation', values: backgroundSim[f], style: 'points' },
        { label: 'flow samples', values: backgroundFlow[f], style: 'line' },
      ],
    }));
  }
  // Pseudo-data with the fitted mixture on top: flow samples at the best fit (20 per sampled event of the figures),
  // weighted to the events each component is expected to hold.
  const nModel = 20 * n;
  const components = [
    { name: 'signal', model: sModels, fraction: s.signalFraction },
    { name: 'background', model: bModel, fraction: 1 - s.signalFraction },
  ];
  const prediction = await sampleFittedComponents(components, 'fixed-fractions', fit, (expected) => Math.round((nModel * expected) / fit.data.sumWeights), figureRng);
  const predicted = (component: string) => {
    const c = prediction.find((p) => p.component === component)!;
    return { columns: flowColumns(c.model, c.events), weights: new Float64Array(c.events.length / c.model.dimension).fill(c.weight) };
  };
  const modelSignal = predicted('signal');
  const modelBackground = predicted('background');
  for (const f of ['mjj', 'mj1'] as const) {
    const total = Float64Array.from([...modelSignal.columns[f], ...modelBackground.columns[f]]);
    const totalWeights = Float64Array.from([...modelSignal.weights, ...modelBackground.weights]);
    figures[`pseudo-data-${f}`] = await writeFigure(figDir, `pseudo-data-${f}`, plots.histogramComparison({
      title: `Pseudo-data (10k signal + 100k background) and the flow fit: ${FEATURE_TITLES[f].replace(/ \[GeV\]$/, '')}`,
      xTitle: FEATURE_TITLES[f],
      range: FEATURE_RANGES[f],
      bins: 100,
      logY: f === 'mjj',
      normalize: 'counts',
      series: [
        { label: 'pseudo-data', values: data.events[f], style: 'points' },
        { label: 'fit: signal + background', values: total, weights: totalWeights, style: 'line' },
        { label: 'fit: signal part', values: modelSignal.columns[f], weights: modelSignal.weights, style: 'filled' },
      ],
    }));
  }
  for (const map of s.maps) {
    const name = `delta-nll-${map.x}-${map.y}`;
    const fixedName = s.names.find((n) => n !== map.x && n !== map.y)!;
    const truth = LHCO_STUDY_TRUTH as Record<string, number>;
    figures[name] = await writeFigure(figDir, name, plots.deltaNllMap({
      title: `ΔNLL over (${PARAMETER_TITLES[map.x].replace(/ \[GeV\]$/, '')}, ${PARAMETER_TITLES[map.y].replace(/ \[GeV\]$/, '')}), ${fixedName} at its best fit; arrows: −∇NLL`,
      xTitle: PARAMETER_TITLES[map.x],
      yTitle: PARAMETER_TITLES[map.y],
      x: map.xs,
      y: map.ys,
      deltaNll: map.deltaNll,
      gradient: { gx: map.gradX, gy: map.gradY },
      truth: { x: truth[map.x], y: truth[map.y] },
      bestFit: map.best,
    }));
  }
  // One loss curve per flow: signal (member 1 of an ensemble), signal-2, …, background.
  const lossCurves = [
    ...trained.signal.map((model, m) => ({ name: m === 0 ? 'signal' : `signal-${m + 1}`, title: m === 0 ? 'signal' : `signal ${m + 1}`, caption: trained.signal.length === 1 ? 'Signal flow' : `Signal flow ${m + 1} of ${trained.signal.length}`, model })),
    { name: 'background', title: 'background', caption: 'Background flow', model: trained.background },
  ];
  for (const { name, title, model } of lossCurves) {
    figures[`training-loss-${name}`] = await writeFigure(figDir, `training-loss-${name}`, plots.lossCurve({
      title: `Training: NLL per event (${title} flow)`,
      epochs: model.history.map((h) => h.epoch),
      train: model.history.map((h) => h.trainLoss),
      validation: model.history.map((h) => h.validationLoss),
    }));
  }

  // The report.
  const figure = (name: string, caption: string): ReportFigure => ({ name, caption, ...figures[name] });
  const fitTable: ReportTable = {
    caption: `Fixed fractions f_s = ${data.nSignal}/${data.nSignal + data.nBackground}; L-BFGS-B from ${s.fitStart.from === 'truth' ? 'the truth (no scan)' : `the best point of a ${scale.scanPoints.join('×')} scan`}; errors from the Hessian at the minimum.` +
      (parameters[0].trainingError !== null
        ? ` σ_training: how far the signal flows' training noise moves the fit — the standard deviation over the ensemble's ${s.trained.signal.length} flows of each one's own fit (one Newton step from the best fit), over √${s.trained.signal.length}; the pull beside it adds it to σ in quadrature.`
        : ''),
    columns: [
      'parameter', 'truth [GeV]', 'best fit [GeV]', 'σ [GeV]', 'pull (fit − truth)/σ', 'σ_training [GeV]', 'pull with σ_training', 'fit start [GeV]', 'training range [GeV]',
    ],
    rows: parameters.map((p, j) => [p.name, p.truth, p.value, p.error, p.pull, p.trainingError ?? '—', p.pullWithTraining ?? '—', s.fitStart.x[j], `${s.bounds.lower[j]} – ${s.bounds.upper[j]}`]),
  };
  const ksColumns = ['feature', `mean KS at m_Z′ = ${left} (not trained)`, `max KS at m_Z′ = ${left}`, `mean KS at m_Z′ = ${interpolation.referenceMZprime} (trained)`, 'background flow KS'];
  const ksTable: ReportTable = {
    caption: `Two-sample KS distances, ${n} simulated and ${n} flow events at each of the ${interpolation.perPoint.length} (m_X, m_Y) grid points; 95 % critical value for identical distributions ${interpolation.critical95.toFixed(4)}.`,
    columns: ksColumns,
    rows: LHCO_FEATURES.map((f) => [f, interpolation.excluded[f].mean, interpolation.excluded[f].max, interpolation.trained[f].mean, backgroundKs[f]]),
  };
  const perPointTable: ReportTable = {
    caption: `KS distance per (m_X, m_Y) at m_Z′ = ${left} GeV (not trained).`,
    columns: ['m_X [GeV]', 'm_Y [GeV]', ...LHCO_FEATURES.map((f) => `KS ${f}`), 'm_J1J2 median shift [GeV]'],
    rows: interpolation.perPoint.map((r) => [r.mX, r.mY, ...LHCO_FEATURES.map((f) => r.ks[f]), r.mjjMedianShift]),
  };
  const timingTable: ReportTable = { caption: 'Wall time per stage.', columns: ['stage', 'seconds'], rows: Object.entries(timings).map(([k, v]) => [k, v]) };
  const mjjKs = interpolation.excluded.mjj;
  const signal = trained.signal[0];
  const sections: ReportSection[] = [
    {
      heading: 'Fit of the pseudo-data',
      text:
        `${data.nSignal} signal events at (m_Z′, m_X, m_Y) = (${LHCO_STUDY_TRUTH.m_zprime}, ${LHCO_STUDY_TRUTH.m_x}, ${LHCO_STUDY_TRUTH.m_y}) GeV and ${data.nBackground} QCD events (pseudo-data seed ${s.dataSeed}), ` +
        `all inside the selection m_JJ ∈ [${LHCO_ANALYSIS_MJJ_WINDOW.join(', ')}] GeV, fitted with the exported flows (onnxruntime, CPU): ` +
        `mixture likelihood with fixed fractions, the five features per event, the three signal masses free within the training ranges. ` +
        `${s.dropped} events lay outside a flow's training range and were dropped. ` +
        `Local significance against background only: Z = ${significance.z.toFixed(1)} (q0 = ${significance.q0.toFixed(1)}; NLL_b − NLL_s+b = ${(significance.nllBackgroundOnly - fit.nll).toFixed(2)}). ` +
        `Fit: ${fit.evaluations.calls} likelihood evaluations in ${(fit.wallMs / 1000).toFixed(1)} s, ${fit.converged ? 'converged' : `not converged (${fit.reason})`}.` +
        (fit.warnings.length ? `\n\nWarnings: ${fit.warnings.join('; ')}` : ''),
      tables: [fitTable],
      figures: [
        figure('pseudo-data-mjj', 'Pseudo-data m_J1J2 with the fitted flow mixture (log scale); filled: the signal part.'),
        figure('pseudo-data-mj1', 'Pseudo-data m_J1 with the fitted flow mixture; filled: the signal part.'),
        ...(s.maps.length
          ? [
              figure(`delta-nll-${s.names[1]}-${s.names[2]}`, 'ΔNLL over (m_X, m_Y) at the best-fit m_Z′, gradient arrows downhill, truth ★, best fit × (paper Fig. 7).'),
              figure(`delta-nll-${s.names[0]}-${s.names[1]}`, 'ΔNLL over (m_Z′, m_X) at the best-fit m_Y, gradient arrows downhill, truth ★, best fit × (paper Fig. 7).'),
            ]
          : []),
      ],
    },
    {
      heading: `Interpolation to m_Z′ = ${left} GeV`,
      text:
        `The signal flow was trained without any grid point at m_Z′ = ${left} GeV. Its samples there are compared with the simulator ` +
        `at all ${interpolation.perPoint.length} (m_X, m_Y) of the grid (paper Fig. 5). On m_J1J2 the mean KS distance is ${mjjKs.mean.toFixed(4)} and the largest ${mjjKs.max.toFixed(4)} ` +
        `(target ≤ 0.05: ${mjjKs.max <= 0.05 ? 'met at every point' : mjjKs.mean <= 0.05 ? 'met on average, not at every point' : 'not met'}). ` +
        `The median of the flow's m_J1J2 lies ${interpolation.mjjMedianShift.excluded.toFixed(1)} GeV from the simulator's on average (m_J1J2 resolution there ≈ ${(LHCO_MODEL.signal.mjjResolution * left).toFixed(0)} GeV). ` +
        `The same comparison at the trained m_Z′ = ${interpolation.referenceMZprime} GeV (median shift ${interpolation.mjjMedianShift.trained.toFixed(1)} GeV) separates the interpolation error from the flow's overall accuracy.`,
      tables: [ksTable, perPointTable],
      figures: [
        figure('interpolation-mjj', `m_J1J2 at m_Z′ = ${left} GeV: simulator (points) and flow samples (lines).`),
        figure('interpolation-mj1', `m_J1 at m_Z′ = ${left} GeV: simulator (points) and flow samples (lines).`),
      ],
    },
    {
      heading: 'Flows against the simulation',
      text: 'Distributions of the simulator (points) and of flow samples (lines) at trained grid points, coloured by θ (paper Fig. 4), and of the unconditional background flow.',
      figures: [
        figure('signal-mjj', 'Signal m_J1J2 for three m_Z′.'),
        figure('signal-mj1', 'Signal m_J1: the X peak, and the Y peak from events where the X jet lost a prong and became the lighter jet (swapped-jet structure, paper Fig. 4b).'),
        figure('signal-dmj', 'Signal m_J1 − m_J2.'),
        figure('signal-tau21j1', 'Signal τ21 of the heavier jet.'),
        figure('signal-tau21j2', 'Signal τ21 of the lighter jet.'),
        ...LHCO_FEATURES.map((f) => figure(`background-${f}`, `Background ${FEATURE_TITLES[f]}.`)),
      ],
    },
    {
      heading: 'Training',
      text:
        `Signal: ${signal.provenance.events} events per epoch (${signalEventsSimulated(scale)} simulated, ${scale.signalPerPoint} per grid point before the selection; new ones every epoch), ` +
        `${signal.provenance.epochs} epochs, validation NLL ${trained.signal.map((t) => t.provenance.validationLoss.toFixed(4)).join(', ')} nats/event` +
        (trained.signal.length > 1 ? ` (an ensemble of ${trained.signal.length} flows trained with different seeds, whose mean density is the signal template)` : '') +
        '; ' +
        `background: ${trained.background.provenance.events} events per epoch (new ones every epoch), ${trained.background.provenance.epochs} epochs, validation NLL ` +
        `${trained.background.provenance.validationLoss.toFixed(4)} nats/event. Flows: rational-quadratic spline (NSF) with ${LHCO_SPLINE_BINS} bins, ${scale.blocks} blocks of ${scale.hidden} hidden units; the signal flow on (m_J1, m_J2 = m_J1 − Δm_J, τ21, τ21, m_J1J2) (a unit-Jacobian change of variables) with the jet masses in units of m_X and m_Y (m_J1J2 in GeV), a linear θ path, θ weight decay ${LHCO_SIGNAL_THETA_DECAY} and a support margin of ${LHCO_SIGNAL_MJJ_MARGIN} × the range for m_J1J2. ` +
        `Trained on ${signal.provenance.backend}. Study wall time ${((performance.now() - s.started) / 1000).toFixed(0)} s.`,
      tables: [timingTable],
      figures: lossCurves.map((c) => figure(`training-loss-${c.name}`, `${c.caption}: loss per epoch.`)),
    },
  ];
  const reportPath = join(s.out, 'report.html');
  await writeFileAtomic(reportPath, buildReport({ title: 'flowscan — LHCO-like resonance (Saito et al. 2024, §3.2)', subtitle: `scale: ${s.scaleName}`, sections }));
  return { reportPath, figures };
}
