/**
 * Multi-start minimisation of a batched objective.
 *
 * K starts run in lock-step (`lockstep.ts`): each step sends the one pending point of every unfinished start
 * to the objective in a single evaluate call, so K starts cost about as many graph runs as the slowest one
 * needs, not K times that. Finished starts drop out of the batch.
 *
 * Scaling. Each start k is minimised in coordinates x = start_k + scale ⊙ u (see `embedding.ts`). Pass
 * `scales` ≈ the parameters' expected standard errors (e.g. from a previous fit or the spread of the
 * training grid); then every tolerance below is in units of σ and NLL, independent of the parameters'
 * physical units. Without `scales` every scale is 1 and the tolerances are in physical units.
 *
 * Default tolerances, chosen for NLL sums of 1e5–1e6 events that must resolve ΔNLL = 1e-3:
 * - gtol = 1e-5 on the projected-gradient ∞-norm ∂NLL/∂u (NLL per scale unit): with scales ≈ σ the remaining
 *   offset from the minimum is ~1e-5 σ.
 * - ftolAbs = 1e-6 on |ΔNLL| over an iteration, a thousand times below the resolution we need. A relative
 *   tolerance alone (scipy's default is ~2e-9·|NLL|; 1e-7 is common) would allow ΔNLL ≈ 0.1 at NLL = 1e6.
 * - ftolRel = 1e-14 · |NLL| (about 100 ulp of the NLL) takes over only above |NLL| ≈ 1e8, where float64 can
 *   no longer resolve 1e-6, so that the criterion stays reachable.
 * - ftolIterations = 1 for L-BFGS-B (monotone, superlinear near the minimum), 10 for Adam and momentum,
 *   whose per-iteration change can be small by accident while they oscillate.
 * - maxIterations 1000 / maxEvaluations 5000 per start for L-BFGS-B; 20000 / 20001 for the first-order methods.
 */
import { ScaledEmbedding } from './embedding.ts';
import { adamMachine, momentumMachine } from './firstorder.ts';
import { lbfgsbMachine } from './lbfgsb.ts';
import { Lockstep } from './lockstep.ts';
import { isConverged, type MachineOutcome, type MachineSettings, type PointMachine, type StopReason } from './machine.ts';
import type { BatchObjective, Bounds, EvaluationCounts } from './objective.ts';
import {
  checkInteger,
  checkNonNegative,
  checkPoints,
  formatPoint,
  objectiveDimension,
  resolveBounds,
  resolveScales,
} from './validate.ts';

/** Convergence tests and budgets (see the module comment for defaults and units). */
export interface ConvergenceOptions {
  gtol?: number;
  ftolAbs?: number;
  ftolRel?: number;
  ftolIterations?: number;
  maxIterations?: number;
  /** Evaluated points per start. */
  maxEvaluations?: number;
}

export interface LbfgsbOptions extends ConvergenceOptions {
  method: 'lbfgsb';
  /** Correction pairs kept (default 10). */
  memory?: number;
}

