// What Tan's bootstrap loop converges to, with exact densities (docs/anomaly.md § Tan's bootstrap):
// - with a background model that cannot fit the signal (a Gaussian, exact maximum likelihood) it finds a 0.6 %
//   signal in 5 dimensions from the default lowest-density start, as it must;
// - with a background model flexible enough to fit what it is given (a kernel density estimate on the kept
//   events) every removed set is nearly a fixed point: the loop stays where it starts, on the signal when started
//   there and in the tails when started from the lowest-density events.
import test from 'ava';
import { Rng } from '../runtime/src/random.ts';
import { type BootstrapIteration, bootstrapBackground, lowestDensityStart, negLogLambda } from '../trainer/src/anomaly/bootstrap.ts';
import { type AnomalyEvents, countSignal, emptyEvents } from '../trainer/src/anomaly/events.ts';
import { scoreMetrics } from '../trainer/src/anomaly/metrics.ts';

const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

/** Background N(0, I), signal N(centre, σ² I), signal fraction f: events and the exact log p(x|data). */
function mixture(seed: number, n: number, f: number, centre: number[], sigma: number): { events: AnomalyEvents; logPData: Float64Array } {
  const D = centre.length;
  const rng = new Rng(seed);
  const events = emptyEvents(centre.map((_, d) => `x${d}`), n);
  const logPData = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const signal = rng.uniform() < f;
    events.label[i] = signal ? 1 : 0;
    let background = 0;
    let peak = 0;
    for (let d = 0; d < D; d++) {
      const x = signal ? centre[d] + sigma * rng.normal() : rng.normal();
      events.x[i * D + d] = x;
      background += -0.5 * x * x - LOG_SQRT_2PI;
      peak += -0.5 * ((x - centre[d]) / sigma) ** 2 - Math.log(sigma) - LOG_SQRT_2PI;
    }
    const top = Math.max(background, peak);
    logPData[i] = top + Math.log((1 - f) * Math.exp(background - top) + f * Math.exp(peak - top));
  }
  return { events, logPData };
}

/** Maximum-likelihood Gaussian (mean, full covariance by Cholesky) of the kept events: its log-density function. */
function gaussianFit(events: AnomalyEvents, keep: Uint8Array): (at: AnomalyEvents) => Float64Array {
  const D = events.features.length;
  const mean = new Array<number>(D).fill(0);
  const cov = Array.from({ length: D }, () => new Array<number>(D).fill(0));
  let n = 0;
  for (let i = 0; i < events.count; i++) {
    if (!keep[i]) continue;
    n++;
    for (let a = 0; a < D; a++) mean[a] += events.x[i * D + a];
  }
  for (let a = 0; a < D; a++) mean[a] /= n;
  for (let i = 0; i < events.count; i++) {
    if (!keep[i]) continue;
    for (let a = 0; a < D; a++) for (let b = 0; b <= a; b++) cov[a][b] += ((events.x[i * D + a] - mean[a]) * (events.x[i * D + b] - mean[b])) / n;
  }
  const chol = Array.from({ length: D }, () => new Array<number>(D).fill(0));
  let logDet = 0;
  for (let a = 0; a < D; a++) {
    for (let b = 0; b <= a; b++) {
      let s = cov[a][b];
      for (let k = 0; k < b; k++) s -= chol[a][k] * chol[b][k];
      chol[a][b] = a === b ? Math.sqrt(s) : s / chol[b][b];
    }
    logDet += Math.log(chol[a][a]);
  }
  const z = new Array<number>(D);
  return (at) =>
    Float64Array.from({ length: at.count }, (_, i) => {
      let q = 0;
      for (let a = 0; a < D; a++) {
        let s = at.x[i * D + a] - mean[a];
        for (let k = 0; k < a; k++) s -= chol[a][k] * z[k];
        z[a] = s / chol[a][a];
        q += z[a] * z[a];
      }
      return -0.5 * q - logDet - D * LOG_SQRT_2PI;
    });
}

const purity = (it: BootstrapIteration): number => it.removedSignal / it.removed;

