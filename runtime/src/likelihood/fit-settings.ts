// A fit's settings and what its stages share: the options, the budgets of the stages and the tolerances that tell
// minima apart (each checked before any evaluation), the default start, the parameters' natural scales, and the
// context every stage of fitLikelihood (fit.ts) works on.
import type { ConvergenceOptions, MinimizeMethod, MinimizeProgress, MinimizerOptions } from '../fit/minimize.ts';
import type { Bounds, EvaluationCounts } from '../fit/objective.ts';
import { type MixtureLikelihood, yieldName } from './mixture.ts';

export interface FitOptions {
  method?: MinimizeMethod;
  /**
   * Starting point by parameter name (missing ones: the middle of their bounds, in log for log-scaled
   * parameters, or a yield guess). With the global search and no start, every start comes from the scan.
   */
  start?: Record<string, number>;
  /**
   * Number of starts minimised together (default 1). The first is `start`; the others are the best distinct points
   * of the global search (which makes at least 4 starts in all), or, without it, uniform random points in the bounds.
   */
  starts?: number;
  /** Seed of the random starts (without the global search). */
  seed?: number;
  /**
   * The global search before the gradient stage (default on): a Sobol' scan of the free parameters' box,
   * values only, whose best distinct points become starts. `false` starts from `start` alone (e.g. fits from
   * the truth in toys); `{ points }` sets the number of scan points (best a power of two, a full Sobol' net;
   * default 16 per free shape parameter, rounded up to a power of two, at most 256).
   */
  globalSearch?: boolean | { points?: number };
  /** Profile-likelihood intervals at ΔNLL = 0.5 and 2.0 for every free parameter. */
  profile?: boolean;
  /** Component whose absence is the background-only hypothesis (for the significance). */
  signal?: string;
  onProgress?: (stage: string, progress: MinimizeProgress) => void;
  /**
   * Convergence on the projected-gradient norm in scaled units (scale ≈ 1% of each parameter's range) and on
   * ΔNLL per iteration. On float32 graphs (WebGPU, browsers) NLL sums over 10^5 events are noisy at ~1e-4 and
   * gradients at ~1e-2 per scale unit, so tighter tolerances only burn evaluations in line searches; the CPU's
   * float64 graphs are exact, but spline flows' gradients are rough on that scale too (see FINAL_HESSIAN_STEP).
   */
  gtol?: number;
  ftolAbs?: number;
  /**
   * Evaluations each start may spend in the gradient stage (default STAGE1_EVALUATIONS = 30; a best start that
   * stops short of a convex region gets twice that once more, the polish of the best minimum 4/3 of it). Raise it
   * when fits stop on their budget.
   */
  maxEvaluations?: number;
  /** The other stages' budgets (FitBudgets); by default derived from maxEvaluations. */
  budgets?: Partial<FitBudgets>;
  /** Called when a stage ends (fit, hessian, profile, background-only fit) with its cost. */
  onStage?: (stage: string, calls: number, seconds: number) => void;
}

/** Per free parameter: whether it is a yield (extended mode), and whether it is sampled in log (logScale). */
export function freeParameterKinds(likelihood: MixtureLikelihood): { isYield: boolean; logScale: boolean }[] {
  const { lower } = likelihood.bounds();
  return likelihood.free.map((i, j) => {
    const p = likelihood.parameters[i];
    return { isYield: p.component === 'yield', logScale: p.logScale && lower[j] > 0 };
  });
}

export function defaultStart(likelihood: MixtureLikelihood, start: Record<string, number>): Float64Array {
  // A misspelt name would otherwise be ignored and the fit start elsewhere; starts of fixed parameters (toys and
  // validation start every parameter at the truth) have nothing to set.
  const known = likelihood.parameters.map((p) => p.name);
  for (const name of Object.keys(start)) {
    if (!known.includes(name)) throw new Error(`start value for unknown parameter "${name}": the likelihood's parameters are ${known.join(', ')}`);
  }
  const { lower, upper } = likelihood.bounds();
  const kinds = freeParameterKinds(likelihood);
  return Float64Array.from(likelihood.freeNames, (name, j) => {
    if (name in start) {
      const v = start[name];
      if (!(v >= lower[j] && v <= upper[j])) {
        throw new Error(`start value ${name} = ${v} lies outside its bounds [${lower[j]}, ${upper[j]}]`);
      }
      return v;
    }
    if (kinds[j].isYield) return likelihood.data.sumWeights / likelihood.componentNames().length;
    return kinds[j].logScale ? Math.sqrt(lower[j] * upper[j]) : 0.5 * (lower[j] + upper[j]);
  });
}

/** Default of FitOptions.gtol (see there). */
export const DEFAULT_GTOL = 2e-2;
/** Evaluations per start that stage 1 may spend to reach the basin of a minimum (the default of FitOptions.maxEvaluations). */
export const STAGE1_EVALUATIONS = 30;
/** The polish from the best minimum may spend this times a start's budget (40 evaluations at the default 30). */
const POLISH_BUDGET_FACTOR = 4 / 3;
/** A continuation of stage 1 (best start short of a convex region) may spend this times a start's budget. */
const CONTINUATION_BUDGET_FACTOR = 2;
/**
 * Iterations of the polish: a polish starts at the minimum, and once the gradient is at its noise floor (float32
 * graphs, spline roughness) more iterations only wander within it.
 */
const POLISH_ITERATIONS = 15;

/**
 * The budgets of a fit's stages, per start: stage 1 (FitOptions.maxEvaluations), the screen that several starts run
 * before the far ones are abandoned, the continuation of a best start that stopped short of a convex region, and the
 * polish of the best minimum (with the other minima close to it) in units of σ.
 */
