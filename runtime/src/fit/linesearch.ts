/**
 * Line search along a feasible descent direction d from a point u: find a step λ ∈ (0, λ_max] with
 *
 *     sufficient decrease  f(u + λd) ≤ f(u) + c1·λ·∇f(u)ᵀd                       (Armijo)
 *     curvature            |∇f(u + λd)ᵀd| ≤ c2·|∇f(u)ᵀd|                       (strong Wolfe)
 *
 * following the bracketing-then-zoom scheme of Nocedal & Wright, "Numerical Optimization" (2nd ed.),
 * Algorithms 3.5 and 3.6, with the cubic interpolation of their eq. (3.59) safeguarded into the inner 80 %
 * of the bracket. λ_max is where the segment leaves the box, so every trial point is feasible.
 *
 * Two safeguards for the end game, where f stops resolving the decrease:
 * - a trial point that already passes the minimiser's gradient test (projected gradient ≤ gtol) is accepted
 *   at once — it is a solution, whatever its value says;
 * - "approximate Wolfe" (Hager & Zhang, SIAM J. Optim. 16 (2005) 170, eq. 4.1): a value within rounding of
 *   f(u) (ε = 1e-13·|f(u)|, a few hundred ulp) counts as sufficient decrease if the slope shows progress,
 *   (2c1 − 1)·φ′(0) ≥ φ′(λ) ≥ c2·φ′(0). Plain Armijo rejects such points because c1·λ·φ′(0) is below the
 *   rounding of f.
 * Robust fallback: when the trial budget runs out (e.g. the objective carries float32 noise and the
 * curvature condition cannot be resolved) the best point satisfying sufficient decrease is accepted
 * (a backtracking-Armijo step); only if no trial decreased f enough does the search report failure.
 */
import { dot, projectedGradientNorm, type Evaluator, type PointReply, type PointRequest, type Sample } from './machine.ts';

/** Armijo constant (N&W §3.1 recommend 1e-4). */
const C1 = 1e-4;
/** Curvature constant for quasi-Newton directions (N&W §3.1: 0.9). */
const C2 = 0.9;
/** Evaluations one line search may spend. */
const MAX_TRIALS = 20;
/** Growth of the step while bracketing. */
const EXTRAPOLATION = 4;
/** Relative rounding allowance on f for the approximate Wolfe test. */
const ROUNDING = 1e-13;

interface Trial {
  step: number;
  value: number;
  slope: number;
  sample: Sample | undefined;
}

/**
 * Strong-Wolfe line search (with Armijo fallback). Returns the accepted sample, or undefined when no trial
 * point satisfied sufficient decrease.
 */
export function* wolfeLineSearch(
  evaluator: Evaluator,
  start: Sample,
  direction: Float64Array,
  initialStep: number,
  maxStep: number,
  lower: Float64Array,
  upper: Float64Array,
  gtol: number,
): Generator<PointRequest, Sample | undefined, PointReply> {
  const slope0 = dot(start.g, direction);
  const origin: Trial = { step: 0, value: start.f, slope: slope0, sample: undefined };
  const sufficient = (t: Trial) =>
    t.value <= start.f + C1 * t.step * slope0 ||
    (t.value <= start.f + ROUNDING * Math.abs(start.f) && t.slope <= (2 * C1 - 1) * slope0 && t.slope >= C2 * slope0);
  const solves = (t: Trial) => t.sample !== undefined && projectedGradientNorm(t.sample.u, t.sample.g, lower, upper) <= gtol;
  const curvature = (t: Trial) => Math.abs(t.slope) <= -C2 * slope0;
  let trials = 0;

  function* probe(step: number): Generator<PointRequest, Trial, PointReply> {
    trials += 1;
    const u = new Float64Array(start.u.length);
    for (let i = 0; i < u.length; i++) {
      u[i] = Math.min(upper[i], Math.max(lower[i], start.u[i] + step * direction[i]));
    }
    const sample = yield* evaluator.at(u);
    return { step, value: sample.f, slope: dot(sample.g, direction), sample };
  }

  // Zoom (N&W Algorithm 3.6): `lo` satisfies sufficient decrease with the lowest value so far, and the
  // bracket [lo, hi] contains a step satisfying the strong Wolfe conditions.
  function* zoom(lo: Trial, hi: Trial): Generator<PointRequest, Sample | undefined, PointReply> {
    while (trials < MAX_TRIALS) {
      const width = Math.abs(hi.step - lo.step);
      if (width <= 1e-14 * Math.max(lo.step, hi.step)) break;
      const trial = yield* probe(interpolate(lo, hi));
      if (solves(trial)) return trial.sample;
      if (!sufficient(trial) || trial.value >= lo.value) {
        hi = trial;
      } else {
        if (curvature(trial)) return trial.sample;
        if (trial.slope * (hi.step - lo.step) >= 0) hi = lo;
        lo = trial;
      }
    }
    return lo.sample;
  }

  // Bracketing phase (N&W Algorithm 3.5).
  let previous = origin;
  let step = Math.min(initialStep, maxStep);
  while (trials < MAX_TRIALS) {
    const trial = yield* probe(step);
    if (solves(trial)) return trial.sample;
    if (!sufficient(trial) || (previous !== origin && trial.value >= previous.value)) return yield* zoom(previous, trial);
    if (curvature(trial)) return trial.sample;
    if (trial.slope >= 0) return yield* zoom(trial, previous);
    // Still descending with sufficient decrease at the edge of the box: the box stops us here.
    if (step >= maxStep) return trial.sample;
    previous = trial;
    step = Math.min(maxStep, EXTRAPOLATION * step);
  }
  return previous.sample;
}

/**
 * Minimiser of the cubic matching values and slopes at both bracket ends (N&W eq. 3.59), kept inside the
 * central 80 % of the bracket so that the bracket shrinks geometrically; bisection when the cubic has no
 * real minimiser.
 */
function interpolate(a: Trial, b: Trial): number {
  const left = Math.min(a.step, b.step);
  const right = Math.max(a.step, b.step);
  const margin = 0.1 * (right - left);
  const d1 = a.slope + b.slope - (3 * (a.value - b.value)) / (a.step - b.step);
  const discriminant = d1 * d1 - a.slope * b.slope;
  let step = NaN;
  if (discriminant >= 0) {
    const d2 = Math.sign(b.step - a.step) * Math.sqrt(discriminant);
    step = b.step - ((b.step - a.step) * (b.slope + d2 - d1)) / (b.slope - a.slope + 2 * d2);
  }
  if (!Number.isFinite(step)) return 0.5 * (left + right);
  return Math.min(right - margin, Math.max(left + margin, step));
}
