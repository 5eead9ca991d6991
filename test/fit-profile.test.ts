import test from 'ava';
import { hessian, profileLikelihood } from '../runtime/src/fit/index.ts';
import { bisect, COVARIANCE, f64, MEAN, PRECISION, quadratic, recordingObjective, SIGMA, type ValueAndGradient } from './fit-helpers.ts';

test('Gaussian NLL: profile intervals are exactly ±1σ and ±2σ, with the nuisances at their conditional means', async (t) => {
  const objective = recordingObjective(3, quadratic(MEAN, PRECISION, 100));
  const result = await profileLikelihood(objective, { best: f64(MEAN), tolerance: 1e-9 });
  t.deepEqual(result.warnings, []);
  t.is(result.nllMin, 100);
  for (const profile of result.parameters) {
    const j = profile.index;
    t.true(Math.abs(profile.hessianError! - SIGMA[j]) < 1e-6 * SIGMA[j]);
    for (const { level, lower, upper } of profile.intervals) {
      const width = Math.sqrt(2 * level) * SIGMA[j]; // 1σ for 0.5, 2σ for 2
      for (const [end, expected] of [[lower, MEAN[j] - width], [upper, MEAN[j] + width]] as const) {
        t.true(end.converged && !end.open, end.message);
        t.true(Math.abs(end.value - expected) < 1e-6 * SIGMA[j], `x${j} level ${level}: ${end.value} vs ${expected}`);
        t.true(Math.abs(end.deltaNll - level) < 1e-8);
        // Conditional mean of a Gaussian: x_k = μ_k + C_kj/C_jj (x_j − μ_j).
        for (let k = 0; k < 3; k++) {
          const conditional = MEAN[k] + (COVARIANCE[k][j] / COVARIANCE[j][j]) * (end.value - MEAN[j]);
          t.true(Math.abs(end.x[k] - conditional) < 1e-6 * SIGMA[k], `nuisance ${k} at the x${j} endpoint`);
        }
      }
    }
    t.true(profile.scan.values.every((v, i) => i === 0 || v >= profile.scan.values[i - 1]), 'scan sorted');
  }
  t.log(`Gaussian profiles of 3 parameters × 2 levels: ${result.evaluations.calls} calls, ${result.evaluations.points} points`);
});

test('profile searches are batched: every endpoint search of every parameter shares the evaluate calls', async (t) => {
  const objective = recordingObjective(3, quadratic(MEAN, PRECISION));
  const covariance = f64(COVARIANCE.flat());
  const result = await profileLikelihood(objective, { best: f64(MEAN), nllMin: 0, covariance });
  t.is(objective.callSizes[0], 3 * 2 * 2, 'first call: 3 parameters × 2 levels × 2 sides');
  t.deepEqual(result.evaluations, { calls: objective.callSizes.length, points: objective.callSizes.reduce((a, b) => a + b, 0) });
  t.true(result.evaluations.points >= 4 * result.evaluations.calls, `${result.evaluations.points} points in ${result.evaluations.calls} calls`);
});

/** Poisson counting NLL of n events with mean μ (constant log n! dropped). */
const poisson =
  (n: number): ValueAndGradient =>
  ([mu]) => ({ value: mu - (n > 0 ? n * Math.log(mu) : 0), gradient: f64([1 - (n > 0 ? n / mu : 0)]) });

test('Poisson counting: profile intervals match the exact roots and differ from the Hessian errors', async (t) => {
  const n = 5;
  const nll = (mu: number) => poisson(n)(f64([mu])).value;
  const bounds = { lower: f64([1e-6]), upper: f64([100]) };
  const result = await profileLikelihood(recordingObjective(1, poisson(n)), { best: f64([n]), bounds, tolerance: 1e-11 });
  const sigma = Math.sqrt(n); // 1/√H with H = n/μ̂² at μ̂ = n
  const profile = result.parameters[0];
  t.true(Math.abs(profile.hessianError! - sigma) < 1e-5);
  for (const { level, lower, upper } of profile.intervals) {
    const exactLower = bisect((mu) => nll(mu) - nll(n) - level, 1e-6, n);
    const exactUpper = bisect((mu) => nll(mu) - nll(n) - level, n, 100);
    t.true(Math.abs(lower.value - exactLower) < 1e-8, `level ${level}: lower ${lower.value} vs exact ${exactLower}`);
    t.true(Math.abs(upper.value - exactUpper) < 1e-8, `level ${level}: upper ${upper.value} vs exact ${exactUpper}`);
    const hessianWidth = Math.sqrt(2 * level) * sigma;
    t.true(Math.abs(exactLower - (n - hessianWidth)) > 0.1 && Math.abs(exactUpper - (n + hessianWidth)) > 0.1, 'the oracle is not parabolic');
    t.log(`ΔNLL ${level}: profile [${lower.value.toFixed(6)}, ${upper.value.toFixed(6)}], exact [${exactLower.toFixed(6)}, ${exactUpper.toFixed(6)}], Hessian [${(n - hessianWidth).toFixed(6)}, ${(n + hessianWidth).toFixed(6)}]`);
  }
});

