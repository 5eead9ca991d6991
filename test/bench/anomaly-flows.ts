// Not part of `npm test`: the flow-based anomaly scores of issue 13 on the real LHC Olympics R&D signal-region
// data (../shared/data/lhco-sr), on the study's split (seed 13) and at its default flow settings (MAF 5 × 64,
// ≤ 15 epochs, batch 256, lr 1e-3), one question at a time instead of the whole `flowscan study anomaly`:
//   ratio       the idealised flow ratio log p(x|data) − log p(x|bkg) for each seed: every single pair of flows
//               and the ensembles of the first 1 … n members (AUC, max SIC with ≥ 25 test background events)
//   bootstrap   Tan's bootstrap per iteration: events removed, their signal purity, the test AUC and max SIC of
//               −log λ, and how many test events fall into holes of the re-fitted density (λ < e^−20);
//               --start truth (a diagnostic, not a method) starts from the signal events themselves: does the
//               loop stay on the signal once it has it? --start mixed --truth-fraction q: the default start (the
//               fraction α with the lowest p(x|data)) and a random fraction q of the signal events: how much of the
//               signal must a start hold for the loop to find the rest? --start jets-shuffled (label-free): the
//               fraction α with the lowest λ₀ = p_ref/p_data, p_ref a flow trained on events whose lighter and
//               heavier jets (m_J, τ21) come from two different events: a signal whose two jets are correlated is
//               an over-density of the data over p_ref, if the background's jets are nearly independent
//   noise       −log p(x|data) on the test and the training events, in TeV and in the flow's own (logit,
//               standardised) coordinates; two data densities that differ only in seed: the test AUC of their
//               log ratio and its spread on background events; the idealised pair of the same seeds (signal at
//               weight 0): how large the signal's log ratio is against that spread, single and averaged over both
// --refit weighted (what the study does): p(x|bkg) is trained on all training events with the left-out ones
// (signal, or the bootstrap's removed events) at weight 0, with its data member's seed; --refit separate: on the
// kept events alone (the study before), the bootstrap's re-fits with seeds seed + 10 + iteration.
//   nice -n 10 npx tsx test/bench/anomaly-flows.ts ratio [--seeds 1,1001,2001] [--members 5] [--refit weighted]
//   nice -n 10 npx tsx test/bench/anomaly-flows.ts bootstrap [--seeds 1] [--iterations 4] [--alpha 0.02] [--refit weighted] [--start neg-log-p|truth|mixed|jets-shuffled] [--truth-fraction 0.25]
//   nice -n 10 npx tsx test/bench/anomaly-flows.ts noise [--seeds 1,1001,2001]    (seed s against s + 1)
import { parseArgs } from 'node:util';
import { bootstrapBackground, lowestDensityStart, negLogLambda } from '../../trainer/src/anomaly/bootstrap.ts';
import { Rng } from '../../runtime/src/random.ts';
import { type DensityModel, type DensityTrainingOptions, logDensity, trainDensity, weightedRefit } from '../../trainer/src/anomaly/density.ts';
import { type AnomalyEvents, LHCO_SR_FEATURES, countSignal, emptyEvents, filterEvents, splitLhcoSr } from '../../trainer/src/anomaly/events.ts';
import { LOGIT_EPSILON } from '../../trainer/src/flows/preprocess.ts';
import { scoreMetrics } from '../../trainer/src/anomaly/metrics.ts';
import { flowConfig } from '../../trainer/src/flows/config.ts';
import { LHCO_SR_DATA_DIR } from '../../trainer/src/study/anomaly.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    seeds: { type: 'string', default: '1,1001,2001' },
    members: { type: 'string', default: '5' },
    iterations: { type: 'string', default: '4' },
    alpha: { type: 'string', default: '0.02' },
    refit: { type: 'string', default: 'weighted' },
    blocks: { type: 'string', default: '5' },
    hidden: { type: 'string', default: '64' },
    epochs: { type: 'string', default: '15' },
    start: { type: 'string', default: 'neg-log-p' },
    'truth-fraction': { type: 'string', default: '1' },
  },
});
const mode = positionals[0];
if (mode !== 'ratio' && mode !== 'bootstrap' && mode !== 'noise') throw new Error(`expected the mode ratio, bootstrap or noise, got ${mode ?? 'none'}`);
if (!['neg-log-p', 'truth', 'mixed', 'jets-shuffled'].includes(values.start)) throw new Error(`--start must be neg-log-p, truth, mixed or jets-shuffled, got ${values.start}`);
if (values.refit !== 'weighted' && values.refit !== 'separate') throw new Error(`--refit must be weighted or separate, got ${values.refit}`);
const weighted = values.refit === 'weighted';
const seeds = values.seeds.split(',').map(Number);
const split = await splitLhcoSr(LHCO_SR_DATA_DIR, { seed: 13 });
const { training, test } = split;
const options = (seed: number): DensityTrainingOptions => ({
  flow: flowConfig('maf', { blocks: Number(values.blocks), hidden: Number(values.hidden) }),
  conditioning: 'none',
  train: { maxEpochs: Number(values.epochs), batchSize: 256, learningRate: 1e-3, patience: 5, seed, threads: 1 },
});
const started = performance.now();
const say = (line: string): void => void process.stdout.write(`[${((performance.now() - started) / 1000).toFixed(0)} s] ${line}\n`);
const describe = (score: Float64Array, label = test.label): string => {
  const m = scoreMetrics(score, label);
  return `AUC ${m.auc.toFixed(3)}, max SIC ${m.maxSic?.sic.toFixed(2) ?? '–'}`;
};

