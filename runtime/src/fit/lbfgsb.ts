/**
 * L-BFGS-B: limited-memory quasi-Newton minimisation with box bounds, after R. H. Byrd, P. Lu, J. Nocedal
 * and C. Zhu, "A Limited Memory Algorithm for Bound Constrained Optimization", SIAM J. Sci. Comput. 16
 * (1995) 1190–1208 (BLNZ below), written from the paper's description.
 *
 * One iteration from the current point u with gradient g:
 *   1. Model m(v) = f + gᵀ(v − u) + ½ (v − u)ᵀ B (v − u), B the limited-memory BFGS matrix (below).
 *   2. Generalized Cauchy point u_c (BLNZ §4): the first local minimiser of m along the projected
 *      steepest-descent path P(u − t g), t ≥ 0, found segment by segment between the breakpoints where
 *      coordinates hit their bounds. Coordinates at a bound at u_c form the active set.
 *   3. Subspace minimisation (BLNZ §5.1, direct primal method): minimise m over the free coordinates with
 *      the active ones fixed, ignoring bounds, then bring the result back into the box. We project it
 *      (the improvement of Morales & Nocedal, ACM TOMS 38 (2011) 7) when that still gives a descent
 *      direction, and otherwise truncate the step at the box as BLNZ do.
 *   4. Line search along d = ū − u (strong Wolfe, `linesearch.ts`), then the BFGS memory takes the pair
 *      s = u⁺ − u, y = g⁺ − g if sᵀy > ε‖y‖² (BLNZ §3 skip rule, keeps B positive definite).
 *
 * B is the matrix of the compact representation BLNZ eq. (3.2), i.e. m BFGS updates (Nocedal & Wright,
 * "Numerical Optimization", eq. 6.19) of θI with θ = yᵀy/sᵀy of the latest pair. For the P ≲ a few hundred
 * parameters of a signal-model fit we form it densely (O(m·P²) per iteration) rather than through BLNZ's
 * 2m×2m middle matrix: the result is the same matrix, far cheaper than one flow evaluation, and it turns
 * the Cauchy search and the subspace step into plain dense linear algebra.
 */
import { cholesky, choleskySolve, matVec } from './linalg.ts';
import { wolfeLineSearch } from './linesearch.ts';
import {
  dot,
  Evaluator,
  outcomeOf,
  projectedGradientNorm,
  projectInPlace,
  StopSignal,
  withinFtol,
  type MachineOutcome,
  type MachineSettings,
  type PointMachine,
  type Sample,
} from './machine.ts';

export interface LbfgsbSettings extends MachineSettings {
  /** Number of correction pairs (s, y) kept (BLNZ's m; 3–20 is typical, default 10). */
  memory: number;
}

/** L-BFGS-B as a point machine starting at u0 (scaled coordinates, projected into the box first). */
export function* lbfgsbMachine(u0: Float64Array, settings: LbfgsbSettings): PointMachine<MachineOutcome> {
  const n = u0.length;
  const { lower, upper, gtol } = settings;
  const evaluator = new Evaluator(settings, n);
  const memory = new BfgsMemory(n, settings.memory);
  let current: Sample | undefined;
  let iterations = 0;
  let ftolStreak = 0;
  const finish = (reason: MachineOutcome['reason'], message: string) =>
    outcomeOf(current, u0, settings, iterations, evaluator.evaluations, reason, message);
  try {
    current = yield* evaluator.at(projectInPlace(Float64Array.from(u0), lower, upper));
    for (;;) {
      const pg = projectedGradientNorm(current.u, current.g, lower, upper);
      if (pg <= gtol) return finish('gtol', `projected gradient norm ${pg.toExponential(2)} ≤ gtol ${gtol}`);
      if (iterations >= settings.maxIterations) {
        return finish('maxIterations', `stopped after maxIterations = ${settings.maxIterations} iterations (projected gradient ${pg.toExponential(2)} > gtol ${gtol}).`);
      }
      const direction = searchDirection(current, memory.matrix(), lower, upper);
      let next: Sample | undefined;
      if (dot(current.g, direction) < 0) {
        // ū is inside the box, so every λ ≤ 1 is feasible (convexity); beyond 1 the box decides.
        const maxStep = Math.max(1, largestFeasibleStep(current.u, direction, lower, upper));
        // Without curvature information B = I and d can be huge; a first step of unit length (as the L-BFGS-B
        // code of Zhu et al., ACM TOMS 23 (1997) 550, does) keeps the first trial point within a scale unit.
        const initialStep = memory.size === 0 ? Math.min(1, 1 / Math.sqrt(dot(direction, direction))) : 1;
        next = yield* wolfeLineSearch(evaluator, current, direction, initialStep, maxStep, lower, upper, gtol);
      }
      if (next === undefined) {
        // A stale memory can produce a poor direction; restart once from steepest descent (B = I).
        if (memory.size > 0) {
          memory.clear();
          continue;
        }
        return finish(
          'lineSearch',
          `no step along the projected steepest-descent direction decreased the objective (projected gradient ` +
            `${pg.toExponential(2)} > gtol ${gtol}); the objective is probably flat to its numerical precision here. ` +
            'Loosen gtol, or check the gradient is consistent with the value.',
        );
      }
      const s = new Float64Array(n);
      const y = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        s[i] = next.u[i] - current.u[i];
        y[i] = next.g[i] - current.g[i];
      }
      memory.push(s, y);
      iterations += 1;
      const previous = current;
      current = next;
      const pgNext = projectedGradientNorm(current.u, current.g, lower, upper);
      if (pgNext <= gtol) return finish('gtol', `projected gradient norm ${pgNext.toExponential(2)} ≤ gtol ${gtol}`);
      ftolStreak = withinFtol(previous.f, current.f, settings) ? ftolStreak + 1 : 0;
      if (ftolStreak >= settings.ftolIterations) {
        return finish('ftol', `|ΔNLL| = ${Math.abs(previous.f - current.f).toExponential(2)} over the last iteration is within ftol`);
      }
    }
  } catch (error) {
    if (error instanceof StopSignal) return finish(error.reason, error.message);
    throw error;
  }
}

