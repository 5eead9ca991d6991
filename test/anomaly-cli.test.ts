// flowscan anomaly train|score|evaluate end to end on a 2-D Gaussian mixture whose densities are known: the
// exported ratio score's AUC against the AUC of the exact likelihood ratio, evaluate against score --truth, and
// the errors a user can provoke.
import test from 'ava';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Rng } from '../runtime/src/random.ts';
import { writeEventsCsvFile } from '../runtime/src/node/files.ts';
import { aucWithError } from '../runtime/src/stats/roc.ts';
import { flowscan } from './helpers/commands.ts';
import { flowscanRefusal } from './helpers/in-process.ts';
import { temporaryFolder } from './helpers/temporary.ts';

const folder = temporaryFolder('flowscan-anomaly-cli-');
const SIGNAL_FRACTION = 0.1;
const logNormal2 = (x: number, y: number, mean: number, sigma: number): number => -(((x - mean) ** 2 + (y - mean) ** 2) / (2 * sigma * sigma)) - Math.log(2 * Math.PI * sigma * sigma);
/** Exact log p(x|data) − log p(x|bkg): background N(0, 1)², signal N(1.5, 0.4²)², 10 % signal. */
const exactScore = (x: number, y: number): number =>
  Math.log(1 - SIGNAL_FRACTION + SIGNAL_FRACTION * Math.exp(logNormal2(x, y, 1.5, 0.4) - logNormal2(x, y, 0, 1)));

async function writeSample(path: string, seed: number, n: number, signalFraction: number): Promise<void> {
  const rng = new Rng(seed);
  const a = new Float64Array(n);
  const b = new Float64Array(n);
  const label = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const signal = rng.uniform() < signalFraction;
    label[i] = signal ? 1 : 0;
    a[i] = signal ? 1.5 + 0.4 * rng.normal() : rng.normal();
    b[i] = signal ? 1.5 + 0.4 * rng.normal() : rng.normal();
  }
  await writeEventsCsvFile(path, { a, b, label }, ['a', 'b', 'label']);
}

const tiny = ['--blocks', '2', '--hidden', '16', '--epochs', '12', '--batch-size', '128', '--lr', '3e-3'];

test('ratio score: trained, exported, scored and evaluated; AUC close to the exact likelihood ratio\u2019s', async (t) => {
  const dir = folder();
  await writeSample(join(dir, 'data.csv'), 1, 4000, SIGNAL_FRACTION);
  await writeSample(join(dir, 'background.csv'), 2, 4000, 0);
  await writeSample(join(dir, 'test.csv'), 3, 4000, 0.5);
  const trained = await flowscan(['anomaly', 'train', '--data', join(dir, 'data.csv'), '--background', join(dir, 'background.csv'), '--features', 'a,b', '--method', 'ratio', '--ensemble', '2', ...tiny, '--out', join(dir, 'ratio')]);
  t.is(trained.code, 0, trained.stderr);
  t.regex(trained.stdout, /log p\(x\|data\) − log p\(x\|bkg\)/);
  const manifest = JSON.parse(await readFile(join(dir, 'ratio', 'anomaly.json'), 'utf8'));
  t.is(manifest.kind, 'ratio');
  t.deepEqual(manifest.features, ['a', 'b']);
  t.deepEqual(manifest.models, { data: ['data-0', 'data-1'], background: ['background-0', 'background-1'] });

  const scored = await flowscan(['anomaly', 'score', '--model', join(dir, 'ratio'), '--data', join(dir, 'test.csv'), '--truth', 'label', '--out', join(dir, 'scores.csv')]);
  t.is(scored.code, 0, scored.stderr);
  const flowAuc = Number(/AUC ([0-9.]+)/.exec(scored.stdout)![1]);
  // Exact oracle on the same test events.
  const rows = (await readFile(join(dir, 'test.csv'), 'utf8')).trim().split('\n').slice(1).map((l) => l.split(',').map(Number));
  const signal = rows.filter((r) => r[2] === 1).map((r) => exactScore(r[0], r[1]));
  const background = rows.filter((r) => r[2] === 0).map((r) => exactScore(r[0], r[1]));
  const exactAuc = aucWithError({ scores: signal }, { scores: background }).auc;
  t.true(flowAuc > exactAuc - 0.04 && flowAuc < exactAuc + 0.01, `flow AUC ${flowAuc}, exact ${exactAuc}`);

  // The scores file: one row per event, score = log_p_data − log_p_background.
  const [header, ...lines] = (await readFile(join(dir, 'scores.csv'), 'utf8')).trim().split('\n');
  t.deepEqual(header.split(','), ['a', 'b', 'label', 'log_p_data', 'log_p_background', 'score']);
  t.is(lines.length, rows.length);
  for (const line of lines.slice(0, 50)) {
    const [, , , logPData, logPBackground, score] = line.split(',').map(Number);
    t.true(Math.abs(score - (logPData - logPBackground)) < 1e-9 * (1 + Math.abs(score)));
  }
  const evaluated = await flowscan(['anomaly', 'evaluate', '--scores', join(dir, 'scores.csv'), '--truth', 'label']);
  t.is(evaluated.code, 0, evaluated.stderr);
  t.is(/AUC [0-9.]+ ± [0-9.]+/.exec(evaluated.stdout)![0], /AUC [0-9.]+ ± [0-9.]+/.exec(scored.stdout)![0]);
});

test('bootstrap score writes its convergence report; mistakes are refused with the option named', async (t) => {
  const dir = folder();
  await writeSample(join(dir, 'boot.csv'), 4, 3000, SIGNAL_FRACTION);
  const boot = await flowscan(['anomaly', 'train', '--data', join(dir, 'boot.csv'), '--features', 'a,b', '--method', 'bootstrap', '--iterations', '2', '--alpha', '0.05', ...tiny, '--epochs', '6', '--out', join(dir, 'boot')]);
  t.is(boot.code, 0, boot.stderr);
  const manifest = JSON.parse(await readFile(join(dir, 'boot', 'anomaly.json'), 'utf8'));
  t.is(manifest.background, 'bootstrap');
  t.is(manifest.bootstrap.alpha, 0.05);
  t.true(manifest.bootstrap.iterations.length >= 1 && manifest.bootstrap.iterations.length <= 2);

  // Refusals in this process: a flowscan process each would spend more CPU starting than refusing.
  t.regex(await flowscanRefusal(['anomaly', 'train', '--data', join(dir, 'boot.csv'), '--features', 'a,b', '--method', 'ratio', '--out', join(dir, 'x')]), /--method ratio needs --background/);
  t.regex(await flowscanRefusal(['anomaly', 'train', '--data', join(dir, 'boot.csv'), '--features', 'a,zz', '--out', join(dir, 'y')]), /zz/);
  t.regex(await flowscanRefusal(['anomaly', 'train', '--data', join(dir, 'boot.csv'), '--features', 'a,b', '--method', 'bootstrap', '--alpha', '1.5', '--out', join(dir, 'z')]), /--alpha must be in \(0, 1\), got "1.5"/);
  t.regex(await flowscanRefusal(['anomaly', 'score', '--model', dir, '--data', join(dir, 'boot.csv'), '--out', join(dir, 's.csv')]), /anomaly\.json not found: expected a folder written by flowscan anomaly train/);
});