/**
 * log |dy/dx| of the flow's preprocessing y = (logit((x − lo)/(hi − lo)) − mean)/std, summed over features:
 * log p(y) = log p(x) − log |dy/dx|.
 */
function logJacobianToFlowCoordinates(model: DensityModel, events: AnomalyEvents): Float64Array {
  const D = events.features.length;
  return Float64Array.from({ length: events.count }, (_, i) =>
    model.definition.preprocessing.reduce((sum, p, d) => {
      const width = p.hi - p.lo;
      const u = Math.min(Math.max((events.x[i * D + d] - p.lo) / width, LOGIT_EPSILON), 1 - LOGIT_EPSILON);
      return sum - Math.log(p.std * width * u * (1 - u));
    }, 0),
  );
}

/** The bootstrap's start with truth in it: the signal events, or the lowest-density start and a random share of them. */
function diagnosticStart(logPDataTraining: Float64Array, seed: number): Uint8Array {
  if (values.start === 'truth') return Uint8Array.from(training.label);
  const share = Number(values['truth-fraction']);
  if (!(share > 0 && share <= 1)) throw new Error(`--truth-fraction must be in (0, 1], got ${values['truth-fraction']}`);
  const rng = new Rng(seed + 7);
  const start = lowestDensityStart(logPDataTraining, Number(values.alpha));
  for (let i = 0; i < training.count; i++) if (training.label[i] === 1 && rng.uniform() < share) start[i] = 1;
  return reportedStart(start, seed);
}

/** Prints how many events and signal events a start removes, and returns it. */
function reportedStart(start: Uint8Array, seed: number): Uint8Array {
  const signal = start.reduce((s, r, i) => s + r * training.label[i], 0);
  say(`seed ${seed}: the start removes ${start.reduce((s, r) => s + r, 0)} events, ${signal} of the ${countSignal(training)} signal events`);
  return start;
}

/**
 * Two copies of `events` in which every event keeps its lighter jet (m_J,min, τ21) and m_jj and takes the heavier
 * jet (m_J, τ21) of a random other event, the pair re-sorted by mass: the density of independent jets.
 */
function jetsShuffled(events: AnomalyEvents, rng: Rng): AnomalyEvents {
  if (events.features.join() !== LHCO_SR_FEATURES.join()) throw new Error(`jet shuffling needs the features ${LHCO_SR_FEATURES.join(', ')}, got ${events.features.join(', ')}`);
  const copies = 2;
  const out = emptyEvents(events.features, copies * events.count);
  for (let c = 0; c < copies; c++) {
    const partner = new Uint32Array(events.count).map((_, i) => i);
    rng.shuffle(partner);
    for (let i = 0; i < events.count; i++) {
      const [mLight, , tauLight] = events.x.subarray(4 * i, 4 * i + 4);
      const [mOther, deltaOther, , tauHeavyOther] = events.x.subarray(4 * partner[i], 4 * partner[i] + 4);
      const jets = [[mLight, tauLight], [mOther + deltaOther, tauHeavyOther]].sort((a, b) => a[0] - b[0]);
      const row = c * events.count + i;
      out.x.set([jets[0][0], jets[1][0] - jets[0][0], jets[0][1], jets[1][1]], 4 * row);
      out.m[row] = events.m[i];
    }
  }
  return out;
}

/** The label-free start from the jets' independence: the fraction α of training events with the lowest p_ref/p_data. */
async function jetsShuffledStart(logPDataTraining: Float64Array, logPDataTest: Float64Array, seed: number): Promise<Uint8Array> {
  const reference = await trainDensity(jetsShuffled(training, new Rng(seed + 99)), options(seed));
  const logLambdaTraining = (await logDensity(reference, training)).map((l, i) => l - logPDataTraining[i]);
  say(`seed ${seed}: λ₀ = p_ref/p_data of the jet-shuffled reference: test ${describe(negLogLambda(logPDataTest, await logDensity(reference, test)))}`);
  return reportedStart(lowestDensityStart(logLambdaTraining, Number(values.alpha)), seed);
}

/** Mean and standard deviation of `values` on the test events of one class. */
function spread(values: Float64Array, label: 0 | 1): string {
  const v = values.filter((_, i) => test.label[i] === label);
  const mean = v.reduce((s, x) => s + x, 0) / v.length;
  return `${mean.toFixed(3)} ± ${Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / (v.length - 1)).toFixed(3)}`;
}