export interface FitBudgets {
  stage1Evaluations: number;
  screenIterations: number;
  continuationEvaluations: number;
  polishEvaluations: number;
  polishIterations: number;
}

/** The budgets of FitOptions: the given ones checked, the others derived from stage 1's. */
function fitBudgets(stage1Evaluations: number, given: Partial<FitBudgets> = {}): FitBudgets {
  const budgets: FitBudgets = {
    stage1Evaluations,
    screenIterations: given.screenIterations ?? SCREEN_ITERATIONS,
    continuationEvaluations: given.continuationEvaluations ?? CONTINUATION_BUDGET_FACTOR * stage1Evaluations,
    polishEvaluations: given.polishEvaluations ?? Math.ceil(POLISH_BUDGET_FACTOR * stage1Evaluations),
    polishIterations: given.polishIterations ?? POLISH_ITERATIONS,
  };
  for (const [name, value] of Object.entries(budgets)) {
    if (!(Number.isInteger(value) && value >= 1)) throw new Error(`the fit budget ${name} must be a positive integer, got ${value}`);
  }
  if (given.stage1Evaluations !== undefined && given.stage1Evaluations !== stage1Evaluations) {
    throw new Error(`budgets.stage1Evaluations (${given.stage1Evaluations}) and maxEvaluations (${stage1Evaluations}) disagree: set maxEvaluations only`);
  }
  return budgets;
}

/**
 * With several starts, every start first runs SCREEN_ITERATIONS iterations (the screen); then those more than
 * KEEP_MARGIN above the lowest are abandoned (see `firstStage`). On the toy (the exact likelihood at seven truths,
 * the flows at three) three iterations take the starts in other basins to 90–600 NLL units above the lowest, while
 * the toy's local minima lie 70–150 units above the global one: a start 25 units behind after the screen has
 * practically no chance left to win, and would cost a full stage 1 to follow. It may still reach a minimum of its
 * own within OTHER_MINIMUM_WARNING of the best, which then goes unreported (docs/fitting.md).
 */
const SCREEN_ITERATIONS = 3;
export const KEEP_MARGIN = 25;
/** Two ends of starts are the same minimum within 0.3σ in every parameter and ½·0.3² ≈ 0.05 in NLL. */
export const MINIMUM_POINT_TOLERANCE = 0.3;
export const MINIMUM_NLL_TOLERANCE = 0.05;
/**
 * Another local minimum less than this above the best one is warned about: ΔNLL = 4.5 is 3σ for one parameter
 * (Wilks: 2ΔNLL ~ χ²₁), so such a minimum is not excluded at 3σ, a fluctuation of the data can make it the
 * best, and the Hessian errors describe only one of the two. Minima further above are recorded quietly.
 */
export const OTHER_MINIMUM_WARNING = 4.5;
/**
 * A rise of the NLL along the straight path between two points that counts as a barrier (see `descendsTo`):
 * well above the NLL's rounding on float32 graphs (~1e-4 at 10^5 events), well below the NLL differences that matter.
 */
export const PATH_RISE = 0.05;

/** The starts, budget and tolerances of a fit, checked. */
export function fitSettings(options: FitOptions): { requestedStarts: number; maxEvaluations: number; gtol: number; ftolAbs: number; budgets: FitBudgets } {
  const requestedStarts = options.starts ?? 1;
  if (!(Number.isInteger(requestedStarts) && requestedStarts >= 1 && requestedStarts <= 4096)) {
    throw new Error(`starts must be an integer in [1, 4096], got ${requestedStarts}`);
  }
  const maxEvaluations = options.maxEvaluations ?? STAGE1_EVALUATIONS;
  if (!(Number.isInteger(maxEvaluations) && maxEvaluations >= 1)) throw new Error(`maxEvaluations must be a positive integer, got ${maxEvaluations}`);
  const gtol = options.gtol ?? DEFAULT_GTOL;
  const ftolAbs = options.ftolAbs ?? 2e-4;
  for (const [name, value] of [['gtol', gtol], ['ftolAbs', ftolAbs]] as const) {
    if (!(Number.isFinite(value) && value > 0)) throw new Error(`${name} must be a finite number > 0, got ${value}`);
  }
  return { requestedStarts, maxEvaluations, gtol, ftolAbs, budgets: fitBudgets(maxEvaluations, options.budgets) };
}

/** Natural scales (≈ expected errors) so all coordinates are comparable inside the minimiser. */
export function parameterScales(likelihood: MixtureLikelihood): Float64Array {
  const { lower, upper } = likelihood.bounds();
  const components = likelihood.componentNames();
  return Float64Array.from(likelihood.freeNames, (name, j) =>
    components.some((c) => yieldName(c) === name) ? Math.sqrt(likelihood.data.sumWeights + 1) : Math.max((upper[j] - lower[j]) / 100, 1e-12),
  );
}

export function addCounts(total: EvaluationCounts, more: EvaluationCounts): void {
  total.calls += more.calls;
  total.points += more.points;
}

/** What every stage of a fit shares: the likelihood, the settings, and the counts and warnings so far. */
export interface FitContext {
  likelihood: MixtureLikelihood;
  options: FitOptions;
  method: MinimizeMethod;
  bounds: Bounds;
  /** Natural scales of the free parameters (parameterScales). */
  scales: Float64Array;
  tolerances: { gtol: number; ftolAbs: number };
  budgets: FitBudgets;
  counts: EvaluationCounts;
  warnings: string[];
}

/** The minimiser's settings for `method`: narrowed per method, so the options keep their types. */
export function minimizerOptions(method: MinimizeMethod, convergence: ConvergenceOptions): MinimizerOptions {
  switch (method) {
    case 'lbfgsb':
      return { method, ...convergence };
    case 'adam':
      return { method, ...convergence };
    case 'momentum':
      return { method, ...convergence };
  }
}
