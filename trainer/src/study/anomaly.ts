// The anomaly-detection study on the real LHC Olympics 2020 R&D signal-region data (issue 13): a seeded held-out
// test split, density flows (−log p, bits per dimension as Tan 2020 Table 1), the idealised flow ratio, Tan's
// bootstrap λ, the supervised and idealised classifiers, each trained several times with different seeds, and one
// report with ROC, SIC, the (log p(x|bkg), log p(x|data)) plane and log p against λ⁻¹ (Tan Figs. 2–4).
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '@flowscan/runtime/node';
import { bitsPerDimension, logDensity } from '../anomaly/density.ts';
import { type LhcoSrSplit, countSignal, splitLhcoSr } from '../anomaly/events.ts';
import { densityPlaneFigure, logPVersusInverseLambdaFigure, rocFigure, sicFigure } from '../anomaly/figures.ts';
import { METHODS, METHOD_TITLES, type Method, type MethodSettings, type RepeatResult, runMethods } from '../anomaly/methods.ts';
import { SIMULATOR_SIGNAL_REGION, type SimulatedSearchSizes, runLocalisation, simulateSearch } from '../anomaly/localisation.ts';
import type { CutSignificance } from '../anomaly/bump-hunt.ts';
import { BUMP_HUNT_EFFICIENCIES, simulatorBumpHunt, simulatorBumpHuntOptions } from '../anomaly/simulator-bump-hunt.ts';
import { exportAnomalyScore } from '../anomaly/score-model.ts';
import { MIN_BACKGROUND_COUNT, type ScoreMetrics, meanAndSpread, scoreMetrics } from '../anomaly/metrics.ts';
import type { ClassifierKind } from '../classifier/kinds.ts';
import { type FlowKind, flowConfig } from '../flows/config.ts';
import { type ReportFigure, type ReportSection, type ReportTable, buildReport } from '../report/html.ts';
import { writeFigure } from '../report/render.ts';

/** Where the shared real data live (README there): ../shared/data/lhco-sr beside the repository. */
export const LHCO_SR_DATA_DIR = resolve(import.meta.dirname, '..', '..', '..', '..', 'shared', 'data', 'lhco-sr');

export interface AnomalyScale {
  flow: { kind: FlowKind; blocks: number; hidden: number };
  epochs: number;
  /** Flows per density of the ratios (their log p averaged). */
  ensemble: number;
  repeats: number;
  bootstrapIterations: number;
  classifierEpochs: number;
  /** Bags of the idealised classifier (random data/reference splits; idealised-classifier.ts). */
  idealisedBags: number;
  /** The simulated search for ANODE and CATHODE, and how many times they are trained. */
  simulator: SimulatedSearchSizes & { repeats: number };
}

export const ANOMALY_SCALES: Record<'quick' | 'default' | 'full', AnomalyScale> = {
  quick: { flow: { kind: 'maf', blocks: 4, hidden: 48 }, epochs: 8, ensemble: 1, repeats: 1, bootstrapIterations: 2, classifierEpochs: 12, idealisedBags: 2, simulator: { background: 100_000, signal: 250, testBackground: 10_000, testSignal: 3000, repeats: 1 } },
  default: { flow: { kind: 'maf', blocks: 5, hidden: 64 }, epochs: 15, ensemble: 5, repeats: 3, bootstrapIterations: 4, classifierEpochs: 30, idealisedBags: 8, simulator: { background: 200_000, signal: 400, testBackground: 20_000, testSignal: 6000, repeats: 2 } },
  full: { flow: { kind: 'maf', blocks: 5, hidden: 64 }, epochs: 15, ensemble: 8, repeats: 5, bootstrapIterations: 6, classifierEpochs: 60, idealisedBags: 16, simulator: { background: 1_000_000, signal: 1500, testBackground: 40_000, testSignal: 10_000, repeats: 3 } },
};

/**
 * Published numbers on the same data (issue 13): max SIC from the CATHODE repository (S/B ≈ 0.6 %), AUC of λ
 * from Tan 2020. Shown beside ours; they used far larger trainings and, for the classifiers, larger samples.
 */
