// Tan's bootstrap (eq. 5): the threshold by bisection against a brute-force solution, the type-I error estimate
// against exact likelihood ratios of a Gaussian mixture, and the iteration with an exact background fit.
import test from 'ava';
import { Rng } from '../runtime/src/random.ts';
import { bootstrapBackground, bootstrapThreshold, negLogLambda, typeIErrorRate } from '../trainer/src/anomaly/bootstrap.ts';
import { type AnomalyEvents, emptyEvents } from '../trainer/src/anomaly/events.ts';
import { scoreMetrics } from '../trainer/src/anomaly/metrics.ts';

/** Brute force: the smallest λ_(k) (sorted) whose cumulative sum Σ_{j≤k} λ_(j) / N reaches α (ties included). */
function bruteThreshold(lambda: number[], alpha: number): number {
  const sorted = [...lambda].sort((a, b) => a - b);
  return sorted.find((eps) => lambda.filter((l) => l <= eps).reduce((s, l) => s + l, 0) / lambda.length >= alpha)!;
}

test('bisection threshold equals the brute-force solution of eq. 5, with ties and duplicates', (t) => {
  const rng = new Rng(5);
  for (let rep = 0; rep < 200; rep++) {
    const n = 1 + rng.int(60);
    // Integer-valued λ half of the time: many ties.
    const lambda = Array.from({ length: n }, () => (rep % 2 ? rng.int(5) * 0.5 : 2 * rng.uniform()));
    const alpha = 0.01 + 0.5 * rng.uniform();
    const mean = lambda.reduce((s, l) => s + l, 0) / n;
    if (mean < alpha) {
      t.throws(() => bootstrapThreshold(Float64Array.from(lambda), alpha), { message: /not reachable/ });
      continue;
    }
    const eps = bootstrapThreshold(Float64Array.from(lambda), alpha);
    t.is(eps, bruteThreshold(lambda, alpha), `λ = ${lambda.join(',')}, α = ${alpha}`);
  }
});

test('bootstrap threshold refuses bad inputs with the value', (t) => {
  t.throws(() => bootstrapThreshold(Float64Array.of(1, 2), 0), { message: /α must be in \(0, 1\), got 0/ });
  t.throws(() => bootstrapThreshold(Float64Array.of(1, Number.NaN), 0.1), { message: /finite and ≥ 0, got NaN/ });
  t.throws(() => bootstrapThreshold(new Float64Array(0), 0.1), { message: /at least one event/ });
});

// A 1-D mixture with known densities: background N(0, 1), signal N(2.5, 0.3²), signal fraction f.
const SIGNAL = { mean: 2.5, sigma: 0.3 };
const normalLogPdf = (x: number, mean: number, sigma: number): number => -0.5 * ((x - mean) / sigma) ** 2 - Math.log(sigma * Math.sqrt(2 * Math.PI));

function mixture(rng: Rng, n: number, f: number): AnomalyEvents {
  const events = emptyEvents(['x'], n);
  for (let i = 0; i < n; i++) {
    const signal = rng.uniform() < f;
    events.label[i] = signal ? 1 : 0;
    events.x[i] = signal ? SIGNAL.mean + SIGNAL.sigma * rng.normal() : rng.normal();
  }
  return events;
}

const logPData = (x: number, f: number): number =>
  Math.log((1 - f) * Math.exp(normalLogPdf(x, 0, 1)) + f * Math.exp(normalLogPdf(x, SIGNAL.mean, SIGNAL.sigma)));

