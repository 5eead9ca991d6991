// `flowscan study amplify`: MC amplification (Gavranovič & Kerševan, "Normalizing Flows for Physics Data
// Analyses") on the LHCO-like simulator or the real LHCO R&D files (amplify-data.ts). A limited QCD background
// sample plays the MC; a flow trained on it generates 10×…1000× more events (through `generate`'s library API); a
// classifier of signal against background cuts the events as the paper's analysis does; m_JJ after the cut is
// histogrammed for each background source — the raw MC, each generated sample, and a large reference sample (the
// truth) — and a binned HistFactory fit measures what each source does to the search: μ̂ ± σ and the 95 % CL upper
// limit on μ against luminosity, and the change of the limit with the number of generated events under injected
// shape systematics. The template deviation from the reference against its statistical error shows where
// amplification helps and where it biases.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type FlowModel, Rng, histfactory as hf, plots } from '@flowscan/runtime';
import { loadModel, writeFileAtomic } from '@flowscan/runtime/node';
import type { BinnedSample } from '../compare/metrics.ts';
import { classifierScorer, trainClassifier } from '../classifier/index.ts';
import { LHCO_FEATURES, type LhcoEvents } from '../data/lhco.ts';
import { exportModel } from '../export/export.ts';
import { flowConfig } from '../flows/config.ts';
import { generateEvents } from '../generate/generate.ts';
import { fixedTheta } from '../generate/theta.ts';
import { type ReportFigure, type ReportTable, buildReport } from '../report/html.ts';
import { type FigurePaths, writeFigure } from '../report/render.ts';
import { trainingDataFromColumns } from '../train/dataset.ts';
import { runTraining } from '../train/run.ts';
import type { TrainedModel } from '../train/saved-model.ts';
import {
  type SignalStrength,
  type TemplateDeviation,
  amplifyWorkspace,
  asimovCounts,
  fitSignalStrength,
  replicaVariance,
  scaleSample,
  templateDeviation,
  upperLimitOnMu,
} from './amplify-analysis.ts';
import { type AmplifyInputs, realInputs, simulatedInputs } from './amplify-data.ts';
import { type SeriesPoint, seriesFigure } from './amplify-figures.ts';

/** Bins of m_JJ in the analysis window (amplify-data.ts: 3000–4200 GeV simulated, 3300–3700 GeV real). */
export const AMPLIFY_MJJ_BINS = 8;
/** Expected signal over background events in the window before the classifier cut (sets the signal yield per luminosity). */
export const AMPLIFY_SIGNAL_TO_BACKGROUND = 0.001;
/** The classifier cut keeps this fraction of the signal (threshold from the signal template sample). */
export const AMPLIFY_CUT_SIGNAL_EFFICIENCY = 0.7;
/** Injected uncorrelated shape systematics (shapesys, fraction of each background bin), paper Fig. 5. */
export const AMPLIFY_SHAPE_SYSTEMATICS: readonly number[] = [0, 0.01, 0.05, 0.1];
/** The classifier sees the jet substructure only: a cut on m_JJ-independent features leaves the m_JJ peak to the fit. */
const CLASSIFIER_FEATURES = ['mj1', 'dmj', 'tau21j1', 'tau21j2'] as const;
/** Bins of the classifier-logit histograms (the score figure). */
const LOGIT_RANGE: [number, number] = [-12, 12];
/** Events scored and binned per step (bounds memory whatever the sample sizes). */
const BLOCK_EVENTS = 1 << 18;

export interface AmplifyScale {
  /** The limited MC: background events in the window. */
  mcEvents: number;
  /** Generated events per MC event, one generated background source each (nested: the smaller are prefixes). */
  amplification: number[];
  /** Simulated reference events (the real files' reference is every labelled QCD event not used elsewhere). */
  referenceEvents: number;
  /** Signal events in the window for the template and the cut threshold (simulated; the real files give what they hold). */
  signalEvents: number;
  /** Events per class for training the classifier (independent of every sample above). */
  classifierEvents: number;
  classifierEpochs: number;
  epochs: number;
  blocks: number;
  hidden: number;
  batchSize: number;
  /** Expected background events in the window before the cut, one analysis each. */
  luminosities: number[];
  /** Flows trained on bootstrap replicas of the MC (Poisson(1) event weights), for the flow's own uncertainty. */
  replicas: number;
  /** Generated events per MC event from each replica flow. */
  replicaAmplification: number;
}

export const AMPLIFY_SCALES: Record<'quick' | 'default' | 'full', AmplifyScale> = {
  quick: { mcEvents: 10_000, amplification: [10, 30, 100], referenceEvents: 2_000_000, signalEvents: 40_000, classifierEvents: 20_000, classifierEpochs: 30, epochs: 40, blocks: 4, hidden: 32, batchSize: 256, luminosities: [1e4, 3e4, 1e5, 3e5, 1e6], replicas: 6, replicaAmplification: 20 },
  default: { mcEvents: 20_000, amplification: [10, 30, 100, 300], referenceEvents: 10_000_000, signalEvents: 100_000, classifierEvents: 50_000, classifierEpochs: 50, epochs: 60, blocks: 4, hidden: 48, batchSize: 256, luminosities: [1e4, 3e4, 1e5, 3e5, 1e6], replicas: 6, replicaAmplification: 30 },
  full: { mcEvents: 20_000, amplification: [10, 30, 100, 300, 1000], referenceEvents: 30_000_000, signalEvents: 200_000, classifierEvents: 100_000, classifierEpochs: 80, epochs: 100, blocks: 5, hidden: 64, batchSize: 256, luminosities: [1e4, 3e4, 1e5, 3e5, 1e6], replicas: 10, replicaAmplification: 50 },
};

