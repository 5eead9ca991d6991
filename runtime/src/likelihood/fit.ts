// A complete fit of a mixture likelihood: a global search (Sobol' scan of the box, the best distinct points as
// starts), multi-start minimisation, Hessian errors and correlations, which starts reached the best minimum and
// which other minima they found, optional profile-likelihood intervals and the local significance against the
// background-only hypothesis. docs/fitting.md describes the stages and every diagnostic.
import { type CovarianceResult, type HessianResult, covarianceFromHessian, hessian } from '../fit/hessian.ts';
import { type ConvergenceOptions, type MinimizeMethod, type MinimizeProgress, type MinimizerOptions, type StartResult, minimize } from '../fit/minimize.ts';
import { type Bounds, type EvaluationCounts, evaluateBatch } from '../fit/objective.ts';
import { profileLikelihood } from '../fit/profile.ts';
import { type StartOutcome, bestDistinct, classifyEnds, descendsTo, groupMinima, sameMinimum, sobolScan } from '../fit/search.ts';
import { SOBOL_MAX_DIMENSION } from '../fit/sobol.ts';
import { localSignificance } from '../fit/significance.ts';
import { Rng } from '../random.ts';
import { type DataSummary, type MixtureLikelihood, yieldName } from './mixture.ts';

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

export interface FittedParameter {
  name: string;
  unit: string;
  component: string;
  value: number;
  /** √(H⁻¹)_jj; absent when fixed or when the Hessian is not positive definite. */
  error?: number;
  fixed: boolean;
  atBound: 'free' | 'lower' | 'upper';
  bounds: [number, number];
  trainingRange: [number, number] | null;
  /**
   * ΔNLL at value − error and value + error (null where a bound is nearer): ½ on both sides where the NLL is the
   * parabola that the Hessian describes.
   */
  deltaNllAtErrors?: [number | null, number | null];
  /** Profile-likelihood intervals (value ranges where ΔNLL ≤ level). */
  intervals?: { level: number; lower: number; upper: number; lowerOpen: boolean; upperOpen: boolean }[];
  /**
   * Every profile point the interval searches computed (the others re-minimised at each value), sorted by value,
   * the best fit included at ΔNLL 0: the profile curve of the report.
   */
  profile?: { values: number[]; deltaNll: number[] };
}

/** A local minimum other than the best that some start ended in. */
export interface OtherMinimum {
  nll: number;
  /** nll minus the best fit's NLL (≥ 0). */
  deltaNll: number;
  /** The minimum's free parameters by name. */
  point: Record<string, number>;
  /** Starts that ended there. */
  starts: number;
}

/** The global search and how the starts of the gradient stage ended (docs/fitting.md). */
export interface MultistartSummary {
  /** Sobol' points scanned before the gradient stage (0 without the global search). */
  searchPoints: number;
  starts: number;
  /**
   * Starts that ended at the best minimum (within MINIMUM_POINT_TOLERANCE·σ and MINIMUM_NLL_TOLERANCE of it), or
   * that stopped on its basin's slope where the NLL falls all the way to it (no second minimisation needed).
   */
  reachedBest: number;
  /** Starts dropped after SCREEN_ITERATIONS iterations, their NLL then more than KEEP_MARGIN above the lowest start's. */
  abandoned: number;
  /** Starts that stopped (budget, line search, slow progress) on the best minimum's slope, short of it. */
  stoppedShort: number;
  /** Distinct local minima other than the best, lowest first. */
  otherMinima: OtherMinimum[];
}

export interface FitResult {
  method: MinimizeMethod;
  nll: number;
  converged: boolean;
  reason: string;
  parameters: FittedParameter[];
  /** Free parameter names, in the order of covariance and correlation. */
  freeNames: string[];
  covariance?: number[][];
  correlation?: number[][];
  hessianMessage?: string;
  /**
   * Relative uncertainty of the errors: half the largest relative difference between the errors that the Hessian
   * estimates with steps FINAL_HESSIAN_STEP·σ and twice that imply (warned about above ERROR_UNCERTAINTY_WARNING).
   */
  errorUncertainty?: number;
  multistart: MultistartSummary;
  significance?: { z: number; q0: number; nllBackgroundOnly: number; signal: string };
  data: DataSummary;
  /** Graph evaluations: objective calls (each = one batched run per component), points, and wall time. */
  evaluations: { calls: number; points: number; graphRuns: number };
  wallMs: number;
  warnings: string[];
}

/** Per free parameter: whether it is a yield (extended mode), and whether it is sampled in log (logScale). */
function freeParameterKinds(likelihood: MixtureLikelihood): { isYield: boolean; logScale: boolean }[] {
  const { lower } = likelihood.bounds();
  return likelihood.free.map((i, j) => {
    const p = likelihood.parameters[i];
    return { isYield: p.component === 'yield', logScale: p.logScale && lower[j] > 0 };
  });
}

