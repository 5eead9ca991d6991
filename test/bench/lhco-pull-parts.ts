// Not part of `npm test`: what each LHCO-like study's pulls are made of (issue 17). Near the truth the fit is one
// Newton step, θ̂ − θ₀ = −C·g, with g = ∇NLL at the truth over the pseudo-data and C the study's covariance. The
// expected g splits into what the flows get wrong and what the data's own fluctuation adds:
//   E[g] = N_s·(E_sim,signal − E_flows,signal)[∇(−log p)] + N_b·(E_sim,background − E_flow,background)[∇(−log p)],
// since under the fitted model itself (signal ensemble + background flow, fixed fractions) the expected score is zero.
// Each expectation is a mean over many events (simulated ones, and samples of the study's own flows), so the two
// model parts carry no pseudo-data fluctuation; what is left of the pull is the data part. Prints, per study folder
// (from `flowscan study lhco --out DIR`), the pulls of its fit, the Newton step on its pseudo-data (a check of the
// linear picture), the signal-model and background-model parts with their standard errors (from chunks of the
// samples), and the data part; the signal ensemble's training error (σ_training: its members' spread over √M at the
// fit, runtime ensembleSpread; from summary.json, or computed for folders written before studies recorded it) and the
// pull with it added in quadrature; then each part's mean over the folders. With --member m, the signal model is the
// ensemble's member m alone (the study's covariance kept): whether the members share an ensemble's error.
//   nice -n 10 npx tsx --conditions=flowscan-source test/bench/lhco-pull-parts.ts [--background-events 1000000] [--signal-events 200000] [--chunks 4] [--event-seed 31] [--member m] DIR…
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type EnsembleSpread, type FitResult, type FlowModel, Rng, ensembleSpread } from '@flowscan/runtime';
import { loadModel } from '@flowscan/runtime/node';
import { LHCO_BENCHMARK_POINT, type LhcoEvents, simulateLhcoBackground } from '../../trainer/src/data/lhco.ts';
import {
  LHCO_ANALYSIS_MJJ_WINDOW,
  LHCO_STUDY_PSEUDO_DATA,
  LHCO_STUDY_TRUTH,
  flowEvents,
  lhcoStudyLikelihood,
  lhcoStudyPseudoData,
  selectRows,
  simulateSelectedSignal,
} from '../../trainer/src/study/lhco-data.ts';
import { signalFlowName } from '../../trainer/src/study/lhco.ts';
import { meanAndWidth } from '../../trainer/src/toys/statistics.ts';

const { values, positionals: folders } = parseArgs({
  allowPositionals: true,
  options: {
    'background-events': { type: 'string', default: '1000000' },
    'signal-events': { type: 'string', default: '200000' },
    chunks: { type: 'string', default: '4' },
    'event-seed': { type: 'string', default: '31' },
    member: { type: 'string' },
  },
});
/** Member m (1-based) of each study's signal ensemble alone, with the study's covariance: what one flow contributes. */
const member = values.member === undefined ? null : Number(values.member);
if (member !== null && !(Number.isInteger(member) && member >= 1)) throw new Error(`--member takes a member number ≥ 1 (1 is lhco-signal), got ${values.member}`);
const nBackgroundSamples = Number(values['background-events']);
const nSignalSamples = Number(values['signal-events']);
const chunks = Number(values.chunks);
const eventSeed = Number(values['event-seed']);
if (![nBackgroundSamples, nSignalSamples, chunks, eventSeed].every(Number.isInteger) || chunks < 2 || nSignalSamples < chunks || nBackgroundSamples < chunks) {
  throw new Error('--background-events, --signal-events and --chunks take integers (chunks ≥ 2, at most as many as events), --event-seed an integer');
}
if (folders.length === 0) throw new Error('give one or more LHCO study folders (the --out of `flowscan study lhco`, with summary.json and models/)');

const TRUTH = [LHCO_STUDY_TRUTH.m_zprime, LHCO_STUDY_TRUTH.m_x, LHCO_STUDY_TRUTH.m_y];
const P = TRUTH.length;
const { nSignal, nBackground } = LHCO_STUDY_PSEUDO_DATA;