export interface AmplifyStudyOptions {
  /** A named scale, or the sizes themselves (tests run a tiny one). */
  scale: keyof typeof AMPLIFY_SCALES | AmplifyScale;
  out: string;
  seed?: number;
  /** onnxruntime threads for training, sampling and scoring (default 2). */
  threads?: number;
  /** The real LHCO R&D signal-region folder: its labelled QCD events are the MC and the reference (default: the simulator). */
  dataDir?: string;
  /**
   * Gauss-rank (quantile) preprocessing of every feature in the flows, as the paper does (default true; false: logit,
   * probit for m_JJ). Quick runs, seeds 1–3: the ×100 template's shape χ²/ndf against the truth 1.3–3.4 instead of
   * 0.3–7.3, its largest pull 0.8–1.8σ instead of 0.3–3.4σ (docs/amplify.md).
   */
  quantile?: boolean;
}

/** The events of one background source that pass the cut, binned: m_JJ counts and classifier-logit counts. */
class SourceTally {
  events = 0;
  readonly mjj = new Float64Array(AMPLIFY_MJJ_BINS);
  readonly logit = new Float64Array(60);

  constructor(
    readonly label: string,
    readonly window: readonly [number, number],
  ) {}

  /** Adds events [0, count) of a scored block. */
  add(mjj: ArrayLike<number>, logit: ArrayLike<number>, threshold: number, count: number): void {
    const [lo, hi] = this.window;
    const [llo, lhi] = LOGIT_RANGE;
    this.events += count;
    for (let i = 0; i < count; i++) {
      const l = Math.min(Math.max(logit[i], llo), lhi - 1e-9);
      this.logit[Math.floor(((l - llo) / (lhi - llo)) * this.logit.length)]++;
      if (!(logit[i] >= threshold) || !(mjj[i] >= lo && mjj[i] < hi)) continue;
      this.mjj[Math.min(AMPLIFY_MJJ_BINS - 1, Math.floor(((mjj[i] - lo) / (hi - lo)) * AMPLIFY_MJJ_BINS))]++;
    }
  }

  /** Fraction of the source's events that pass the cut. */
  get efficiency(): number {
    return this.mjj.reduce((s, v) => s + v, 0) / this.events;
  }

  /** The template for `expected` background events before the cut: each event weighs expected / events. */
  template(expected: number): BinnedSample {
    return scaleSample({ sumw: this.mjj, sumw2: this.mjj }, expected / this.events);
  }
}

export type SourceKind = 'mc' | 'generated' | 'generated+flow' | 'reference';

/** A background source of the analysis: a tally, and for generated ones optionally the flow's bootstrap variance. */
class BackgroundSource {
  constructor(
    readonly label: string,
    readonly kind: SourceKind,
    readonly tally: SourceTally,
    /** Per bin, variance of the fraction of events in the bin from the flow's finite training sample (replicaVariance). */
    readonly flowVariance: Float64Array | null = null,
  ) {}

  /** The tally's template, its Σw² widened by the flow's variance (scaled to `expected` events) in quadrature. */
  template(expected: number): BinnedSample {
    const t = this.tally.template(expected);
    const extra = this.flowVariance;
    return extra ? { sumw: t.sumw, sumw2: Float64Array.from(t.sumw2, (v, b) => v + extra[b] * expected * expected) } : t;
  }
}

export interface AmplifySourceResult {
  label: string;
  kind: SourceKind;
  /** Events of the sample (before the cut) and the fraction passing it. */
  events: number;
  efficiency: number;
  deviation: TemplateDeviation | null;
  /** Per luminosity: μ̂ ± σ on the truth's Asimov data (μ = 1) and μ_UL on its background-only Asimov data. */
  fits: { luminosity: number; strength: SignalStrength; upperLimit: number }[];
  /** Per injected shape systematic: μ_UL at the largest luminosity. */
  limitsWithSystematics: { systematic: number; upperLimit: number }[];
}

export interface AmplifyStudyResult {
  reportPath: string;
  summaryPath: string;
  threshold: number;
  backgroundEfficiency: number;
  sources: AmplifySourceResult[];
  /** |μ̂ − 1| ≤ σ at every luminosity, for every generated source with its own staterror and with the flow's bootstrap uncertainty added. */
  withinError: { generated: boolean; generatedWithFlowUncertainty: boolean };
  timings: Record<string, StageTime>;
}

/** Seconds of one stage: wall clock, and CPU of this process (all its threads). */
export interface StageTime {
  wall: number;
  cpu: number;
}

function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Row-major [n, 4] classifier inputs from event columns [from, from + n). */
function classifierInputs(columns: Record<string, ArrayLike<number>>, from: number, n: number): Float32Array {
  const x = new Float32Array(n * CLASSIFIER_FEATURES.length);
  CLASSIFIER_FEATURES.forEach((f, j) => {
    const c = columns[f];
    for (let i = 0; i < n; i++) x[i * CLASSIFIER_FEATURES.length + j] = c[from + i];
  });
  return x;
}

function windowText([lo, hi]: readonly [number, number]): string {
  return `m_JJ ∈ [${lo}, ${hi}] GeV`;
}

function fraction(value: number): string {
  return `${(100 * value).toFixed(value < 0.01 ? 2 : 1)} %`;
}

