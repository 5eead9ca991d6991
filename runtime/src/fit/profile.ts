/**
 * Profile-likelihood intervals.
 *
 * For parameter j the profile is q_j(v) = min over the other parameters of NLL(x | x_j = v) − NLL_min. By
 * Wilks' theorem 2q_j is asymptotically χ²(1), so {v : q_j(v) ≤ ℓ} is a confidence interval with ℓ = 0.5 for
 * 68.3 % (1σ) and ℓ = 2 for 95.4 % (2σ) (F. James, "Statistical Methods in Experimental Physics", 2nd ed.,
 * §9.3; this is MINOS). Unlike ±σ from the Hessian it follows a non-parabolic NLL, e.g. a Poisson likelihood.
 *
 * For every parameter, side and level we find the endpoint where q_j = ℓ with a bracketing root finder on
 * h(t) = √(2 q_j(x̂_j ± t)) − √(2ℓ), which is close to linear in the distance t (exactly so for a Gaussian
 * likelihood, where √(2q) = t/σ). It starts at the Hessian estimate t = σ_j√(2ℓ), extrapolates that line
 * outward until the level is bracketed, then uses regula falsi with the Illinois modification (Dowell &
 * Jarratt, BIT 11 (1971) 168). Every trial value needs the other parameters re-minimised with x_j fixed; that
 * minimisation is warm-started from the nearest profile point, moved along the Gaussian regression line
 * x_k ← x_k + (C_kj / C_jj)·Δv given by the covariance.
 *
 * Batching: all endpoint searches of all parameters run at once, and every step of every re-minimisation in
 * flight goes to the objective in one evaluate call. An endpoint search that reaches a bound before the
 * level reports an open interval (the bound, and the ΔNLL there) instead of failing.
 */
import { ScaledEmbedding } from './embedding.ts';
import { covarianceFromHessian, hessian } from './hessian.ts';
import { Lockstep } from './lockstep.ts';
import { isConverged, type MachineOutcome } from './machine.ts';
import { minimizerFactory, type MinimizerOptions } from './minimize.ts';
import type { BatchObjective, Bounds, EvaluationCounts } from './objective.ts';
import {
  checkIndex,
  checkInteger,
  checkNonNegative,
  checkPoints,
  formatPoint,
  objectiveDimension,
  resolveBounds,
  resolveScales,
} from './validate.ts';

/**
 * Largest Hessian step-check disagreement (see `hessian.ts`) at which the estimated covariance still guides
 * the searches. Starting guesses tolerate tens of per cent; beyond that H is noise.
 */
const UNRELIABLE_HESSIAN = 0.1;

export interface ProfileOptions {
  /** The best-fit point x̂ (length P). */
  best: Float64Array;
  /** NLL(x̂); evaluated when omitted. */
  nllMin?: number;
  bounds?: Bounds;
  /** Scales for the re-minimisations (default: the Hessian standard errors). */
  scales?: Float64Array;
  /** Covariance at x̂ (P×P) for the starting guesses and warm starts; estimated by `hessian()` when omitted. */
  covariance?: Float64Array;
  /** Relative Hessian step when the covariance is estimated here (see `hessian.ts`). */
  hessianStep?: number;
  /** Parameters to profile (default: all). */
  parameters?: readonly number[];
  /** ΔNLL levels (default [0.5, 2]: 1σ and 2σ). */
  levels?: readonly number[];
  /** Accept an endpoint when |ΔNLL − level| ≤ tolerance (default 1e-4; keep it above the minimiser's ftol). */
  tolerance?: number;
  /** Root-finder steps (each one re-minimisation) per endpoint (default 30). */
  maxSteps?: number;
  /** Minimiser for the re-minimisations (default L-BFGS-B with its defaults). */
  minimizer?: MinimizerOptions;
}

/** One end of a profile interval. */
export interface ProfileEndpoint {
  /** The parameter value of the endpoint (the bound itself for an open interval). */
  value: number;
  /** Profile ΔNLL there (≈ the level, or less than it at a bound). */
  deltaNll: number;
  /** The level was not reached before the bound: the interval is open on this side. */
  open: boolean;
  /** The level was found to within `tolerance`, or the bound was reached. */
  converged: boolean;
  /** Re-minimisations spent on this endpoint. */
  steps: number;
  /** The full point of the profile there (x_j = value, the others re-minimised). */
  x: Float64Array;
  message: string;
}

