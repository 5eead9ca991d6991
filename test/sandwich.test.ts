// Sandwich errors of weighted fits and Gaussian constraints. Oracles: the θ-gradient graph (Σ w s = −∇NLL, and
// per-event gradients with one-hot weight rows), the information equality for unit weights on events drawn from
// the flows themselves, 1/σ² = 1/σ_free² + 1/σ_c² for a constraint, and the coverage of weighted toys fitted
// with the EXACT toy likelihood (analytic per-event scores).
import test from 'ava';
import { fileURLToPath } from 'node:url';
import {
  type BatchObjective,
  type Bounds,
  type FlowModel,
  type LikelihoodSpec,
  MixtureLikelihood,
  Rng,
  SCORE_STEP,
  type ScoreChunk,
  covarianceFromHessian,
  fitLikelihood,
  hessian,
  minimize,
  runScan,
  sandwichCovariance,
  weightedScoreMoments,
} from '@flowscan/runtime';
import { loadModel } from '@flowscan/runtime/node';
import { backgroundSample, signalSample } from '../trainer/src/data/toy.ts';
import { backgroundTerms, signalTerms } from '../trainer/src/study/toy-exact.ts';
import { TOY_TRUTH, TOY_WINDOW } from '../trainer/src/study/toy.ts';

const MODELS = fileURLToPath(new URL('../models/', import.meta.url));
let signal: FlowModel;
let background: FlowModel;

test.before(async () => {
  signal = await loadModel(`${MODELS}toy-signal`, { ep: 'cpu', precision: 'float64' });
  background = await loadModel(`${MODELS}toy-background`, { ep: 'cpu', precision: 'float64' });
});

const TRUTH = [TOY_TRUTH.m_pole, TOY_TRUTH.gamma, TOY_TRUTH.tau];

function mixture(x: Float64Array, extra: Partial<LikelihoodSpec> = {}, signalFraction = 0.2): MixtureLikelihood {
  return new MixtureLikelihood({
    components: [
      { name: 'signal', model: signal, fraction: signalFraction },
      { name: 'background', model: background, fraction: 1 - signalFraction },
    ],
    events: { x },
    yields: 'fixed-fractions',
    ...extra,
  });
}

function uniformEvents(n: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  return Float64Array.from({ length: n }, () => 41 + 98 * rng.uniform());
}

/** Events drawn from the flows themselves at the truth (so the model is exactly right for them). */
async function flowEvents(n: number, signalFraction: number, seed: number): Promise<Float64Array> {
  const rng = new Rng(seed);
  const nSignal = Math.round(n * signalFraction);
  const draw = async (model: FlowModel, count: number, theta: number[]) =>
    model.sample(Float32Array.from({ length: count }, () => rng.normal()), Float32Array.from(theta));
  const x = new Float64Array(n);
  x.set(await draw(signal, nSignal, TRUTH.slice(0, 2)));
  x.set(await draw(background, n - nSignal, TRUTH.slice(2)), nSignal);
  return x;
}

