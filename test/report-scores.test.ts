// `flowscan anomaly evaluate --report DIR` and `flowscan classify train|score --report DIR`: ROC, SIC, score
// histograms and calibration. Oracles: for Gaussian scores N(δ, 1) (signal) against N(0, 1) the AUC is Φ(δ/√2); the
// probability p = 1/(1 + e^{−(δx − δ²/2)}) of those classes with equal priors is calibrated by construction, so its
// reliability curve lies on the diagonal once the classes are weighted to equal totals, and misses it without.
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Rng, histfactory as hf } from '@flowscan/runtime';
import { calibrationBins, writeScoreReport } from '../trainer/src/report/scores.ts';
import { flowscan } from './helpers/commands.ts';
import { flowscanRefusal } from './helpers/in-process.ts';
import { temporaryFolder } from './helpers/temporary.ts';

const folder = temporaryFolder('flowscan-report-scores-');
const SHIFT = 1.5;

/** 300 signal events N(SHIFT, 1) then 900 background N(0, 1), with their exact equal-prior probability of signal. */
function gaussianScores(seed: number): { score: Float64Array; label: Uint8Array; probability: Float64Array } {
  const rng = new Rng(seed);
  const label = Uint8Array.from({ length: 1200 }, (_, i) => (i < 300 ? 1 : 0));
  const score = Float64Array.from(label, (l) => rng.normal() + (l ? SHIFT : 0));
  const probability = Float64Array.from(score, (x) => 1 / (1 + Math.exp(-(SHIFT * x - (SHIFT * SHIFT) / 2))));
  return { score, label, probability };
}

test('calibrationBins weights the classes to the prior: a hand-counted case', (t) => {
  // Background weight 1/1, signal weight 1/3 for prior [1, 1]: bin [0, ½) holds one of each, bin [½, 1] two signal.
  const bins = calibrationBins([0.1, 0.15, 0.9, 0.95], Uint8Array.from([0, 1, 1, 1]), [1, 1], 2);
  t.is(bins.length, 2);
  t.like(bins[0], { lo: 0, hi: 0.5, events: 2 });
  t.true(Math.abs(bins[0].observed - 0.25) < 1e-12 && Math.abs(bins[0].predicted - (0.1 + 0.15 / 3) / (4 / 3)) < 1e-12);
  t.like(bins[1], { observed: 1, events: 2 });
  t.true(Math.abs(bins[1].predicted - 0.925) < 1e-12);
  t.throws(() => calibrationBins([0.2, 1.5], Uint8Array.from([0, 1]), [1, 1]), { message: /probability 2 is 1\.5; expected a number in \[0, 1\]/ });
  t.throws(() => calibrationBins([0.2], Uint8Array.from([0]), [1, 1]), { message: /both classes, got 0 signal and 1 background/ });
});

test('the score report: AUC near Φ(δ/√2), unit-area score histograms, a calibrated probability on the diagonal', async (t) => {
  const { label, probability } = gaussianScores(11);
  const dir = join(folder(), 'scores');
  // The probability is a monotonic function of the Gaussian score: the same ROC.
  const { reportPath, figures } = await writeScoreReport(dir, { title: 'test', subtitle: 'Gaussian scores', scoreName: 'p(signal | x)', score: probability, label, minBackground: 25, calibration: { probability, prior: [1, 1] } });
  t.deepEqual(figures.map((f) => f.name), ['roc', 'sic', 'scores', 'calibration']);
  const html = readFileSync(reportPath, 'utf8');
  for (const f of figures) {
    t.true(existsSync(f.svgPath!) && existsSync(f.pngPath!), f.name);
    t.true(html.includes(`<figure id="${f.name}">`));
  }
  const auc = /AUC (\d\.\d{4}) ± (\d\.\d{4}) \(DeLong\)/.exec(html);
  t.truthy(auc, 'AUC ± error in the text');
  const exact = hf.normalCdf(SHIFT / Math.SQRT2);
  t.true(Math.abs(Number(auc![1]) - exact) < 3 * Number(auc![2]), `AUC ${auc![1]} ± ${auc![2]}, exact ${exact.toFixed(4)}`);

  // The ROC legend carries the AUC; the score histograms are densities of unit area over the [0, 1] window.
  const roc = figures[0].spec.datasets as Record<string, Record<string, string | number>[]>;
  t.regex(String(roc.roc[0].curve), new RegExp(`AUC = ${Number(auc![1]).toFixed(3)}`));
  type Row = { role: string; series: string; lo: number; hi: number; y: number };
  const rows = (figures[2].spec.datasets as Record<string, Row[]>).histogram.filter((r) => r.role === 'bin');
  for (const series of ['background (900 events)', 'signal (300 events)']) {
    const area = rows.filter((r) => r.series === series).reduce((s, r) => s + r.y * (r.hi - r.lo), 0);
    t.true(Math.abs(area - 1) < 1e-9, `${series}: area ${area}`);
  }

  // Calibrated: every bin within 4 of its errors of the diagonal.
  const calibration = (figures[3].spec.datasets as Record<string, { predicted: number; observed: number; error: number }[]>).calibration;
  t.true(calibration.length >= 8);
  for (const b of calibration) t.true(Math.abs(b.observed - b.predicted) < 4 * b.error + 0.02, `p ${b.predicted.toFixed(3)}: signal fraction ${b.observed.toFixed(3)} ± ${b.error.toFixed(3)}`);
  // The same probabilities read against the sample's own 1 : 3 mix (no reweighting) fall far below the diagonal.
  const unweighted = calibrationBins(probability, label, [900, 300]);
  t.true(unweighted.some((b) => b.predicted - b.observed > 5 * b.error), 'a wrong prior shows as miscalibration');
});

