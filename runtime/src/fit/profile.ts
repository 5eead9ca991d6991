/**
 * Profile-likelihood intervals.
 *
 * For parameter j the profile is q_j(v) = min over the other parameters of NLL(x | x_j = v) − NLL_min. By
 * Wilks' theorem (Ann. Math. Statist. 9 (1938) 60) 2q_j is asymptotically χ²(1), so {v : q_j(v) ≤ ℓ} is a
 * confidence interval with ℓ = 0.5 for 68.3 % (1σ) and ℓ = 2 for 95.4 % (2σ) — the MINOS errors of MINUIT
 * (F. James and M. Roos, Comput. Phys. Commun. 10 (1975) 343). Unlike ±σ from the Hessian they follow a
 * non-parabolic NLL, e.g. a Poisson likelihood.
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
import { minimizerFactory, type MachineFactory, type MinimizerOptions } from './minimize.ts';
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
  const userScales = options.scales === undefined ? undefined : resolveScales(options.scales, p);
  if (options.covariance !== undefined) checkCovariance(options.covariance, p);

  const counts: EvaluationCounts = { calls: 0, points: 0 };
  const start = await startingInformation(objective, best, bounds, userScales, options, counts);
  const warnings = [...start.warnings];
  const scales = userScales ?? Float64Array.from(start.errors, (e) => (e > 0 && Number.isFinite(e) ? e : 1));
  const context: SearchContext = {
    engine: new Lockstep(objective),
    factory,
    best,
    bounds,
    scales,
    nllMin: start.nllMin,
    tolerance,
    maxSteps,
  };

  const records = parameters.map((j) => {
    const record = new ParameterRecord(j, best[j]);
    const slope = Float64Array.from({ length: p }, (_, k) =>
      start.covariance !== undefined && k !== j ? start.covariance[k * p + j] / start.covariance[j * p + j] : 0,
    );
    const sigma = Number.isFinite(start.errors[j]) && start.errors[j] > 0 ? start.errors[j] : scales[j];
    const intervals = levels.map((level) => ({ level }) as ProfileInterval);
    levels.forEach((level, n) => {
      searchEndpoint(context, j, level, -1, sigma, slope, record, (endpoint) => (intervals[n].lower = endpoint));
      searchEndpoint(context, j, level, 1, sigma, slope, record, (endpoint) => (intervals[n].upper = endpoint));
    });
    return { record, intervals, hessianError: start.covariance !== undefined ? start.errors[j] : undefined };
  });
  await context.engine.run();
  counts.calls += context.engine.counts.calls;
  counts.points += context.engine.counts.points;

  const profiles = records.map(({ record, intervals, hessianError }) => {
    warnings.push(...record.warnings(tolerance));
    return { index: record.index, estimate: record.estimate, hessianError, intervals, scan: record.scan() };
  });
  return { nllMin: start.nllMin, parameters: profiles, warnings, evaluations: counts, wallMs: performance.now() - t0 };
}

/**
 * Largest Hessian step-check disagreement (see `hessian.ts`) at which the estimated covariance still guides
 * the searches. Starting guesses tolerate tens of per cent; beyond that H is noise.
 */
const UNRELIABLE_HESSIAN = 0.1;

interface StartingInformation {
  nllMin: number;
  /** Covariance used for first guesses and warm starts, when there is a trustworthy one. */
  covariance: Float64Array | undefined;
  /** Per-parameter error estimates for the first guesses. */
  errors: Float64Array;
  warnings: string[];
}