async function collect(chunks: AsyncIterable<ScoreChunk>): Promise<Float64Array> {
  const parts: Float64Array[] = [];
  for await (const { scores } of chunks) parts.push(scores);
  const all = new Float64Array(parts.reduce((s, p) => s + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    all.set(p, offset);
    offset += p.length;
  }
  return all;
}

test('scores: Σ w_i s_i equals −∇NLL of evaluate (θ-gradient graph), with a constraint, fixed fractions and extended', async (t) => {
  const x = await flowEvents(2000, 0.2, 3);
  const rng = new Rng(4);
  const weights = Float64Array.from(x, () => 2 * rng.uniform());
  const constraints = { tau: { mean: 0.011, width: 5e-4 } };
  for (const extended of [false, true]) {
    const likelihood = mixture(x, { weights, constraints, ...(extended ? { yields: 'extended' as const } : {}) });
    const point = [90.9, 2.8, 0.0105, ...(extended ? [500, 1700] : [])];
    // Steps of ~1e-3 σ (σ ≈ 0.2 GeV, 0.4 GeV, 1e-3 for 2000 events): the float64 central differences are then
    // exact to ~1e-9, so this checks the scores' assembly (responsibilities, yields, columns).
    const steps = [2e-4, 4e-4, 1e-6, ...(extended ? [1, 1] : [])];
    const P = point.length;
    const chunks: ScoreChunk[] = [];
    for await (const chunk of likelihood.eventScores(point, steps)) chunks.push(chunk);
    const { sum } = await weightedScoreMoments(chunks, P);
    // Σ_i |w_i s_ij|: the size of the terms that cancel in the sum, the scale of its rounding and truncation.
    const magnitude = new Float64Array(P);
    for (const { weights, scores } of chunks) scores.forEach((v, k) => (magnitude[k % P] += Math.abs(weights[Math.floor(k / P)] * v)));
    const { gradients } = await likelihood.evaluate(Float64Array.from(point), 1, true);
    // −∇NLL = Σ w s − (θ − μ)/σ² (constraint) − 1 (extended yields' Σν).
    const expected = Array.from(gradients!, (g) => -g);
    expected[2] += (point[2] - constraints.tau.mean) / constraints.tau.width ** 2;
    if (extended) for (const j of [3, 4]) expected[j] += 1;
    likelihood.freeNames.forEach((name, j) => {
      const difference = Math.abs(sum[j] - expected[j]);
      t.log(
        `${extended ? 'extended' : 'fixed fractions'} ${name}: Σ w s = ${sum[j].toPrecision(10)}, −∇NLL (events) = ${expected[j].toPrecision(10)}, ` +
          `difference ${(difference / Math.abs(expected[j])).toExponential(1)} of it, ${(difference / magnitude[j]).toExponential(1)} of Σ|w s|`,
      );
      t.true(difference < 1e-6 * Math.abs(expected[j]) || difference < 1e-8 * magnitude[j], name);
    });
  }
});

test('per-event scores at the default step equal the θ-gradient graph evaluated event by event', async (t) => {
  const n = 300;
  const x = uniformEvents(n, 5);
  const f = 0.2;
  const likelihood = mixture(x, {}, f);
  const sigma = [0.2, 0.4, 1e-3];
  const fd = await collect(likelihood.eventScores(TRUTH, sigma.map((s) => SCORE_STEP.float64 * s)));
  // Exact per-event gradients: K = n copies of θ against the n events with one-hot weight rows.
  const oneHot = new Float64Array(n * n);
  for (let i = 0; i < n; i++) oneHot[i * n + i] = 1;
  const perEvent = async (model: FlowModel, theta: number[]) => {
    const events = (await model.residentEvents(x, n)).chunk(0, n);
    return model.logProbGrad(events, Array.from({ length: n }, () => theta).flat(), model.weightsTensor(oneHot, n));
  };
  const s = await perEvent(signal, TRUTH.slice(0, 2));
  const b = await perEvent(background, TRUTH.slice(2));
  const exact = new Float64Array(n * 3);
  for (let i = 0; i < n; i++) {
    const ps = f * Math.exp(s.logProb[i * n + i]);
    const pb = (1 - f) * Math.exp(b.logProb[i * n + i]);
    exact.set([(ps / (ps + pb)) * s.grad[2 * i], (ps / (ps + pb)) * s.grad[2 * i + 1], (pb / (ps + pb)) * b.grad[i]], 3 * i);
  }
  const ones = new Float64Array(n).fill(1);
  const vExact = (await weightedScoreMoments([{ weights: ones, scores: exact }], 3)).variance;
  likelihood.freeNames.forEach((name, j) => {
    let worst = 0;
    for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(fd[3 * i + j] - exact[3 * i + j]));
    const relative = worst / Math.sqrt(vExact[4 * j] / n);
    t.log(`${name}: largest |s_i by central differences − s_i of the graph| = ${relative.toExponential(1)} × the rms score`);
    t.true(relative < 1e-4, name);
  });
});

