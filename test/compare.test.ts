// flowscan compare: the distances against analytic values for Gaussians, the χ² tail against closed forms, the
// C2ST pieces against the runtime's AUC and against the Bayes AUC of two Gaussians, and the command end to end.
import test from 'ava';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import erfc from '@stdlib/math-base-special-erfc';
import { Rng, aucWithError } from '@flowscan/runtime';
import { classifierTwoSampleTest, midRanks, permutationPValue, rankAuc } from '../trainer/src/compare/c2st.ts';
import { binSample, binnedChi2, chi2Survival, divergences } from '../trainer/src/compare/metrics.ts';
import { chi2OneDofSurvival } from '../trainer/src/toys/statistics.ts';
import { flowscan } from './helpers/commands.ts';
import { flowscanRefusal } from './helpers/in-process.ts';
import { temporaryFolder } from './helpers/temporary.ts';

const folder = temporaryFolder('flowscan-compare-');
const normalCdf = (x: number, mu: number, sigma: number): number => 0.5 * erfc(-(x - mu) / (sigma * Math.SQRT2));
const normalPdf = (x: number, mu: number, sigma: number): number => Math.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * Math.sqrt(2 * Math.PI));

/** Exact bin probabilities of N(mu, sigma) on `bins` bins of [lo, hi]. */
function binProbabilities(mu: number, sigma: number, lo: number, hi: number, bins: number): number[] {
  return Array.from({ length: bins }, (_, b) => normalCdf(lo + ((hi - lo) * (b + 1)) / bins, mu, sigma) - normalCdf(lo + ((hi - lo) * b) / bins, mu, sigma));
}

test('binned distances of exact Gaussian bin probabilities approach the analytic KL and Hellinger and the integrated JS', (t) => {
  const [m1, s1, m2, s2] = [0, 1, 0.5, 1.3];
  const d = divergences(binProbabilities(m1, s1, -12, 12, 4000), binProbabilities(m2, s2, -12, 12, 4000));
  const kl = Math.log(s2 / s1) + (s1 * s1 + (m1 - m2) ** 2) / (2 * s2 * s2) - 0.5;
  const hellinger = Math.sqrt(1 - Math.sqrt((2 * s1 * s2) / (s1 * s1 + s2 * s2)) * Math.exp(-((m1 - m2) ** 2) / (4 * (s1 * s1 + s2 * s2))));
  // Jensen–Shannon has no closed form for two Gaussians: a fine midpoint quadrature of its integral.
  let js = 0;
  const h = 1e-3;
  for (let x = -15 + h / 2; x < 15; x += h) {
    const p = normalPdf(x, m1, s1);
    const q = normalPdf(x, m2, s2);
    const m = (p + q) / 2;
    js += h * 0.5 * ((p > 0 ? p * Math.log(p / m) : 0) + (q > 0 ? q * Math.log(q / m) : 0));
  }
  t.true(Math.abs(d.kl - kl) < 1e-5, `KL ${d.kl} vs ${kl}`);
  t.true(Math.abs(d.hellinger - hellinger) < 1e-5, `Hellinger ${d.hellinger} vs ${hellinger}`);
  t.true(Math.abs(d.jensenShannon - js) < 1e-5, `JS ${d.jensenShannon} vs ${js}`);
  const same = divergences([1, 2, 3], [2, 4, 6]);
  t.deepEqual([same.kl, same.jensenShannon, same.hellinger], [0, 0, 0]);
  const disjoint = divergences([1, 0], [0, 1]);
  t.is(disjoint.klSkippedMass, 1);
  t.true(Math.abs(disjoint.jensenShannon - Math.LN2) < 1e-15 && disjoint.hellinger === 1);
});

test('sampled distances converge to the analytic ones', (t) => {
  const rng = new Rng(12);
  const n = 200000;
  const a = Float64Array.from({ length: n }, () => rng.normal());
  const b = Float64Array.from({ length: n }, () => 0.5 + 1.3 * rng.normal());
  const d = divergences(binSample(a, null, -6, 6, 60).sumw, binSample(b, null, -6, 6, 60).sumw);
  const kl = Math.log(1.3) + (1 + 0.25) / (2 * 1.69) - 0.5;
  t.true(Math.abs(d.kl - kl) < 0.01, `KL ${d.kl} vs ${kl}`);
});