/** NLL at the best fit and a covariance: the supplied ones, or from one batched Hessian evaluation. */
async function startingInformation(
  objective: BatchObjective,
  best: Float64Array,
  bounds: Bounds,
  userScales: Float64Array | undefined,
  options: ProfileOptions,
  counts: EvaluationCounts,
): Promise<StartingInformation> {
  const p = best.length;
  const warnings: string[] = [];
  let nllMin = options.nllMin;
  let covariance = options.covariance;
  let diagonal: Float64Array | undefined;
  if (nllMin === undefined || covariance === undefined) {
    const h = await hessian(objective, best, { bounds, scales: userScales, relativeStep: options.hessianStep });
    counts.calls += h.evaluations.calls;
    counts.points += h.evaluations.points;
    nllMin ??= h.value;
    if (covariance === undefined) {
      const c = covarianceFromHessian(h.hessian);
      const disagreement = h.stepCheck!.relativeDisagreement;
      if (disagreement > UNRELIABLE_HESSIAN) {
        // E.g. a linear NLL at a bound: H is rounding noise, which may well pass Cholesky.
        warnings.push(
          `no covariance at the best fit: the Hessian step check disagrees by ${disagreement.toPrecision(3)} ` +
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
  if (!Number.isFinite(nllMin)) throw new Error(`profile: the NLL at the best fit is ${nllMin}; it must be finite.`);
  const errors = Float64Array.from({ length: p }, (_, i) => {
    if (covariance !== undefined) return Math.sqrt(covariance[i * p + i]);
    if (diagonal !== undefined && diagonal[i] > 0) return 1 / Math.sqrt(diagonal[i]);
    return userScales?.[i] ?? 1;
  });
  return { nllMin: nllMin as number, covariance, errors, warnings };
}

/** What every endpoint search shares. */
interface SearchContext {
  engine: Lockstep;
  factory: MachineFactory;
  best: Float64Array;
  bounds: Bounds;
  scales: Float64Array;
  nllMin: number;
  tolerance: number;
  maxSteps: number;
}

/** The profile points of one parameter, gathered from all its endpoint searches. */
class ParameterRecord {
  private readonly points: { value: number; deltaNll: number }[];
  private unconverged = 0;
  private lowest: { deltaNll: number; x: Float64Array } | undefined;

  constructor(
    readonly index: number,
    readonly estimate: number,
  ) {
    this.points = [{ value: estimate, deltaNll: 0 }];
  }

  add(value: number, deltaNll: number, x: Float64Array, converged: boolean): void {
    if (!converged) this.unconverged += 1;
    if (!Number.isFinite(deltaNll)) return;
    this.points.push({ value, deltaNll });
    if (this.lowest === undefined || deltaNll < this.lowest.deltaNll) this.lowest = { deltaNll, x };
  }

  scan(): { values: Float64Array; deltaNll: Float64Array } {
    const sorted = [...this.points].sort((a, b) => a.value - b.value);
    return { values: Float64Array.from(sorted, (s) => s.value), deltaNll: Float64Array.from(sorted, (s) => s.deltaNll) };
  }

  warnings(tolerance: number): string[] {
    const out: string[] = [];
    if (this.unconverged > 0) {
      out.push(
        `parameter ${this.index}: ${this.unconverged} re-minimisation(s) of the other parameters did not converge; ` +
          'the profile may be biased upward there.',
      );
    }
    if (this.lowest !== undefined && this.lowest.deltaNll < -tolerance) {
      out.push(
        `parameter ${this.index}: the profile reached ΔNLL = ${this.lowest.deltaNll.toPrecision(4)} at x = ${formatPoint(this.lowest.x)}, ` +
          'below the supplied minimum: the best fit is not the global minimum. Refit from that point and profile again.',
      );
    }
    return out;
  }
}

/**
 * Drives one endpoint search (parameter j, one level, one side): each trial distance it proposes becomes a
 * re-minimisation of the other parameters in the shared lock-step engine; its result feeds the search, which
 * proposes the next trial or finishes and hands its endpoint to `done`.
 */
function searchEndpoint(
  context: SearchContext,
  j: number,
  level: number,
  direction: -1 | 1,
  sigma: number,
  slope: Float64Array,
  record: ParameterRecord,
  done: (endpoint: ProfileEndpoint) => void,
): void {
  const { best, bounds, scales } = context;
  const p = best.length;
  const free = Int32Array.from({ length: p - 1 }, (_, k) => (k < j ? k : k + 1));
  const bound = direction < 0 ? bounds.lower[j] : bounds.upper[j];
  const limit = Math.abs(bound - best[j]);
  const valueAt = (t: number) => (t >= limit ? bound : best[j] + direction * t);
  const search = endpointSearch(level, sigma * Math.sqrt(2 * level), limit, context.tolerance, context.maxSteps);
  const visited = new Map<number, { x: Float64Array; message: string }>([[0, { x: best, message: '' }]]);
  let anchor = { value: best[j], x: best };

  const finish = (outcome: EndpointOutcome) => {
    const at = visited.get(outcome.t) ?? { x: best, message: '' };
    done({
      value: valueAt(outcome.t),
      deltaNll: outcome.q,
      open: outcome.open,
      converged: outcome.converged,
      steps: outcome.steps,
      x: at.x,
      message: outcome.converged || !at.message ? outcome.message : `${outcome.message} ${at.message}`,
    });
  };

  const launch = (t: number) => {
    const value = valueAt(t);
    // Warm start: the nearest profile point so far, moved along the Gaussian regression line.
    const base = new Float64Array(p);
    for (let k = 0; k < p; k++) {
      const moved = anchor.x[k] + slope[k] * (value - anchor.value);
      base[k] = Math.min(bounds.upper[k], Math.max(bounds.lower[k], moved));
    }
    base[j] = value;
    const embedding = new ScaledEmbedding(base, free, scales, bounds.lower, bounds.upper);
    const describe = (u: Float64Array) => `x = ${formatPoint(embedding.physical(u))} (profile of parameter ${j} at ${value})`;
    const machine = context.factory(new Float64Array(p - 1), embedding.lowerU, embedding.upperU, describe);
    context.engine.start(machine, embedding, (result: MachineOutcome) => {
      const x = embedding.physical(result.u);
      const q = result.value - context.nllMin;
      record.add(value, q, x, isConverged(result.reason));
      if (Number.isFinite(q)) anchor = { value, x };
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