test('unit weights: V ≈ H (information equality), so the sandwich ≈ H⁻¹, on 30k events drawn from the flows', async (t) => {
  const x = await flowEvents(30000, 0.2, 6);
  const likelihood = mixture(x, { outsideSupport: 'drop' });
  // At the truth E[H] = E[V] = N·I. Hessian steps of 0.3σ as in fitLikelihood (spline flows are rough in θ).
  const sigma = [0.027, 0.067, 2.4e-4];
  const h = await hessian(likelihood, Float64Array.from(TRUTH), { bounds: likelihood.bounds(), scales: Float64Array.from(sigma), relativeStep: 0.3, check: false });
  const cov = covarianceFromHessian(h.hessian);
  if (!cov.positiveDefinite) return t.fail(cov.message);
  const { variance } = await weightedScoreMoments(likelihood.eventScores(TRUTH, sigma.map((s) => SCORE_STEP.float64 * s)), 3);
  const sandwich = sandwichCovariance(cov.covariance, variance, 3).errors;
  likelihood.freeNames.forEach((name, j) => {
    const ratio = sandwich[j] / cov.errors[j];
    t.log(`${name}: Hessian error ${cov.errors[j].toPrecision(3)}, sandwich ${sandwich[j].toPrecision(3)}, ratio ${ratio.toFixed(3)}`);
    t.true(Math.abs(ratio - 1) < 0.04, name);
  });
});

/** τ alone free (the signal shape fixed): fast fits of the shipped background flow. */
function tauOnly(x: Float64Array, constraints: LikelihoodSpec['constraints'] = {}): MixtureLikelihood {
  return mixture(x, { fixed: { m_pole: TOY_TRUTH.m_pole, gamma: TOY_TRUTH.gamma }, constraints });
}

test('a constraint adds 1/σ_c² to the curvature, pulls the value to the weighted mean and narrows the profile interval', async (t) => {
  const x = await flowEvents(10000, 0.2, 7);
  const free = await fitLikelihood(tauOnly(x), { start: { tau: 0.01 }, starts: 1 });
  const tauFree = free.parameters.find((p) => p.name === 'tau')!;
  const sigmaFree = tauFree.error!;
  const mean = tauFree.value + sigmaFree;
  const constrained = await fitLikelihood(tauOnly(x, { tau: { mean, width: sigmaFree } }), { start: { tau: 0.01 }, starts: 1, profile: true });
  const tau = constrained.parameters.find((p) => p.name === 'tau')!;
  const expectedError = 1 / Math.sqrt(2 / sigmaFree ** 2);
  const expectedValue = 0.5 * (tauFree.value + mean);
  t.log(`σ_free = ${sigmaFree.toExponential(3)}; constrained σ = ${tau.error!.toExponential(3)} (expected ${expectedError.toExponential(3)}), τ̂ = ${tau.value.toPrecision(6)} (expected ${expectedValue.toPrecision(6)})`);
  t.true(Math.abs(tau.error! / expectedError - 1) < 0.03);
  t.true(Math.abs(tau.value - expectedValue) < 0.05 * sigmaFree);
  const interval = tau.intervals!.find((iv) => iv.level === 0.5)!;
  const halfWidth = 0.5 * (interval.upper - interval.lower);
  t.log(`profile interval at ΔNLL = 0.5: half-width ${halfWidth.toExponential(3)}`);
  t.true(Math.abs(halfWidth / expectedError - 1) < 0.03);

  // A very narrow constraint 2σ_free away pins τ at its mean with the constraint's width.
  const width = sigmaFree / 1000;
  const pinned = await fitLikelihood(tauOnly(x, { tau: { mean: tauFree.value + 2 * sigmaFree, width } }), { start: { tau: 0.01 }, starts: 1 });
  const tauPinned = pinned.parameters.find((p) => p.name === 'tau')!;
  t.log(`narrow constraint: τ̂ − mean = ${(tauPinned.value - tauFree.value - 2 * sigmaFree).toExponential(2)}, σ = ${tauPinned.error!.toExponential(3)} (width ${width.toExponential(3)})`);
  t.true(Math.abs(tauPinned.value - (tauFree.value + 2 * sigmaFree)) < 0.01 * sigmaFree);
  t.true(Math.abs(tauPinned.error! / width - 1) < 0.01);
});

