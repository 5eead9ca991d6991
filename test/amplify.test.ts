// The MC-amplification study's analysis (trainer/src/study/amplify-analysis.ts) against independent oracles:
// the Hessian error of μ̂ on Asimov data against the Fisher information of the Poisson bins and the staterror
// constraints, the asymptotic CLs limit on background-only Asimov data against CCGV's median μ_up = σ Φ⁻¹(1 − α/2),
// the template deviation's χ² against its distribution on samples of one law; and the study end to end at a
// tiny scale (the reference background, being the truth, must give μ̂ = 1).
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '@flowscan/runtime';
import { amplifyWorkspace, asimovCounts, fitSignalStrength, replicaVariance, templateDeviation, upperLimitOnMu } from '../trainer/src/study/amplify-analysis.ts';
import { seriesFigure } from '../trainer/src/study/amplify-figures.ts';
import { runAmplifyStudy } from '../trainer/src/study/amplify.ts';

/** Inverse of a small symmetric positive-definite matrix by Gauss–Jordan elimination. */
function invert(m: number[][]): number[][] {
  const n = m.length;
  const a = m.map((row, i) => [...row, ...Array.from({ length: n }, (_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < n; c++) {
    const pivot = a[c][c];
    for (let j = 0; j < 2 * n; j++) a[c][j] /= pivot;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = a[r][c];
      for (let j = 0; j < 2 * n; j++) a[r][j] -= f * a[c][j];
    }
  }
  return a.map((row) => row.slice(n));
}

/**
 * σ_μ from the Fisher information at (μ, β = 1, γ = 1) of ν_i = μ s_i + β γ_i b_i with Gaussian constraints on
 * γ_i of width √Σw²_i / b_i: I = Σ_i ∇ν_i ∇ν_iᵀ / ν_i + diag(0, 0, 1/σ²_γ). On Asimov data the NLL's Hessian is I.
 */
function fisherSigmaMu(s: number[], b: number[], sumw2: number[], mu: number): number {
  const n = s.length;
  const dim = n + 2;
  const info = Array.from({ length: dim }, () => new Array<number>(dim).fill(0));
  for (let i = 0; i < n; i++) {
    const nu = mu * s[i] + b[i];
    const grad = new Array<number>(dim).fill(0);
    grad[0] = s[i];
    grad[1] = b[i];
    grad[2 + i] = b[i];
    for (let j = 0; j < dim; j++) for (let k = 0; k < dim; k++) info[j][k] += (grad[j] * grad[k]) / nu;
    info[2 + i][2 + i] += (b[i] * b[i]) / sumw2[i];
  }
  return Math.sqrt(invert(info)[0][0]);
}

const signal = [5, 20, 60, 25, 8, 3];
const background = [900, 700, 520, 380, 260, 170];
const sumw2 = background.map((b) => b / 4); // a template from 4× the data's events

test('μ̂ ± σ on its own Asimov data: μ̂ = 1 and σ from the Fisher information with staterror and a free normalisation', async (t) => {
  const ws = amplifyWorkspace({ signal, background: { sumw: background, sumw2 }, observed: asimovCounts(signal, background, 1), shapeSystematic: 0 });
  const fit = await fitSignalStrength(ws);
  t.true(fit.converged);
  t.true(Math.abs(fit.muHat - 1) < 1e-5, `μ̂ = ${fit.muHat}`);
  t.true(Math.abs(fit.backgroundNorm - 1) < 1e-6, `β̂ = ${fit.backgroundNorm}`);
  const expected = fisherSigmaMu(signal, background, sumw2, 1);
  t.true(Math.abs(fit.sigma / expected - 1) < 2e-3, `σ_μ ${fit.sigma} vs Fisher ${expected}`);
  // The template's own error matters: without it (Σw² → 0) σ_μ is smaller.
  const precise = fisherSigmaMu(signal, background, background.map((b) => b * 1e-9), 1);
  t.true(expected > 1.05 * precise, `staterror widens σ_μ: ${expected} vs ${precise}`);
});

test('a deficit at the signal gives μ̂ < 0 (refitted past the POI\'s default bound), converged with its error', async (t) => {
  const ws = amplifyWorkspace({ signal, background: { sumw: background, sumw2 }, observed: asimovCounts(signal, background, -0.5), shapeSystematic: 0 });
  const fit = await fitSignalStrength(ws);
  t.true(fit.converged);
  t.true(Math.abs(fit.muHat + 0.5) < 1e-4, `μ̂ = ${fit.muHat}`);
  t.true(Number.isFinite(fit.sigma) && fit.sigma > 0, `σ = ${fit.sigma}`);
});

test('the CLs limit on background-only Asimov data is CCGV\'s median σ·Φ⁻¹(1 − α/2) in the Gaussian regime', async (t) => {
  // Large counts: σ_μ barely changes between μ = 0 and the limit (μ_up·s/b ≈ 0.3 %), so μ_up = 1.95996 σ_μ
  // (CCGV eq. 89, N = 0).
  const big = background.map((b) => 1e4 * b);
  const bigSumw2 = big.map((b) => b * 10);
  const ws = amplifyWorkspace({ signal, background: { sumw: big, sumw2: bigSumw2 }, observed: asimovCounts(signal, big, 0), shapeSystematic: 0 });
  const limit = await upperLimitOnMu(ws);
  const sigma = fisherSigmaMu(signal, big, bigSumw2, 0);
  t.true(Math.abs(limit / (1.959964 * sigma) - 1) < 3e-3, `μ_UL ${limit} vs ${1.959964 * sigma}`);
  // An injected shape systematic can only loosen the limit.
  const withSystematic = await upperLimitOnMu(amplifyWorkspace({ signal, background: { sumw: big, sumw2: bigSumw2 }, observed: asimovCounts(signal, big, 0), shapeSystematic: 0.05 }));
  t.true(withSystematic > limit * 1.05, `${withSystematic} vs ${limit}`);
});

test('amplifyWorkspace refuses mismatched bins and negative systematics by name', (t) => {
  t.throws(() => amplifyWorkspace({ signal: [1, 2], background: { sumw: [1], sumw2: [1] }, observed: [1, 2], shapeSystematic: 0 }), { message: /same number of bins/ });
  t.throws(() => amplifyWorkspace({ signal: [1], background: { sumw: [1], sumw2: [1] }, observed: [1], shapeSystematic: -0.1 }), { message: /shape systematic must be a fraction ≥ 0.*-0\.1/ });
});

/**
 * The histogram of the events among n that pass a cut, a law with bin probabilities p (Σp: the efficiency; the
 * rest fails), as Σw = Σw² / weight = counts × weight: the passing count fluctuates as in the study.
 */
function drawHistogram(rng: Rng, p: number[], n: number, weight: number): { sumw: Float64Array; sumw2: Float64Array } {
  const counts = new Float64Array(p.length);
  for (let i = 0; i < n; i++) {
    let u = rng.uniform();
    let b = 0;
    while (b < p.length && u >= p[b]) u -= p[b++];
    if (b < p.length) counts[b]++;
  }
  return { sumw: counts.map((c) => c * weight), sumw2: counts.map((c) => c * weight * weight) };
}

test('templateDeviation: χ² ≈ ndf and yield ratio within its error for samples of one law; a distorted template stands out', (t) => {
  const rng = new Rng(14);
  const p = [0.03, 0.025, 0.02, 0.012, 0.008, 0.005];
  let chi2 = 0;
  let ndf = 0;
  const ratioPulls: number[] = [];
  for (let r = 0; r < 40; r++) {
    // Different sample sizes and weights for the same luminosity (10 000 events before the cut).
    const d = templateDeviation(drawHistogram(rng, p, 20_000, 0.5), drawHistogram(rng, p, 200_000, 0.05));
    chi2 += d.chi2;
    ndf += d.ndf;
    ratioPulls.push((d.yieldRatio - 1) / d.yieldRatioError);
  }
  t.true(Math.abs(chi2 / ndf - 1) < 0.15, `χ²/ndf over 40 pairs: ${chi2 / ndf}`);
  const rms = Math.sqrt(ratioPulls.reduce((s, v) => s + v * v, 0) / ratioPulls.length);
  t.true(rms > 0.7 && rms < 1.3, `yield-ratio pulls rms ${rms}`);
  const distorted = templateDeviation(drawHistogram(rng, [0.025, 0.025, 0.02, 0.014, 0.01, 0.006], 1_000_000, 0.01), drawHistogram(rng, p, 200_000, 0.05));
  t.true(distorted.pValue < 1e-6, `p = ${distorted.pValue}`);
  t.true(Math.abs(distorted.pulls[0]) > 5, `first-bin pull ${distorted.pulls[0]}`);
});

test('replicaVariance: ≈ 0 for replicas of one law, the injected spread of the bin fractions otherwise', (t) => {
  const rng = new Rng(21);
  const p = [0.02, 0.03, 0.01];
  const same = Array.from({ length: 400 }, () => ({ counts: drawHistogram(rng, p, 20_000, 1).sumw, events: 20_000 }));
  replicaVariance(same).forEach((v, b) => t.true(v < 0.15 * (p[b] / 20_000), `bin ${b}: ${v} vs Poisson ${p[b] / 20_000}`));
  // Each replica's law moves: bin fractions scaled by (1 ± 0.2) at random, variance (0.2 p)².
  const moving = Array.from({ length: 400 }, () => {
    const scale = 1 + 0.2 * (rng.uniform() < 0.5 ? -1 : 1);
    return { counts: drawHistogram(rng, p.map((q) => q * scale), 20_000, 1).sumw, events: 20_000 };
  });
  replicaVariance(moving).forEach((v, b) => t.true(Math.abs(v / (0.2 * p[b]) ** 2 - 1) < 0.25, `bin ${b}: ${v} vs ${(0.2 * p[b]) ** 2}`));
  t.throws(() => replicaVariance(same.slice(0, 1)), { message: /at least 2 replicas, got 1/ });
});

test('seriesFigure refuses x ≤ 0 on its log axis', (t) => {
  t.throws(() => seriesFigure({ title: 'f', xTitle: 'x', yTitle: 'y', series: [{ label: 'a', points: [{ x: 0, y: 1 }] }] }), { message: /x = 0; the log axis needs x > 0/ });
});

test('flowscan study amplify end to end at a tiny scale', async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'flowscan-amplify-'));
  try {
    const result = await runAmplifyStudy({
      out,
      seed: 3,
      scale: { mcEvents: 5000, amplification: [2, 4], referenceEvents: 100_000, signalEvents: 5000, classifierEvents: 3000, classifierEpochs: 4, epochs: 3, blocks: 2, hidden: 16, batchSize: 512, luminosities: [1e4, 1e5], replicas: 2, replicaAmplification: 2 },
    });
    t.deepEqual(result.sources.map((s) => s.label), ['MC', 'generated ×2', 'generated ×4', 'generated ×2 ± flow', 'generated ×4 ± flow', 'reference']);
    t.deepEqual(result.sources.map((s) => s.events), [5000, 10_000, 20_000, 10_000, 20_000, 100_000]);
    // The flow's bootstrap variance only widens the errors: σ_μ with it is at least σ_μ without.
    for (const k of [1, 2]) {
      result.sources[k].fits.forEach((f, j) => t.true(result.sources[k + 2].fits[j].strength.sigma >= f.strength.sigma * (1 - 1e-6), `${result.sources[k].label} at ${f.luminosity}`));
    }
    const reference = result.sources.at(-1)!;
    // The reference IS the truth of the Asimov data: its fit must return μ = 1 exactly.
    for (const f of reference.fits) t.true(Math.abs(f.strength.muHat - 1) < 1e-4, `reference μ̂ = ${f.strength.muHat}`);
    for (const s of result.sources) {
      for (const f of s.fits) t.true(Number.isFinite(f.strength.sigma) && f.strength.sigma > 0 && f.upperLimit > 0, `${s.label}: ${JSON.stringify(f)}`);
      // More luminosity, tighter limit.
      t.true(s.fits[1].upperLimit < s.fits[0].upperLimit, `${s.label}: ${s.fits.map((f) => f.upperLimit)}`);
    }
    for (const name of ['report.html', 'summary.json', 'figures/mu-hat.svg', 'figures/delta-upper-limit.svg', 'workspaces/generated-4.json']) t.true(existsSync(join(out, name)), name);
    const ws = JSON.parse(readFileSync(join(out, 'workspaces', 'MC.json'), 'utf8'));
    t.is(ws.measurements[0].config.poi, 'mu');
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