const ANCHORS: Partial<Record<Method, string>> = {
  'neg-log-p': 'AUC 0.81–0.83 (Tan)',
  'idealised-ratio': 'max SIC 6.5 (ANODE)',
  bootstrap: 'AUC 0.869 (Tan, MAF)',
  supervised: 'max SIC 17.7',
  'idealised-classifier': 'max SIC 15.1',
};

export interface AnomalyStudyOptions {
  scale: keyof typeof ANOMALY_SCALES;
  out: string;
  seed: number;
  dataDir?: string;
  threads?: number;
  /** The supervised and idealised classifiers on the real data: MLPs (default) or boosted decision trees. */
  classifier?: ClassifierKind;
}

export interface MethodSummary {
  method: Method;
  auc: MeanSpread;
  maxSic: MeanSpread;
  perRepeat: { seed: number; auc: number; aucError: number; maxSic: number | null }[];
}

export interface AnomalyStudyResult {
  reportPath: string;
  summaryPath: string;
  methods: MethodSummary[];
  bitsPerDimension: { density: string; overall: number; signal: number; background: number }[];
  /** ANODE and CATHODE on the simulator, AUC and max SIC against its truth labels. */
  simulator: { method: 'anode' | 'cathode'; auc: MeanSpread; maxSic: MeanSpread }[];
  /** The bump hunt after CATHODE cuts on fresh simulated data, per cut (efficiency 1: no cut), over the repeats. */
  bumpHunt: BumpHuntSummary[];
  seconds: number;
}

export interface BumpHuntSummary {
  efficiency: number;
  z: MeanSpread;
  /** Over the repeats whose uncut fit found a signal (count: how many). */
  improvement: MeanSpread;
  /** NaN where too few background events pass to fit. */
  backgroundOnlyZ: MeanSpread;
  signalEvents: MeanSpread;
  events: MeanSpread;
}

type MeanSpread = { mean: number; spread: number; count: number };

/**
 * The boosted trees of the study's classifiers: scikit-learn's defaults (boosted-trees.ts) and 10 models per
 * classifier, each on its own training/validation split: one model's early stopping rests on ≈ 50 validation
 * signal events and stops after 1–15 trees, and the average of ten is what steadies it (docs/anomaly.md).
 */
export const STUDY_BOOSTED_TREES = { ensemble: 10 } as const;

export function methodSettings(scale: AnomalyScale, threads: number, classifierKind: ClassifierKind = 'mlp'): MethodSettings {
  return {
    classifierKind,
    boostedTrees: STUDY_BOOSTED_TREES,
    flow: flowConfig(scale.flow.kind, { blocks: scale.flow.blocks, hidden: scale.flow.hidden }),
    train: { maxEpochs: scale.epochs, batchSize: 256, learningRate: 1e-3, patience: 5 },
    ensemble: scale.ensemble,
    bootstrap: { alpha: 0.02, maxIterations: scale.bootstrapIterations, tolerance: 0.05 },
    classifier: { hidden: [64, 64, 64], maxEpochs: scale.classifierEpochs, ensemble: 5, batchSize: 256, patience: 10 },
    idealisedBags: scale.idealisedBags,
    threads,
  };
}

function describeSplit(split: LhcoSrSplit): string {
  const { training, test, extraSignal } = split;
  return (
    `training: ${training.count} data events (${countSignal(training)} signal, S/B = ${((100 * countSignal(training)) / (training.count - countSignal(training))).toFixed(2)} %); ` +
    `held-out test: ${test.count} events (${countSignal(test)} signal, of which ${split.testFromSignalFile} from the signal-only file); ` +
    `${extraSignal.count} further signal-only events for the supervised classifier`
  );
}