/** The m most recent correction pairs and the dense BFGS matrix they define. */
class BfgsMemory {
  private readonly pairs: { s: Float64Array; y: Float64Array; sy: number }[] = [];
  private theta = 1;

  constructor(
    private readonly n: number,
    private readonly capacity: number,
  ) {}

  get size(): number {
    return this.pairs.length;
  }

  clear(): void {
    this.pairs.length = 0;
    this.theta = 1;
  }

  /** Keeps (s, y) when sᵀy > ε‖y‖² (BLNZ §3), so that every B stays positive definite. */
  push(s: Float64Array, y: Float64Array): void {
    const sy = dot(s, y);
    const yy = dot(y, y);
    if (!(sy > Number.EPSILON * yy) || yy === 0) return;
    if (this.pairs.length === this.capacity) this.pairs.shift();
    this.pairs.push({ s, y, sy });
    this.theta = yy / sy;
  }

  /** B = m BFGS updates of θI (N&W eq. 6.19), oldest pair first. */
  matrix(): Float64Array {
    const n = this.n;
    const b = new Float64Array(n * n);
    for (let i = 0; i < n; i++) b[i * n + i] = this.theta;
    for (const { s, y, sy } of this.pairs) {
      const bs = matVec(b, s, n);
      const sbs = dot(s, bs);
      if (!(sbs > 0)) continue;
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) b[i * n + j] += (y[i] * y[j]) / sy - (bs[i] * bs[j]) / sbs;
      }
    }
    return b;
  }
}

/** d = ū − u: generalized Cauchy point followed by subspace minimisation (steps 2–3 above). */
function searchDirection(current: Sample, b: Float64Array, lower: Float64Array, upper: Float64Array): Float64Array {
  const n = current.u.length;
  const cauchy = generalizedCauchyPoint(current.u, current.g, b, lower, upper);
  const target = subspaceMinimum(current, b, cauchy, lower, upper);
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) d[i] = target[i] - current.u[i];
  return d;
}

interface CauchyPoint {
  /** u_c itself. */
  point: Float64Array;
  /** B (u_c − u), needed for the reduced gradient of the subspace problem. */
  bz: Float64Array;
  /** Coordinates not at a bound at u_c (the subspace of step 3). */
  free: boolean[];
}

/**
 * Generalized Cauchy point (BLNZ §4). Along the path u(t) = P(u − t g) coordinate i moves with velocity −g_i
 * until its breakpoint t_i (where it reaches its bound) and stays there after. Between consecutive
 * breakpoints the model is a 1-D quadratic in t with slope f′ = gᵀd + dᵀB z and curvature f″ = dᵀB d, where
 * z = u(t_j) − u and d the current velocity; we move to the next breakpoint while the minimiser −f′/f″ lies
 * beyond it. Each breakpoint pins one coordinate, which changes B z and B d by one column of B (O(n)).
 */