test('on/off counting with a nuisance background: the re-minimised profile matches the closed-form one', async (t) => {
  // n_on ~ Pois(s + b), n_off ~ Pois(τ b): MLE ŝ = n_on − n_off/τ, b̂ = n_off/τ; for fixed s the conditional
  // b̂̂(s) is the positive root of (1+τ) b² + ((1+τ) s − n_on − n_off) b − n_off s = 0.
  const [nOn, nOff, tau] = [30, 20, 2];
  const nllOf = (s: number, b: number) => s + b - nOn * Math.log(s + b) + tau * b - nOff * Math.log(tau * b);
  const objective = recordingObjective(2, ([s, b]) => ({
    value: nllOf(s, b),
    gradient: f64([1 - nOn / (s + b), 1 - nOn / (s + b) + tau - nOff / b]),
  }));
  const conditionalB = (s: number) => {
    const q = (1 + tau) * s - nOn - nOff;
    return (-q + Math.sqrt(q * q + 4 * (1 + tau) * nOff * s)) / (2 * (1 + tau));
  };
  const sHat = nOn - nOff / tau;
  const bHat = nOff / tau;
  const profileOf = (s: number) => nllOf(s, conditionalB(s)) - nllOf(sHat, bHat);
  const result = await profileLikelihood(objective, {
    best: f64([sHat, bHat]),
    bounds: { lower: f64([0, 0.01]), upper: f64([100, 100]) },
    parameters: [0],
    tolerance: 1e-10,
    minimizer: { method: 'lbfgsb', gtol: 1e-10, ftolAbs: 0 },
  });
  for (const { level, lower, upper } of result.parameters[0].intervals) {
    const exactLower = bisect((s) => profileOf(s) - level, 0, sHat);
    const exactUpper = bisect((s) => profileOf(s) - level, sHat, 100);
    t.true(Math.abs(lower.value - exactLower) < 1e-7, `level ${level}: lower ${lower.value} vs ${exactLower}`);
    t.true(Math.abs(upper.value - exactUpper) < 1e-7, `level ${level}: upper ${upper.value} vs ${exactUpper}`);
    t.true(Math.abs(lower.x[1] - conditionalB(lower.value)) < 1e-6, 'nuisance at the lower endpoint');
    t.true(Math.abs(upper.x[1] - conditionalB(upper.value)) < 1e-6, 'nuisance at the upper endpoint');
  }
  t.log(`on/off profile of s: ${result.evaluations.calls} calls, ${result.evaluations.points} points`);
});

test('an interval reaching a bound is reported open, with the ΔNLL at the bound', async (t) => {
  const n = 5;
  const nll = (mu: number) => poisson(n)(f64([mu])).value;
  const result = await profileLikelihood(recordingObjective(1, poisson(n)), {
    best: f64([n]),
    bounds: { lower: f64([2.5]), upper: f64([100]) },
    tolerance: 1e-9,
  });
  const [oneSigma, twoSigma] = result.parameters[0].intervals;
  t.false(oneSigma.lower.open, '1σ lower end is inside the bounds');
  t.true(Math.abs(oneSigma.lower.value - bisect((mu) => nll(mu) - nll(n) - 0.5, 2.5, n)) < 1e-7);
  t.true(twoSigma.lower.open);
  t.true(twoSigma.lower.converged);
  t.is(twoSigma.lower.value, 2.5);
  t.true(Math.abs(twoSigma.lower.deltaNll - (nll(2.5) - nll(n))) < 1e-12, `ΔNLL at the bound ${twoSigma.lower.deltaNll}`);
  t.regex(twoSigma.lower.message, /reached the bound with ΔNLL = 0\.9\d+ < 2: open interval/);
  t.false(twoSigma.upper.open);
});

test('an estimate on a bound without a usable Hessian: open on that side, exact on the other, with a warning', async (t) => {
  // n = 0: NLL = μ, minimum μ̂ = 0 on the bound, Hessian 0 (not positive definite). Upper ends at μ = level.
  const result = await profileLikelihood(recordingObjective(1, poisson(0)), {
    best: f64([0]),
    bounds: { lower: f64([0]), upper: f64([10]) },
    tolerance: 1e-10,
  });
  t.is(result.warnings.length, 1);
  t.regex(result.warnings[0], /no covariance at the best fit: the Hessian step check disagrees by/);
  const profile = result.parameters[0];
  t.is(profile.hessianError, undefined);
  for (const { level, lower, upper } of profile.intervals) {
    t.true(lower.open && lower.value === 0 && lower.steps === 0);
    t.true(Math.abs(upper.value - level) < 1e-9, `upper end ${upper.value} for level ${level}`);
  }
});

test('a supplied best fit that is not the minimum is detected through negative profile values', async (t) => {
  const best = f64(MEAN);
  best[1] += 0.8 * SIGMA[1];
  const result = await profileLikelihood(recordingObjective(3, quadratic(MEAN, PRECISION)), { best, parameters: [1] });
  t.true(result.warnings.some((w) => /parameter 1: the profile reached ΔNLL = -0\.\d+ .* below the supplied minimum/.test(w)), result.warnings.join('\n'));
});

test('the Hessian used for starting guesses is the batched finite-difference one', async (t) => {
  // Sanity link between modules: profile without a covariance spends exactly one Hessian call first.
  const objective = recordingObjective(3, quadratic(MEAN, PRECISION));
  await profileLikelihood(objective, { best: f64(MEAN), parameters: [0], levels: [0.5] });
  const h = await hessian(recordingObjective(3, quadratic(MEAN, PRECISION)), f64(MEAN));
  t.is(objective.callSizes[0], h.evaluations.points);
  t.is(objective.callSizes[1], 2, 'then both sides of the one level in one call');
});