interface StudySummary {
  seed: number;
  dataSeed: number;
  signalFlows: number;
  parameters: { name: string; pull: number; value: number; truth: number; error: number }[];
  /** Written by studies since the training spread was added; computed here for older folders. */
  trainingSpread?: EnsembleSpread | null;
  fit: FitResult;
}

/** ∇θ NLL at the truth, summed over the events, with the study's mixture (fixed fractions; events outside a flow's range dropped). */
async function scoreSum(signal: readonly FlowModel[], background: FlowModel, events: LhcoEvents): Promise<{ sum: Float64Array; events: number }> {
  const likelihood = lhcoStudyLikelihood(signal, background, events);
  const { gradients } = await likelihood.evaluate(Float64Array.from(TRUTH), 1, true);
  return { sum: gradients!, events: likelihood.data.sumWeights };
}

/** Mean score per event in each of `chunks` equal parts of the events (their spread gives the parts' standard errors). */
async function chunkMeanScores(signal: readonly FlowModel[], background: FlowModel, events: LhcoEvents): Promise<Float64Array[]> {
  const n = events.mjj.length;
  const means: Float64Array[] = [];
  for (let c = 0; c < chunks; c++) {
    const keep = new Uint8Array(n);
    keep.fill(1, Math.floor((c * n) / chunks), Math.floor(((c + 1) * n) / chunks));
    const part = await scoreSum(signal, background, selectRows(events, keep));
    means.push(part.sum.map((s) => s / part.events));
  }
  return means;
}

/** −C·g in units of each parameter's error, σ_j = √C_jj. */
function newtonPulls(covariance: number[][], g: ArrayLike<number>): Float64Array {
  return Float64Array.from(covariance, (row, i) => -row.reduce((s, c, j) => s + c * g[j], 0) / Math.sqrt(row[i]));
}

/**
 * The pulls that n events would get from the difference of mean scores (simulation − the study's flows), chunk by
 * chunk; their mean and its standard error per parameter.
 */
function partOfPull(covariance: number[][], n: number, simulated: Float64Array[], flows: Float64Array[]): { pulls: Float64Array; errors: Float64Array } {
  const perChunk = simulated.map((sim, c) => newtonPulls(covariance, sim.map((v, j) => n * (v - flows[c][j]))));
  const spread = Array.from({ length: P }, (_, j) => meanAndWidth(perChunk.map((pulls) => pulls[j])));
  return { pulls: Float64Array.from(spread, (s) => s.mean), errors: Float64Array.from(spread, (s) => s.meanError) };
}