function generalizedCauchyPoint(
  u: Float64Array,
  g: Float64Array,
  b: Float64Array,
  lower: Float64Array,
  upper: Float64Array,
): CauchyPoint {
  const n = u.length;
  const breakpoint = new Float64Array(n);
  const d = new Float64Array(n);
  const free = new Array<boolean>(n).fill(true);
  for (let i = 0; i < n; i++) {
    if (g[i] < 0) breakpoint[i] = upper[i] === Infinity ? Infinity : (u[i] - upper[i]) / g[i];
    else if (g[i] > 0) breakpoint[i] = lower[i] === -Infinity ? Infinity : (u[i] - lower[i]) / g[i];
    else breakpoint[i] = Infinity;
    if (breakpoint[i] > 0) d[i] = -g[i];
    else free[i] = false; // already at the bound the gradient pushes against
  }
  const order = Array.from({ length: n }, (_, i) => i)
    .filter((i) => breakpoint[i] > 0 && breakpoint[i] < Infinity)
    .sort((i, j) => breakpoint[i] - breakpoint[j]);
  const z = new Float64Array(n);
  const bz = new Float64Array(n);
  const bd = matVec(b, d, n);
  let slope = dot(g, d);
  let curvature = dot(d, bd);
  let t = 0;
  let stopped = false;
  for (const k of order) {
    if (slope >= 0) {
      stopped = true;
      break;
    }
    const dtMin = curvature > 0 ? -slope / curvature : Infinity;
    const dt = breakpoint[k] - t;
    if (dtMin < dt) {
      addScaled(z, dtMin, d);
      addScaled(bz, dtMin, bd);
      stopped = true;
      break;
    }
    addScaled(z, dt, d);
    addScaled(bz, dt, bd);
    t = breakpoint[k];
    // Pin coordinate k exactly on its bound (the accumulated z may miss it by rounding) and stop it moving.
    const exact = (d[k] > 0 ? upper[k] : lower[k]) - u[k];
    const correction = exact - z[k];
    z[k] = exact;
    const dk = d[k];
    d[k] = 0;
    free[k] = false;
    for (let i = 0; i < n; i++) {
      const bik = b[i * n + k];
      bz[i] += correction * bik;
      bd[i] -= dk * bik;
    }
    slope = dot(g, d) + dot(d, bz);
    curvature = dot(d, bd);
  }
  // Past the last breakpoint only unbounded directions move; B is positive definite, so the quadratic along
  // them has a finite minimiser whenever d ≠ 0.
  if (!stopped && slope < 0 && curvature > 0) {
    const dtMin = -slope / curvature;
    addScaled(z, dtMin, d);
    addScaled(bz, dtMin, bd);
  }
  const point = new Float64Array(n);
  for (let i = 0; i < n; i++) point[i] = Math.min(upper[i], Math.max(lower[i], u[i] + z[i]));
  return { point, bz, free };
}

/**
 * Direct primal subspace minimisation (BLNZ §5.1): with the active coordinates fixed at u_c, minimise the
 * model over the free ones. Its reduced gradient is r = Zᵀ(g + B(u_c − u)) and its Hessian ZᵀBZ, which is
 * positive definite because B is; the Newton step solves ZᵀBZ Δ = −r.
 */
function subspaceMinimum(
  current: Sample,
  b: Float64Array,
  cauchy: CauchyPoint,
  lower: Float64Array,
  upper: Float64Array,
): Float64Array {
  const n = current.u.length;
  const freeIndex: number[] = [];
  for (let i = 0; i < n; i++) if (cauchy.free[i]) freeIndex.push(i);
  const nf = freeIndex.length;
  if (nf === 0) return cauchy.point;
  const reduced = new Float64Array(nf * nf);
  const rhs = new Float64Array(nf);
  freeIndex.forEach((i, a) => {
    rhs[a] = -(current.g[i] + cauchy.bz[i]);
    freeIndex.forEach((j, c) => {
      reduced[a * nf + c] = b[i * n + j];
    });
  });
  const factor = cholesky(reduced, nf);
  if (factor === undefined) return cauchy.point;
  const delta = choleskySolve(factor, nf, rhs);

  // Morales–Nocedal: project the unconstrained subspace minimiser into the box if that is a descent direction.
  const projected = Float64Array.from(cauchy.point);
  freeIndex.forEach((i, a) => {
    projected[i] = Math.min(upper[i], Math.max(lower[i], cauchy.point[i] + delta[a]));
  });
  let slope = 0;
  for (let i = 0; i < n; i++) slope += current.g[i] * (projected[i] - current.u[i]);
  if (slope < 0) return projected;

  // BLNZ: otherwise take the longest step α ≤ 1 along Δ that stays feasible.
  let alpha = 1;
  freeIndex.forEach((i, a) => {
    if (delta[a] > 0 && upper[i] < Infinity) alpha = Math.min(alpha, (upper[i] - cauchy.point[i]) / delta[a]);
    if (delta[a] < 0 && lower[i] > -Infinity) alpha = Math.min(alpha, (lower[i] - cauchy.point[i]) / delta[a]);
  });
  const truncated = Float64Array.from(cauchy.point);
  freeIndex.forEach((i, a) => {
    truncated[i] = Math.min(upper[i], Math.max(lower[i], cauchy.point[i] + Math.max(0, alpha) * delta[a]));
  });
  return truncated;
}

/** Largest λ with u + λd inside the box (Infinity when no bound limits it). */
function largestFeasibleStep(u: Float64Array, d: Float64Array, lower: Float64Array, upper: Float64Array): number {
  let step = Infinity;
  for (let i = 0; i < u.length; i++) {
    if (d[i] > 0 && upper[i] < Infinity) step = Math.min(step, (upper[i] - u[i]) / d[i]);
    if (d[i] < 0 && lower[i] > -Infinity) step = Math.min(step, (lower[i] - u[i]) / d[i]);
  }
  return step;
}

/** a += factor · b, in place. */
function addScaled(a: Float64Array, factor: number, b: Float64Array): void {
  for (let i = 0; i < a.length; i++) a[i] += factor * b[i];
}