export async function runAnomalyStudy(o: AnomalyStudyOptions): Promise<AnomalyStudyResult> {
  const started = performance.now();
  const say = (line: string): void => void process.stderr.write(`${line}\n`);
  const scale = ANOMALY_SCALES[o.scale];
  const settings = methodSettings(scale, o.threads ?? 1, o.classifier);
  const dataDir = o.dataDir ?? LHCO_SR_DATA_DIR;
  const split = await splitLhcoSr(dataDir, { seed: 13 });
  say(`LHCO R&D signal region (${dataDir}): ${describeSplit(split)}`);

  const repeats: RepeatResult[] = [];
  for (let r = 0; r < scale.repeats; r++) {
    const seed = o.seed + 1000 * r;
    say(`repeat ${r + 1}/${scale.repeats} (seed ${seed})`);
    repeats.push(await runMethods(split, settings, seed, say));
  }
  const label = split.test.label;
  const metrics: Record<Method, ScoreMetrics[]> = Object.fromEntries(METHODS.map((m) => [m, repeats.map((rep) => scoreMetrics(rep.scores[m], label))])) as Record<Method, ScoreMetrics[]>;
  const methods: MethodSummary[] = METHODS.map((method) => ({
    method,
    auc: meanAndSpread(metrics[method].map((m) => m.auc)),
    maxSic: meanAndSpread(metrics[method].map((m) => m.maxSic?.sic ?? Number.NaN)),
    perRepeat: metrics[method].map((m, r) => ({ seed: repeats[r].seed, auc: m.auc, aucError: m.aucError, maxSic: m.maxSic?.sic ?? null })),
  }));
  for (const s of methods) say(`${METHOD_TITLES[s.method].padEnd(40)} AUC ${s.auc.mean.toFixed(3)} ± ${s.auc.spread.toFixed(3)}   max SIC ${s.maxSic.mean.toFixed(2)} ± ${s.maxSic.spread.toFixed(2)}`);

  // Mass localisation needs sidebands, which only the simulator has.
  const search = simulateSearch(o.seed + 77, scale.simulator);
  const srSignal = countSignal(search.signalRegion);
  const searchText =
    `simulated data: ${search.signalRegion.count} events in the signal region ${SIMULATOR_SIGNAL_REGION.join('–')} GeV (${srSignal} signal, S/B = ${((100 * srSignal) / (search.signalRegion.count - srSignal)).toFixed(2)} %) ` +
    `and ${search.sidebands.count} in the sidebands; an independent test of ${search.test.count} signal-region events (${countSignal(search.test)} signal)`;
  say(`LHCO-like simulator: ${searchText}`);
  const localisationSettings = { flow: settings.flow, train: settings.train, classifier: settings.classifier, oversampling: 2, threads: settings.threads };
  const localisation: { anode: ScoreMetrics; cathode: ScoreMetrics }[] = [];
  const bumpHunts: CutSignificance[][] = [];
  for (let r = 0; r < scale.simulator.repeats; r++) {
    const result = await runLocalisation(search, localisationSettings, o.seed + 1000 * r);
    say(`  ANODE and CATHODE, seed ${o.seed + 1000 * r}: ${Object.entries(result.seconds).map(([k, v]) => `${k} ${v.toFixed(0)} s`).join(', ')}`);
    localisation.push({ anode: scoreMetrics(result.anode, search.test.label), cathode: scoreMetrics(result.cathode, search.test.label) });
    const hunt = await simulatorBumpHunt(result.models.cathode, scale.simulator, o.seed + 1000 * r + 500);
    say(`  bump hunt after CATHODE cuts: ${hunt.map((h) => `${h.efficiency === 1 ? 'no cut' : `${100 * h.efficiency} %`} Z = ${h.result.significance.z.toFixed(2)}`).join(', ')}`);
    bumpHunts.push(hunt);
  }
  const bumpHunt: BumpHuntSummary[] = [1, ...BUMP_HUNT_EFFICIENCIES].map((efficiency, c) => {
    const over = (value: (h: CutSignificance) => number): MeanSpread => meanAndSpread(bumpHunts.map((hunt) => value(hunt[c])));
    // Repeats whose uncut fit found no signal have no ratio; NaN when none has one.
    const ratios = bumpHunts.flatMap((hunt) => (hunt[c].improvement === null ? [] : [hunt[c].improvement]));
    const improvement = ratios.length > 0 ? meanAndSpread(ratios) : { mean: Number.NaN, spread: Number.NaN, count: 0 };
    return { efficiency, z: over((h) => h.result.significance.z), improvement, backgroundOnlyZ: over((h) => h.backgroundOnlyZ ?? Number.NaN), signalEvents: over((h) => h.signalEvents), events: over((h) => h.events) };
  });
  const bumpHuntFit = simulatorBumpHuntOptions(o.seed + 501);
  const simulator = (['anode', 'cathode'] as const).map((method) => ({
    method,
    auc: meanAndSpread(localisation.map((l) => l[method].auc)),
    maxSic: meanAndSpread(localisation.map((l) => l[method].maxSic?.sic ?? Number.NaN)),
  }));
  for (const s of simulator) say(`simulator ${s.method.padEnd(8)} AUC ${s.auc.mean.toFixed(3)} ± ${s.auc.spread.toFixed(3)}   max SIC ${s.maxSic.mean.toFixed(2)} ± ${s.maxSic.spread.toFixed(2)}`);

  const first = repeats[0];
  const D = split.test.features.length;
  const isSignal = (i: number): boolean => label[i] === 1;
  const isBackground = (i: number): boolean => label[i] === 0;
  // Bits per dimension of single flows (an ensemble's mean log p is not a normalised density).
  const bpd = (
    [
      ['p(x|data)', await logDensity(first.models.data[0], split.test, settings.threads)],
      ['idealised p(x|bkg)', await logDensity(first.models.idealisedBackground[0], split.test, settings.threads)],
      ['bootstrapped p(x|bkg)', first.logP.bootstrapBackground],
    ] as const
  ).map(([density, logP]) => ({ density, overall: bitsPerDimension(logP, D), signal: bitsPerDimension(logP, D, isSignal), background: bitsPerDimension(logP, D, isBackground) }));

  // The first repeat's scores as ONNX flows plus anomaly.json: `flowscan anomaly score`, the runtime and the
  // browser page score events with them.
  const description = `LHCO R&D signal region, (${split.test.features.join(', ')}) in TeV, issue 13 study seed ${first.seed}`;
  await exportAnomalyScore(join(o.out, 'scores', 'idealised-ratio'), { data: first.models.data, background: first.models.idealisedBackground, backgroundSource: 'given', description });
  await exportAnomalyScore(join(o.out, 'scores', 'bootstrap'), { data: first.models.data, background: [first.models.bootstrapBackground], backgroundSource: 'bootstrap', bootstrap: { alpha: settings.bootstrap.alpha, ...first.bootstrap }, description });

  const figDir = join(o.out, 'figures');
  await mkdir(figDir, { recursive: true });
  const curves = METHODS.map((m) => ({ label: METHOD_TITLES[m], metrics: metrics[m][0] }));
  const figures: Record<string, ReportFigure> = {};
  const figure = async (name: string, spec: Parameters<typeof writeFigure>[2], caption: string): Promise<void> => {
    figures[name] = { name, caption, ...(await writeFigure(figDir, name, spec)) };
  };
  await figure('roc', rocFigure(curves, 'ROC on the held-out test split'), 'Background rejection against signal efficiency, first repeat of every method.');
  await figure('sic', sicFigure(curves, 'Significance improvement'), `SIC = ε_S/√ε_B where at least ${MIN_BACKGROUND_COUNT} test background events pass.`);
  await figure('plane-idealised', densityPlaneFigure(first.logP.idealisedBackground, first.logP.data, label, 'Test events: idealised background density'), 'Tan Fig. 2: log p(x|bkg) against log p(x|data), the background density trained on labelled background.');
  await figure('plane-bootstrap', densityPlaneFigure(first.logP.bootstrapBackground, first.logP.data, label, 'Test events: bootstrapped background density'), 'The same with the bootstrapped background density.');
  await figure('simulator-roc', rocFigure([{ label: 'ANODE', metrics: localisation[0].anode }, { label: 'CATHODE', metrics: localisation[0].cathode }], 'Simulator: mass localisation'), 'ROC of ANODE and CATHODE on the simulated signal-region test events (first repeat).');
  await figure('logp-lambda', logPVersusInverseLambdaFigure(first.logP.bootstrapBackground, first.logP.data, label, 'log p(x|data) against λ⁻¹ (bootstrap)'), 'Tan Figs. 3–4: a cut on log p and a cut on λ select different events.');

  const fmt = (x: { mean: number; spread: number; count: number }, digits: number): string => (x.count > 1 ? `${x.mean.toFixed(digits)} ± ${x.spread.toFixed(digits)}` : x.mean.toFixed(digits));
  const scoreTable: ReportTable = {
    caption: `Scores on the held-out test split: mean ± standard deviation over ${scale.repeats} trainings (seeds ${repeats.map((r) => r.seed).join(', ')}); max SIC with ≥ ${MIN_BACKGROUND_COUNT} background events passing`,
    columns: ['method', 'AUC', 'max SIC', 'published (same data)'],
    rows: methods.map((s) => [METHOD_TITLES[s.method], fmt(s.auc, 3), fmt(s.maxSic, 2), ANCHORS[s.method] ?? '']),
  };
  const bpdTable: ReportTable = {
    caption: 'Bits per dimension of the test events under single flows (the first member of each ensemble, first repeat), −Σ log₂ p / (N·D) with the features in TeV; lower is a better fit (Tan Table 1)',
    columns: ['density', 'overall', 'signal', 'background'],
    rows: bpd.map((b) => [b.density, b.overall, b.signal, b.background]),
  };
  const bootstrapTable: ReportTable = {
    caption: `Bootstrap iterations of the first repeat (α = ${settings.bootstrap.alpha}; ${first.bootstrap.converged ? 'converged' : `not converged after ${settings.bootstrap.maxIterations} iterations`})`,
    columns: ['iteration', 'ε', 'events removed', 'of them signal', 'new in this iteration'],
    rows: first.bootstrap.iterations.map((it) => [it.iteration, it.epsilon, it.removed, it.removedSignal, `${(100 * it.changed).toFixed(1)} %`]),
  };
  const timeTable: ReportTable = {
    caption: 'Wall time of the first repeat per method (s; shared CPU)',
    columns: ['step', 'seconds'],
    rows: Object.entries(first.seconds).map(([k, v]) => [k, Math.round(v)]),
  };
  const seconds = (performance.now() - started) / 1000;
  const mlpText = `classifiers 3 × 64 ReLU, ${scale.classifierEpochs} epochs, ensemble of the 5 best epochs`;
  const classifierText =
    settings.classifierKind === 'bdt'
      ? `supervised and idealised classifiers: boosted decision trees (≤ 31 leaves, learning rate 0.1, early stopping), ${STUDY_BOOSTED_TREES.ensemble} models each; CATHODE's ${mlpText.slice('classifiers '.length)}`
      : mlpText;
  const sections: ReportSection[] = [
    {
      heading: 'Data and split',
      text:
        `Real LHC Olympics 2020 R&D signal-region events (3.3 < m_jj < 3.7 TeV), features m_J,min, Δm_J, τ21 of both jets. ${describeSplit(split)}. ` +
        `The split is seeded (seed 13) and the test events are never trained on.\n\nThe idealised references use the truth labels: the background density is trained on the ` +
        `labelled background events of the training data (the same events that sit in the data density's sample), the idealised classifier on ${scale.idealisedBags} random splits of it into a data side and a disjoint labelled-background reference (bagged: the mean of their probabilities).`,
    },
    { heading: 'Scores', tables: [scoreTable], figures: [figures.roc, figures.sic] },
    { heading: 'Densities', tables: [bpdTable], figures: [figures['plane-idealised'], figures['plane-bootstrap'], figures['logp-lambda']] },
    { heading: 'Bootstrap', tables: [bootstrapTable] },
    {
      heading: 'Mass localisation on the LHCO-like simulator',
      text:
        `The real files hold the signal region only, so ANODE (p(x | m_jj) trained on the sidebands, interpolated into the signal region, against p(x | m_jj) of the signal-region data) ` +
        `and CATHODE (the sideband flow sampled at m_jj drawn from a kernel density of the signal-region m_jj, 2 samples per data event, and a classifier of data against samples) run on the simulator (docs/lhco-simulator.md): ${searchText}.`,
      tables: [
        {
          caption: `Simulator, against its truth labels: mean ± standard deviation over ${scale.simulator.repeats} training(s)`,
          columns: ['method', 'AUC', 'max SIC'],
          rows: simulator.map((s) => [s.method === 'anode' ? 'ANODE' : 'CATHODE', fmt(s.auc, 3), fmt(s.maxSic, 2)]),
        },
        {
          caption:
            `Bump hunt (trainer/src/anomaly/bump-hunt.ts): fresh simulated data of the same size (${scale.simulator.background} QCD events, ${scale.simulator.signal} signal), scored by the CATHODE classifier and cut to keep a fraction of the signal-region events; ` +
            `binned Poisson fit of m_jj over ${bumpHuntFit.range.join('–')} GeV (${bumpHuntFit.bins} bins) with the four-parameter dijet function and a Gaussian at ${bumpHuntFit.signal.mass.toFixed(0)} GeV, σ = ${bumpHuntFit.signal.sigma.toFixed(0)} GeV; ` +
            `Z = √q0 local. "Background only": the same fit on the QCD events that pass (what the cut's sculpting fakes). Mean ± standard deviation over ${scale.simulator.repeats} training(s)`,
          columns: ['events kept in the signal region', 'events in the fit', 'signal events', 'Z', 'Z / Z without cut', 'Z background only'],
          rows: bumpHunt.map((h) => [h.efficiency === 1 ? 'all (no cut)' : `${100 * h.efficiency} %`, fmt(h.events, 0), fmt(h.signalEvents, 0), fmt(h.z, 2), h.improvement.count === scale.simulator.repeats ? fmt(h.improvement, 2) : h.improvement.count > 0 ? `${fmt(h.improvement, 2)} (${h.improvement.count} of ${scale.simulator.repeats})` : 'no uncut signal', Number.isNaN(h.backgroundOnlyZ.mean) ? 'too few events' : fmt(h.backgroundOnlyZ, 2)]),
        },
      ],
      figures: [figures['simulator-roc']],
    },
    {
      heading: 'Training',
      text: `Flows: ${scale.flow.kind.toUpperCase()} ${scale.flow.blocks} × ${scale.flow.hidden}, ${scale.epochs} epochs at most (onnxruntime engine), ${scale.ensemble} per density of the ratios (mean log p; the bootstrap refits one per iteration); ${classifierText}. Study wall time ${seconds.toFixed(0)} s.`,
      tables: [timeTable],
    },
  ];
  const reportPath = join(o.out, 'report.html');
  await writeFileAtomic(reportPath, buildReport({ title: 'flowscan — anomaly detection on the LHCO R&D signal region (issue 13)', subtitle: `scale: ${o.scale}`, sections }));
  const summaryPath = join(o.out, 'summary.json');
  const bootstrap = repeats.map((r) => ({ seed: r.seed, ...r.bootstrap }));
  await writeFileAtomic(summaryPath, JSON.stringify({ scale: o.scale, seed: o.seed, classifier: settings.classifierKind, split: describeSplit(split), methods, bitsPerDimension: bpd, bootstrap, simulator: { data: searchText, methods: simulator, bumpHunt }, seconds }, null, 2));
  say(`anomaly study done in ${seconds.toFixed(0)} s`);
  return { reportPath, summaryPath, methods, bitsPerDimension: bpd, simulator, bumpHunt, seconds };
}