test('flowscan anomaly evaluate --report: ROC, SIC and score histograms with the printed AUC', async (t) => {
  const dir = folder();
  const { score, label } = gaussianScores(12);
  await writeFile(join(dir, 'scores.csv'), `score,truth\n${Array.from(score, (s, i) => `${s},${label[i]}`).join('\n')}\n`);
  const evaluate = await flowscan(['anomaly', 'evaluate', '--scores', join(dir, 'scores.csv'), '--truth', 'truth', '--report', join(dir, 'anomaly')]);
  t.is(evaluate.code, 0, evaluate.stderr);
  const auc = /AUC (\d\.\d{4}) ± (\d\.\d{4})/.exec(evaluate.stdout)![0];
  const anomalyHtml = readFileSync(join(dir, 'anomaly', 'report.html'), 'utf8');
  t.true(anomalyHtml.includes(auc), `${auc} in report.html`);
  for (const name of ['roc', 'sic', 'scores']) t.true(existsSync(join(dir, 'anomaly', 'figures', `${name}.png`)), name);
  t.false(existsSync(join(dir, 'anomaly', 'figures', 'calibration.png')), 'an anomaly score is no probability: no calibration');
});

test('flowscan classify train --folds --report and classify score --truth --report: held-out and scored figures, calibration, loss curves', async (t) => {
  const dir = folder();
  const { score, label } = gaussianScores(12);
  // A classifier on two features: held-out scores of two folds, their loss curves and calibration.
  const rng = new Rng(13);
  const events = (n: number, shift: number) => `a,b\n${Array.from({ length: n }, () => `${rng.normal() + shift},${rng.normal()}`).join('\n')}\n`;
  await writeFile(join(dir, 'signal.csv'), events(200, SHIFT));
  await writeFile(join(dir, 'background.csv'), events(400, 0));
  const tiny = ['--features', 'a,b', '--hidden', '4', '--epochs', '3', '--threads', '1'];
  const train = await flowscan(['classify', 'train', '--signal', join(dir, 'signal.csv'), '--background', join(dir, 'background.csv'), ...tiny, '--folds', '2', '--out', join(dir, 'clf'), '--report', join(dir, 'clf-report')]);
  t.is(train.code, 0, train.stderr);
  for (const name of ['roc', 'sic', 'scores', 'calibration', 'loss-fold-0', 'loss-fold-1']) t.true(existsSync(join(dir, 'clf-report', 'figures', `${name}.svg`)), name);
  const trainAuc = /AUC (\d\.\d{4}) ± (\d\.\d{4})/.exec(train.stdout)![0];
  t.true(readFileSync(join(dir, 'clf-report', 'report.html'), 'utf8').includes(trainAuc), `${trainAuc} in report.html`);

  await writeFile(join(dir, 'labelled.csv'), `a,b,truth\n${Array.from(score, (s, i) => `${s},${rng.normal()},${label[i]}`).join('\n')}\n`);
  const scored = await flowscan(['classify', 'score', '--model', join(dir, 'clf', 'fold-0'), '--data', join(dir, 'labelled.csv'), '--truth', 'truth', '--report', join(dir, 'score-report')]);
  t.is(scored.code, 0, scored.stderr);
  for (const name of ['roc', 'sic', 'scores', 'calibration']) t.true(existsSync(join(dir, 'score-report', 'figures', `${name}.png`)), name);
  const scoredAuc = /AUC (\d\.\d{4}) ± (\d\.\d{4})/.exec(scored.stdout)![0];
  t.true(readFileSync(join(dir, 'score-report', 'report.html'), 'utf8').includes(scoredAuc), `${scoredAuc} in report.html`);

  // Without --folds: the loss curve only, and where the separation figures come from.
  const single = await flowscan(['classify', 'train', '--signal', join(dir, 'signal.csv'), '--background', join(dir, 'background.csv'), ...tiny, '--out', join(dir, 'clf-single'), '--report', join(dir, 'single-report')]);
  t.is(single.code, 0, single.stderr);
  t.true(existsSync(join(dir, 'single-report', 'figures', 'loss.svg')));
  t.false(existsSync(join(dir, 'single-report', 'figures', 'roc.svg')));
  t.regex(readFileSync(join(dir, 'single-report', 'report.html'), 'utf8'), /classify score --truth COLUMN --report DIR/);

  t.regex(await flowscanRefusal(['classify', 'score', '--model', join(dir, 'clf', 'fold-0'), '--data', join(dir, 'signal.csv'), '--report', join(dir, 'never')]), /--report needs --truth <column>/);
  t.false(existsSync(join(dir, 'never')));
});
