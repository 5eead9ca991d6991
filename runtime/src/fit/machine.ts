/**
 * The protocol every minimiser follows, and the pieces they share.
 *
 * A minimiser is a generator (a resumable state machine): it YIELDS the point(s) it wants evaluated, in its
 * own scaled coordinates u, and RECEIVES their values and gradients. It never calls the objective itself.
 * That lets a driver (`lockstep.ts`) advance many independent minimisations in lock-step and send all their
 * requests to the objective in ONE batched evaluate call per step — the exported gradient graph evaluates K
 * parameter points against the same events for about the cost of one.
 */

/** Points a machine wants evaluated: `count` points of its dimension, row-major, in scaled coordinates. */
export interface PointRequest {
  readonly points: Float64Array;
  readonly count: number;
}

/** Values and scaled gradients (∂f/∂u) of the requested points, row-major. */
export interface PointReply {
  readonly values: Float64Array;
  readonly gradients: Float64Array;
}

/** A resumable computation that asks for points and finally returns R. */
export type PointMachine<R> = Generator<PointRequest, R, PointReply>;

/**
 * Why a minimisation stopped.
 * - `gtol`: projected-gradient ∞-norm ≤ gtol (a first-order stationary point of the box problem);
 * - `ftol`: |ΔNLL| over an iteration ≤ max(ftolAbs, ftolRel·|NLL|) (for `ftolIterations` iterations in a row);
 * - `maxIterations`, `maxEvaluations`: a budget ran out;
 * - `lineSearch`: no step along the search direction decreased the objective (typically the objective is
 *   flat to its numerical precision there);
 * - `nonFinite`: the objective returned NaN or ±Infinity (value or gradient); the last finite point is kept.
 */
export type StopReason = 'gtol' | 'ftol' | 'maxIterations' | 'maxEvaluations' | 'lineSearch' | 'nonFinite';

/** Stop reasons that mean "converged". */
export function isConverged(reason: StopReason): boolean {
  return reason === 'gtol' || reason === 'ftol';
}

/** Convergence tests and budgets shared by all methods; bounds are in the machine's scaled coordinates. */
export interface MachineSettings {
  lower: Float64Array;
  upper: Float64Array;
  /** Stop when the projected-gradient ∞-norm (in scaled units) is ≤ gtol. */
  gtol: number;
  /** Stop when |f_k − f_{k+1}| ≤ max(ftolAbs, ftolRel·max(|f_k|, |f_{k+1}|)) ... */
  ftolAbs: number;
  ftolRel: number;
  /** ... for this many consecutive iterations. */
  ftolIterations: number;
  maxIterations: number;
  /** Points this one minimisation may have evaluated. */
  maxEvaluations: number;
  /** Renders a scaled point in the user's (physical) coordinates for messages. */
  describe(u: Float64Array): string;
}

/** What a finished machine hands back (scaled coordinates). */
export interface MachineOutcome {
  u: Float64Array;
  value: number;
  gradient: Float64Array;
  projectedGradientNorm: number;
  iterations: number;
  evaluations: number;
  reason: StopReason;
  message: string;
}

/** One evaluated point. */
export interface Sample {
  u: Float64Array;
  f: number;
  g: Float64Array;
}

/** Thrown inside a machine to unwind to its top level with a stop reason (budget spent, non-finite value). */
export class StopSignal extends Error {
  constructor(
    readonly reason: StopReason,
    message: string,
  ) {
    super(message);
  }
}

/** Asks for single points on behalf of a machine, counting them against its budget and checking finiteness. */
export class Evaluator {
  evaluations = 0;

  constructor(
    private readonly settings: MachineSettings,
    private readonly dimension: number,
  ) {}

  *at(u: Float64Array): Generator<PointRequest, Sample, PointReply> {
    if (this.evaluations >= this.settings.maxEvaluations) {
      throw new StopSignal(
        'maxEvaluations',
        `stopped after maxEvaluations = ${this.settings.maxEvaluations} evaluated points without converging; ` +
          'raise maxEvaluations or loosen gtol/ftolAbs.',
      );
    }
    const point = Float64Array.from(u);
    const reply = yield { points: point, count: 1 };
    this.evaluations += 1;
    const f = reply.values[0];
    const g = reply.gradients.slice(0, this.dimension);
    const badGradient = g.findIndex((value) => !Number.isFinite(value));
    if (!Number.isFinite(f) || badGradient >= 0) {
      const what = Number.isFinite(f) ? `a non-finite gradient (component ${badGradient})` : `value ${f}`;
      throw new StopSignal(
        'nonFinite',
        `the objective returned ${what} at ${this.settings.describe(point)}; stopped at the last finite point. ` +
          'Check the model is valid there (e.g. inside its training range) or tighten the bounds.',
      );
    }
    return { u: point, f, g };
  }
}

/** Euclidean projection onto the box [lower, upper], in place. */
export function projectInPlace(u: Float64Array, lower: Float64Array, upper: Float64Array): Float64Array {
  for (let i = 0; i < u.length; i++) u[i] = Math.min(upper[i], Math.max(lower[i], u[i]));
  return u;
}

/**
 * ‖P(u − g) − u‖_∞, the projected-gradient norm that L-BFGS-B (Byrd et al. 1995) compares with its pgtol:
 * zero exactly at a KKT point of the box-constrained problem, so it is the first-order stationarity test
 * with bounds.
 */
export function projectedGradientNorm(u: Float64Array, g: Float64Array, lower: Float64Array, upper: Float64Array): number {
  let norm = 0;
  for (let i = 0; i < u.length; i++) {
    const moved = Math.min(upper[i], Math.max(lower[i], u[i] - g[i]));
    norm = Math.max(norm, Math.abs(moved - u[i]));
  }
  return norm;
}

/** Whether one iteration's change of f is within the ftol tolerance. */
export function withinFtol(previous: number, next: number, settings: MachineSettings): boolean {
  const tolerance = Math.max(settings.ftolAbs, settings.ftolRel * Math.max(Math.abs(previous), Math.abs(next)));
  return Math.abs(previous - next) <= tolerance;
}

/** Dot product. */
export function dot(a: Float64Array, b: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}

/**
 * Packs a machine's final state into its outcome. `sample` is undefined only when not even the start could
 * be evaluated (its first value was non-finite): the outcome then carries NaN values and the reason says why.
 */
export function outcomeOf(
  sample: Sample | undefined,
  start: Float64Array,
  settings: MachineSettings,
  iterations: number,
  evaluations: number,
  reason: StopReason,
  message: string,
): MachineOutcome {
  if (sample === undefined) {
    return {
      u: Float64Array.from(start),
      value: NaN,
      gradient: new Float64Array(start.length).fill(NaN),
      projectedGradientNorm: NaN,
      iterations,
      evaluations,
      reason,
      message,
    };
  }
  return {
    u: sample.u,
    value: sample.f,
    gradient: sample.g,
    projectedGradientNorm: projectedGradientNorm(sample.u, sample.g, settings.lower, settings.upper),
    iterations,
    evaluations,
    reason,
    message,
  };
}
