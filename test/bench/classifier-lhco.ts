// The supervised classifier on the real LHC Olympics R&D signal-region data (../shared/data/lhco-sr): the upper
// bound of the classifier-based anomaly scores (issue 13; CATHODE's repository reports max SIC 17.7 for it).
// Trains label-1 events (the extra signal sample and the signal of innerdata_train) against the background of
// innerdata_train on the four substructure features (m_J,min, Δm_J, τ21 of both jets; m_jj is the localising
// variable and stays out), then scores every event of innerdata_val, which it never saw.
//   npx tsx test/bench/classifier-lhco.ts [--epochs 100] [--ensemble 10] [--seed 1]
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { aucWithError, maxSic, rocCurve } from '@flowscan/runtime';
import { readNpyFile } from '@flowscan/runtime/node';
import { classifierScorer, trainClassifier } from '../../trainer/src/classifier/index.ts';
import { REPO_ROOT } from '../../trainer/src/study/toy.ts';

const { values } = parseArgs({ options: { epochs: { type: 'string', default: '100' }, ensemble: { type: 'string', default: '10' }, seed: { type: 'string', default: '1' } } });
const DATA = join(REPO_ROOT, '..', 'shared', 'data', 'lhco-sr');
const FEATURES = ['mj_min', 'delta_mj', 'tau21_light', 'tau21_heavy'];

/** The feature columns (1–4) of the rows whose label (column 5) passes `keep`, row-major. */
async function events(file: string, keep: (label: number) => boolean): Promise<Float64Array> {
  const array = await readNpyFile(join(DATA, file));
  const [rows, columns] = array.shape;
  const out: number[] = [];
  for (let r = 0; r < rows; r++) if (keep(array.data[r * columns + 5])) out.push(...array.data.subarray(r * columns + 1, r * columns + 5));
  return Float64Array.from(out);
}

const signal = Float64Array.from([...(await events('innerdata_extrasig_train.npy', () => true)), ...(await events('innerdata_train.npy', (l) => l === 1))]);
const background = await events('innerdata_train.npy', (l) => l === 0);
const started = performance.now();
const { model, history } = await trainClassifier({ x: background }, { x: signal }, {
  features: FEATURES.map((name) => ({ name, unit: name.startsWith('tau') ? '' : 'TeV' })),
  maxEpochs: Number(values.epochs),
  ensemble: Number(values.ensemble),
  patience: 20,
  seed: Number(values.seed),
  threads: Math.min(2, availableParallelism()),
  onEpoch: (r) => process.stderr.write(`epoch ${r.epoch}: train ${r.trainLoss.toFixed(4)}, validation ${r.validationLoss.toFixed(4)} (${r.seconds.toFixed(1)} s)\n`),
});
const seconds = (performance.now() - started) / 1000;
const scorer = await classifierScorer(model);
const testSignal = await events('innerdata_val.npy', (l) => l === 1);
const testBackground = await events('innerdata_val.npy', (l) => l === 0);
const [s, b] = [await scorer.score(testSignal, testSignal.length / 4), await scorer.score(testBackground, testBackground.length / 4)];
await scorer.release();
const area = aucWithError({ scores: s.logit }, { scores: b.logit });
const roc = rocCurve({ scores: s.logit }, { scores: b.logit });
process.stdout.write(
  `supervised classifier, ${signal.length / 4} signal and ${background.length / 4} background training events, ${history.length} epochs in ${seconds.toFixed(0)} s ` +
    `(${model.provenance.stoppedBy}), ensemble of epochs ${model.members.map((m) => m.epoch).join(', ')}\n` +
    `innerdata_val (${testSignal.length / 4} signal, ${testBackground.length / 4} background): AUC ${area.auc.toFixed(4)} ± ${area.standardError.toFixed(4)}\n`,
);
for (const minimum of [10, 25, 50]) {
  const best = maxSic(roc, minimum);
  if (best) process.stdout.write(`  max SIC ${best.sic.toFixed(1)} with ≥ ${minimum} background events passing (ε_S = ${best.signalEfficiency.toFixed(3)}, ε_B = ${best.backgroundEfficiency.toExponential(2)})\n`);
}
