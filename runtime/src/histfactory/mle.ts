// Maximum-likelihood fits of a HistFactory model with the project's L-BFGS-B (runtime/src/fit), on the
// analytic gradient, and errors from the finite-difference Hessian of that gradient. Fixed parameters are
// removed from the minimisation (held at their initial values), as pyhf does.
import { covarianceFromHessian, hessian } from '../fit/hessian.ts';
import { minimize, type StartResult } from '../fit/minimize.ts';
import type { BatchObjective } from '../fit/objective.ts';
import type { HistFactoryModel } from './model.ts';

export interface FitSettings {
  /** Start values, one per parameter (default: the model's suggested inits). */
  inits?: ArrayLike<number>;
  /** Bounds per parameter (default: the model's). */
  bounds?: [number, number][];
  /** Which parameters stay at their start value (default: the model's suggestion). */
  fixed?: boolean[];
  /** Also estimate errors and covariance from the Hessian (default false). */
  errors?: boolean;
}

export interface HistFitResult {
  /** Best-fit parameters (all, fixed ones included). */
  parameters: Float64Array;
  /** −log L at the best fit. */
  nll: number;
  converged: boolean;
  message: string;
  iterations: number;
  /** NLL evaluations (each with its gradient). */
  evaluations: number;
  /** With `errors`: √diag(H⁻¹) per parameter (0 for fixed ones), or null with `errorMessage` when H is not positive definite. */
  errors?: Float64Array | null;
  /** With `errors`: H⁻¹ over all parameters (zero rows and columns for fixed ones). */
  covariance?: Float64Array | null;
  errorMessage?: string;
}

/**
 * The NLL as a BatchObjective over the free parameters: the fixed ones are filled in from `full`.
 * Exported for inference code that needs the objective itself (profiles, Hessians).
 */
export class FreeParameterNll implements BatchObjective {
  readonly dimension: number;
  private readonly full: Float64Array;
  private readonly gradient: Float64Array;

  constructor(
    private readonly model: HistFactoryModel,
    private readonly data: ArrayLike<number>,
    readonly free: number[],
    values: ArrayLike<number>,
  ) {
    this.dimension = free.length;
    this.full = Float64Array.from(values);
    this.gradient = new Float64Array(model.dimension);
  }

  /** All parameters with the free ones set from `x`. */
  expand(x: ArrayLike<number>): Float64Array {
    const full = Float64Array.from(this.full);
    this.free.forEach((index, k) => {
      full[index] = x[k];
    });
    return full;
  }

  async evaluate(points: Float64Array, count: number, withGradient: boolean): Promise<{ values: Float64Array; gradients?: Float64Array }> {
    const p = this.dimension;
    const values = new Float64Array(count);
    const gradients = withGradient ? new Float64Array(count * p) : undefined;
    for (let k = 0; k < count; k++) {
      const full = this.expand(points.subarray(k * p, (k + 1) * p));
      values[k] = this.model.nllWithGradient(full, this.data, gradients ? this.gradient : null);
      if (gradients) this.free.forEach((index, j) => {
        gradients[k * p + j] = this.gradient[index];
      });
    }
    return gradients ? { values, gradients } : { values };
  }
}

/** Rough standard errors used to scale the minimiser's coordinates: the constraint widths, 1 for free factors. */
function parameterScales(model: HistFactoryModel): Float64Array {
  const scales = new Float64Array(model.dimension).fill(1);
  for (const set of model.parameters) {
    const c = set.constraint;
    for (let i = 0; i < set.size; i++) {
      if (c?.type === 'normal') scales[set.offset + i] = c.sigmas[i];
      else if (c?.type === 'poisson') scales[set.offset + i] = 1 / Math.sqrt(c.factors[i]);
    }
  }
  return scales;
}

/**
 * Tolerances: gtol 1e-10 on the gradient in units of the scales and ftolAbs 1e-13 on ΔNLL, far below the 1e-6
 * that CLs at 1e-6 relative needs (binned NLLs are O(10–10⁴), float64 resolves them to ~1e-12).
 */
const FIT_TOLERANCES = { gtol: 1e-10, ftolAbs: 1e-13, ftolRel: 1e-15, maxIterations: 2000, maxEvaluations: 10000 } as const;

