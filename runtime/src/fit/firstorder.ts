/**
 * First-order minimisers with projection onto the box: heavy-ball momentum and Adam. One objective
 * evaluation (value and gradient) per iteration; the update is computed in scaled coordinates and then
 * projected onto the bounds ("projected gradient methods", Nocedal & Wright §16.7, applied to each update).
 *
 * These methods do not decrease f monotonically, so the machine returns the lowest point it visited unless it
 * stops on the gradient test, where it returns the point that passed it.
 */
import {
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

export interface MomentumSettings extends MachineSettings {
  /** Step size η in scaled units per unit of scaled gradient. */
  learningRate: number;
  /** Momentum coefficient μ ∈ [0, 1). */
  momentum: number;
}

export interface AdamSettings extends MachineSettings {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

/** Maps (u, g, iteration t ≥ 1) to the next unprojected point; may keep state in its closure. */
type UpdateRule = (u: Float64Array, g: Float64Array, t: number) => Float64Array;

/**
 * Polyak heavy-ball momentum (B. T. Polyak, USSR Comput. Math. Math. Phys. 4 (1964) 1):
 *   v ← μ v − η g,  u ← P(u + v),  then v ← (projected u) − (old u)
 * The last line keeps the velocity consistent with the projection, so a coordinate stopped by a bound does
 * not keep accumulating speed into it.
 */
export function momentumMachine(u0: Float64Array, settings: MomentumSettings): PointMachine<MachineOutcome> {
  const velocity = new Float64Array(u0.length);
  const { lower, upper, learningRate, momentum } = settings;
  const rule: UpdateRule = (u, g) => {
    const next = new Float64Array(u.length);
    for (let i = 0; i < u.length; i++) {
      const moved = u[i] + momentum * velocity[i] - learningRate * g[i];
      next[i] = Math.min(upper[i], Math.max(lower[i], moved));
      velocity[i] = next[i] - u[i];
    }
    return next;
  };
  return firstOrderMachine(u0, settings, rule);
}

/**
 * Adam (D. P. Kingma and J. Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015, Algorithm 1) with
 * bias-corrected moments, followed by projection onto the box.
 */
export function adamMachine(u0: Float64Array, settings: AdamSettings): PointMachine<MachineOutcome> {
  const n = u0.length;
  const first = new Float64Array(n);
  const second = new Float64Array(n);
  const { learningRate, beta1, beta2, epsilon } = settings;
  const rule: UpdateRule = (u, g, t) => {
    const next = new Float64Array(n);
    const correction1 = 1 - beta1 ** t;
    const correction2 = 1 - beta2 ** t;
    for (let i = 0; i < n; i++) {
      first[i] = beta1 * first[i] + (1 - beta1) * g[i];
      second[i] = beta2 * second[i] + (1 - beta2) * g[i] * g[i];
      const mHat = first[i] / correction1;
      const vHat = second[i] / correction2;
      next[i] = u[i] - (learningRate * mHat) / (Math.sqrt(vHat) + epsilon);
    }
    return next;
  };
  return firstOrderMachine(u0, settings, rule);
}

function* firstOrderMachine(u0: Float64Array, settings: MachineSettings, rule: UpdateRule): PointMachine<MachineOutcome> {
  const { lower, upper, gtol } = settings;
  const evaluator = new Evaluator(settings, u0.length);
  let current: Sample | undefined;
  let best: Sample | undefined;
  let iterations = 0;
  let ftolStreak = 0;
  const finish = (sample: Sample | undefined, reason: MachineOutcome['reason'], message: string) =>
    outcomeOf(sample, u0, settings, iterations, evaluator.evaluations, reason, message);
  try {
    current = yield* evaluator.at(projectInPlace(Float64Array.from(u0), lower, upper));
    best = current;
    for (;;) {
      const pg = projectedGradientNorm(current.u, current.g, lower, upper);
      if (pg <= gtol) return finish(current, 'gtol', `projected gradient norm ${pg.toExponential(2)} ≤ gtol ${gtol}`);
      if (iterations >= settings.maxIterations) {
        return finish(best, 'maxIterations', `stopped after maxIterations = ${settings.maxIterations} iterations (projected gradient ${pg.toExponential(2)} > gtol ${gtol}).`);
      }
      iterations += 1;
      const next = projectInPlace(rule(current.u, current.g, iterations), lower, upper);
      const previous = current;
      current = yield* evaluator.at(next);
      if (current.f < best.f) best = current;
      ftolStreak = withinFtol(previous.f, current.f, settings) ? ftolStreak + 1 : 0;
      if (ftolStreak >= settings.ftolIterations) {
        return finish(best, 'ftol', `|ΔNLL| stayed within ftol for ${settings.ftolIterations} consecutive iterations`);
      }
    }
  } catch (error) {
    if (error instanceof StopSignal) return finish(best, error.reason, error.message);
    throw error;
  }
}