test('a constraint on an extended yield: 1/σ² = 1/σ_free² + 1/σ_c² (Sherman–Morrison, correlations included)', async (t) => {
  const x = await flowEvents(5000, 0.2, 8);
  const extended = (constraints: LikelihoodSpec['constraints'] = {}) =>
    mixture(x, { yields: 'extended', fixed: { m_pole: TOY_TRUTH.m_pole, gamma: TOY_TRUTH.gamma, tau: TOY_TRUTH.tau }, constraints });
  const start = { n_signal: 1000, n_background: 4000 };
  const free = await fitLikelihood(extended(), { start, starts: 1 });
  const sigmaFree = free.parameters.find((p) => p.name === 'n_signal')!.error!;
  const width = 0.5 * sigmaFree;
  const constrained = await fitLikelihood(extended({ n_signal: { mean: 1000, width } }), { start, starts: 1 });
  const error = constrained.parameters.find((p) => p.name === 'n_signal')!.error!;
  const expected = 1 / Math.sqrt(1 / sigmaFree ** 2 + 1 / width ** 2);
  t.log(`n_signal: σ_free = ${sigmaFree.toFixed(2)}, constrained σ = ${error.toFixed(2)} (expected ${expected.toFixed(2)})`);
  t.true(Math.abs(error / expected - 1) < 0.03);
});

test('constraints survive variants: a variant that fixes other parameters has the same NLL at the same point', async (t) => {
  const x = uniformEvents(1000, 9);
  const likelihood = mixture(x, { constraints: { tau: { mean: 0.012, width: 1e-3 }, m_pole: { mean: 91, width: 0.5 } } });
  const full = await likelihood.evaluate(Float64Array.from([91.5, 2.5, 0.0105]), 1, false);
  const slice = likelihood.variant({ fixed: { m_pole: 91.5, gamma: 2.5 } });
  const sliced = await slice.evaluate(Float64Array.from([0.0105]), 1, true);
  t.is(sliced.values[0], full.values[0]);
  const unconstrained = mixture(x);
  const bare = await unconstrained.evaluate(Float64Array.from([91.5, 2.5, 0.0105]), 1, false);
  t.true(Math.abs(full.values[0] - bare.values[0] - 0.5 * (1.5 ** 2 + 1)) < 1e-9);
});

