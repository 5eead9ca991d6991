// Toys: the profiled signal-strength statistic against a brute-force maximum, the look-elsewhere formulas, the
// coverage bookkeeping against normal probabilities, and small runs with the shipped toy models (sharded and
// unsharded give the same toys; the observed data's scan; clear errors).
import test from 'ava';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Rng } from '@flowscan/runtime';
import { loadModel } from '@flowscan/runtime/node';
import { exportModel } from '../trainer/src/export/export.ts';
import { componentLogDensities, grossVitells, profiledStrength, scanStatistic, upcrossings } from '../trainer/src/toys/lee.ts';
import { chi2OneDofSurvival, normalContent, significanceOfPValue } from '../trainer/src/toys/statistics.ts';
import { type ToyResult, type ToysConfig, summarizeToys } from '../trainer/src/toys/toys.ts';
import { flowscan } from './helpers/commands.ts';
import { asTrained, randomEvents, randomModel } from './helpers/flows.ts';
import { flowscanRefusal } from './helpers/in-process.ts';
import { temporaryFolder } from './helpers/temporary.ts';

const folder = temporaryFolder('flowscan-toys-');

test('the profiled signal strength maximises Σ w log(1 + f(r − 1)) over 0 ≤ f ≤ 1 (brute force on a fine grid)', (t) => {
  const rng = new Rng(3);
  for (const [n, signalShare] of [[400, 0.08], [400, 0], [50, 0.6], [30, 1]] as const) {
    // Events from a mixture of N(0,1) signal and uniform(−5,5) background; r = p_s/p_b.
    const logRatio = new Float64Array(n);
    const weights = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const x = rng.uniform() < signalShare ? rng.normal() : -5 + 10 * rng.uniform();
      logRatio[i] = -0.5 * x * x - 0.5 * Math.log(2 * Math.PI) - Math.log(0.1);
      weights[i] = 0.5 + rng.uniform();
    }
    const g = (f: number) => logRatio.reduce((s, lr, i) => s + weights[i] * Math.log(1 + f * (Math.exp(lr) - 1)), 0);
    let best = 0;
    let bestF = 0;
    for (let k = 0; k <= 20_000; k++) {
      const f = k / 20_000;
      if (g(f) > best) [best, bestF] = [g(f), f];
    }
    const { q, fraction } = profiledStrength(logRatio, 0, n, weights);
    t.true(Math.abs(q - 2 * best) < 1e-6 * Math.max(1, q), `n ${n}, share ${signalShare}: q ${q} vs brute force ${2 * best}`);
    t.true(Math.abs(fraction - bestF) < 1e-3, `f̂ ${fraction} vs ${bestF}`);
  }
  // A deficit (every event background-like) gives q = 0 at f = 0.
  t.deepEqual(profiledStrength(Float64Array.from([-3, -2, -4]), 0, 3, null), { q: 0, fraction: 0 });
});

test('look-elsewhere formulas: upcrossings, Gross–Vitells at the reference level, χ² tails and significances', (t) => {
  t.is(upcrossings([0, 2, 0.5, 3, 3, 0, 1], 1), 3);
  t.is(upcrossings([2, 2, 2], 1), 0);
  // At u = u₀ the estimate is ½P(χ²₁ > u₀) + ⟨N⟩.
  t.true(Math.abs(grossVitells(1, 1, 0.3) - (0.5 * chi2OneDofSurvival(1) + 0.3)) < 1e-15);
  // P(χ²₁ > 1) = P(|Z| > 1) = 0.3173; P(χ²₁ > 4) = 0.0455.
  t.true(Math.abs(chi2OneDofSurvival(1) - 0.317311) < 1e-6);
  t.true(Math.abs(chi2OneDofSurvival(4) - 0.0455003) < 1e-7);
  t.true(Math.abs(normalContent(1) - 0.682689) < 1e-6);
  // One-sided: p = 2.867e-7 is 5σ, 0.5 is 0σ.
  t.true(Math.abs(significanceOfPValue(2.866515719e-7) - 5) < 1e-6);
  t.true(Math.abs(significanceOfPValue(0.5)) < 1e-12);
});

/** Synthetic toys: estimates drawn from N(truth, σ_true), reported with error σ_reported. */
function syntheticToys(n: number, sigmaTrue: number, sigmaReported: number, seed: number): ToyResult[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => {
    const value = 10 + sigmaTrue * rng.normal();
    return {
      kind: 'toy' as const,
      generated: {},
      dropped: 0,
      fit: {
        nll: 0,
        converged: true,
        reason: 'gtol',
        warnings: [],
        parameters: { mu: { value, error: sigmaReported, atBound: 'free', intervals: [{ level: 0.5, lower: value - sigmaReported, upper: value + sigmaReported }] } },
      },
      seconds: 0,
    };
  });
}