export interface ProfileInterval {
  level: number;
  lower: ProfileEndpoint;
  upper: ProfileEndpoint;
}

export interface ParameterProfile {
  index: number;
  estimate: number;
  /** √C_jj from the covariance (undefined when the Hessian was not positive definite). */
  hessianError: number | undefined;
  intervals: ProfileInterval[];
  /** Every profile point computed for this parameter, sorted by value, including the estimate (ΔNLL 0). */
  scan: { values: Float64Array; deltaNll: Float64Array };
}

export interface ProfileResult {
  nllMin: number;
  parameters: ParameterProfile[];
  /** Things a physicist should look at: unconverged re-minimisations, a lower minimum found, no covariance. */
  warnings: string[];
  evaluations: EvaluationCounts;
  wallMs: number;
}

/** Profile-likelihood intervals of the chosen parameters at the chosen ΔNLL levels (see module comment). */
export async function profileLikelihood(objective: BatchObjective, options: ProfileOptions): Promise<ProfileResult> {
  const t0 = performance.now();
  const p = objectiveDimension(objective);
  const bounds = resolveBounds(options.bounds, p);
  const best = options.best;
  if (best?.length !== p) throw new Error(`profile: best must be a Float64Array of P=${p} entries, got ${best?.length} entries.`);
  checkPoints(best, p, bounds, 'best-fit point');
  const levels = (options.levels ?? [0.5, 2]).map((level) => checkNonNegative(level, 'profile level', true));
  const parameters = (options.parameters ?? Array.from({ length: p }, (_, i) => i)).map((j) =>
    checkIndex(j, p, 'profile parameter'),
  );
  const tolerance = checkNonNegative(options.tolerance ?? 1e-4, 'tolerance', true);
  const maxSteps = checkInteger(options.maxSteps ?? 30, 'maxSteps', 1);
  const factory = minimizerFactory(options.minimizer ?? { method: 'lbfgsb' });
  const warnings: string[] = [];
  const counts: EvaluationCounts = { calls: 0, points: 0 };

  let nllMin = options.nllMin;
  let covariance = options.covariance;
  let diagonal: Float64Array | undefined;
  if (covariance !== undefined) checkCovariance(covariance, p);
  if (nllMin === undefined || covariance === undefined) {
    const h = await hessian(objective, best, { bounds, scales: options.scales, relativeStep: options.hessianStep });
    counts.calls += h.evaluations.calls;
    counts.points += h.evaluations.points;
    nllMin ??= h.value;
    if (covariance === undefined) {
      const c = covarianceFromHessian(h.hessian);
      if (h.stepCheck.relativeDisagreement > UNRELIABLE_HESSIAN) {
        // E.g. a linear NLL at a bound: H is rounding noise, which may well pass Cholesky.
        warnings.push(
          `no covariance at the best fit: the Hessian step check disagrees by ${h.stepCheck.relativeDisagreement.toPrecision(3)} ` +
            `(> ${UNRELIABLE_HESSIAN}), so H is not resolved (a flat direction or a noisy gradient); starting guesses use the scales.`,
        );
      } else if (c.positiveDefinite) {
        covariance = c.covariance;
      } else {
        warnings.push(`no covariance at the best fit (${c.message}); starting guesses use the Hessian diagonal.`);
        diagonal = Float64Array.from({ length: p }, (_, i) => h.hessian[i * p + i]);
      }
    }
  }
  if (!Number.isFinite(nllMin)) throw new Error(`profile: NLL at the best fit is ${nllMin}; it must be finite.`);
  const nllAtBest = nllMin as number;

  const userScales = options.scales === undefined ? undefined : resolveScales(options.scales, p);
  const errors = Float64Array.from({ length: p }, (_, i) => {
    if (covariance !== undefined) return Math.sqrt(covariance[i * p + i]);
    if (diagonal !== undefined && diagonal[i] > 0) return 1 / Math.sqrt(diagonal[i]);
    return userScales?.[i] ?? 1;
  });
  const scales = userScales ?? Float64Array.from(errors, (e) => (e > 0 && Number.isFinite(e) ? e : 1));

  const engine = new Lockstep(objective);
  const profiles: ParameterProfile[] = [];
  const finalizers: (() => void)[] = [];
  for (const j of parameters) {
    const free = Int32Array.from({ length: p - 1 }, (_, k) => (k < j ? k : k + 1));
    const slope = Float64Array.from({ length: p }, (_, k) =>
      covariance !== undefined && k !== j ? covariance[k * p + j] / covariance[j * p + j] : 0,
    );
    const scanPoints: { value: number; deltaNll: number }[] = [{ value: best[j], deltaNll: 0 }];
    let unconverged = 0;
    let lowest: { deltaNll: number; x: Float64Array } | undefined;
    const intervals = levels.map((level) => ({ level }) as ProfileInterval);
    profiles.push({
      index: j,
      estimate: best[j],
      hessianError: covariance !== undefined ? errors[j] : undefined,
      intervals,
      scan: { values: new Float64Array(0), deltaNll: new Float64Array(0) },
    });
    const sigma = Number.isFinite(errors[j]) && errors[j] > 0 ? errors[j] : scales[j];

    levels.forEach((level, levelIndex) => {
      for (const direction of [-1, 1] as const) {
        const bound = direction < 0 ? bounds.lower[j] : bounds.upper[j];
        const limit = Math.abs(bound - best[j]);
        const search = endpointSearch(level, sigma * Math.sqrt(2 * level), limit, tolerance, maxSteps);
        const visited = new Map<number, { x: Float64Array; message: string }>([[0, { x: best, message: '' }]]);
        let anchor = { value: best[j], x: best };

        const finish = (outcome: EndpointOutcome) => {
          const at = visited.get(outcome.t) ?? { x: best, message: '' };
          const endpoint: ProfileEndpoint = {
            value: outcome.t >= limit ? bound : best[j] + direction * outcome.t,
            deltaNll: outcome.q,
            open: outcome.open,
            converged: outcome.converged,
            steps: outcome.steps,
            x: at.x,
            message: outcome.converged || !at.message ? outcome.message : `${outcome.message} ${at.message}`,
          };
          if (direction < 0) intervals[levelIndex].lower = endpoint;
          else intervals[levelIndex].upper = endpoint;
        };

        const launch = (t: number) => {
          const value = t >= limit ? bound : best[j] + direction * t;
          const base = new Float64Array(p);
          for (let k = 0; k < p; k++) {
            const moved = anchor.x[k] + slope[k] * (value - anchor.value);
            base[k] = Math.min(bounds.upper[k], Math.max(bounds.lower[k], moved));
          }
          base[j] = value;
          const embedding = new ScaledEmbedding(base, free, scales, bounds.lower, bounds.upper);
          const describe = (u: Float64Array) =>
            `x = ${formatPoint(embedding.physical(u))} (profile of parameter ${j} at ${value})`;
          const machine = factory(new Float64Array(p - 1), embedding.lowerU, embedding.upperU, describe);
          engine.start(machine, embedding, (result: MachineOutcome) => {
            const x = embedding.physical(result.u);
            const q = result.value - nllAtBest;
            if (!isConverged(result.reason)) unconverged += 1;
            if (Number.isFinite(q)) {
              scanPoints.push({ value, deltaNll: q });
              if (lowest === undefined || q < lowest.deltaNll) lowest = { deltaNll: q, x };
              anchor = { value, x };
            }
            visited.set(t, { x, message: `The re-minimisation at x_${j} = ${value} stopped: ${result.message}` });
            const next = search.next(q);
            if (next.done) finish(next.value);
            else launch(next.value);
          });
        };

        const first = search.next();
        if (first.done) finish(first.value);
        else launch(first.value);
      }
    });

    // Runs after the engine has finished (the callbacks above append to scanPoints).
    const profile = profiles[profiles.length - 1];
    finalizers.push(() => {
      scanPoints.sort((a, b) => a.value - b.value);
      profile.scan = {
        values: Float64Array.from(scanPoints, (s) => s.value),
        deltaNll: Float64Array.from(scanPoints, (s) => s.deltaNll),
      };
      if (unconverged > 0) {
        warnings.push(`parameter ${j}: ${unconverged} re-minimisation(s) of the other parameters did not converge; the profile may be biased upward there.`);
      }
      if (lowest !== undefined && lowest.deltaNll < -tolerance) {
        warnings.push(
          `parameter ${j}: the profile reached ΔNLL = ${lowest.deltaNll.toPrecision(4)} at x = ${formatPoint(lowest.x)}, ` +
            'below the supplied minimum: the best fit is not the global minimum. Refit from that point and profile again.',
        );
      }
    });
  }
  await engine.run();
  for (const finalize of finalizers) finalize();
  counts.calls += engine.counts.calls;
  counts.points += engine.counts.points;
  return { nllMin: nllAtBest, parameters: profiles, warnings, evaluations: counts, wallMs: performance.now() - t0 };
}