function defaultStart(likelihood: MixtureLikelihood, start: Record<string, number>): Float64Array {
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

/**
 * Final Hessian step in units of σ. Spline flows give a log-density whose θ-gradient is not smooth: as θ moves,
 * events cross spline knots, where the gradient changes slope and can even jump (by 50 % for one toy event, where a
 * knot crossed it: docs/weighted-fits.md), so gradient differences over small steps are rough even in float64 (on
 * the shipped toy models the estimates at 0.1σ and 0.2σ differ by 4–15 %). Steps of 0.3σ and 0.6σ average over that
 * roughness and stay well inside the region where a Gaussian likelihood is quadratic.
 */
const FINAL_HESSIAN_STEP = 0.3;
/**
 * Relative uncertainty of the errors (from the two Hessian estimates) above which a warning says so; below it the
 * number is only recorded (errorUncertainty). At 10% a quoted ±1σ interval covers between 63% and 73% instead of
 * 68% (±2σ: 92% to 97%), which is still what a reader takes "±1σ" to mean; spline flows routinely give a few
 * percent (see FINAL_HESSIAN_STEP), which says nothing about the fit.
 */
const ERROR_UNCERTAINTY_WARNING = 0.1;
/**
 * Where the NLL one error away from the best fit rises by r instead of ½, the ΔNLL = ½ edge lies about √(½/r)
 * errors away. A warning says so when that is off by more than this fraction on either side: with the true edge at
 * 0.8 or 1.2 errors, the quoted ±1σ covers about 79% or 60% of outcomes on that side's account instead of 68%.
 */
const PARABOLA_TOLERANCE = 0.2;
/** Default of FitOptions.gtol (see there). */
export const DEFAULT_GTOL = 2e-2;
/** Estimated distance to the minimum below which a fit that stopped on its budget counts as converged. */
const EDM_TOLERANCE = 1e-3;
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
 * The global search. Scan points per free shape parameter: the scan is a coarse map (16 points per axis would
 * be a grid only in 1-D; 64 points in 3-D are spaced by a quarter of each range), rounded up to a power of two
 * (a full Sobol' net) and capped so that the scan costs at most a few gradient evaluations' worth.
 */
const SEARCH_POINTS_PER_PARAMETER = 16;
const SEARCH_POINTS_MAX = 256;
/** Starts of the gradient stage with the global search, the user's start included (fewer if the scan has fewer distinct points). */
const SEARCH_STARTS = 4;
/** Scan points taken as starts are at least this far apart (∞-norm in the unit cube: a quarter of some range). */
const START_SEPARATION = 0.25;
/**
 * With several starts, every start first runs SCREEN_ITERATIONS iterations (the screen); then those more than
 * KEEP_MARGIN above the lowest are abandoned (see `firstStage`). On the toy (the exact likelihood at seven truths,
 * the flows at three) three iterations take the starts in other basins to 90–600 NLL units above the lowest, while
 * the toy's local minima lie 70–150 units above the global one: a start 25 units behind after the screen has
 * practically no chance left to win, and would cost a full stage 1 to follow. It may still reach a minimum of its
 * own within OTHER_MINIMUM_WARNING of the best, which then goes unreported (docs/fitting.md).
 */
const SCREEN_ITERATIONS = 3;
const KEEP_MARGIN = 25;
/** Two ends of starts are the same minimum within 0.3σ in every parameter and ½·0.3² ≈ 0.05 in NLL. */
const MINIMUM_POINT_TOLERANCE = 0.3;
const MINIMUM_NLL_TOLERANCE = 0.05;
/**
 * Another local minimum less than this above the best one is warned about: ΔNLL = 4.5 is 3σ for one parameter
 * (Wilks: 2ΔNLL ~ χ²₁), so such a minimum is not excluded at 3σ, a fluctuation of the data can make it the
 * best, and the Hessian errors describe only one of the two. Minima further above are recorded quietly.
 */
const OTHER_MINIMUM_WARNING = 4.5;
/**
 * A rise of the NLL along the straight path between two points that counts as a barrier (see `descendsTo`):
 * well above the NLL's rounding on float32 graphs (~1e-4 at 10^5 events), well below the NLL differences that matter.
 */
const PATH_RISE = 0.05;

/**
 * Largest relative difference between the errors √C_ii that two Hessian estimates imply; null when either is not
 * positive definite.
 */
function errorSpread(a: Float64Array, b: Float64Array): number | null {
  const ca = covarianceFromHessian(a);
  const cb = covarianceFromHessian(b);
  if (!ca.positiveDefinite || !cb.positiveDefinite) return null;
  return Math.max(...ca.errors.map((e, i) => Math.abs(e - cb.errors[i]) / (0.5 * (e + cb.errors[i]))));
}

/**
 * ΔNLL one error below and above the best fit along each free parameter, the others held (null where a bound is
 * nearer than one error), in one values-only evaluate call.
 */
async function deltaNllAtErrors(
  likelihood: MixtureLikelihood,
  best: { x: Float64Array; value: number },
  errors: Float64Array,
  bounds: Bounds,
): Promise<{ rises: [number | null, number | null][]; evaluations: EvaluationCounts }> {
  const P = best.x.length;
  const probes: { j: number; side: 0 | 1; x: Float64Array }[] = [];
  for (let j = 0; j < P; j++) {
    ([-1, 1] as const).forEach((sign, side) => {
      const x = Float64Array.from(best.x);
      x[j] += sign * errors[j];
      if (x[j] >= bounds.lower[j] && x[j] <= bounds.upper[j]) probes.push({ j, side: side as 0 | 1, x });
    });
  }
  const evaluations: EvaluationCounts = { calls: 0, points: 0 };
  const rises = Array.from({ length: P }, (): [number | null, number | null] => [null, null]);
  if (probes.length === 0) return { rises, evaluations };
  const points = new Float64Array(probes.length * P);
  probes.forEach((probe, n) => points.set(probe.x, n * P));
  const { values } = await evaluateBatch(likelihood, points, probes.length, false, evaluations);
  probes.forEach((probe, n) => (rises[probe.j][probe.side] = values[n] - best.value));
  return { rises, evaluations };
}

/** ½ gᵀ C g: the NLL still to gain if the NLL is quadratic with covariance C (the Hessian's inverse). */
export function estimatedDistanceToMinimum(gradient: Float64Array, covariance: Float64Array, P: number): number {
  let edm = 0;
  for (let i = 0; i < P; i++) for (let j = 0; j < P; j++) edm += gradient[i] * covariance[i * P + j] * gradient[j];
  return 0.5 * edm;
}

/** Natural scales (≈ expected errors) so all coordinates are comparable inside the minimiser. */
function parameterScales(likelihood: MixtureLikelihood): Float64Array {
  const { lower, upper } = likelihood.bounds();
  const components = likelihood.componentNames();
  return Float64Array.from(likelihood.freeNames, (name, j) =>
    components.some((c) => yieldName(c) === name) ? Math.sqrt(likelihood.data.sumWeights + 1) : Math.max((upper[j] - lower[j]) / 100, 1e-12),
  );
}

function addCounts(total: EvaluationCounts, more: EvaluationCounts): void {
  total.calls += more.calls;
  total.points += more.points;
}

type CoarseFit = (from: Float64Array, budget: { maxEvaluations: number; maxIterations?: number }) => ReturnType<typeof minimize>;

/**
 * How a start fared in stage 1: it ran to the end of its minimisation, was abandoned after the screen (far above
 * the lowest start), or joined the lead's basin (the NLL falls all the way from where it was to the lead's end).
 */
type StartFate = 'ran' | 'abandoned' | 'joined';

/** Stage 1 over every start: where each ended (a joined or abandoned start: where the screen left it). */
interface FirstStage {
  ends: StartResult[];
  fates: StartFate[];
  /** The start lowest after the screen, run to its end first. */
  lead: number;
  /** The start with the lowest end among those that ran. */
  best: number;
  evaluations: EvaluationCounts;
  wallMs: number;
}

/**
 * Stage 1 from `count` starts. One start runs to the end of its budget. Several first run budgets.screenIterations
 * iterations in lock-step (the screen); the lowest of them (the lead) then runs to its end. Of the other
 * unfinished starts, those more than KEEP_MARGIN above the lead's screen value are abandoned; those whose path
 * to the lead's end descends all the way are in its basin and stop there (a second minimisation would only find
 * the same minimum); the rest run to their ends (a fresh L-BFGS-B from where they stopped: one evaluation more).
 */
async function firstStage(likelihood: MixtureLikelihood, coarseFit: CoarseFit, starts: Float64Array, count: number, budgets: FitBudgets): Promise<FirstStage> {
  const budget = budgets.stage1Evaluations;
  const screen = await coarseFit(starts, count === 1 ? { maxEvaluations: budget } : { maxEvaluations: budget, maxIterations: budgets.screenIterations });
  const ends = [...screen.starts];
  const fates = new Array<StartFate>(count).fill('ran');
  const evaluations = { ...screen.evaluations };
  let wallMs = screen.wallMs;
  const lead = screen.best.start;
  const unfinished = (k: number) => count > 1 && (ends[k].reason === 'maxIterations' || ends[k].reason === 'maxEvaluations');
  const finish = async (which: number[]) => {
    if (which.length === 0) return;
    const P = likelihood.dimension;
    const from = new Float64Array(which.length * P);
    which.forEach((k, n) => from.set(ends[k].x, n * P));
    const more = await coarseFit(from, { maxEvaluations: budget });
    addCounts(evaluations, more.evaluations);
    wallMs += more.wallMs;
    which.forEach((k, n) => (ends[k] = { ...more.starts[n], start: k }));
  };
  if (unfinished(lead)) await finish([lead]);
  const pending = ends.flatMap((_, k) => (k !== lead && unfinished(k) ? [k] : []));
  for (const k of pending) if (!(ends[k].value <= screen.best.value + KEEP_MARGIN)) fates[k] = 'abandoned';
  const near = pending.filter((k) => fates[k] === 'ran');
  const path = await descendsTo(likelihood, ends[lead], near.map((k) => ends[k]), PATH_RISE);
  addCounts(evaluations, path.evaluations);
  near.forEach((k, n) => {
    if (path.descends[n]) fates[k] = 'joined';
  });
  await finish(near.filter((k) => fates[k] === 'ran'));
  let best = lead;
  ends.forEach((r, k) => {
    if (fates[k] === 'ran' && r.value < ends[best].value) best = k;
  });
  return { ends, fates, lead, best, evaluations, wallMs };
}

/** Sobol' points the global search scans (0: off, or nothing to search). Throws on settings it cannot honour. */
function searchPointCount(likelihood: MixtureLikelihood, setting: FitOptions['globalSearch']): number {
  if (setting === false) return 0;
  const { lower, upper } = likelihood.bounds();
  const kinds = freeParameterKinds(likelihood);
  // Yields alone need no search: the extended NLL Σν − Σ w log Σ ν_c p_c is convex in the yields.
  const shape = kinds.filter((k) => !k.isYield).length;
  if (shape === 0) return 0;
  if (likelihood.dimension > SOBOL_MAX_DIMENSION) {
    throw new Error(
      `the global search covers at most ${SOBOL_MAX_DIMENSION} free parameters, the likelihood has ${likelihood.dimension}: ` +
        'fix some parameters, or pass globalSearch: false with a start',
    );
  }
  likelihood.freeNames.forEach((name, j) => {
    if (!kinds[j].isYield && !(Number.isFinite(lower[j]) && Number.isFinite(upper[j]))) {
      throw new Error(`the global search needs finite bounds, ${name} has [${lower[j]}, ${upper[j]}]: give it bounds, or pass globalSearch: false with a start`);
    }
  });
  const given = typeof setting === 'object' ? setting.points : undefined;
  if (given === undefined) return Math.min(SEARCH_POINTS_MAX, 2 ** Math.ceil(Math.log2(SEARCH_POINTS_PER_PARAMETER * shape)));
  if (!(Number.isInteger(given) && given >= 1 && given <= 65536)) throw new Error(`globalSearch.points must be an integer in [1, 65536], got ${given}`);
  return given;
}

/**
 * Maps a point of the unit cube to the free parameters' box: shape parameters uniformly (in log when log-scaled:
 * a slope in [1e-3, 0.1] spends as many points on each decade); the free yields split what the fixed yields leave
 * of the data's sum of weights. With every yield free that total is exact at the minimum (∂NLL/∂s = 0 for all
 * yields scaled by s gives Σν = Σw), so only the split is searched, uniformly on the simplex: normalised
 * exponential spacings −log(1 − u) are uniform there (Devroye, "Non-Uniform Random Variate Generation", 1986, §V.2).
 */
function searchPlacement(likelihood: MixtureLikelihood): (unit: Float64Array, point: Float64Array) => void {
  const { lower, upper } = likelihood.bounds();
  const kinds = freeParameterKinds(likelihood);
  const yieldColumns = kinds.flatMap((k, j) => (k.isYield ? [j] : []));
  const fixedYields = likelihood.parameters.reduce((sum, p) => sum + (p.component === 'yield' && p.fixed !== null ? p.fixed : 0), 0);
  const total = likelihood.data.sumWeights - fixedYields > 0 ? likelihood.data.sumWeights - fixedYields : likelihood.data.sumWeights;
  return (unit, point) => {
    kinds.forEach((k, j) => {
      if (!k.isYield) point[j] = k.logScale ? lower[j] * (upper[j] / lower[j]) ** unit[j] : lower[j] + (upper[j] - lower[j]) * unit[j];
    });
    const spacings = yieldColumns.map((j) => -Math.log1p(-unit[j]));
    const sum = spacings.reduce((a, b) => a + b, 0);
    yieldColumns.forEach((j, n) => {
      const share = sum > 0 ? spacings[n] / sum : 1 / yieldColumns.length;
      point[j] = Math.min(upper[j], Math.max(lower[j], total * share));
    });
  };
}

/** The starts, budget and tolerances of a fit, checked. */
function fitSettings(options: FitOptions): { requestedStarts: number; maxEvaluations: number; gtol: number; ftolAbs: number; budgets: FitBudgets } {
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

/**
 * The points a fit plans to evaluate before its Hessians: the global search's, and each start's budget in the
 * gradient stage (starts then evaluate together, one point each per call). Refinement, Hessians, profiles and the
 * background-only fit add tens of points.
 */
export function plannedFitPoints(likelihood: MixtureLikelihood, options: FitOptions): { search: number; starts: number; perStart: number; total: number } {
  const { requestedStarts, maxEvaluations } = fitSettings(options);
  const search = searchPointCount(likelihood, options.globalSearch ?? true);
  const starts = search > 0 ? Math.max(requestedStarts, SEARCH_STARTS) : requestedStarts;
  return { search, starts, perStart: maxEvaluations, total: search + starts * maxEvaluations };
}

/** What every stage of a fit shares: the likelihood, the settings, and the counts and warnings so far. */
interface FitContext {
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
function minimizerOptions(method: MinimizeMethod, convergence: ConvergenceOptions): MinimizerOptions {
  switch (method) {
    case 'lbfgsb':
      return { method, ...convergence };
    case 'adam':
      return { method, ...convergence };
    case 'momentum':
      return { method, ...convergence };
  }
}

/**
 * The starts: the user's start (unless the global search chooses them all), then the best distinct scan points
 * or, without the search, uniform random points in the bounds.
 */
async function startingPoints(ctx: FitContext, first: Float64Array, requestedStarts: number): Promise<{ starts: Float64Array; count: number; searchPoints: number }> {
  const { likelihood, options, bounds } = ctx;
  const P = likelihood.dimension;
  const searchPoints = searchPointCount(likelihood, options.globalSearch ?? true);
  const rows: Float64Array[] = [];
  if (searchPoints === 0 || Object.keys(options.start ?? {}).length > 0) rows.push(first);
  if (searchPoints > 0) {
    const scan = await sobolScan(likelihood, searchPoints, searchPlacement(likelihood));
    addCounts(ctx.counts, scan.evaluations);
    options.onStage?.('search', scan.evaluations.calls, scan.wallMs / 1000);
    const wanted = Math.max(requestedStarts, SEARCH_STARTS) - rows.length;
    for (const k of bestDistinct(scan, wanted, START_SEPARATION)) rows.push(scan.points.slice(k * P, (k + 1) * P));
    if (rows.length === 0) throw new Error(`the global search found no finite NLL at any of its ${searchPoints} points: give a start inside the region where the models are defined`);
  } else {
    const rng = new Rng(options.seed ?? 1);
    for (let k = 1; k < requestedStarts; k++) {
      rows.push(
        Float64Array.from(first, (x, j) => {
          const lo = bounds.lower[j];
          const hi = Number.isFinite(bounds.upper[j]) ? bounds.upper[j] : 2 * x + 1;
          return lo + (hi - lo) * rng.uniform();
        }),
      );
    }
  }
  const starts = new Float64Array(rows.length * P);
  rows.forEach((row, k) => starts.set(row, k * P));
  return { starts, count: rows.length, searchPoints };
}

/**
 * Stage 1's minimisations only have to reach the basin of the minimum: a coarser ΔNLL tolerance on the coarse
 * scales, and a budget, so that the noise floor of the gradient (float32 graphs) does not keep its line searches
 * busy. The refinement in units of σ applies the tolerances as given.
 */
function coarseFitOf(ctx: FitContext): CoarseFit {
  const { likelihood, method, bounds, scales, tolerances, options } = ctx;
  return (from, budget) =>
    minimize(likelihood, {
      ...minimizerOptions(method, { gtol: tolerances.gtol, ftolAbs: 5 * tolerances.ftolAbs, ...budget }),
      starts: from,
      bounds,
      scales,
      onProgress: (p) => options.onProgress?.('fit', p),
    });
}

/** After stage 1 and the refinement: every start's end, the best one, and the final Hessian there. */
interface Refined {
  ends: StartResult[];
  bestStart: number;
  best: StartResult;
  /** The final Hessian (with its step check), or the coarse one when that was not positive definite. */
  h: HessianResult;
  coarseCov: CovarianceResult;
  /** Errors of the coarse Hessian where it has them, the natural scales otherwise: the units of the refinement. */
  sigmaScales: Float64Array;
  hessianCost: { calls: number; seconds: number };
}

/**
 * The refinement: a coarse Hessian (no step check: it only gives σ) gives σ; the minimiser then restarts from the
 * best point in units of σ, where its tolerances mean the same for every parameter (a width known to ±0.3 GeV and a
 * slope known to ±1e-4 are otherwise scaled very differently), and the final Hessian uses steps of
 * FINAL_HESSIAN_STEP·σ (see there).
 */
async function refine(ctx: FitContext, stage1: FirstStage, coarseFit: CoarseFit): Promise<Refined> {
  const { likelihood, options, bounds, scales, budgets } = ctx;
  const P = likelihood.dimension;
  const ends = stage1.ends;
  let bestStart = stage1.best;
  let best = ends[bestStart];
  const hessianCost = { calls: 0, seconds: 0 };
  // Steps of 5% of a scale unit resolve well-measured parameters. Along a weakly constrained one the curvature is so
  // small that the roughness of spline flows can flip its sign at that step (the shipped toy flows on 100 signal
  // events, Γ = 3.8 ± 2.2 GeV: −0.6 at 5%, +0.06 to +0.12 at 20% to 200%): not positive definite, it is estimated
  // again with ten times the step.
  const coarseHessian = async (at: Float64Array) => {
    const estimate = async (relativeStep: number) => {
      const result = await hessian(likelihood, at, { bounds, scales, relativeStep, check: false });
      addCounts(ctx.counts, result.evaluations);
      hessianCost.calls += result.evaluations.calls;
      hessianCost.seconds += result.wallMs / 1000;
      return { coarse: result, coarseCov: covarianceFromHessian(result.hessian) };
    };
    const small = await estimate(5e-2);
    return small.coarseCov.positiveDefinite ? small : estimate(0.5);
  };
  let { coarse, coarseCov } = await coarseHessian(best.x);
  if (!coarseCov.positiveDefinite && !best.converged) {
    // Stage 1 ran out of budget short of the basin (the NLL is not yet convex there): continue with a larger
    // budget before estimating σ.
    const more = await coarseFit(best.x, { maxEvaluations: budgets.continuationEvaluations });
    addCounts(ctx.counts, more.evaluations);
    options.onStage?.('fit (continued)', more.evaluations.calls, more.wallMs / 1000);
    if (more.best.value <= best.value) {
      ends[bestStart] = { ...more.best, start: bestStart };
      best = ends[bestStart];
    }
    ({ coarse, coarseCov } = await coarseHessian(best.x));
  }
  if (!coarseCov.positiveDefinite) return { ends, bestStart, best, h: coarse, coarseCov, sigmaScales: scales, hessianCost };
  const sigmaScales = Float64Array.from(coarseCov.errors, (e, j) => (e > 0 && Number.isFinite(e) ? e : scales[j]));
  // No polish when stage 1 converged and the coarse Hessian puts the minimum within EDM_TOLERANCE (≈ 0.045σ).
  const atMinimum = best.converged && estimatedDistanceToMinimum(coarse.gradient, coarseCov.covariance, P) < EDM_TOLERANCE;
  // Stage 1 leaves its ends up to a few tenths of a unit above their minimum: other starts' minima that close to
  // the best could be the deeper one, or close enough for a warning. They are polished with it, in one lock-step
  // minimisation, so that the lowest becomes the best fit and their ΔNLL is as accurate as its NLL.
  const sameness = { sigma: sigmaScales, pointTolerance: MINIMUM_POINT_TOLERANCE, valueTolerance: MINIMUM_NLL_TOLERANCE };
  const contenders = ends.flatMap((end, k) =>
    k !== bestStart && stage1.fates[k] === 'ran' && end.converged && end.value - best.value < OTHER_MINIMUM_WARNING + 1 && !sameMinimum(end, best, sameness) ? [k] : [],
  );
  const polish = [...(atMinimum ? [] : [bestStart]), ...contenders];
  if (polish.length > 0) {
    const from = new Float64Array(polish.length * P);
    polish.forEach((k, n) => from.set(ends[k].x, n * P));
    const refined = await minimize(likelihood, {
      ...minimizerOptions(ctx.method, { ...ctx.tolerances, maxIterations: budgets.polishIterations, maxEvaluations: budgets.polishEvaluations }),
      starts: from,
      bounds,
      scales: sigmaScales,
      onProgress: (p) => options.onProgress?.('refine', p),
    });
    addCounts(ctx.counts, refined.evaluations);
    options.onStage?.('refine', refined.evaluations.calls, refined.wallMs / 1000);
    polish.forEach((k, n) => {
      if (refined.starts[n].value <= ends[k].value) ends[k] = { ...refined.starts[n], start: k };
    });
    for (const k of contenders) if (ends[k].value < ends[bestStart].value) bestStart = k;
    best = ends[bestStart];
  }
  const h = await hessian(likelihood, best.x, { bounds, scales: sigmaScales, relativeStep: FINAL_HESSIAN_STEP });
  addCounts(ctx.counts, h.evaluations);
  hessianCost.calls += h.evaluations.calls;
  hessianCost.seconds += h.wallMs / 1000;
  return { ends, bestStart, best, h, coarseCov, sigmaScales, hessianCost };
}

/** The covariance from the final Hessian, with how uncertain its errors are. */
interface ErrorEstimate {
  cov: CovarianceResult;
  /** Only the smaller step's Hessian was positive definite. */
  smallStepOnly: boolean;
}

/**
 * The two estimates of the final Hessian (steps s·σ and 2s·σ) are averaged; the errors of the mean are uncertain by
 * about half the difference between the errors each estimate implies. Where the NLL is far from quadratic over
 * ±2s·σ (a weakly constrained parameter next to its bound: the toy's Γ = 3.8 ± 2.2 in [0.5, 5]), the larger step's
 * estimate can lose positive definiteness and drag the mean with it; the smaller step's estimate is then the local
 * curvature, and its errors are given (and flagged).
 */
function covarianceOf(h: HessianResult): ErrorEstimate {
  const curvature = h.stepCheck ? Float64Array.from(h.hessian, (v, i) => 0.5 * (v + h.stepCheck!.hessian[i])) : h.hessian;
  const cov = covarianceFromHessian(curvature);
  const smallStepOnly = !cov.positiveDefinite && h.stepCheck !== null && covarianceFromHessian(h.hessian).positiveDefinite;
  return { cov: smallStepOnly ? covarianceFromHessian(h.hessian) : cov, smallStepOnly };
}

/**
 * Whether the fit converged: the minimiser's verdict, or, for a minimiser that ran out of budget at the noise floor of
 * the gradient, an estimated distance to the minimum EDM = ½ gᵀ C g (MINUIT's measure) far below the 0.5 of one σ.
 * The threshold 1e-3 (√(2·EDM) ≈ 0.045σ) is looser than MIGRAD's default 1e-4: float32 graphs resolve no better.
 */
function convergence(ctx: FitContext, best: StartResult, h: HessianResult, cov: CovarianceResult): { converged: boolean; reason: string } {
  if (best.converged) return { converged: true, reason: best.reason };
  let edmText = '';
  if (cov.positiveDefinite) {
    const edm = estimatedDistanceToMinimum(h.gradient, cov.covariance, ctx.likelihood.dimension);
    if (edm < EDM_TOLERANCE) return { converged: true, reason: `edm ${edm.toExponential(1)} < ${EDM_TOLERANCE} after ${best.reason}` };
    edmText = ` Estimated distance to the minimum ½gᵀCg = ${edm.toExponential(1)} (NLL units; converged below ${EDM_TOLERANCE}).`;
  }
  const { budgets, tolerances } = ctx;
  ctx.warnings.push(
    `the minimiser stopped without converging (${best.reason}): ${best.message}${edmText} The settings now: maxEvaluations = ${budgets.stage1Evaluations} ` +
      `per start, gtol = ${tolerances.gtol}, ftolAbs = ${tolerances.ftolAbs} (scan request fields of these names; flowscan scan --max-evaluations, --gtol, --ftol-abs).`,
  );
  return { converged: false, reason: best.reason };
}

/** How far the errors can be trusted, from the two Hessian estimates; undefined when it cannot be told. */
function errorUncertaintyOf(ctx: FitContext, refined: Refined, estimate: ErrorEstimate): number | undefined {
  const { h, coarseCov } = refined;
  if (!h.stepCheck) {
    ctx.warnings.push(`the Hessian at the first stage's minimum is not positive definite (${coarseCov.positiveDefinite ? '' : coarseCov.message}): no refinement and no errors`);
    return undefined;
  }
  const steps = `${FINAL_HESSIAN_STEP}σ and ${2 * FINAL_HESSIAN_STEP}σ`;
  if (estimate.smallStepOnly) {
    ctx.warnings.push(
      `the Hessian estimate with steps ${2 * FINAL_HESSIAN_STEP}σ is not positive definite (the NLL is far from quadratic over that range, ` +
        `e.g. next to a bound): the errors come from the ${FINAL_HESSIAN_STEP}σ estimate alone and are uncertain`,
    );
    return undefined;
  }
  const spread = errorSpread(h.hessian, h.stepCheck.hessian);
  if (spread === null) {
    ctx.warnings.push(`the Hessian estimates with steps ${steps} are not both positive definite: errors are uncertain`);
    return undefined;
  }
  const uncertainty = spread / 2;
  if (uncertainty > ERROR_UNCERTAINTY_WARNING) {
    ctx.warnings.push(
      `errors are uncertain by ${(100 * uncertainty).toFixed(1)}% (the Hessian estimates with steps ${steps} give errors that ` +
        `differ by up to ${(100 * spread).toFixed(1)}%)`,
    );
  }
  return uncertainty;
}

/** ΔNLL at ±1σ along each parameter, with a warning where the NLL is not the Hessian's parabola there. */
async function parabolaCheck(ctx: FitContext, best: StartResult, errors: Float64Array): Promise<Awaited<ReturnType<typeof deltaNllAtErrors>>> {
  const parabola = await deltaNllAtErrors(ctx.likelihood, best, errors, ctx.bounds);
  addCounts(ctx.counts, parabola.evaluations);
  const skewed = ctx.likelihood.freeNames.flatMap((name, j) => {
    const edges = parabola.rises[j].map((r) => (r === null ? null : Math.sqrt(0.5 / Math.max(r, 0))));
    if (!edges.some((e) => e !== null && !(Math.abs(e - 1) <= PARABOLA_TOLERANCE))) return [];
    const [below, above] = parabola.rises[j].map((r) => (r === null ? 'beyond a bound' : r.toFixed(2)));
    const where = edges.map((e) => (e === null ? '?' : Number.isFinite(e) ? `${e.toFixed(2)}σ` : 'no edge')).join(' and ');
    return [`${name} (ΔNLL ${below} at −1σ and ${above} at +1σ: the ΔNLL = ½ edges lie ${where} away)`];
  });
  if (skewed.length > 0) {
    ctx.warnings.push(
      `the NLL is not the Hessian's parabola over ±1σ along ${skewed.join(', ')}: the ± errors misstate the 68% interval ` +
        'there; profile intervals (the profile option, scan --profile) give it',
    );
  }
  return parabola;
}

/** Which starts reached the best minimum, and which other minima the rest found (points compared in units of σ). */
async function multistartSummary(ctx: FitContext, stage1: FirstStage, refined: Refined, sigma: Float64Array, searchPoints: number, startCount: number): Promise<MultistartSummary> {
  const { ends, bestStart, best } = refined;
  const names = ctx.likelihood.freeNames;
  const others = ends.flatMap((_, k) => (k !== bestStart && stage1.fates[k] === 'ran' ? [k] : []));
  const otherEnds = others.map((k) => ends[k]);
  const sameness = { sigma, pointTolerance: MINIMUM_POINT_TOLERANCE, valueTolerance: MINIMUM_NLL_TOLERANCE };
  const minima = await classifyEnds(ctx.likelihood, best, otherEnds, { ...sameness, pathTestBelow: OTHER_MINIMUM_WARNING, rise: PATH_RISE });
  addCounts(ctx.counts, minima.evaluations);
  const outcomes = minima.outcomes;
  // A joined start shares the lead's outcome (and, if the lead found another minimum, counts among its starts).
  const leadAt = others.indexOf(stage1.lead);
  const joined = stage1.fates.filter((f) => f === 'joined').length;
  const startsAt = (n: number): number => 1 + (n === leadAt ? joined : 0);
  const count = (outcome: StartOutcome): number => outcomes.reduce((sum, o, n) => sum + (o === outcome ? startsAt(n) : 0), 0);
  const otherAt = outcomes.flatMap((o, n) => (o === 'otherMinimum' ? [n] : []));
  const pointOf = (x: Float64Array): Record<string, number> => Object.fromEntries(names.map((name, j) => [name, x[j]]));
  const multistart: MultistartSummary = {
    searchPoints,
    starts: startCount,
    reachedBest: 1 + (leadAt < 0 ? joined : 0) + count('reachedBest'),
    abandoned: stage1.fates.filter((f) => f === 'abandoned').length,
    stoppedShort: count('stoppedShort'),
    otherMinima: groupMinima(otherAt.map((n) => otherEnds[n]), sameness).map((group) => {
      const lowest = otherEnds[otherAt[group[0]]];
      return {
        nll: lowest.value,
        deltaNll: lowest.value - best.value,
        point: pointOf(lowest.x),
        starts: group.reduce((sum, g) => sum + startsAt(otherAt[g]), 0),
      };
    }),
  };
  const close = multistart.otherMinima.filter((m) => m.deltaNll < OTHER_MINIMUM_WARNING);
  if (close.length > 0) {
    const listed = close.map((m) => `ΔNLL ${m.deltaNll.toFixed(2)} at ${names.map((name) => `${name} = ${m.point[name].toPrecision(5)}`).join(', ')}`);
    ctx.warnings.push(
      `other minima found: ${listed.join('; ')} (less than ${OTHER_MINIMUM_WARNING} above the best, i.e. not excluded at 3σ): ` +
        'the errors describe the best minimum only; look at a ΔNLL map or profile intervals over the parameters that differ',
    );
  }
  return multistart;
}

/**
 * The local significance of `signal` (FitOptions.signal): the background-only hypothesis has the signal's yield
 * (extended) or fraction (fixed fractions) zero; its shape parameters then do not matter and are held at the best
 * fit. Returns it with the graph runs of the background-only likelihood (a variant with its own count).
 */
async function backgroundOnlySignificance(ctx: FitContext, signal: string, best: StartResult): Promise<{ significance: NonNullable<FitResult['significance']>; graphRuns: number }> {
  const { likelihood, options, scales } = ctx;
  if (!likelihood.componentNames().includes(signal)) {
    throw new Error(`unknown signal component "${signal}": components are ${likelihood.componentNames().join(', ')}`);
  }
  const fullBest = likelihood.fullPoint(best.x);
  const signalParams = Object.fromEntries(
    likelihood.parameters.map((p, i) => [p, i] as const).filter(([p]) => p.component === signal).map(([p, i]) => [p.name, fullBest[i]]),
  );
  let background: MixtureLikelihood;
  if (likelihood.yields === 'extended') {
    background = likelihood.variant({ fixed: { ...signalParams, [yieldName(signal)]: 0 } });
  } else {
    const fractions = likelihood.fractions();
    const rest = 1 - fractions[signal];
    if (!(rest > 0)) throw new Error('the background-only hypothesis needs a non-signal fraction > 0');
    const scaled = Object.fromEntries(Object.entries(fractions).map(([c, f]) => [c, c === signal ? 0 : f / rest]));
    background = likelihood.variant({ fixed: signalParams, fractions: scaled });
  }
  const bStart = Float64Array.from(background.freeNames, (name) => fullBest[likelihood.parameters.findIndex((p) => p.name === name)]);
  // A background without free parameters (an unconditional flow) needs no fit: evaluate it once.
  const bFit =
    background.dimension === 0
      ? { best: { value: (await background.evaluate(new Float64Array(0), 1, false)).values[0] }, evaluations: { calls: 1, points: 1 }, wallMs: 0 }
      : await minimize(background, {
          ...minimizerOptions(ctx.method, ctx.tolerances),
          starts: bStart,
          bounds: background.bounds(),
          scales: Float64Array.from(background.freeNames, (name) => scales[likelihood.freeNames.indexOf(name)]),
          onProgress: (p) => options.onProgress?.('background-only fit', p),
        });
  addCounts(ctx.counts, bFit.evaluations);
  options.onStage?.('background-only fit', bFit.evaluations.calls, bFit.wallMs / 1000);
  const signalYield = likelihood.yields === 'extended' ? fullBest[likelihood.parameters.findIndex((p) => p.name === yieldName(signal))] : undefined;
  const s = localSignificance(bFit.best.value, best.value, signalYield);
  return { significance: { z: s.z, q0: s.q0, nllBackgroundOnly: bFit.best.value, signal }, graphRuns: background.graphRuns };
}

/** Every parameter of the likelihood at the best fit, with its error, ±1σ rises and profile intervals. */
function fittedParameters(
  ctx: FitContext,
  best: StartResult,
  errors: Float64Array | undefined,
  parabola: Awaited<ReturnType<typeof deltaNllAtErrors>> | null,
  profiles: Awaited<ReturnType<typeof profileLikelihood>> | null,
): FittedParameter[] {
  const { likelihood } = ctx;
  const full = likelihood.fullPoint(best.x);
  return likelihood.parameters.map((p, i) => {
    const j = likelihood.free.indexOf(i);
    const fitted: FittedParameter = {
      name: p.name,
      unit: p.unit,
      component: p.component,
      value: full[i],
      fixed: j < 0,
      atBound: j < 0 ? 'free' : best.atBound[j],
      bounds: p.bounds,
      trainingRange: p.trainingRange,
    };
    if (j >= 0 && errors) fitted.error = errors[j];
    if (j >= 0 && parabola) fitted.deltaNllAtErrors = parabola.rises[j];
    const profile = profiles?.parameters.find((q) => q.index === j);
    if (profile) {
      fitted.intervals = profile.intervals.map((iv) => ({
        level: iv.level,
        lower: iv.lower.value,
        upper: iv.upper.value,
        lowerOpen: iv.lower.open,
        upperOpen: iv.upper.open,
      }));
      fitted.profile = { values: Array.from(profile.scan.values), deltaNll: Array.from(profile.scan.deltaNll) };
    }
    if (j >= 0 && p.trainingRange && (full[i] < p.trainingRange[0] || full[i] > p.trainingRange[1])) {
      ctx.warnings.push(`${p.name} = ${full[i]} lies outside the training range [${p.trainingRange.join(', ')}]: the flow extrapolates there`);
    }
    return fitted;
  });
}

/**
 * The fit, stage by stage (docs/fitting.md): the starts (global search), stage 1 (screen, then each start to its
 * budget), the refinement and the final Hessian, the errors and their checks, the multi-start summary, profiles and
 * the significance on request, and the result.
 */
export async function fitLikelihood(likelihood: MixtureLikelihood, options: FitOptions = {}): Promise<FitResult> {
  const t0 = performance.now();
  const method = options.method ?? 'lbfgsb';
  const { requestedStarts, gtol, ftolAbs, budgets } = fitSettings(options);
  const ctx: FitContext = {
    likelihood,
    options,
    method,
    bounds: likelihood.bounds(),
    scales: parameterScales(likelihood),
    tolerances: { gtol, ftolAbs },
    budgets,
    counts: { calls: 0, points: 0 },
    warnings: [],
  };
  const P = likelihood.dimension;
  const runs0 = likelihood.graphRuns;

  const { starts, count, searchPoints } = await startingPoints(ctx, defaultStart(likelihood, options.start ?? {}), requestedStarts);
  const coarseFit = coarseFitOf(ctx);
  const stage1 = await firstStage(likelihood, coarseFit, starts, count, budgets);
  addCounts(ctx.counts, stage1.evaluations);
  options.onStage?.('fit', stage1.evaluations.calls, stage1.wallMs / 1000);

  const refined = await refine(ctx, stage1, coarseFit);
  const { best, h, sigmaScales } = refined;
  const estimate = covarianceOf(h);
  const { cov } = estimate;
  const { converged, reason } = convergence(ctx, best, h, cov);
  options.onStage?.('hessian', refined.hessianCost.calls, refined.hessianCost.seconds);
  const errorUncertainty = errorUncertaintyOf(ctx, refined, estimate);
  const errors = cov.positiveDefinite ? cov.errors : undefined;
  const parabola = errors ? await parabolaCheck(ctx, best, errors) : null;
  best.atBound.forEach((side, j) => {
    if (side === 'free') return;
    ctx.warnings.push(
      `${likelihood.freeNames[j]} = ${best.x[j].toPrecision(6)} is on its ${side} bound: the NLL still falls beyond it, so the fit ended at the bound, ` +
        'not at a minimum, and its error is no ±1σ (if the model is valid beyond the bound, widen it)',
    );
  });
  const sigma = errors ? Float64Array.from(errors, (e, j) => (e > 0 && Number.isFinite(e) ? e : sigmaScales[j])) : sigmaScales;
  const multistart = await multistartSummary(ctx, stage1, refined, sigma, searchPoints, count);

  let profiles: Awaited<ReturnType<typeof profileLikelihood>> | null = null;
  if (options.profile) {
    profiles = await profileLikelihood(likelihood, {
      best: best.x,
      nllMin: best.value,
      bounds: ctx.bounds,
      scales: sigmaScales,
      ...(cov.positiveDefinite ? { covariance: cov.covariance } : {}),
    });
    addCounts(ctx.counts, profiles.evaluations);
    options.onStage?.('profile', profiles.evaluations.calls, profiles.wallMs / 1000);
    ctx.warnings.push(...profiles.warnings);
  }
  const background = options.signal ? await backgroundOnlySignificance(ctx, options.signal, best) : null;
  const parameters = fittedParameters(ctx, best, errors, parabola, profiles);

  const square = (m: Float64Array): number[][] => Array.from({ length: P }, (_, i) => Array.from(m.subarray(i * P, (i + 1) * P)));
  return {
    method,
    nll: best.value,
    converged,
    reason,
    parameters,
    freeNames: likelihood.freeNames,
    ...(cov.positiveDefinite ? { covariance: square(cov.covariance), correlation: square(cov.correlation) } : { hessianMessage: cov.message }),
    ...(errorUncertainty !== undefined ? { errorUncertainty } : {}),
    multistart,
    ...(background ? { significance: background.significance } : {}),
    data: likelihood.data,
    evaluations: { calls: ctx.counts.calls, points: ctx.counts.points, graphRuns: likelihood.graphRuns - runs0 + (background?.graphRuns ?? 0) },
    wallMs: performance.now() - t0,
    warnings: ctx.warnings,
  };
}