test('coverage and pulls: right errors cover 68.3 % / 95.4 % within binomial errors, errors half as large do not', (t) => {
  const config = { truth: { mu: 10 }, lookElsewhere: null } as unknown as ToysConfig;
  const right = summarizeToys(config, syntheticToys(4000, 2, 2, 1)).parameters!.mu;
  for (const [l, nominal] of [[0, 0.6827], [1, 0.9545]] as const) {
    const c = right.hessian[l].observed;
    t.true(Math.abs(c.fraction - nominal) < 3 * c.error, `level ${l}: ${c.fraction} ± ${c.error} vs ${nominal}`);
  }
  t.true(Math.abs(right.profile![0].observed.fraction - 0.6827) < 3 * right.profile![0].observed.error);
  t.true(Math.abs(right.pull.width - 1) < 3 * right.pull.widthError);
  const small = summarizeToys(config, syntheticToys(4000, 2, 1, 2)).parameters!.mu;
  t.true(small.hessian[0].observed.fraction < 0.45, `errors half the truth cover ${small.hessian[0].observed.fraction} (expected 38 %)`);
  t.true(Math.abs(small.pull.width - 2) < 3 * small.pull.widthError);
});

test('flowscan toys: two shards merged give the same toys as one run; the summary and figures are written', async (t) => {
  const common = ['toys', '--demo', '--toys', '3', '--events', '2000', '--threads', '1'];
  const whole = await flowscan([...common, '--out', join(folder(), 'whole')]);
  t.is(whole.code, 0, whole.stderr);
  t.regex(whole.stdout, /3 toys/);
  t.regex(whole.stdout, /m_pole/);
  for (const shard of ['0/2', '1/2']) {
    const part = await flowscan([...common, '--out', join(folder(), 'sharded'), '--shard', shard]);
    t.is(part.code, 0, part.stderr);
  }
  const { mergeShards } = await import('../trainer/src/shards/shards.ts');
  const a = await mergeShards<ToyResult>(join(folder(), 'whole'), 'toys');
  const b = await mergeShards<ToyResult>(join(folder(), 'sharded'), 'toys');
  t.is(b.items.length, 3);
  t.deepEqual(
    b.items.map((i) => [i.index, i.result.generated, i.result.fit!.parameters]),
    a.items.map((i) => [i.index, i.result.generated, i.result.fit!.parameters]),
  );
  const summary = JSON.parse(await readFile(join(folder(), 'whole', 'summary.json'), 'utf8'));
  t.is(summary.format, 'flowscan-toys-summary');
  t.is(summary.summary.toys, 3);
  t.true((await readFile(join(folder(), 'whole', 'figures', 'pulls-m_pole.svg'), 'utf8')).includes('<svg'));
  // Each toy is fixed-fraction multinomial: about 1 % signal of 2000 events.
  for (const item of a.items) t.is(item.result.generated.signal + item.result.generated.background, 2000);
});

test('the look-elsewhere scan takes an ensemble as the log of its members\' mean density (two different flows)', async (t) => {
  const members = [];
  for (const seed of [4, 5]) {
    const dir = join(folder(), `member-${seed}`);
    await exportModel(asTrained(randomModel('nsf', 2, 2, seed)), dir, { name: `member-${seed}` });
    members.push(await loadModel(dir, { ep: 'cpu' }));
  }
  const count = 300;
  const x = randomEvents(new Rng(6), count, 2);
  const columns = { x0: Float64Array.from({ length: count }, (_, i) => x[2 * i]), x1: Float64Array.from({ length: count }, (_, i) => x[2 * i + 1]) };
  // Two points (p0, p1); p1 is log-scaled in [0.001, 0.1].
  const thetas = Float64Array.from([80, 0.01, 105, 0.05]);
  const ensemble = await componentLogDensities(members, columns, count, thetas);
  // Oracle: each member's float32 graph alone, the mean of the densities taken here in float64.
  let worst = 0;
  let membersApart = 0;
  let meanOfLogsApart = 0;
  for (let k = 0; k < 2; k++) {
    const theta = Float32Array.from(thetas.subarray(2 * k, 2 * k + 2));
    const [a, b] = await Promise.all(members.map((m) => m.logProb(m.eventsTensor(x, count), theta)));
    for (let i = 0; i < count; i++) {
      const expected = Math.log(0.5 * (Math.exp(a[i]) + Math.exp(b[i])));
      worst = Math.max(worst, Math.abs(ensemble[k * count + i] - expected));
      membersApart = Math.max(membersApart, Math.abs(a[i] - b[i]));
      meanOfLogsApart = Math.max(meanOfLogsApart, Math.abs(0.5 * (a[i] + b[i]) - expected));
    }
  }
  t.true(membersApart > 0.5 && meanOfLogsApart > 0.05, `the members differ (by up to ${membersApart}), so a mean of log densities would be off by up to ${meanOfLogsApart}`);
  t.true(worst < 1e-4, `max |ensemble − log mean density| = ${worst}`);
  // The scan profiles the strength on that density against the background's: a flat one over the 104 × 104 GeV box.
  const logBackground = new Float64Array(count).fill(-2 * Math.log(104));
  const q = await scanStatistic({ signal: { members, columns, thetas }, logBackground, count, weights: null });
  for (let k = 0; k < 2; k++) {
    const logRatio = Float64Array.from(ensemble.subarray(k * count, (k + 1) * count), (v, i) => v - logBackground[i]);
    t.is(q[k], profiledStrength(logRatio, 0, count, null).q);
  }
});

