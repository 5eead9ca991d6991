import test from 'ava';
import { localSignificance, minimize } from '../runtime/src/fit/index.ts';
import { f64, recordingObjective } from './fit-helpers.ts';

/** Poisson counting with known background b: NLL(s) = (s + b) − n log(s + b). */
const counting = (n: number, b: number) =>
  recordingObjective(1, ([s]) => ({ value: s + b - n * Math.log(s + b), gradient: f64([1 - n / (s + b)]) }));

test('counting experiment: Z from two fits equals the closed form √(2(n ln(n/b) − (n − b)))', async (t) => {
  for (const [n, b] of [[25, 10], [130, 100], [3, 0.5]]) {
    const objective = counting(n, b);
    const sb = await minimize(objective, { method: 'lbfgsb', starts: f64([1]), bounds: { lower: f64([0]), upper: f64([1e4]) }, gtol: 1e-12, ftolAbs: 0 });
    const nllB = (await objective.evaluate(f64([0]), 1, false)).values[0];
    const { z, q0, deltaNll } = localSignificance(nllB, sb.best.value, sb.best.x[0]);
    const exact = Math.sqrt(2 * (n * Math.log(n / b) - (n - b)));
    t.true(Math.abs(z - exact) < 1e-9, `n=${n}, b=${b}: Z = ${z}, exact ${exact}`);
    t.true(Math.abs(q0 - exact * exact) < 1e-8);
    t.true(deltaNll > 0);
  }
});

test('a deficit gives Z = 0 (one-sided), both through the bound and through a negative fitted signal', async (t) => {
  const objective = counting(4, 10);
  const sb = await minimize(objective, { method: 'lbfgsb', starts: f64([1]), bounds: { lower: f64([0]), upper: f64([100]) } });
  t.deepEqual(sb.best.atBound, ['lower']);
  const nllB = (await objective.evaluate(f64([0]), 1, false)).values[0];
  t.is(localSignificance(nllB, sb.best.value).z, 0);
  // An unbounded s+b fit of a deficit finds s < 0 and a lower NLL; the sign convention still gives 0.
  const free = localSignificance(nllB, nllB - 1.7, -6);
  t.deepEqual(free, { z: 0, q0: 0, deltaNll: 1.7 });
  // An s+b fit that ended above the b-only fit (failed fit) gives 0 and shows the negative ΔNLL.
  t.deepEqual(localSignificance(10, 10.5), { z: 0, q0: 0, deltaNll: -0.5 });
  t.is(localSignificance(10, 8).z, 2);
});

test('non-finite NLL values are rejected with both values in the message', (t) => {
  const error = t.throws(() => localSignificance(NaN, 3));
  t.regex(error.message, /got NLL_b = NaN, NLL_sb = 3/);
  t.throws(() => localSignificance(1, 0, NaN), { message: /fittedSignal is NaN/ });
});
