// What a validation item keeps of a fit: best values, errors and where the minimum met a bound (JSON-safe: a
// missing error is null), so shard files stay small and the summary can be recomputed from them alone.
import type { FitResult } from '@flowscan/runtime';

export type BoundState = 'free' | 'lower' | 'upper';

/** The axes of a design: the likelihood's free parameters with their units and how they were trained. */
export interface ParameterAxis {
  name: string;
  unit: string;
  /** Trained on log θ (τ of the toy): figures put it on a log axis. */
  logScale: boolean;
}

export interface FitValues {
  values: Record<string, number>;
  /** √(H⁻¹)_jj; null when the Hessian was not positive definite. */
  errors: Record<string, number | null>;
  atBound: Record<string, BoundState>;
}

export interface FlowFitValues extends FitValues {
  converged: boolean;
  warnings: string[];
  /** Likelihood evaluations of the fit (all stages). */
  calls: number;
}

export function flowFitValues(fit: FitResult): FlowFitValues {
  const free = fit.parameters.filter((p) => !p.fixed);
  return {
    values: Object.fromEntries(free.map((p) => [p.name, p.value])),
    errors: Object.fromEntries(free.map((p) => [p.name, p.error ?? null])),
    atBound: Object.fromEntries(free.map((p) => [p.name, p.atBound])),
    converged: fit.converged,
    warnings: fit.warnings,
    calls: fit.evaluations.calls,
  };
}

/** The fit's σ of `name` when it is a usable Gaussian error: present, finite, positive, and the minimum off the bounds. */
export function usableError(fit: FitValues, name: string): number | null {
  const error = fit.errors[name];
  return fit.atBound[name] === 'free' && error !== null && Number.isFinite(error) && error > 0 ? error : null;
}