interface EndpointOutcome {
  /** Distance from the estimate. */
  t: number;
  q: number;
  open: boolean;
  converged: boolean;
  steps: number;
  message: string;
}

/**
 * Root search for q(t) = level, t ≥ 0 the distance from the estimate, t ≤ limit (distance to the bound).
 * Yields trial distances and receives the profile ΔNLL there (NaN if the re-minimisation failed).
 */
function* endpointSearch(
  level: number,
  guess: number,
  limit: number,
  tolerance: number,
  maxSteps: number,
): Generator<number, EndpointOutcome, number> {
  if (!(limit > 0)) {
    return { t: 0, q: 0, open: true, converged: true, steps: 0, message: 'the estimate is on the bound: open interval.' };
  }
  const target = Math.sqrt(2 * level);
  const distance = (q: number) => Math.sqrt(2 * Math.max(q, 0)) - target;
  // `low` has q < level (the estimate itself at first), `high` has q > level once found.
  let low = { t: 0, h: -target, q: 0 };
  let high: { t: number; h: number; q: number } | undefined;
  let closest = low;
  let lastReplaced: 'low' | 'high' | undefined;
  let t = Math.min(guess > 0 && Number.isFinite(guess) ? guess : 1, limit);
  for (let step = 1; step <= maxSteps; step++) {
    const q = yield t;
    if (!Number.isFinite(q)) {
      return { t, q, open: false, converged: false, steps: step, message: 'the profile could not be evaluated here.' };
    }
    const point = { t, h: distance(q), q };
    if (Math.abs(q - level) < Math.abs(closest.q - level)) closest = point;
    if (Math.abs(q - level) <= tolerance) {
      return { t, q, open: false, converged: true, steps: step, message: `ΔNLL = ${q.toPrecision(6)} reached.` };
    }
    const bracketed = high !== undefined;
    if (point.h < 0) {
      if (t >= limit) {
        return {
          t: limit,
          q,
          open: true,
          converged: true,
          steps: step,
          message: `reached the bound with ΔNLL = ${q.toPrecision(4)} < ${level}: open interval.`,
        };
      }
      if (bracketed && lastReplaced === 'low' && high) high.h /= 2; // Illinois: the high end was kept twice
      low = point;
      lastReplaced = bracketed ? 'low' : undefined;
    } else {
      if (bracketed && lastReplaced === 'high') low.h /= 2;
      high = point;
      lastReplaced = bracketed ? 'high' : undefined;
    }
    if (high === undefined) {
      // Not bracketed yet. Near the minimum √(2q) ∝ t, so extrapolate that line to the level, growing t by at
      // least 1.2× (progress) and at most 4× (a flat profile far out) per step, but not past the bound.
      const ratio = q > 0 ? target / Math.sqrt(2 * q) : 4;
      t = Math.min(limit, t * Math.min(4, Math.max(1.2, ratio)));
    } else {
      if (high.t - low.t <= 1e-12 * high.t) {
        return {
          ...closest,
          open: false,
          converged: false,
          steps: step,
          message: `the bracket around ΔNLL = ${level} shrank to nothing without reaching it (closest ΔNLL ${closest.q.toPrecision(6)}): the profile jumps here (several minima?).`,
        };
      }
      t = low.t - (low.h * (high.t - low.t)) / (high.h - low.h);
    }
  }
  return {
    ...closest,
    open: false,
    converged: false,
    steps: maxSteps,
    message: `no ΔNLL within ${tolerance} of ${level} after ${maxSteps} steps (closest ${closest.q.toPrecision(6)}); raise maxSteps or tolerance.`,
  };
}

function checkCovariance(covariance: Float64Array, p: number): void {
  if (!(covariance instanceof Float64Array) || covariance.length !== p * p) {
    throw new Error(`profile: covariance must be a Float64Array of P×P = ${p * p} entries (row-major), got ${covariance?.length} entries.`);
  }
  for (let i = 0; i < p; i++) {
    if (!(covariance[i * p + i] > 0) || !Number.isFinite(covariance[i * p + i])) {
      throw new Error(`profile: covariance diagonal entry ${i} is ${covariance[i * p + i]}; variances must be finite and > 0.`);
    }
  }
}