const signed = (v: number): string => `${v >= 0 ? '+' : ''}${v.toFixed(2)}`;
const withError = (v: number, e: number): string => `${signed(v)} ± ${e.toFixed(2)}`;
const simulatedBackground = simulateLhcoBackground(new Rng(eventSeed).fork(1), nBackgroundSamples, { mjjRange: LHCO_ANALYSIS_MJJ_WINDOW });
const simulatedSignal = simulateSelectedSignal(new Rng(eventSeed).fork(2), nSignalSamples, LHCO_BENCHMARK_POINT);
console.log(
  `pull parts at the truth (${TRUTH.join(', ')}) GeV: ${nBackgroundSamples} simulated and flow background events, ${nSignalSamples} simulated and ` +
    `ensemble signal events (event seed ${eventSeed}), errors from ${chunks} chunks; in each study's Hessian errors`,
);
const rows: { model: Float64Array; data: Float64Array; signal: Float64Array; background: Float64Array; trainingErrors: Float64Array; pullsWithTraining: Float64Array }[] = [];
let names: string[] = [];
for (const folder of folders) {
  const started = performance.now();
  const summary = JSON.parse(await readFile(join(folder, 'summary.json'), 'utf8')) as StudySummary;
  names = summary.fit.freeNames;
  const C = summary.fit.covariance;
  if (!C) throw new Error(`${folder}: the study's fit has no covariance (${summary.fit.hessianMessage ?? 'no Hessian'}), which the Newton steps need`);
  const load = (name: string) => loadModel(join(folder, 'models', name), { ep: 'cpu', precision: 'float32' });
  if (member !== null && member > summary.signalFlows) throw new Error(`${folder}: --member ${member}, but the study has ${summary.signalFlows} signal flow(s)`);
  const memberIndices = member === null ? Array.from({ length: summary.signalFlows }, (_, m) => m) : [member - 1];
  const signal = await Promise.all(memberIndices.map((m) => load(signalFlowName(m))));
  const background = await load('lhco-background');
  const samples = new Rng(eventSeed).fork(3).fork(summary.seed);

  const pseudoData = lhcoStudyPseudoData(summary.dataSeed).events;
  const data = await scoreSum(signal, background, pseudoData);
  const spread = member !== null ? null : (summary.trainingSpread ?? (summary.signalFlows > 1 ? await ensembleSpread(lhcoStudyLikelihood(signal, background, pseudoData), summary.fit, 'signal') : null));
  const onData = newtonPulls(C, data.sum);
  const backgroundPart = partOfPull(
    C,
    nBackground,
    await chunkMeanScores(signal, background, simulatedBackground),
    await chunkMeanScores(signal, background, await flowEvents(background, [], nBackgroundSamples, samples.fork(1))),
  );
  const signalPart = partOfPull(
    C,
    nSignal,
    await chunkMeanScores(signal, background, simulatedSignal),
    await chunkMeanScores(signal, background, await flowEvents(signal, TRUTH, nSignalSamples, samples.fork(2))),
  );
  const model = Float64Array.from(signalPart.pulls, (v, j) => v + backgroundPart.pulls[j]);
  const dataPart = Float64Array.from(onData, (v, j) => v - model[j]);
  const trainingErrors = Float64Array.from(names, (_, j) => (spread ? spread.trainingError[j] / Math.sqrt(C[j][j]) : NaN));
  const pullsWithTraining = Float64Array.from(summary.parameters, (p, j) => p.pull / Math.hypot(1, trainingErrors[j]));
  rows.push({ model, data: dataPart, signal: signalPart.pulls, background: backgroundPart.pulls, trainingErrors, pullsWithTraining });
  const flows = member === null ? `${summary.signalFlows} signal flows` : `signal flow ${member} of ${summary.signalFlows} alone`;
  console.log(`${folder} (seed ${summary.seed}, ${flows}, ${((performance.now() - started) / 1000).toFixed(0)} s)`);
  for (let j = 0; j < P; j++) {
    console.log(
      `  ${names[j].padEnd(9)} pull ${signed(summary.parameters[j].pull)}  Newton step ${signed(onData[j])}  = signal model ${withError(signalPart.pulls[j], signalPart.errors[j])}` +
        ` + background model ${withError(backgroundPart.pulls[j], backgroundPart.errors[j])} + data ${signed(dataPart[j])}` +
        (spread ? `;  σ_training ${trainingErrors[j].toFixed(2)}σ, pull with it ${signed(pullsWithTraining[j])}` : ''),
    );
  }
}
if (rows.length > 1) {
  console.log(`over ${rows.length} studies: mean ± standard error (standard deviation)`);
  for (let j = 0; j < P; j++) {
    const stat = (pick: (r: (typeof rows)[number]) => Float64Array) => {
      const { mean, meanError, width } = meanAndWidth(rows.map((r) => pick(r)[j]));
      return `${withError(mean, meanError)} (${width.toFixed(2)})`;
    };
    console.log(
      `  ${names[j].padEnd(9)} signal model ${stat((r) => r.signal)}  background model ${stat((r) => r.background)}  both ${stat((r) => r.model)}  data ${stat((r) => r.data)}` +
        `  σ_training ${stat((r) => r.trainingErrors)}  pull with it ${stat((r) => r.pullsWithTraining)}`,
    );
  }
}