export async function runAmplifyStudy(o: AmplifyStudyOptions): Promise<AmplifyStudyResult> {
  const scale = typeof o.scale === 'string' ? AMPLIFY_SCALES[o.scale] : o.scale;
  if (!scale) throw new Error(`unknown amplify study scale "${String(o.scale)}": expected one of ${Object.keys(AMPLIFY_SCALES).join(', ')}`);
  if (!(scale.amplification.length >= 1 && scale.amplification.every((k) => Number.isInteger(k) && k >= 1))) {
    throw new Error(`amplification factors must be integers ≥ 1, got [${scale.amplification.join(', ')}]`);
  }
  const seed = o.seed ?? 1;
  const threads = o.threads ?? 2;
  const started = performance.now();
  const startCpu = process.cpuUsage();
  // Wall and CPU seconds per stage: on a shared machine the two differ several-fold, and both are reported.
  const timings: Record<string, StageTime> = {};
  let mark = { wall: performance.now(), cpu: process.cpuUsage() };
  const endStage = (name: string): void => {
    const cpu = process.cpuUsage(mark.cpu);
    timings[name] = { wall: (performance.now() - mark.wall) / 1000, cpu: (cpu.user + cpu.system) / 1e6 };
    say(`  [${name}: ${timings[name].wall.toFixed(1)} s wall, ${timings[name].cpu.toFixed(1)} s CPU]`);
    mark = { wall: performance.now(), cpu: process.cpuUsage() };
  };
  await mkdir(o.out, { recursive: true });
  const rng = new Rng(seed);
  const inputs = o.dataDir ? await realInputs(o.dataDir, scale, rng) : simulatedInputs(scale, rng);
  const { window } = inputs;
  say(`events from ${inputs.origin}, ${windowText(window)}`);

  // 1. The classifier of the analysis, trained once on its own simulated samples; the cut keeps 70 % of the signal.
  const trainBackground = inputs.classifierBackground;
  const trainSignal = inputs.classifierSignal;
  say(`classifier: ${trainSignal.mjj.length} signal and ${trainBackground.mjj.length} background events, features ${CLASSIFIER_FEATURES.join(', ')}`);
  const { model: classifier } = await trainClassifier(
    { x: classifierInputs(trainBackground, 0, trainBackground.mjj.length) },
    { x: classifierInputs(trainSignal, 0, trainSignal.mjj.length) },
    { features: CLASSIFIER_FEATURES.map((name) => ({ name, unit: name.startsWith('tau') ? '' : 'GeV' })), hidden: [32, 32], maxEpochs: scale.classifierEpochs, batchSize: 256, patience: 6, seed, threads },
  );
  const scorer = await classifierScorer(classifier);
  const scoreLogits = async (columns: Record<string, ArrayLike<number>>, from: number, n: number): Promise<Float32Array> =>
    (await scorer.score(classifierInputs(columns, from, n), n)).logit;
  const signalEvents = inputs.signal;
  const signalCount = signalEvents.mjj.length;
  const signalLogits = await scoreLogits(signalEvents, 0, signalCount);
  const sortedSignal = Float32Array.from(signalLogits).sort();
  const threshold = sortedSignal[Math.floor((1 - AMPLIFY_CUT_SIGNAL_EFFICIENCY) * signalCount)];
  const signalTally = new SourceTally('signal', window);
  signalTally.add(signalEvents.mjj, signalLogits, threshold, signalCount);
  say(`  cut: classifier logit ≥ ${threshold.toFixed(3)} keeps ${fraction(signalTally.efficiency)} of the signal in the window`);
  endStage('classifier');

  // 2. The limited MC and the flow trained on it.
  const mc = inputs.mc;
  say(`MC: ${scale.mcEvents} QCD events; training the background flow on them`);
  const setup: McFlowSetup = { inputs, scale, threads, out: o.out, quantile: o.quantile ?? true };
  const { trained, flow } = await trainMcFlow(mc, null, 'mc-flow', seed, setup);
  endStage('MC and flow training');

  // 3. Every source through the cut: the MC, the reference (the truth) and the generated samples.
  const mcTally = new SourceTally('MC', window);
  mcTally.add(mc.mjj, await scoreLogits(mc, 0, scale.mcEvents), threshold, scale.mcEvents);
  const referenceTally = new SourceTally('reference', window);
  for (const block of inputs.referenceBlocks(BLOCK_EVENTS)) {
    const n = block.mjj.length;
    referenceTally.add(block.mjj, await scoreLogits(block, 0, n), threshold, n);
  }
  say(`reference: ${inputs.referenceEvents} events, cut efficiency ${fraction(referenceTally.efficiency)}; MC: ${fraction(mcTally.efficiency)} (${mcTally.mjj.reduce((s, v) => s + v, 0)} events pass)`);
  endStage('reference sample');
  const sizes = [...scale.amplification].sort((a, b) => a - b).map((k) => k * scale.mcEvents);
  const generatedTallies = await generateAndTally(flow, sizes, scale.mcEvents, window, seed, threshold, scoreLogits);
  await flow.release();
  endStage('generation');

  // The flow's own uncertainty: flows trained on bootstrap replicas of the MC, each generating its own sample.
  const replicaRng = rng.fork(6);
  const replicaTemplates = [];
  for (let r = 0; r < scale.replicas; r++) {
    const weights = Float64Array.from({ length: scale.mcEvents }, () => replicaRng.poisson(1));
    say(`bootstrap replica ${r + 1}/${scale.replicas}: ${weights.reduce((a, w) => a + (w > 0 ? 1 : 0), 0)} distinct MC events`);
    const replica = await trainMcFlow(mc, weights, `replica-${r + 1}`, seed + 1 + r, setup);
    const [tally] = await generateAndTally(replica.flow, [scale.replicaAmplification * scale.mcEvents], scale.mcEvents, window, seed + 7919 * (r + 1), threshold, scoreLogits);
    await replica.flow.release();
    replicaTemplates.push({ counts: tally.mjj, events: tally.events });
  }
  const flowVariance = replicaVariance(replicaTemplates);
  endStage('bootstrap replicas');

  // 4. The analyses: per source and luminosity μ̂ ± σ and μ_UL, then μ_UL with injected systematics at the largest luminosity.
  const signalTemplate = (luminosity: number): Float64Array =>
    Float64Array.from(signalTally.mjj, (v) => (v * AMPLIFY_SIGNAL_TO_BACKGROUND * luminosity) / signalTally.events);
  const sources = [
    new BackgroundSource('MC', 'mc', mcTally),
    ...generatedTallies.map((t) => new BackgroundSource(t.label, 'generated', t)),
    ...generatedTallies.map((t) => new BackgroundSource(`${t.label} ± flow`, 'generated+flow', t, flowVariance)),
    new BackgroundSource('reference', 'reference', referenceTally),
  ];
  const results: AmplifySourceResult[] = [];
  const largest = Math.max(...scale.luminosities);
  for (const source of sources) {
    say(`HistFactory fits with the ${source.label} background`);
    const fits = [];
    for (const luminosity of scale.luminosities) {
      const signal = signalTemplate(luminosity);
      const background = source.template(luminosity);
      const truth = referenceTally.template(luminosity).sumw;
      const strength = await fitSignalStrength(amplifyWorkspace({ signal, background, observed: asimovCounts(signal, truth, 1), shapeSystematic: 0 }));
      const upperLimit = await upperLimitOnMu(amplifyWorkspace({ signal, background, observed: asimovCounts(signal, truth, 0), shapeSystematic: 0 }));
      fits.push({ luminosity, strength, upperLimit });
      say(`  B = ${luminosity.toExponential(0)}: μ̂ = ${strength.muHat.toFixed(3)} ± ${strength.sigma.toFixed(3)}, μ_UL = ${upperLimit.toFixed(3)}`);
    }
    const limitsWithSystematics = [];
    for (const systematic of AMPLIFY_SHAPE_SYSTEMATICS) {
      const signal = signalTemplate(largest);
      const observed = asimovCounts(signal, referenceTally.template(largest).sumw, 0);
      limitsWithSystematics.push({ systematic, upperLimit: await upperLimitOnMu(amplifyWorkspace({ signal, background: source.template(largest), observed, shapeSystematic: systematic })) });
    }
    results.push({
      label: source.label,
      kind: source.kind,
      events: source.tally.events,
      efficiency: source.tally.efficiency,
      deviation: source.kind === 'reference' ? null : templateDeviation(source.template(1), referenceTally.template(1)),
      fits,
      limitsWithSystematics,
    });
  }
  endStage('HistFactory fits and limits');

  // 5. Figures, report, summary.
  const allWithinError = (kind: SourceKind) => results.filter((r) => r.kind === kind).every((r) => r.fits.every((f) => Math.abs(f.strength.muHat - 1) <= f.strength.sigma));
  const withinError = { generated: allWithinError('generated'), generatedWithFlowUncertainty: allWithinError('generated+flow') };
  const figures = await writeFigures(join(o.out, 'figures'), { scale, results, signalTally, mcTally, referenceTally, generatedTallies, trained, largest, threshold, window });
  endStage('figures');
  const reportPath = join(o.out, 'report.html');
  await writeFileAtomic(reportPath, buildReport(reportContents({ scale, seed, results, signalTally, mcTally, referenceTally, threshold, withinError, figures, timings, trained, largest, inputs })));
  // One workspace per source at the largest luminosity (Asimov data of the truth, μ = 1), readable by pyhf.
  await mkdir(join(o.out, 'workspaces'), { recursive: true });
  for (const source of sources) {
    const signal = signalTemplate(largest);
    const ws = amplifyWorkspace({ signal, background: source.template(largest), observed: asimovCounts(signal, referenceTally.template(largest).sumw, 1), shapeSystematic: 0 });
    await writeFileAtomic(join(o.out, 'workspaces', `${source.label.replace(/[^A-Za-z0-9]+/g, '-').replace(/-$/, '')}.json`), hf.workspaceToJson(ws));
  }
  const cpu = process.cpuUsage(startCpu);
  timings.total = { wall: (performance.now() - started) / 1000, cpu: (cpu.user + cpu.system) / 1e6 };
  const summaryPath = join(o.out, 'summary.json');
  const summary = { scale, seed, origin: inputs.origin, window, referenceEvents: inputs.referenceEvents, signalEvents: signalCount, threshold, signalEfficiency: signalTally.efficiency, backgroundEfficiency: referenceTally.efficiency, withinError, flowVariance: Array.from(flowVariance), sources: results, timings };
  await writeFileAtomic(summaryPath, `${JSON.stringify(summary, null, 2)}\n`);
  say(`amplify study done in ${timings.total.wall.toFixed(0)} s wall, ${timings.total.cpu.toFixed(0)} s CPU`);
  return { reportPath, summaryPath, threshold, backgroundEfficiency: referenceTally.efficiency, sources: results, withinError, timings };
}

