// The global search of a fit: the Sobol' sequence it samples, the tests that sort where starts ended, and fits of
// the shipped toy flows from every corner of the box, on data with two equal minima, and against a bound.
import test from 'ava';
import { join } from 'node:path';
import { type FitResult, type FlowModel, type LikelihoodSpec, MixtureLikelihood, Rng, fitLikelihood, minimize } from '@flowscan/runtime';
import { loadModel } from '@flowscan/runtime/node';
import { SOBOL_MAX_DIMENSION, sobolInitialValues, sobolPoints } from '../runtime/src/fit/sobol.ts';
import { bestDistinct, classifyEnds, descendsTo } from '../runtime/src/fit/search.ts';
import { summaryTable } from '../trainer/src/cli/scan.ts';
import * as toy from '../trainer/src/data/toy.ts';
import { REPO_ROOT } from '../trainer/src/study/toy.ts';
import { ExactToyLikelihood } from '../trainer/src/study/toy-exact.ts';
import { f64, recordingObjective } from './fit-helpers.ts';

test('Sobol points: the first ones by construction, the reference values, and consistent offsets', (t) => {
  const P = SOBOL_MAX_DIMENSION;
  const points = sobolPoints(1024, P);
  const row = (n: number) => Array.from(points.subarray(n * P, (n + 1) * P));
  t.deepEqual(row(0), new Array(P).fill(0), 'point 0 is the origin');
  t.deepEqual(row(1), new Array(P).fill(0.5), 'point 1 is the centre (every m_1 = 1)');
  // Point 2 flips bit 2 of point 1: ½ ⊕ m_2/4, i.e. ¾ when m_2 = 1 and ¼ when m_2 = 3 (dimension 0: m_2 = 1).
  for (let j = 0; j < P; j++) t.is(row(2)[j], j === 0 || sobolInitialValues(j).m[1] === 1 ? 0.75 : 0.25, `point 2, dimension ${j}`);
  // Dimension 0 is van der Corput's sequence in Gray-code order.
  t.deepEqual([0, 1, 2, 3, 4, 5, 6, 7].map((n) => row(n)[0]), [0, 0.5, 0.75, 0.25, 0.375, 0.875, 0.625, 0.125]);
  // scipy.stats.qmc.Sobol(d=32, scramble=False) (its own implementation of the same Joe–Kuo table), × 1024.
  const reference: Record<number, number[]> = {
    1000: [225, 99, 531, 693, 287, 929, 47, 921, 513, 71, 87, 261, 165, 393, 147, 379, 737, 353, 1015, 743, 535, 563, 973, 553, 597, 929, 41, 1003, 61, 349, 151, 149],
    1023: [1, 771, 627, 149, 191, 449, 143, 633, 353, 871, 695, 37, 133, 681, 371, 475, 321, 897, 599, 327, 887, 19, 813, 201, 245, 385, 521, 779, 861, 445, 951, 629],
  };
  for (const [n, expected] of Object.entries(reference)) t.deepEqual(row(Number(n)), expected.map((v) => v / 1024), `point ${n}`);
  const later = sobolPoints(10, 5, 37);
  const direct = sobolPoints(47, 5).subarray(37 * 5);
  t.deepEqual(Array.from(later), Array.from(direct), 'points from an offset continue the same sequence');
  t.throws(() => sobolPoints(4, P + 1), { message: /dimensions 1 … 32, got 33/ });
  t.throws(() => sobolPoints(-1, 2), { message: /got first 0 and count -1/ });
});