test('with a Gaussian background fit the loop finds a 0.6 % signal in 5 dimensions from the lowest-density start', async (t) => {
  const centre = [2.5, 0, 0, 0, 0];
  const { events, logPData } = mixture(1, 80_000, 0.006, centre, 0.3);
  const testEvents = mixture(2, 20_000, 0.25, centre, 0.3);
  const signal = countSignal(events);
  // The start is no better than the data: the lowest-density 2 % are background tails.
  const start = lowestDensityStart(logPData, 0.02);
  t.true(start.reduce((s, r, i) => s + r * events.label[i], 0) < 0.2 * signal);
  const testScores: number[] = [];
  const result = await bootstrapBackground(
    events,
    logPData,
    async (_kept, _iteration, keep) => {
      const logPBackground = gaussianFit(events, keep);
      testScores.push(scoreMetrics(negLogLambda(testEvents.logPData, logPBackground(testEvents.events)), testEvents.events.label).auc);
      return { model: null, logP: logPBackground(events) };
    },
    { alpha: 0.02, maxIterations: 3, tolerance: 0 },
  );
  for (const it of result.iterations) {
    // Most of the signal is removed, at ≥ 10 times the data's signal fraction (the exact λ would remove it all).
    t.true(it.removedSignal > 0.8 * signal, JSON.stringify(it));
    t.true(purity(it) > 10 * (signal / events.count), JSON.stringify(it));
  }
  for (const auc of testScores) t.true(auc > 0.95, `test AUCs ${testScores.join(', ')}`);
});

/**
 * A kernel density estimate of the events with weights `keep` (Gaussian kernel of width h, binned on a fine grid
 * over [−6, 6]): a background model as flexible as the data allow, as a flow is; its log-density at `at`.
 */
function kernelDensity(x: Float64Array, keep: Uint8Array, h: number): (at: Float64Array) => Float64Array {
  const lo = -6;
  const width = 0.005;
  const bins = 2400;
  const counts = new Float64Array(bins);
  for (let i = 0; i < x.length; i++) if (keep[i]) counts[Math.min(bins - 1, Math.max(0, Math.floor((x[i] - lo) / width)))]++;
  const reach = Math.ceil((4 * h) / width);
  const kernel = Float64Array.from({ length: 2 * reach + 1 }, (_, k) => Math.exp(-0.5 * (((k - reach) * width) / h) ** 2));
  const density = new Float64Array(bins);
  for (let b = 0; b < bins; b++) {
    if (counts[b] === 0) continue;
    for (let k = -reach; k <= reach; k++) if (b + k >= 0 && b + k < bins) density[b + k] += counts[b] * kernel[k + reach];
  }
  const norm = density.reduce((s, v) => s + v, 0) * width;
  return (at) => Float64Array.from(at, (v) => Math.log(density[Math.min(bins - 1, Math.max(0, Math.floor((v - lo) / width)))] / norm));
}

test('with a flexible background model every removed set is nearly a fixed point: the start decides what the loop finds', async (t) => {
  // 1-D: background N(0, 1), a narrow 0.6 % signal N(0.8, 0.05²) inside the bulk, where the lowest-density start
  // (the tails) holds none of it. Both densities are kernel estimates of width 0.02, as both flows of the study
  // are flows of one architecture.
  const { events } = mixture(3, 100_000, 0.006, [0.8], 0.05);
  const signal = countSignal(events);
  const h = 0.02;
  const logPData = kernelDensity(events.x, new Uint8Array(events.count).fill(1), h)(events.x);
  const fit = async (_kept: AnomalyEvents, _iteration: number, keep: Uint8Array) => ({ model: null, logP: kernelDensity(events.x, keep, h)(events.x) });
  const run = (start?: Uint8Array) => bootstrapBackground(events, logPData, fit, { alpha: 0.02, maxIterations: 4, tolerance: 0, ...(start ? { start } : {}) });

  const fromSignal = await run(Uint8Array.from(events.label));
  for (const it of fromSignal.iterations) {
    t.true(it.removedSignal > 0.5 * signal, `started on the signal: ${JSON.stringify(it)}`);
    t.true(purity(it) > 5 * (signal / events.count), `started on the signal: ${JSON.stringify(it)}`);
  }
  const fromTails = await run();
  for (const it of fromTails.iterations) t.true(it.removedSignal < 0.1 * signal, `started in the tails: ${JSON.stringify(it)}`);
  // The same estimator finds the signal when handed it, so what fails from the tails is the start, not the fit.
});

test('the bootstrap refuses a start that does not fit the data', async (t) => {
  const { events, logPData } = mixture(4, 50, 0.1, [1], 0.3);
  const fit = async () => ({ model: null, logP: logPData });
  const run = (start: Uint8Array) => bootstrapBackground(events, logPData, fit, { alpha: 0.1, maxIterations: 1, tolerance: 0, start });
  await t.throwsAsync(() => run(new Uint8Array(49)), { message: "the bootstrap's start marks 49 events but the data hold 50" });
  await t.throwsAsync(() => run(new Uint8Array(50).fill(2)), { message: "the bootstrap's start marks events with 0 (kept) or 1 (removed), got 2" });
  await t.throwsAsync(() => run(new Uint8Array(50)), { message: "the bootstrap's start must remove some events and keep some, it removes 0 of 50" });
});