interface McFlowSetup {
  inputs: AmplifyInputs;
  scale: AmplifyScale;
  threads: number;
  out: string;
  quantile: boolean;
}

/**
 * Trains the background flow on the MC (with Poisson bootstrap weights for a replica), exports it and loads its
 * graphs. The m_JJ window is a hard edge with density on it: the probit (or quantile) map models the flow up to it.
 */
async function trainMcFlow(mc: LhcoEvents, weights: Float64Array | null, name: string, seed: number, { inputs, scale, threads, out, quantile }: McFlowSetup): Promise<{ trained: TrainedModel; flow: FlowModel }> {
  const where = `${inputs.origin}, ${windowText(inputs.window)}`;
  const columns: Record<string, ArrayLike<number>> = weights ? { ...mc, weight: weights } : mc;
  const trained = await runTraining({
    label: `background flow (${name})`,
    data: trainingDataFromColumns(columns, [...LHCO_FEATURES], [], weights ? 'weight' : undefined),
    dataFiles: [`QCD background from ${where}: ${scale.mcEvents} events${weights ? ', Poisson(1) bootstrap weights' : ''}, seed ${seed}`],
    features: LHCO_FEATURES.map((f) => ({
      name: f,
      unit: f.startsWith('tau') ? '' : 'GeV',
      ...(f === 'mjj' ? { support: [...inputs.window] as [number, number] } : {}),
      ...(quantile ? { quantile: true } : {}),
    })),
    params: [],
    // A coupling flow: its sampler inverts each block in one pass (an autoregressive one needs D passes), and the
    // study samples up to 1000× the MC.
    flow: flowConfig('nsf-coupling', { blocks: scale.blocks, hidden: scale.hidden, activation: 'tanh' }),
    train: { maxEpochs: scale.epochs, batchSize: scale.batchSize, learningRate: 3e-3, schedule: 'cosine', patience: 10, seed },
    engine: 'onnxruntime',
    threads,
    out: join(out, 'runs', name),
  });
  const dir = join(out, 'models', name);
  await exportModel(trained, dir, { name: `amplify-${name}`, description: `QCD background flow trained on ${scale.mcEvents} MC events${weights ? ' (bootstrap replica)' : ''} from ${where} (MC amplification study)` });
  return { trained, flow: await loadModel(dir, { ep: 'cpu', threads }) };
}