test('flowscan toys --lee: background-only toys and the observed events scanned over M_pole', async (t) => {
  const out = join(folder(), 'lee');
  const result = await flowscan(['toys', '--demo', '--toys', '2', '--events', '3000', '--threads', '1', '--lee', 'm_pole=70:110:9', '--observed', '--out', out]);
  t.is(result.code, 0, result.stderr);
  const { summary } = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8'));
  const lee = summary.lookElsewhere;
  t.is(lee.grid.length, 9);
  // The paper's pseudo-data has a strong signal at 91.2 GeV: the observed maximum lies next to it.
  t.true(Math.abs(lee.observed.at - 91.2) <= 2.5, `observed maximum at ${lee.observed.at}`);
  t.true(lee.observed.localZ > 5);
  t.regex(result.stdout, /Gross–Vitells/);
});

test('flowscan toys: clear errors for inputs that cannot work', async (t) => {
  const cases: [string[], RegExp][] = [
    [['toys', '--demo', '--toys', '2', '--out', join(folder(), 'e1'), '--observed'], /--observed goes with --lee/],
    [['toys', '--demo', '--toys', '2', '--out', join(folder(), 'e2'), '--lee', 'tau=0.001:0.1:5'], /--lee scans a parameter of the signal component/],
    [['toys', '--demo', '--toys', '2', '--out', join(folder(), 'e3'), '--lee', 'm_pole=70-110'], /--lee must be name=lo:hi:points/],
    [['toys', '--demo', '--toys', '2', '--out', join(folder(), 'e4'), '--event-weights', '2:1'], /--event-weights must be lo:hi/],
    [['toys', '--demo', '--toys', '1', '--events', '500', '--out', join(folder(), 'e5'), '--truth', 'm_pole=91'], /--truth has no value for gamma/],
    [['toys', '--demo', '--toys', '2', '--out', join(folder(), 'e6'), '--shard', '2/2'], /index must be in \[0, 1\]/],
  ];
  // In this process: a flowscan process each would spend more CPU starting than refusing.
  for (const [args, message] of cases) t.regex(await flowscanRefusal(args), message, args.join(' '));
});

test('flowscan toys --request with a Gaussian constraint: every toy draws its own auxiliary measurement around the truth', async (t) => {
  const dir = folder();
  const models = join(import.meta.dirname, '..', 'models');
  const request = {
    events: { file: 'unused.csv' },
    components: [
      { name: 'signal', model: join(models, 'toy-signal'), fraction: 0.0099 },
      { name: 'background', model: join(models, 'toy-background'), fraction: 0.9901 },
    ],
    constraints: { tau: { mean: 0.0123, width: 2e-4 } },
  };
  await writeFile(join(dir, 'constrained.json'), JSON.stringify(request));
  const out = join(dir, 'constrained');
  const result = await flowscan(['toys', '--request', join(dir, 'constrained.json'), '--toys', '3', '--events', '2000', '--truth', 'm_pole=91.2,gamma=2.5,tau=0.01', '--threads', '1', '--out', out]);
  t.is(result.code, 0, result.stderr);
  const { mergeShards } = await import('../trainer/src/shards/shards.ts');
  const merged = await mergeShards<ToyResult>(out, 'toys');
  const means = merged.items.map((i) => i.result.constraintMeans!.tau);
  // Drawn around the truth (0.01), not the request's mean (0.0123, 11.5 widths away), and different per toy.
  for (const m of means) t.true(Math.abs(m - 0.01) < 5 * 2e-4, `constraint mean ${m}`);
  t.is(new Set(means).size, 3);
});
