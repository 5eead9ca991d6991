// Not part of `npm test`: the flow-based anomaly scores of issue 13 on the real LHC Olympics R&D signal-region
// data (../shared/data/lhco-sr), on the study's split (seed 13) and at its default flow settings (MAF 5 × 64,
// ≤ 15 epochs, batch 256, lr 1e-3), one question at a time instead of the whole `flowscan study anomaly`:
//   ratio       the idealised flow ratio log p(x|data) − log p(x|bkg) for each seed: every single pair of flows
//               and the ensembles of the first 1 … n members (AUC, max SIC with ≥ 25 test background events)
//   bootstrap   Tan's bootstrap per iteration: events removed, their signal purity, the test AUC and max SIC of
//               −log λ, and how many test events fall into holes of the re-fitted density (λ < e^−20)
// --refit weighted (what the study does): p(x|bkg) is trained on all training events with the left-out ones
// (signal, or the bootstrap's removed events) at weight 0, with its data member's seed; --refit separate: on the
// kept events alone (the study before), the bootstrap's re-fits with seeds seed + 10 + iteration.
//   nice -n 10 npx tsx test/bench/anomaly-flows.ts ratio [--seeds 1,1001,2001] [--members 5] [--refit weighted]
//   nice -n 10 npx tsx test/bench/anomaly-flows.ts bootstrap [--seeds 1] [--iterations 4] [--alpha 0.02] [--refit weighted]
import { parseArgs } from 'node:util';
import { bootstrapBackground, negLogLambda } from '../../trainer/src/anomaly/bootstrap.ts';
import { type DensityTrainingOptions, logDensity, trainDensity, weightedRefit } from '../../trainer/src/anomaly/density.ts';
import { countSignal, filterEvents, splitLhcoSr } from '../../trainer/src/anomaly/events.ts';
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
  },
});
const mode = positionals[0];
if (mode !== 'ratio' && mode !== 'bootstrap') throw new Error(`expected the mode ratio or bootstrap, got ${mode ?? 'none'}`);
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
const describe = (score: Float64Array): string => {
  const m = scoreMetrics(score, test.label);
  return `AUC ${m.auc.toFixed(3)}, max SIC ${m.maxSic?.sic.toFixed(2) ?? '–'}`;
};

for (const seed of seeds) {
  if (mode === 'ratio') {
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
        alpha: Number(values.alpha),
        maxIterations: Number(values.iterations),
        tolerance: 0.05,
        onIteration: (it) =>
          say(`seed ${seed}, iteration ${it.iteration}: ε = ${it.epsilon.toPrecision(4)}, removes ${it.removed} events (${((100 * it.removed) / training.count).toFixed(2)} %), ${it.removedSignal} signal (purity ${((100 * it.removedSignal) / it.removed).toFixed(2)} %; the data hold ${((100 * countSignal(training)) / training.count).toFixed(2)} %), ${(100 * it.changed).toFixed(1)} % new`),
      },
    );
  }
}