/**
 * Generates the largest of `sizes` events from the flow in blocks (generateEvents into an in-memory writer), scores
 * and bins each block; the sample of each size is the first that many events, so one pass fills all (nested samples).
 */
async function generateAndTally(
  flow: FlowModel,
  sizes: number[],
  mcEvents: number,
  window: readonly [number, number],
  seed: number,
  threshold: number,
  scoreLogits: (columns: Record<string, ArrayLike<number>>, from: number, n: number) => Promise<Float32Array>,
): Promise<SourceTally[]> {
  const tallies = sizes.map((n) => new SourceTally(`generated ×${n / mcEvents}`, window));
  const total = sizes.at(-1)!;
  say(`generating ${total} events (${sizes.map((n) => n / mcEvents).join(', ')} × the MC) from the flow`);
  const t0 = performance.now();
  for (let done = 0, block = 0; done < total; done += BLOCK_EVENTS, block++) {
    const n = Math.min(BLOCK_EVENTS, total - done);
    const columns: Record<string, Float32Array> = Object.fromEntries(LHCO_FEATURES.map((f) => [f, new Float32Array(n)]));
    let rows = 0;
    const writer = {
      get rows() {
        return rows;
      },
      write(chunk: Record<string, Float32Array>, count: number) {
        for (const f of LHCO_FEATURES) columns[f].set(chunk[f].subarray(0, count), rows);
        rows += count;
      },
      close() {},
      abort() {},
    };
    // Each block has its own seed: Rng seeds are hashed, so consecutive ones give unrelated streams.
    await generateEvents({
      components: [{ name: 'background', model: flow, events: n, weight: 1 }],
      theta: fixedTheta({}),
      seed: seed * 1_000_003 + block,
      chunk: 65_536,
      selection: null,
      columns: LHCO_FEATURES,
      writer,
      histograms: null,
    });
    const logits = await scoreLogits(columns, 0, n);
    sizes.forEach((size, j) => {
      if (size > done) tallies[j].add(columns.mjj, logits, threshold, Math.min(n, size - done));
    });
    const seconds = (performance.now() - t0) / 1000;
    say(`  ${done + n} / ${total} events, ${Math.round((done + n) / seconds)} events/s`);
  }
  return tallies;
}

interface FigureInputs {
  scale: AmplifyScale;
  results: AmplifySourceResult[];
  signalTally: SourceTally;
  mcTally: SourceTally;
  referenceTally: SourceTally;
  generatedTallies: SourceTally[];
  trained: TrainedModel;
  largest: number;
  threshold: number;
  window: readonly [number, number];
}

/** Results of one kind of source, and the MC's. */
function ofKind(results: AmplifySourceResult[], kind: SourceKind): AmplifySourceResult[] {
  return results.filter((r) => r.kind === kind);
}