test('constraint mistakes are refused with the value and what was expected; a mean outside the bounds warns', (t) => {
  const x = uniformEvents(100, 10);
  const refused: [LikelihoodSpec['constraints'], Partial<LikelihoodSpec>, RegExp][] = [
    [{ n_signal: { mean: 10, width: 1 } }, {}, /unknown parameter "n_signal".*m_pole, gamma, tau/],
    [{ gamma: { mean: 2, width: 0.1 } }, { fixed: { gamma: 2.5 } }, /"gamma".*fixed at 2\.5/],
    [{ tau: { mean: 0.01, width: 0 } }, {}, /"tau".*width must be a finite number > 0, got 0/],
    [{ tau: { mean: 0.01, width: -1e-3 } }, {}, /width .* got -0\.001/],
    [{ tau: { mean: 0.01, width: Number.POSITIVE_INFINITY } }, {}, /width .* got Infinity/],
    [{ tau: { mean: Number.NaN, width: 1e-3 } }, {}, /"tau".*mean must be a finite number, got NaN/],
  ];
  for (const [constraints, extra, message] of refused) t.throws(() => mixture(x, { ...extra, constraints }), { message });
  const outside = mixture(x, { constraints: { tau: { mean: 0.2, width: 0.01 } } });
  t.is(outside.warnings.length, 1);
  t.regex(outside.warnings[0], /tau = 0\.2 lies outside its bounds \[0\.001.*0\.09999/);
});

test('scan requests: constraints pass through and are recorded with pulls; weighted events get a sandwich block', async (t) => {
  const x = await flowEvents(3000, 0.3, 11);
  const request = {
    events: { file: '(in memory)' },
    components: [
      { name: 'signal', model: 'toy-signal', fraction: 0.3 },
      { name: 'background', model: 'toy-background', fraction: 0.7 },
    ],
    start: { m_pole: 91.2, gamma: 2.5, tau: 0.01 },
    starts: 1,
    // Weak next to the data (σ_τ ≈ 5e-4), so the weights alone set the sandwich's ratio to H⁻¹.
    constraints: { tau: { mean: 0.0105, width: 5e-3 } },
    outsideSupport: 'drop' as const,
  };
  const inputs = { models: { signal, background }, events: { x }, executionProvider: 'cpu', flowscanVersion: 'test' };
  const unweighted = await runScan({ ...inputs, request: { ...request, fixed: { m_pole: 91.2, gamma: 2.5 } }, weights: new Float64Array(x.length).fill(1) });
  t.is(unweighted.sandwich, undefined);
  const tau = unweighted.fit.parameters.find((p) => p.name === 'tau')!.value;
  t.deepEqual(unweighted.constraints, [{ name: 'tau', mean: 0.0105, width: 5e-3, value: tau, pull: (tau - 0.0105) / 5e-3 }]);

  const rng = new Rng(12);
  const weighted = await runScan({ ...inputs, request, weights: Float64Array.from(x, () => rng.exponential()) });
  const sandwich = weighted.sandwich!;
  t.deepEqual(sandwich.freeNames, ['m_pole', 'gamma', 'tau']);
  t.is(sandwich.scoreStep, SCORE_STEP.float64);
  sandwich.freeNames.forEach((name, j) => {
    const hessianError = weighted.fit.parameters.find((p) => p.name === name)!.error!;
    t.is(sandwich.errors[name], Math.sqrt(sandwich.covariance[j][j]));
    t.is(sandwich.ratioToHessian[name], sandwich.errors[name] / hessianError);
    // Exp(1) weights independent of x: the variance is E[w²]/E[w] = 2 times H⁻¹ in expectation (ratio √2); V from
    // 3000 such events scatters by ~10 % in the error.
    t.log(`${name}: sandwich / Hessian error = ${sandwich.ratioToHessian[name].toFixed(3)} (expected ≈ √2)`);
    t.true(sandwich.ratioToHessian[name] > 1.15 && sandwich.ratioToHessian[name] < 1.7, name);
  });
});

// ---- coverage of weighted toys, exact toy likelihood ----

const W = TOY_WINDOW;
const MIXTURE_BOUNDS: Bounds = { lower: Float64Array.from([60, 0.5, 1e-3]), upper: Float64Array.from([120, 5, 0.1]) };
const TAU_BOUNDS: Bounds = { lower: Float64Array.from([1e-3]), upper: Float64Array.from([0.1]) };

/** log p(x|θ) of one event and its θ-gradient (the score). */
type ExactDensity = (x: number, theta: ArrayLike<number>) => { logP: number; score: number[] };

/** The toy mixture f p_s + (1 − f) p_b over (M_pole, Γ, τ), from toy-exact.ts's analytic terms. */
function exactMixture(f: number): ExactDensity {
  return (x, theta) => {
    const s = signalTerms(x, theta[0], theta[1], W);
    const b = backgroundTerms(x, theta[2], W);
    const ps = f * Math.exp(s.logP);
    const pb = (1 - f) * Math.exp(b.logP);
    const rs = ps / (ps + pb);
    return { logP: Math.log(ps + pb), score: [rs * s.dM, rs * s.dGamma, (1 - rs) * b.dTau] };
  };
}

/** The toy background alone over τ. */
const exactBackground: ExactDensity = (x, theta) => {
  const b = backgroundTerms(x, theta[0], W);
  return { logP: b.logP, score: [b.dTau] };
};

/** −Σ w_i log p(x_i|θ), optionally + (θ_j − μ)²/(2σ²), with analytic gradients and per-event scores. */
class WeightedExactToy implements BatchObjective {
  constructor(
    readonly dimension: number,
    private readonly density: ExactDensity,
    private readonly x: Float64Array,
    private readonly w: Float64Array,
    private readonly constraint?: { index: number; mean: number; width: number },
  ) {}

  async evaluate(points: Float64Array, count: number, withGradient: boolean): Promise<{ values: Float64Array; gradients?: Float64Array }> {
    const P = this.dimension;
    const values = new Float64Array(count);
    const gradients = new Float64Array(count * P);
    for (let k = 0; k < count; k++) {
      const theta = points.subarray(P * k, P * (k + 1));
      for (let i = 0; i < this.x.length; i++) {
        const { logP, score } = this.density(this.x[i], theta);
        values[k] -= this.w[i] * logP;
        for (let j = 0; j < P; j++) gradients[P * k + j] -= this.w[i] * score[j];
      }
      if (this.constraint) {
        const { index, mean, width } = this.constraint;
        const pull = (theta[index] - mean) / width;
        values[k] += 0.5 * pull * pull;
        gradients[P * k + index] += pull / width;
      }
    }
    return withGradient ? { values, gradients } : { values };
  }

  scores(theta: ArrayLike<number>): ScoreChunk {
    const scores = new Float64Array(this.x.length * this.dimension);
    for (let i = 0; i < this.x.length; i++) scores.set(this.density(this.x[i], theta).score, this.dimension * i);
    return { weights: this.w, scores };
  }
}

/** x from the mixture at the truth: each event is signal with probability f. */
function toyEvents(rng: Rng, n: number, f: number): Float64Array {
  let nSignal = 0;
  for (let i = 0; i < n; i++) if (rng.uniform() < f) nSignal++;
  const x = new Float64Array(n);
  signalSample(rng, TOY_TRUTH.m_pole, TOY_TRUTH.gamma, x.subarray(0, nSignal));
  backgroundSample(rng, TOY_TRUTH.tau, x.subarray(nSignal));
  return x;
}

/** Fits a toy from the truth; returns θ̂, H⁻¹ and V = Σ w² s sᵀ at θ̂. */
async function fitToy(objective: WeightedExactToy, truth: number[], bounds: Bounds, scales: number[]) {
  const options = { bounds, scales: Float64Array.from(scales) };
  const fit = await minimize(objective, { method: 'lbfgsb', starts: Float64Array.from(truth), ...options });
  const h = await hessian(objective, fit.best.x, { ...options, relativeStep: 1e-3, check: false });
  const cov = covarianceFromHessian(h.hessian);
  if (!cov.positiveDefinite) throw new Error(`toy fit: ${cov.message}`);
  const { variance } = await weightedScoreMoments([objective.scores(fit.best.x)], objective.dimension);
  return { best: fit.best.x, inverseHessian: cov.covariance, variance };
}

/** 68.27 % ± what `toys` Bernoulli trials allow (3σ). */
function coverageBand(toys: number): number {
  return 3 * Math.sqrt((0.6827 * 0.3173) / toys);
}

test('coverage: weighted toys (Exp(1) weights independent of x) — naive H⁻¹ errors under- or over-cover, sandwich errors cover 68 %', async (t) => {
  const toys = 300;
  const n = 2000;
  const f = 0.2;
  const rng = new Rng(2025);
  const covered = { sandwich: [0, 0, 0], naive: [0, 0, 0], naiveQuarter: [0, 0, 0] };
  for (let toy = 0; toy < toys; toy++) {
    const x = toyEvents(rng, n, f);
    const w = Float64Array.from(x, () => rng.exponential());
    const { best, inverseHessian, variance } = await fitToy(new WeightedExactToy(3, exactMixture(f), x, w), TRUTH, MIXTURE_BOUNDS, [0.15, 0.3, 1e-3]);
    const sandwich = sandwichCovariance(inverseHessian, variance, 3).errors;
    for (let j = 0; j < 3; j++) {
      const pull = Math.abs(best[j] - TRUTH[j]);
      const naive = Math.sqrt(inverseHessian[4 * j]);
      if (pull < sandwich[j]) covered.sandwich[j]++;
      if (pull < naive) covered.naive[j]++;
      // Weights w/4 give the same θ̂ and a curvature 4× smaller: naive errors twice as large, the sandwich unchanged.
      if (pull < 2 * naive) covered.naiveQuarter[j]++;
    }
  }
  const band = coverageBand(toys);
  ['m_pole', 'gamma', 'tau'].forEach((name, j) => {
    const [sandwich, naive, quarter] = [covered.sandwich[j], covered.naive[j], covered.naiveQuarter[j]].map((c) => c / toys);
    t.log(`${name}: coverage of ±1σ: sandwich ${(100 * sandwich).toFixed(1)} %, naive H⁻¹ ${(100 * naive).toFixed(1)} % (weights w), ${(100 * quarter).toFixed(1)} % (weights w/4); expected 68.3, 52.0, 84.3 ± ${(100 * band / 3).toFixed(1)} %`);
    t.true(Math.abs(sandwich - 0.6827) < band, `${name} sandwich`);
    t.true(naive < 0.6827 - band, `${name} naive`);
    t.true(quarter > 0.6827 + band, `${name} naive, weights w/4`);
  });
  const pooled = covered.sandwich.reduce((s, c) => s + c, 0) / (3 * toys);
  t.log(`pooled sandwich coverage ${(100 * pooled).toFixed(1)} %`);
  t.true(Math.abs(pooled - 0.6827) < 0.03);
});

test('coverage: a constraint whose mean is drawn per toy (an auxiliary measurement) belongs in V as well as in H', async (t) => {
  const toys = 300;
  const n = 1000;
  const rng = new Rng(2026);
  // Background-only toys over τ. The events' curvature is a ≈ 1/(1.1e-3)² (1000 events); Exp(1) weights make their
  // score variance 2a. A constraint of width 5e-4 (c = 1/σ_c² ≈ 5a) gives Var τ̂ = (2a + c)/(a + c)² with the
  // constraint's c in V, and 2a/(a + c)², about half the error, without it.
  const width = 5e-4;
  let withConstraint = 0;
  let withoutConstraint = 0;
  for (let toy = 0; toy < toys; toy++) {
    const x = backgroundSample(rng, TOY_TRUTH.tau, new Float64Array(n)) as Float64Array;
    const w = Float64Array.from(x, () => rng.exponential());
    const constraint = { index: 0, mean: TOY_TRUTH.tau + width * rng.normal(), width };
    const toyFit = await fitToy(new WeightedExactToy(1, exactBackground, x, w, constraint), [TOY_TRUTH.tau], TAU_BOUNDS, [1e-3]);
    const pull = Math.abs(toyFit.best[0] - TOY_TRUTH.tau);
    const dataOnly = sandwichCovariance(toyFit.inverseHessian, toyFit.variance, 1).errors[0];
    const full = sandwichCovariance(toyFit.inverseHessian, [toyFit.variance[0] + 1 / width ** 2], 1).errors[0];
    if (pull < full) withConstraint++;
    if (pull < dataOnly) withoutConstraint++;
  }
  const band = coverageBand(toys);
  t.log(`τ coverage of ±1σ: V with the constraint's 1/σ² ${((100 * withConstraint) / toys).toFixed(1)} %, without ${((100 * withoutConstraint) / toys).toFixed(1)} %`);
  t.true(Math.abs(withConstraint / toys - 0.6827) < band);
  t.true(withoutConstraint / toys < 0.6827 - band);
});