test('the χ² tail matches its closed forms and the χ² test is calibrated on equal distributions', (t) => {
  for (const x of [0.01, 0.5, 2, 7.3, 30]) {
    t.true(Math.abs(chi2Survival(x, 2) - Math.exp(-x / 2)) < 1e-13, `ndf 2 at ${x}`);
    t.true(Math.abs(chi2Survival(x, 1) - chi2OneDofSurvival(x)) < 1e-12, `ndf 1 at ${x}`);
    // ndf 4: Q = e^{-x/2}(1 + x/2).
    t.true(Math.abs(chi2Survival(x, 4) - Math.exp(-x / 2) * (1 + x / 2)) < 1e-13, `ndf 4 at ${x}`);
  }
  // 40 pairs of samples of one law (different sizes, weights 0.5 on one side): χ²/ndf averages to 1 and the
  // p-values are spread over (0, 1).
  const rng = new Rng(13);
  const ratios: number[] = [];
  const pValues: number[] = [];
  for (let r = 0; r < 40; r++) {
    const a = Float64Array.from({ length: 4000 }, () => rng.normal());
    const b = Float64Array.from({ length: 9000 }, () => rng.normal());
    const result = binnedChi2(binSample(a, null, -3, 3, 30), binSample(b, new Float64Array(9000).fill(0.5), -3, 3, 30));
    t.is(result.ndf, 29);
    ratios.push(result.chi2PerNdf);
    pValues.push(result.pValue);
  }
  const mean = ratios.reduce((s, v) => s + v, 0) / ratios.length;
  // Var(χ²/ndf) = 2/ndf, so the mean of 40 has σ ≈ 0.042.
  t.true(Math.abs(mean - 1) < 0.15, `mean χ²/ndf ${mean}`);
  t.true(pValues.filter((p) => p < 0.5).length > 8 && pValues.filter((p) => p >= 0.5).length > 8);
  const shifted = binnedChi2(binSample(Float64Array.from({ length: 4000 }, () => rng.normal()), null, -3, 3, 30), binSample(Float64Array.from({ length: 4000 }, () => 0.3 + rng.normal()), null, -3, 3, 30));
  t.true(shifted.pValue < 1e-6, `a shift of 0.3σ is found: p ${shifted.pValue}`);
});

test('rank AUC equals the runtime AUC, and permutation p-values separate equal from shifted samples', (t) => {
  const rng = new Rng(14);
  const scores = Float64Array.from({ length: 600 }, (_, i) => Math.round(10 * (rng.normal() + (i >= 300 ? 0.8 : 0))) / 10);
  const labels = new Uint8Array(600).fill(1, 300);
  const auc = rankAuc(midRanks(scores), labels);
  const runtime = aucWithError({ scores: scores.subarray(300) }, { scores: scores.subarray(0, 300) }).auc;
  t.true(Math.abs(auc - runtime) < 1e-12, `${auc} vs ${runtime}`);
  const folds = Uint8Array.from({ length: 600 }, (_, i) => i % 2);
  t.is(permutationPValue(scores, labels, folds, 199, new Rng(1)), 1 / 200);
  const equal = Float64Array.from({ length: 600 }, () => rng.normal());
  t.true(permutationPValue(equal, labels, folds, 199, new Rng(2)) > 0.01);
});

test('C2ST finds two Gaussians one σ apart at their Bayes AUC', async (t) => {
  const rng = new Rng(15);
  const n = 3000;
  const reference = Float32Array.from({ length: n }, () => rng.normal());
  const generated = Float32Array.from({ length: n }, () => 1 + rng.normal());
  const result = await classifierTwoSampleTest(reference, generated, {
    folds: 2,
    permutations: 99,
    seed: 3,
    classifier: { features: [{ name: 'x', unit: '' }], hidden: [16], maxEpochs: 8, batchSize: 256 },
  });
  // The best classifier of N(0,1) against N(1,1) has AUC Φ(1/√2) = 0.7602.
  const bayes = normalCdf(1 / Math.SQRT2, 0, 1);
  t.true(Math.abs(result.auc - bayes) < 4 * result.aucError + 0.01, `AUC ${result.auc} ± ${result.aucError} vs ${bayes}`);
  t.true(result.aucError > 0.003 && result.aucError < 0.02);
  t.is(result.permutationPValue, 1 / 100);
});

test('flowscan compare writes compare.json, ratio figures and a table', async (t) => {
  const rng = new Rng(16);
  const csv = (shift: number): string => `x,y\n${Array.from({ length: 3000 }, () => `${(shift + rng.normal()).toFixed(5)},${rng.uniform().toFixed(5)}`).join('\n')}\n`;
  await writeFile(join(folder(), 'gen.csv'), csv(0.2));
  await writeFile(join(folder(), 'ref.csv'), csv(0));
  const out = join(folder(), 'out');
  const run = await flowscan(['compare', join(folder(), 'gen.csv'), join(folder(), 'ref.csv'), '--features', 'x,y', '--bins', 'x=-4:4:40', '--out', out]);
  t.is(run.code, 0, run.stderr);
  t.regex(run.stdout, /feature\s+KS D/);
  const json = JSON.parse(await readFile(join(out, 'compare.json'), 'utf8'));
  const [x, y] = json.features;
  t.true(x.chi2.pValue < 1e-4 && x.ks.pValue < 1e-4, 'the shifted feature fails');
  t.true(y.ks.pValue > 1e-3, 'the equal feature passes');
  t.deepEqual(x.binning, { lo: -4, hi: 4, bins: 40 });
  t.true((await readFile(join(out, 'figures', 'ratio-x.svg'), 'utf8')).includes('<svg'));
  // The refusal in this process: a flowscan process would spend more CPU starting than refusing.
  t.regex(await flowscanRefusal(['compare', join(folder(), 'gen.csv'), join(folder(), 'ref.csv'), '--features', 'x', '--bins', 'z=0:1:10', '--out', out]), /"z", which is not among --features/);
});