async function writeFigures(dir: string, f: FigureInputs): Promise<Record<string, FigurePaths>> {
  const figures: Record<string, FigurePaths> = {};
  const luminosityTitle = 'background events before the cut (luminosity)';
  const series = (rows: AmplifySourceResult[], pick: (r: AmplifySourceResult) => SeriesPoint[]) => rows.map((r) => ({ label: r.label, points: pick(r) }));
  const [mc] = ofKind(f.results, 'mc');
  const [reference] = ofKind(f.results, 'reference');
  const generated = ofKind(f.results, 'generated');
  const withFlow = ofKind(f.results, 'generated+flow');
  // Seven colours at most: the MC, the smallest and largest generated samples with and without the flow's
  // uncertainty, and the truth.
  const shown = [mc, generated[0], generated.at(-1)!, withFlow.at(-1)!, reference].filter((r, i, all) => all.indexOf(r) === i);
  figures['mu-hat'] = await writeFigure(dir, 'mu-hat', seriesFigure({
    title: 'Fitted signal strength on the truth\'s Asimov data (μ = 1)',
    xTitle: luminosityTitle,
    yTitle: 'μ̂ ± σ',
    series: series(shown, (r) => r.fits.map((x) => ({ x: x.luminosity, y: x.strength.muHat, error: x.strength.sigma }))),
    rule: 1,
    dodge: 1.06,
  }));
  figures['mu-upper-limit'] = await writeFigure(dir, 'mu-upper-limit', seriesFigure({
    title: '95 % CL upper limit on μ (CLs, q̃μ) on the background-only Asimov data',
    xTitle: luminosityTitle,
    yTitle: 'μ_UL',
    logY: true,
    series: series([mc, ...generated, withFlow.at(-1)!, reference].slice(0, plots.PALETTE.length), (r) => r.fits.map((x) => ({ x: x.luminosity, y: x.upperLimit }))),
  }));
  for (const [name, rows, what] of [['delta-upper-limit', generated, 'generated'], ['delta-upper-limit-flow', withFlow, 'generated ± flow']] as const) {
    figures[name] = await writeFigure(dir, name, seriesFigure({
      title: `Δμ_UL = μ_UL(${what}) − μ_UL(MC) at ${f.largest.toExponential(0)} background events`,
      xTitle: 'generated events',
      yTitle: 'Δμ_UL',
      series: AMPLIFY_SHAPE_SYSTEMATICS.map((sys, j) => ({
        label: `shapesys ${(100 * sys).toFixed(0)} %`,
        points: rows.map((r) => ({ x: r.events, y: r.limitsWithSystematics[j].upperLimit - mc.limitsWithSystematics[j].upperLimit })),
      })),
      rule: 0,
    }));
  }
  const deviationSeries = (pick: (d: TemplateDeviation) => SeriesPoint['y'], error?: (d: TemplateDeviation) => number) =>
    [{ label: 'MC', rows: [mc] }, { label: 'generated (own staterror)', rows: generated }, { label: 'generated ± flow (bootstrap)', rows: withFlow }].map(({ label, rows }) => ({
      label,
      points: rows.map((r) => ({ x: r.events, y: pick(r.deviation!), ...(error ? { error: error(r.deviation!) } : {}) })),
    }));
  figures['template-deviation'] = await writeFigure(dir, 'template-deviation', seriesFigure({
    title: 'm_JJ template after the cut against the reference: shape χ²/ndf',
    xTitle: 'events in the background sample (before the cut)',
    yTitle: 'χ²/ndf (the template\'s and the reference\'s errors)',
    series: deviationSeries((d) => d.chi2 / d.ndf),
    logY: true,
    rule: 1,
    dodge: 1.04,
  }));
  figures['yield-ratio'] = await writeFigure(dir, 'yield-ratio', seriesFigure({
    title: 'Cut efficiency of each background sample over the reference\'s',
    xTitle: 'events in the background sample (before the cut)',
    yTitle: 'ε_B(sample) / ε_B(reference)',
    series: deviationSeries((d) => d.yieldRatio, (d) => d.yieldRatioError).slice(0, 2),
    rule: 1,
  }));
  // m_JJ after the cut at the largest luminosity: the truth as points, the templates as lines, the signal filled.
  const [lo, hi] = f.window;
  const width = (hi - lo) / AMPLIFY_MJJ_BINS;
  const centres = Array.from({ length: AMPLIFY_MJJ_BINS }, (_, b) => lo + (b + 0.5) * width);
  const largestGenerated = f.generatedTallies.at(-1)!;
  figures['mjj-after-cut'] = await writeFigure(dir, 'mjj-after-cut', plots.histogramComparison({
    title: `m_JJ after the classifier cut, ${f.largest.toExponential(0)} background events before it`,
    xTitle: 'm_JJ [GeV]',
    range: [lo, hi],
    bins: AMPLIFY_MJJ_BINS,
    normalize: 'counts',
    series: [
      // The Asimov data as integer counts at the bin centres, so the points carry the data's √n errors.
      { label: 'Asimov data (truth, μ = 0)', values: Array.from(f.referenceTally.template(f.largest).sumw).flatMap((n, b) => new Array<number>(Math.round(n)).fill(centres[b])), style: 'points' },
      ...[f.mcTally, largestGenerated].map((t) => ({ label: t.label, values: centres, weights: Array.from(t.template(f.largest).sumw), style: 'line' as plots.HistogramStyle })),
      { label: 'signal (μ = 1)', values: centres, weights: Array.from(f.signalTally.mjj, (v) => (v * AMPLIFY_SIGNAL_TO_BACKGROUND * f.largest) / f.signalTally.events), style: 'filled' },
    ],
  }));
  // Shapes against the reference with the ratio panel (Gavranovič & Kerševan Fig. 1), per event so both integrate to 1.
  const edges = Array.from({ length: AMPLIFY_MJJ_BINS + 1 }, (_, b) => lo + b * width);
  const asRatioSeries = (t: SourceTally, label: string) => {
    const h = t.template(1);
    return { label, sumw: Array.from(h.sumw), sumw2: Array.from(h.sumw2) };
  };
  for (const [name, t] of [['ratio-mc', f.mcTally], ['ratio-generated', largestGenerated]] as const) {
    figures[name] = await writeFigure(dir, name, plots.ratioComparison({
      title: `m_JJ after the cut: ${t.label} against the reference`,
      xTitle: 'm_JJ [GeV]',
      edges,
      reference: asRatioSeries(f.referenceTally, 'reference (truth)'),
      generated: asRatioSeries(t, t.label),
    }));
  }
  const logitCentres = Array.from({ length: f.signalTally.logit.length }, (_, b) => LOGIT_RANGE[0] + ((b + 0.5) * (LOGIT_RANGE[1] - LOGIT_RANGE[0])) / f.signalTally.logit.length);
  figures['classifier-score'] = await writeFigure(dir, 'classifier-score', plots.histogramComparison({
    title: `Classifier logit (cut at ${f.threshold.toFixed(2)})`,
    xTitle: 'classifier logit',
    range: LOGIT_RANGE,
    bins: f.signalTally.logit.length,
    normalize: 'density',
    logY: true,
    series: [f.referenceTally, f.mcTally, largestGenerated, f.signalTally].map((t, k) => ({
      label: t === f.referenceTally ? 'reference background' : t.label,
      values: logitCentres,
      weights: Array.from(t.logit),
      style: (k === 0 ? 'points' : k === 3 ? 'filled' : 'line') as plots.HistogramStyle,
    })),
  }));
  figures['training-loss'] = await writeFigure(dir, 'training-loss', plots.lossCurve({
    title: 'Background flow trained on the MC: NLL per event',
    epochs: f.trained.history.map((h) => h.epoch),
    train: f.trained.history.map((h) => h.trainLoss),
    validation: f.trained.history.map((h) => h.validationLoss),
  }));
  return figures;
}