/** Minimises −log L(θ | data) from the inits, holding fixed parameters; pyhf's `infer.mle.fit`. */
export async function fit(model: HistFactoryModel, data: ArrayLike<number>, settings: FitSettings = {}): Promise<HistFitResult> {
  model.checkData(data, 'fit data');
  const inits = Float64Array.from(settings.inits ?? model.suggestedInits());
  model.checkParameters(inits, 'fit inits');
  const bounds = settings.bounds ?? model.suggestedBounds();
  const fixed = settings.fixed ?? model.suggestedFixed();
  if (bounds.length !== model.dimension || fixed.length !== model.dimension) {
    throw new Error(`fit: bounds and fixed need one entry per parameter (${model.dimension}), got ${bounds.length} and ${fixed.length}.`);
  }
  const names = model.parameterNames;
  inits.forEach((v, i) => {
    if (!fixed[i] && !(v >= bounds[i][0] && v <= bounds[i][1])) {
      throw new Error(`fit: parameter ${names[i]} starts at ${v}, outside its bounds [${bounds[i][0]}, ${bounds[i][1]}].`);
    }
  });
  const free = Array.from({ length: model.dimension }, (_, i) => i).filter((i) => !fixed[i]);
  const objective = new FreeParameterNll(model, data, free, inits);
  if (free.length === 0) {
    return { parameters: inits, nll: model.nll(inits, data), converged: true, message: 'every parameter is fixed', iterations: 0, evaluations: 1 };
  }
  const allScales = parameterScales(model);
  const scales = Float64Array.from(free, (i) => allScales[i]);
  const lowerBounds = Float64Array.from(free, (i) => bounds[i][0]);
  const upperBounds = Float64Array.from(free, (i) => bounds[i][1]);
  let start = Float64Array.from(free, (i) => inits[i]);
  let best: StartResult | undefined;
  let iterations = 0;
  let evaluations = 0;
  // A second run from the end point restarts the quasi-Newton memory; it settles the rare stop of the line
  // search just short of the minimum, and costs a single gradient evaluation when the first run converged.
  for (let round = 0; round < 2; round++) {
    const result = await minimize(objective, { method: 'lbfgsb', ...FIT_TOLERANCES, starts: start, scales, bounds: { lower: lowerBounds, upper: upperBounds } });
    iterations += result.best.iterations;
    evaluations += result.evaluations.points;
    if (!best || result.best.value <= best.value) best = result.best;
    start = Float64Array.from(best.x);
  }
  const outcome = best as StartResult;
  const parameters = objective.expand(outcome.x);
  const result: HistFitResult = {
    parameters,
    nll: outcome.value,
    converged: outcome.converged || outcome.reason === 'lineSearch',
    message: outcome.message,
    iterations,
    evaluations,
  };
  if (settings.errors) Object.assign(result, await fitErrors(objective, outcome.x, scales, lowerBounds, upperBounds, model.dimension, free));
  return result;
}

async function fitErrors(
  objective: FreeParameterNll,
  x: Float64Array,
  scales: Float64Array,
  lower: Float64Array,
  upper: Float64Array,
  dimension: number,
  free: number[],
): Promise<Pick<HistFitResult, 'errors' | 'covariance' | 'errorMessage'>> {
  const h = await hessian(objective, x, { scales, bounds: { lower, upper }, check: false });
  const cov = covarianceFromHessian(h.hessian);
  if (!cov.positiveDefinite) return { errors: null, covariance: null, errorMessage: cov.message };
  const errors = new Float64Array(dimension);
  const covariance = new Float64Array(dimension * dimension);
  const p = free.length;
  free.forEach((i, a) => {
    errors[i] = cov.errors[a];
    free.forEach((j, b) => {
      covariance[i * dimension + j] = cov.covariance[a * p + b];
    });
  });
  return { errors, covariance };
}

/** The fit with the parameter of interest fixed at `poiValue` (pyhf's `infer.mle.fixed_poi_fit`). */
export async function fixedPoiFit(model: HistFactoryModel, data: ArrayLike<number>, poiValue: number, settings: FitSettings = {}): Promise<HistFitResult> {
  if (!Number.isFinite(poiValue)) throw new Error(`fixedPoiFit: the POI value must be a finite number, got ${poiValue}.`);
  const inits = Float64Array.from(settings.inits ?? model.suggestedInits());
  const fixed = [...(settings.fixed ?? model.suggestedFixed())];
  inits[model.poiIndex] = poiValue;
  fixed[model.poiIndex] = true;
  return fit(model, data, { ...settings, inits, fixed });
}