for (const seed of seeds) {
  if (mode === 'noise') {
    const data = [await trainDensity(training, options(seed)), await trainDensity(training, options(seed + 1))];
    const logPTest = await Promise.all(data.map((m) => logDensity(m, test)));
    const logPTraining = await logDensity(data[0], training);
    const toFlow = [logJacobianToFlowCoordinates(data[0], test), logJacobianToFlowCoordinates(data[0], training)];
    say(`seed ${seed}: −log p(x|data) in TeV: test ${describe(logPTest[0].map((l) => -l))}, training events ${describe(logPTraining.map((l) => -l), training.label)}`);
    say(`seed ${seed}: −log p(x|data) in the flow's coordinates: test ${describe(logPTest[0].map((l, i) => -(l - toFlow[0][i])))}, training events ${describe(logPTraining.map((l, i) => -(l - toFlow[1][i])), training.label)}`);
    const seedOnly = negLogLambda(logPTest[0], logPTest[1]);
    say(`seed ${seed} against ${seed + 1}, both on the data: test ${describe(seedOnly)}; log ratio on background ${spread(seedOnly, 0)}, on signal ${spread(seedOnly, 1)}`);
    const backgroundWeights = Float32Array.from(training.label, (l) => 1 - l);
    const idealised = [await trainDensity(training, { ...options(seed), weights: backgroundWeights }), await trainDensity(training, { ...options(seed + 1), weights: backgroundWeights })];
    const logPIdealised = await Promise.all(idealised.map((m) => logDensity(m, test)));
    say(`seed ${seed}: −log p(x|bkg), idealised: test ${describe(logPIdealised[0].map((l) => -l))}`);
    for (const k of [0, 1]) {
      const ratio = negLogLambda(logPTest[k], logPIdealised[k]);
      say(`seed ${seed + k}, idealised pair: test ${describe(ratio)}; log ratio on background ${spread(ratio, 0)}, on signal ${spread(ratio, 1)}`);
    }
    const averaged = negLogLambda(logPTest[0].map((l, i) => (l + logPTest[1][i]) / 2), logPIdealised[0].map((l, i) => (l + logPIdealised[1][i]) / 2));
    say(`seeds ${seed}, ${seed + 1}, idealised ensembles of 2: test ${describe(averaged)}; log ratio on background ${spread(averaged, 0)}, on signal ${spread(averaged, 1)}`);
  } else if (mode === 'ratio') {
    const background = filterEvents(training, (i) => training.label[i] === 0);
    const backgroundWeights = Float32Array.from(training.label, (l) => 1 - l);
    const sumData = new Float64Array(test.count);
    const sumBackground = new Float64Array(test.count);
    for (let k = 0; k < Number(values.members); k++) {
      const member = options(seed + k);
      const logPData = await logDensity(await trainDensity(training, member), test);
      const backgroundModel = weighted ? await trainDensity(training, { ...member, weights: backgroundWeights }) : await trainDensity(background, member);
      const logPBackground = await logDensity(backgroundModel, test);
      for (let i = 0; i < test.count; i++) {
        sumData[i] += logPData[i];
        sumBackground[i] += logPBackground[i];
      }
      say(`seed ${seed}, member ${k + 1}: single pair ${describe(negLogLambda(logPData, logPBackground))}; ensemble of ${k + 1}: ${describe(negLogLambda(sumData, sumBackground))}`);
    }
  } else {
    const dataModel = await trainDensity(training, options(seed));
    const logPDataTraining = await logDensity(dataModel, training);
    const logPDataTest = await logDensity(dataModel, test);
    say(`seed ${seed}: −log p(x|data) ${describe(logPDataTest.map((l) => -l))}`);
    const refit = weighted
      ? weightedRefit(training, options(seed))
      : async (kept: typeof training, iteration: number) => {
          const model = await trainDensity(kept, options(seed + 10 + iteration));
          return { model, logP: await logDensity(model, training) };
        };
    await bootstrapBackground(
      training,
      logPDataTraining,
      async (kept, iteration, keep) => {
        const fitted = await refit(kept, iteration, keep);
        const score = negLogLambda(logPDataTest, await logDensity(fitted.model, test));
        const holes = score.filter((s) => s > 20).length;
        say(`seed ${seed}, re-fit ${iteration} on ${kept.count} events: test ${describe(score)}, ${holes} test events with λ < e^−20`);
        return fitted;
      },
      {
        ...(values.start === 'neg-log-p'
          ? {}
          : { start: values.start === 'jets-shuffled' ? await jetsShuffledStart(logPDataTraining, logPDataTest, seed) : diagnosticStart(logPDataTraining, seed) }),
        alpha: Number(values.alpha),
        maxIterations: Number(values.iterations),
        tolerance: 0.05,
        onIteration: (it) =>
          say(`seed ${seed}, iteration ${it.iteration}: ε = ${it.epsilon.toPrecision(4)}, removes ${it.removed} events (${((100 * it.removed) / training.count).toFixed(2)} %), ${it.removedSignal} signal (purity ${((100 * it.removedSignal) / it.removed).toFixed(2)} %; the data hold ${((100 * countSignal(training)) / training.count).toFixed(2)} %), ${(100 * it.changed).toFixed(1)} % new`),
      },
    );
  }
}