test('Sobol points stratify every coordinate, and the first two dimensions form a (0, m, 2)-net', (t) => {
  const P = SOBOL_MAX_DIMENSION;
  // The direction-number table itself: degree s = number of initial values, each m_k odd and below 2^k.
  for (let j = 1; j < P; j++) {
    const { degree, m } = sobolInitialValues(j);
    t.is(m.length, degree, `dimension ${j}`);
    m.forEach((v, k) => t.true(v % 2 === 1 && v < 2 ** (k + 1), `dimension ${j}: m_${k + 1} = ${v}`));
  }
  const points = sobolPoints(1024, P);
  for (let m = 1; m <= 10; m++) {
    const n = 2 ** m;
    for (let j = 0; j < P; j++) {
      const cells = new Set<number>();
      for (let k = 0; k < n; k++) cells.add(Math.floor(points[k * P + j] * n));
      if (cells.size !== n) t.fail(`dimension ${j}: the first ${n} points fill ${cells.size} of ${n} intervals`);
    }
  }
  // Every box [i/2^a, (i+1)/2^a) × [l/2^b, (l+1)/2^b) with a + b = 8 holds exactly one of the first 256 points.
  for (let a = 0; a <= 8; a++) {
    const b = 8 - a;
    const counts = new Map<string, number>();
    for (let k = 0; k < 256; k++) {
      const key = `${Math.floor(points[k * P] * 2 ** a)},${Math.floor(points[k * P + 1] * 2 ** b)}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    t.is(counts.size, 256, `boxes of 2^-${a} × 2^-${b}`);
  }
});

/**
 * A tilted double well f = (x² − 1)² + 0.3x + y²: minima near x = ±1 on y = 0, the left one lower; the ridge
 * between them near x = 0.07. Stationary points solve 4x(x² − 1) + 0.3 = 0, found here by bisection.
 */
const doubleWell = (p: Float64Array) => ({
  value: (p[0] ** 2 - 1) ** 2 + 0.3 * p[0] + p[1] ** 2,
  gradient: f64([4 * p[0] * (p[0] ** 2 - 1) + 0.3, 2 * p[1]]),
});
function wellMinimum(lo: number, hi: number): number {
  const slope = (x: number) => 4 * x * (x * x - 1) + 0.3;
  for (let i = 0; i < 100; i++) {
    const mid = 0.5 * (lo + hi);
    if (slope(lo) * slope(mid) <= 0) hi = mid;
    else lo = mid;
  }
  return 0.5 * (lo + hi);
}

test('a path that climbs over the ridge is told apart from one that descends; ends are sorted against the best minimum', async (t) => {
  const objective = recordingObjective(2, doubleWell);
  const point = (x: number, y: number) => ({ x: f64([x, y]), value: doubleWell(f64([x, y])).value });
  const left = point(wellMinimum(-1.5, -0.5), 0);
  const right = point(wellMinimum(0.5, 1.5), 0);
  t.true(right.value > left.value + 0.5);
  const path = await descendsTo(objective, left, [point(0.5, 0.5), point(-0.3, 0.5), right], 1e-9);
  t.deepEqual(path.descends, [false, true, false], 'across the ridge, downhill, from the other minimum');
  t.is(objective.callSizes.at(-1), 21, 'one call, 7 points per path');

  const options = { sigma: f64([0.1, 0.1]), pointTolerance: 0.3, valueTolerance: 0.05, pathTestBelow: 4.5, rise: 1e-9 };
  const ends = [
    { ...point(left.x[0] + 0.01, 0.01), converged: true },
    { ...right, converged: true },
    { ...point(-0.5, 0), converged: false },
    { ...point(-0.5, 0), converged: true },
  ];
  const sorted = await classifyEnds(objective, left, ends, options);
  t.deepEqual(sorted.outcomes, ['reachedBest', 'otherMinimum', 'stoppedShort', 'stoppedShort']);
  const far = await classifyEnds(objective, left, [{ ...right, converged: true }], { ...options, pathTestBelow: 0.1 });
  t.deepEqual(far.outcomes, ['otherMinimum'], 'far above the best: recorded without the path test');
  t.is(far.evaluations.calls, 0);
});

test('the best distinct scan points: lowest first, each a quarter of a range away from the others', (t) => {
  const unit = f64([0.1, 0.1, 0.15, 0.12, 0.6, 0.6, 0.9, 0.2, 0.4, 0.5]);
  const values = f64([3, 1, 2, NaN, 0]);
  t.deepEqual(bestDistinct({ unit, values }, 4, 0.25), [4, 1], "0.6, 0.6 is too close to 0.4, 0.5 and 0.1, 0.1 to 0.15, 0.12; NaN is never taken");
  t.deepEqual(bestDistinct({ unit, values }, 1, 0.25), [4]);
});

let signal: FlowModel;
let background: FlowModel;
test.before(async () => {
  signal = await loadModel(join(REPO_ROOT, 'models', 'toy-signal'), { ep: 'cpu' });
  background = await loadModel(join(REPO_ROOT, 'models', 'toy-background'), { ep: 'cpu' });
});
test.after.always(async () => {
  await signal?.release();
  await background?.release();
});

function toyLikelihood(x: Float64Array, signalEvents: number, extra: Partial<LikelihoodSpec> = {}): MixtureLikelihood {
  const f = signalEvents / x.length;
  return new MixtureLikelihood({
    components: [
      { name: 'signal', model: signal, fraction: f },
      { name: 'background', model: background, fraction: 1 - f },
    ],
    events: { x },
    yields: 'fixed-fractions',
    ...extra,
  });
}

/** 200 signal + 2000 background events at (75, 1.5, 0.02): away from the box's centre, where the second scan point lies. */
const TRUTH = { m_pole: 75, gamma: 1.5, tau: 0.02 };
function cornerData(): Float64Array {
  const data = toy.pseudoData(new Rng(5), { nSignal: 200, nBackground: 2000, mPole: TRUTH.m_pole, gamma: TRUTH.gamma, tau: TRUTH.tau });
  return Float64Array.from(data.x);
}

const value = (fit: FitResult, name: string) => fit.parameters.find((p) => p.name === name)!;

test('a fit from every corner of the (M_pole, Γ, τ) box lands on the global minimum; without the global search most do not', async (t) => {
  const x = cornerData();
  const L = toyLikelihood(x, 200);
  const { lower, upper } = L.bounds();
  const corners = Array.from({ length: 8 }, (_, c) => Object.fromEntries(L.freeNames.map((name, j) => [name, (c >> j) & 1 ? upper[j] : lower[j]])));
  const searched: FitResult[] = [];
  const plain: FitResult[] = [];
  for (const start of corners) {
    searched.push(await fitLikelihood(L, { start }));
    plain.push(await fitLikelihood(L, { start, globalSearch: false }));
  }
  // The oracle: the exact likelihood of the same events, minimised from the truth.
  const exact = new ExactToyLikelihood(x, { mode: 'fixed-fractions', signalFraction: 200 / x.length }, { lo: toy.TOY_WINDOW[0], hi: toy.TOY_WINDOW[1] });
  const exactFit = await minimize(exact, { method: 'lbfgsb', starts: f64(Object.values(TRUTH)), bounds: exact.bounds(x.length), scales: f64([0.1, 0.2, 1e-3]) });
  const reference = searched[0];
  t.log(`from every corner: ${L.freeNames.map((n) => `${n} = ${value(reference, n).value.toPrecision(5)} ± ${value(reference, n).error?.toPrecision(2)}`).join(', ')}, NLL ${reference.nll.toFixed(3)}`);
  L.freeNames.forEach((name, j) => {
    const p = value(reference, name);
    t.true(Math.abs(p.value - exactFit.best.x[j]) < 1.5 * p.error!, `${name}: flows ${p.value} ± ${p.error}, exact likelihood ${exactFit.best.x[j]}`);
  });
  for (const [c, fit] of searched.entries()) {
    t.true(Math.abs(fit.nll - reference.nll) < 1e-2, `corner ${c}: NLL ${fit.nll} vs ${reference.nll}`);
    for (const name of L.freeNames) {
      const p = value(fit, name);
      const r = value(reference, name);
      t.true(Math.abs(p.value - r.value) < 0.1 * r.error!, `corner ${c}: ${name} = ${p.value} vs ${r.value} ± ${r.error}`);
    }
    t.true(fit.converged && fit.multistart.searchPoints === 64 && fit.multistart.reachedBest >= 1);
    // A converged fit at an interior minimum with a good Hessian says nothing more.
    t.deepEqual(fit.warnings, [], `corner ${c}`);
    t.notRegex(summaryTable(fit), /warning|bound|no error/);
  }
  const lost = plain.filter((fit) => fit.nll > reference.nll + 1);
  t.log(`without the global search ${lost.length} of 8 corners end elsewhere: ΔNLL ${lost.map((f) => (f.nll - reference.nll).toFixed(1)).join(', ')}`);
  t.true(lost.length >= 4, 'the corners alone do not find the global minimum');
  t.true(plain.every((fit) => fit.multistart.searchPoints === 0 && fit.multistart.starts === 1));
  // Where such a fit ended on a bound, it says which parameter and which bound, in the warnings and the table.
  const onBound = lost.find((fit) => fit.parameters.some((p) => p.atBound !== 'free'))!;
  const p = onBound.parameters.find((q) => q.atBound !== 'free')!;
  t.true(onBound.warnings.some((w) => w.startsWith(`${p.name} = `) && w.includes(`on its ${p.atBound} bound`)), onBound.warnings.join('\n'));
  t.regex(summaryTable(onBound), new RegExp(`${p.name} \\[.*on ${p.atBound} bound`));
});

test('a bound that excludes the minimum: the fit ends on it and says so, in the warnings and in the status column', async (t) => {
  const L = toyLikelihood(cornerData(), 200, { bounds: { m_pole: [80, 120] } });
  const fit = await fitLikelihood(L);
  const m = value(fit, 'm_pole');
  t.is(m.atBound, 'lower');
  t.is(m.value, 80);
  t.true(fit.warnings.some((w) => /^m_pole = 80\.0000 is on its lower bound: the NLL still falls beyond it/.test(w)), fit.warnings.join('\n'));
  t.regex(summaryTable(fit), /m_pole \[GeV\] .* on lower bound/);
});

test('two mirror-image bumps: the fit reports the other minimum, at the mirror point, and warns', async (t) => {
  // 150 Breit–Wigner events at M = 75, the same events mirrored about 90, and a nearly flat background: in the
  // data every signal hypothesis M has an equally good twin 180 − M (the background's 10% slope and the flows'
  // errors break the tie by little).
  const rng = new Rng(3);
  const bump = toy.signalSample(rng, 75, 2, new Float64Array(150));
  const tau = 0.0011;
  const x = Float64Array.from([...bump, ...Array.from(bump, (v) => 180 - v), ...toy.backgroundSample(rng, tau, new Float64Array(2000))]);
  const fit = await fitLikelihood(toyLikelihood(x, 150, { fixed: { tau } }));
  t.log(summaryTable(fit));
  const best = value(fit, 'm_pole').value;
  t.true(Math.abs(best - 75) < 1 || Math.abs(best - 105) < 1, `best M_pole ${best} at one bump`);
  const [other] = fit.multistart.otherMinima;
  t.truthy(other, 'the other bump is found');
  t.true(Math.abs(other.point.m_pole - (180 - best)) < 1, `the other minimum at M_pole ${other.point.m_pole}, mirror of ${best}`);
  t.true(Math.abs(other.point.gamma - value(fit, 'gamma').value) < 0.5, `Γ ${other.point.gamma} vs ${value(fit, 'gamma').value}`);
  t.true(other.deltaNll > 0 && other.deltaNll < 4.5, `ΔNLL ${other.deltaNll}`);
  t.true(Math.abs(other.nll - fit.nll - other.deltaNll) < 1e-9);
  t.true(fit.warnings.some((w) => w.startsWith(`other minima found: ΔNLL ${other.deltaNll.toFixed(2)} at m_pole = `)), fit.warnings.join('\n'));
});

test('global search settings it cannot honour are refused with the value and what was expected', async (t) => {
  const L = toyLikelihood(cornerData(), 200);
  await t.throwsAsync(fitLikelihood(L, { globalSearch: { points: 0 } }), { message: /globalSearch\.points must be an integer in \[1, 65536\], got 0/ });
  const open = toyLikelihood(cornerData(), 200, { bounds: { m_pole: [60, Infinity] } });
  await t.throwsAsync(fitLikelihood(open), { message: /the global search needs finite bounds, m_pole has \[60, Infinity\]/ });
});