export interface AdamOptions extends ConvergenceOptions {
  method: 'adam';
  /** Step size in scaled units (default 0.1: a tenth of a scale unit per step at most, roughly). */
  learningRate?: number;
  /** Moment decay rates and denominator guard (defaults 0.9, 0.999, 1e-8; Kingma & Ba 2015). */
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

export interface MomentumOptions extends ConvergenceOptions {
  method: 'momentum';
  /** Step size in scaled units per unit scaled gradient (default 0.1, stable for curvatures up to ~38). */
  learningRate?: number;
  /** Momentum coefficient μ ∈ [0, 1) (default 0.9). */
  momentum?: number;
}

/** Which algorithm, with its own settings. */
export type MinimizerOptions = LbfgsbOptions | AdamOptions | MomentumOptions;
export type MinimizeMethod = MinimizerOptions['method'];

/** Reported after every batched evaluate call. */
export interface MinimizeProgress {
  /** Lock-step steps so far (= evaluate calls). */
  step: number;
  /** Starts still running. */
  activeStarts: number;
  calls: number;
  points: number;
  /** Lowest finite value seen so far in any start. */
  lowestValue: number;
  /** Projected-gradient norm in scaled units at that lowest point (converged below gtol; NaN before any value). */
  gradientNorm: number;
  wallMs: number;
}

export type MinimizeOptions = MinimizerOptions & {
  /** K×P start points, row-major; each must lie inside the bounds. */
  starts: Float64Array;
  /** Box bounds (default: none). */
  bounds?: Bounds;
  /** Per-parameter scales, ≈ expected standard errors (default: all 1). */
  scales?: Float64Array;
  onProgress?: (progress: MinimizeProgress) => void;
};

/** Which bound a parameter ends on. */
export type BoundState = 'free' | 'lower' | 'upper';

/** Outcome of one start, in physical units. */
export interface StartResult {
  /** Index of the start in `starts`. */
  start: number;
  x: Float64Array;
  value: number;
  /** ∂f/∂x at x (physical units). */
  gradient: Float64Array;
  /** ‖P(u − ∇_u f) − u‖_∞ in scaled units (the quantity compared with gtol). */
  projectedGradientNorm: number;
  converged: boolean;
  reason: StopReason;
  message: string;
  iterations: number;
  /** Points this start had evaluated. */
  evaluations: number;
  /** Per parameter: whether x sits on its lower or upper bound (an active constraint) or is free. */
  atBound: BoundState[];
}

export interface MinimizeResult {
  method: MinimizeMethod;
  /** The start with the lowest finite value. */
  best: StartResult;
  starts: StartResult[];
  /** All evaluate calls of this minimisation and the points they carried. */
  evaluations: EvaluationCounts;
  wallMs: number;
}

/** Builds a machine for scaled start u0 in the box [lower, upper] (scaled coordinates). */
export type MachineFactory = (
  u0: Float64Array,
  lower: Float64Array,
  upper: Float64Array,
  describe: (u: Float64Array) => string,
) => PointMachine<MachineOutcome>;

/** Validates minimiser options, fills in defaults and returns a machine factory. */
export function minimizerFactory(options: MinimizerOptions): MachineFactory {
  const method = options.method;
  if (method !== 'lbfgsb' && method !== 'adam' && method !== 'momentum') {
    throw new Error(`method must be 'lbfgsb', 'adam' or 'momentum', got ${JSON.stringify(method)}.`);
  }
  const firstOrder = method !== 'lbfgsb';
  const base = {
    gtol: checkNonNegative(options.gtol ?? 1e-5, 'gtol'),
    ftolAbs: checkNonNegative(options.ftolAbs ?? 1e-6, 'ftolAbs'),
    ftolRel: checkNonNegative(options.ftolRel ?? 1e-14, 'ftolRel'),
    ftolIterations: checkInteger(options.ftolIterations ?? (firstOrder ? 10 : 1), 'ftolIterations', 1),
    maxIterations: checkInteger(options.maxIterations ?? (firstOrder ? 20000 : 1000), 'maxIterations', 0),
    maxEvaluations: checkInteger(options.maxEvaluations ?? (firstOrder ? 20001 : 5000), 'maxEvaluations', 1),
  };
  const settings = (lower: Float64Array, upper: Float64Array, describe: (u: Float64Array) => string): MachineSettings => ({
    ...base,
    lower,
    upper,
    describe,
  });
  switch (options.method) {
    case 'lbfgsb': {
      const memory = checkInteger(options.memory ?? 10, 'memory', 1);
      return (u0, lower, upper, describe) => lbfgsbMachine(u0, { ...settings(lower, upper, describe), memory });
    }
    case 'adam': {
      const learningRate = checkNonNegative(options.learningRate ?? 0.1, 'learningRate', true);
      const beta1 = checkUnitInterval(options.beta1 ?? 0.9, 'beta1');
      const beta2 = checkUnitInterval(options.beta2 ?? 0.999, 'beta2');
      const epsilon = checkNonNegative(options.epsilon ?? 1e-8, 'epsilon', true);
      return (u0, lower, upper, describe) =>
        adamMachine(u0, { ...settings(lower, upper, describe), learningRate, beta1, beta2, epsilon });
    }
    case 'momentum': {
      const learningRate = checkNonNegative(options.learningRate ?? 0.1, 'learningRate', true);
      const momentum = checkUnitInterval(options.momentum ?? 0.9, 'momentum');
      return (u0, lower, upper, describe) =>
        momentumMachine(u0, { ...settings(lower, upper, describe), learningRate, momentum });
    }
  }
}

/**
 * Minimises `objective` from every start in `options.starts` (K×P) with the chosen method, all starts in
 * lock-step with one evaluate call per step. Throws if the inputs are invalid or if no start produced a
 * finite value; otherwise returns every start's outcome and the best one.
 */
export async function minimize(objective: BatchObjective, options: MinimizeOptions): Promise<MinimizeResult> {
  const t0 = performance.now();
  const p = objectiveDimension(objective);
  const bounds = resolveBounds(options.bounds, p);
  const scales = resolveScales(options.scales, p);
  const k = checkPoints(options.starts, p, bounds, 'start');
  const factory = minimizerFactory(options);
  const engine = new Lockstep(objective);
  const results = new Array<StartResult>(k);
  for (let s = 0; s < k; s++) {
    const embedding = ScaledEmbedding.full(options.starts.slice(s * p, (s + 1) * p), scales, bounds.lower, bounds.upper);
    const describe = (u: Float64Array) => `x = ${formatPoint(embedding.physical(u))} (start ${s})`;
    const machine = factory(new Float64Array(p), embedding.lowerU, embedding.upperU, describe);
    engine.start(machine, embedding, (outcome) => {
      results[s] = startResult(s, outcome, embedding);
    });
  }
  let step = 0;
  await engine.run(() => {
    step += 1;
    options.onProgress?.({
      step,
      activeStarts: engine.active,
      calls: engine.counts.calls,
      points: engine.counts.points,
      lowestValue: engine.lowestValue,
      gradientNorm: engine.gradientNormAtLowest,
      wallMs: performance.now() - t0,
    });
  });
  let best: StartResult | undefined;
  for (const result of results) {
    if (Number.isFinite(result.value) && (best === undefined || result.value < best.value)) best = result;
  }
  if (best === undefined) {
    const reasons = results.map((r) => `start ${r.start}: ${r.message}`).join('\n');
    throw new Error(`minimize: no start produced a finite objective value.\n${reasons}`);
  }
  return { method: options.method, best, starts: results, evaluations: { ...engine.counts }, wallMs: performance.now() - t0 };
}

/** Converts the outcome of a machine over every coordinate (scaled) to a physical start result. */
function startResult(start: number, outcome: MachineOutcome, embedding: ScaledEmbedding): StartResult {
  const x = embedding.physical(outcome.u);
  const gradient = new Float64Array(x.length);
  const atBound = new Array<BoundState>(x.length).fill('free');
  embedding.free.forEach((i, k) => {
    gradient[i] = outcome.gradient[k] / embedding.scales[i];
    if (outcome.u[k] <= embedding.lowerU[k]) atBound[i] = 'lower';
    else if (outcome.u[k] >= embedding.upperU[k]) atBound[i] = 'upper';
  });
  return {
    start,
    x,
    value: outcome.value,
    gradient,
    projectedGradientNorm: outcome.projectedGradientNorm,
    converged: isConverged(outcome.reason),
    reason: outcome.reason,
    message: outcome.message,
    iterations: outcome.iterations,
    evaluations: outcome.evaluations,
    atBound,
  };
}

function checkUnitInterval(value: number, name: string): number {
  if (!(value >= 0 && value < 1)) throw new Error(`${name} must be in [0, 1), got ${value}.`);
  return value;
}