test('the score −log λ is high for signal: its AUC is the exact P(λ_signal < λ_background) of a Gaussian mixture', (t) => {
  const f = 0.05;
  const data = mixture(new Rng(9), 3000, f);
  const score = negLogLambda(
    Float64Array.from(data.x, (x) => logPData(x, f)),
    Float64Array.from(data.x, (x) => normalLogPdf(x, 0, 1)),
  );
  const metrics = scoreMetrics(score, data.label);
  // Independent oracle: the exact λ = p_bkg / p_data as a ratio of densities, and the fraction of (signal,
  // background) pairs whose signal event has the smaller λ (ties count one half), the Neyman–Pearson ordering.
  const lambda = Array.from(data.x, (x) => Math.exp(normalLogPdf(x, 0, 1)) / Math.exp(logPData(x, f)));
  let wins = 0;
  let pairs = 0;
  for (let i = 0; i < data.count; i++) {
    if (!data.label[i]) continue;
    for (let j = 0; j < data.count; j++) {
      if (data.label[j]) continue;
      pairs++;
      wins += lambda[i] < lambda[j] ? 1 : lambda[i] === lambda[j] ? 0.5 : 0;
    }
  }
  t.true(wins / pairs > 0.9, `oracle AUC ${wins / pairs}`);
  t.true(Math.abs(metrics.auc - wins / pairs) < 1e-9, `score AUC ${metrics.auc} against the exact ordering's ${wins / pairs}`);
  t.throws(() => negLogLambda(new Float64Array(2), new Float64Array(3)), { message: /2 values but log p\(x\|bkg\) 3/ });
});

test('eq. 5 on data estimates the background rate of the cut λ ≤ ε (exact λ of a Gaussian mixture)', (t) => {
  const f = 0.05;
  const data = mixture(new Rng(7), 200_000, f);
  const lambda = Float64Array.from(data.x, (x) => Math.exp(normalLogPdf(x, 0, 1) - logPData(x, f)));
  for (const alpha of [0.005, 0.02, 0.1]) {
    const eps = bootstrapThreshold(lambda, alpha);
    // Independent oracle: the fraction of background-only events with λ ≤ ε. λ is monotone in x beyond the
    // crossing, so the cut is x ≥ x_ε; count it on a fresh background sample.
    const rng = new Rng(8);
    let cut = 0;
    const nBkg = 400_000;
    for (let i = 0; i < nBkg; i++) {
      const x = rng.normal();
      if (Math.exp(normalLogPdf(x, 0, 1) - logPData(x, f)) <= eps) cut++;
    }
    const truth = cut / nBkg;
    t.true(Math.abs(typeIErrorRate(lambda, eps) - truth) < 0.12 * alpha + 3e-4, `α = ${alpha}: eq. 5 ${typeIErrorRate(lambda, eps)} against ${truth}`);
  }
});

test('the bootstrap removes signal and its background fit converges towards the true background', async (t) => {
  const f = 0.04;
  const data = mixture(new Rng(11), 20_000, f);
  const logP = Float64Array.from(data.x, (x) => logPData(x, f));
  // Exact maximum-likelihood "fit": a Gaussian with the kept events' mean and variance.
  const fit = async (kept: AnomalyEvents): Promise<{ model: { mean: number; sigma: number }; logP: Float64Array }> => {
    let sum = 0;
    let sumSq = 0;
    for (const x of kept.x) {
      sum += x;
      sumSq += x * x;
    }
    const mean = sum / kept.count;
    const sigma = Math.sqrt(sumSq / kept.count - mean * mean);
    return { model: { mean, sigma }, logP: Float64Array.from(data.x, (x) => normalLogPdf(x, mean, sigma)) };
  };
  const all = await fit(data);
  const result = await bootstrapBackground(data, logP, fit, { alpha: 0.01, maxIterations: 10, tolerance: 0.02 });
  t.true(result.converged, JSON.stringify(result.iterations));
  const last = result.iterations.at(-1)!;
  // Most removed events are signal (4 % of the data but far above half of what the cut takes).
  t.true(last.removedSignal / last.removed > 0.6, JSON.stringify(last));
  // The bootstrapped background is closer to N(0, 1) than a fit to all data.
  t.true(Math.abs(result.background.mean) < 0.5 * Math.abs(all.model.mean), `${result.background.mean} vs ${all.model.mean}`);
  t.true(Math.abs(result.background.sigma - 1) < 0.5 * Math.abs(all.model.sigma - 1), `${result.background.sigma} vs ${all.model.sigma}`);
});