interface ReportInputs {
  scale: AmplifyScale;
  seed: number;
  results: AmplifySourceResult[];
  signalTally: SourceTally;
  mcTally: SourceTally;
  referenceTally: SourceTally;
  threshold: number;
  withinError: AmplifyStudyResult['withinError'];
  figures: Record<string, FigurePaths>;
  timings: Record<string, StageTime>;
  trained: TrainedModel;
  largest: number;
  inputs: AmplifyInputs;
}

function reportContents(r: ReportInputs): Parameters<typeof buildReport>[0] {
  const figure = (name: string, caption: string): ReportFigure => ({ name, caption, ...r.figures[name] });
  const passing = (t: SourceTally) => t.mjj.reduce((s, v) => s + v, 0);
  const sourceTable: ReportTable = {
    caption:
      'Background templates: events before the cut, events passing it, cut efficiency over the reference\'s, and the shape χ² of the m_JJ template against the reference with ' +
      'the template\'s errors (± flow: its √Σw² and the bootstrap variance of the flow in quadrature) and the reference\'s.',
    columns: ['source', 'events', 'pass the cut', 'ε_B / ε_B(ref)', '± (stat.)', 'shape χ²/ndf', 'p-value'],
    rows: r.results.map((s) => [s.label, s.events, Math.round(s.efficiency * s.events), s.deviation?.yieldRatio ?? 1, s.deviation?.yieldRatioError ?? Number.NaN, s.deviation ? s.deviation.chi2 / s.deviation.ndf : Number.NaN, s.deviation?.pValue ?? Number.NaN]),
  };
  const fitTable: ReportTable = {
    caption: 'μ̂ ± σ on the truth\'s Asimov data (μ = 1) and μ_UL on its background-only Asimov data, per background source and luminosity (background events in the window before the cut).',
    columns: ['source', ...r.scale.luminosities.map((l) => `μ̂ ± σ, B = ${l.toExponential(0)}`), ...r.scale.luminosities.map((l) => `μ_UL, B = ${l.toExponential(0)}`)],
    rows: r.results.map((s) => [s.label, ...s.fits.map((f) => `${f.strength.muHat.toFixed(3)} ± ${f.strength.sigma.toFixed(3)}`), ...s.fits.map((f) => f.upperLimit)]),
  };
  const systematicsTable: ReportTable = {
    caption: `μ_UL at ${r.largest.toExponential(0)} background events with an injected uncorrelated shape systematic on the background.`,
    columns: ['source', ...AMPLIFY_SHAPE_SYSTEMATICS.map((s) => `shapesys ${(100 * s).toFixed(0)} %`)],
    rows: r.results.map((s) => [s.label, ...s.limitsWithSystematics.map((l) => l.upperLimit)]),
  };
  const timingTable: ReportTable = {
    caption: 'Time per stage: wall clock and CPU of the study\'s process (all threads; the machine may be shared).',
    columns: ['stage', 'wall [s]', 'CPU [s]'],
    rows: Object.entries(r.timings).map(([k, v]) => [k, v.wall, v.cpu]),
  };
  const worstPull = (s: AmplifySourceResult) => Math.max(...s.fits.map((f) => Math.abs(f.strength.muHat - 1) / f.strength.sigma));
  const pulls = (kind: SourceKind) => ofKind(r.results, kind).map((s) => `${s.label} ${worstPull(s).toFixed(2)}`).join(', ');
  const [mc] = ofKind(r.results, 'mc');
  const [reference] = ofKind(r.results, 'reference');
  const atLargest = (s: AmplifySourceResult) => s.fits.at(-1)!.upperLimit;
  const limits = (kind: SourceKind) => ofKind(r.results, kind).map((s) => `${atLargest(s).toFixed(3)} (${s.label})`).join(', ');
  const yesNo = (v: boolean) => (v ? 'yes' : 'NO');
  return {
    title: 'flowscan — MC amplification with a flow (Gavranovič & Kerševan)',
    subtitle: `LHCO-like QCD background, ${r.scale.mcEvents} MC events, generated ×${r.scale.amplification.join(', ×')}`,
    sections: [
      {
        heading: 'Analysis',
        text:
          `Events from ${r.inputs.origin}, ${windowText(r.inputs.window)}. The MC is ${r.scale.mcEvents} QCD events; a rational-quadratic spline coupling flow trained on them generates ` +
          `${r.scale.amplification.join(', ')} times as many (nested samples), and ${r.inputs.referenceEvents} further QCD events are the reference, the truth. ` +
          `${r.scale.replicas} more flows, trained on bootstrap replicas of the MC (Poisson(1) event weights), generate ${r.scale.replicaAmplification}× the MC each: the spread of their templates, ` +
          `less their own generation noise, is the flow's uncertainty from its finite training sample ("± flow" sources add it to the staterror in quadrature). ` +
          `An MLP classifier (2 × 32 ReLU) of the benchmark signal (m_Z′, m_X, m_Y) = (3500, 500, 100) GeV against QCD, on ${CLASSIFIER_FEATURES.join(', ')} and trained on its own samples, ` +
          `cuts at logit ≥ ${r.threshold.toFixed(3)}: ${fraction(r.signalTally.efficiency)} of the signal and ${fraction(r.referenceTally.efficiency)} of the background pass (MC: ${passing(r.mcTally)} events). ` +
          `The signal yield before the cut is ${AMPLIFY_SIGNAL_TO_BACKGROUND} of the background's. One HistFactory channel, m_JJ in ${AMPLIFY_MJJ_BINS} bins: signal × μ (POI), background × a free normalisation with the template's ` +
          `MC-statistical uncertainty (staterror, √Σw² per bin), and optionally a shapesys of 1–10 % per bin. Asimov data are the reference background (plus μ = 1 signal for μ̂).`,
        tables: [sourceTable],
        figures: [
          figure('mjj-after-cut', 'm_JJ after the cut at the largest luminosity: the background-only Asimov data of the truth as points (√n errors), the MC and the largest generated templates as lines, the signal filled.'),
          figure('ratio-mc', 'The MC template\'s shape against the reference, ratio below (statistical errors of both).'),
          figure('ratio-generated', 'The largest generated template\'s shape against the reference: its own error is small, its deviation is the flow\'s.'),
          figure('classifier-score', 'Classifier logit of the signal and the background samples (densities).'),
        ],
      },
      {
        heading: 'Signal strength and limits against luminosity',
        text:
          `Acceptance, μ̂ = 1 within its error at every luminosity: generated backgrounds with their own staterror ${yesNo(r.withinError.generated)}, ` +
          `with the flow's bootstrap uncertainty added ${yesNo(r.withinError.generatedWithFlowUncertainty)}. Largest |μ̂ − 1|/σ: ${pulls('generated')}; ${pulls('generated+flow')}; MC ${worstPull(mc).toFixed(2)}. ` +
          `\n\nAt ${r.largest.toExponential(0)} background events μ_UL is ${atLargest(mc).toFixed(3)} with the MC, ${limits('generated')}; ${limits('generated+flow')}; and ${atLargest(reference).toFixed(3)} with the reference. ` +
          'A generated template whose limit lies below the reference\'s claims more than the truth allows: its staterror is smaller than its actual error.',
        tables: [fitTable],
        figures: [figure('mu-hat', 'μ̂ ± σ (Hessian) against luminosity per background source (points dodged sideways).'), figure('mu-upper-limit', 'μ_UL against luminosity per background source.')],
      },
      {
        heading: 'Where amplification helps and where it biases',
        text:
          'More generated events shrink the template\'s statistical error (√Σw²) without limit, but the flow learned from the MC alone: its deviation from the truth, the MC\'s ' +
          'fluctuations it learned and its own mismodelling, does not shrink. The shape χ²/ndf against the reference grows once the generated sample\'s error falls below that deviation; ' +
          'with the bootstrap variance of the flow added it should stay near 1. The ratio of cut efficiencies is the normalisation error (absorbed here by the free background ' +
          'normalisation). Injected shape systematics cap what any smaller statistical error can gain.',
        tables: [systematicsTable],
        figures: [
          figure('template-deviation', 'Shape χ²/ndf of each template against the reference; 1 = compatible within the errors.'),
          figure('yield-ratio', 'Cut efficiency of each sample over the reference\'s, ± statistical error.'),
          figure('delta-upper-limit', 'Δμ_UL = μ_UL(generated, own staterror) − μ_UL(MC) against the number of generated events, per injected shapesys.'),
          figure('delta-upper-limit-flow', 'The same with the flow\'s bootstrap uncertainty in the generated templates.'),
        ],
      },
      {
        heading: 'Training and timing',
        text: `Flow: ${r.trained.provenance.epochs} epochs (best ${r.trained.provenance.bestEpoch}), validation NLL ${r.trained.provenance.validationLoss.toFixed(4)} nats/event, ${r.scale.blocks} blocks × ${r.scale.hidden} hidden units. Seed ${r.seed}.`,
        tables: [timingTable],
        figures: [figure('training-loss', 'Flow loss per epoch.')],
      },
    ],
  };
}
