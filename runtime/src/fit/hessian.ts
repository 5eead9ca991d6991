/**
 * Hessian of the NLL by finite differences of its gradient, and the covariance it implies.
 *
 * Column i of H is ∂g/∂x_i, estimated from gradients at points displaced along e_i (Nocedal & Wright,
 * "Numerical Optimization", §8.1 "Approximating the Hessian"):
 *   central   (g(x + h e_i) − g(x − h e_i)) / 2h                 error O(h²)
 *   forward   (−3 g(x) + 4 g(x + h e_i) − g(x + 2h e_i)) / 2h      error O(h²), next to a lower bound
 *   backward  ( 3 g(x) − 4 g(x − h e_i) + g(x − 2h e_i)) / 2h      error O(h²), next to an upper bound
 * so every point evaluated stays inside the bounds. The estimate is symmetrised, (H + Hᵀ)/2.
 *
 * All displaced points — the centre, 2P points for the steps h and 2P more for the check steps — go to the
 * objective in ONE evaluate call.
 *
 * Step size: h_i = relativeStep · scale_i, with scale_i = `scales[i]` when given (≈ the expected standard error;
 * recommended) and otherwise |x_i| (1 when x_i = 0). The default relativeStep = 1e-3 suits float64 objectives
 * (truncation error ~1e-7 relative for an NLL whose third derivatives scale like 1/σ³). Flow likelihoods whose
 * gradients carry float32 noise want a larger step, ~1e-2 σ. The step check repeats the estimate with steps
 * `checkFactor`·h and reports the largest disagreement, normalised as |H_ij − H′_ij| / √(|H_ii H_jj|), so a step
 * that is too small (noise) or too large (curvature changes) shows up as a number rather than a silent bias.
 */
import { cholesky, choleskyInverse, symmetricEigen } from './linalg.ts';
import { evaluateBatch, type BatchObjective, type Bounds, type EvaluationCounts } from './objective.ts';
import {
  checkNonNegative,
  checkPoints,
  formatPoint,
  objectiveDimension,
  resolveBounds,
  resolveScales,
} from './validate.ts';

export interface HessianOptions {
  bounds?: Bounds;
  /** Per-parameter scales (≈ standard errors); steps are relativeStep·scale. */
  scales?: Float64Array;
  /** Step relative to the scale (default 1e-3). */
  relativeStep?: number;
  /** Ratio of the check steps to the main steps (default 2; must be > 0 and ≠ 1). */
  checkFactor?: number;
  /** Estimate again with the check steps (default true); without it the call costs 1 + 2P points instead of 1 + 4P. */
  check?: boolean;
}

/** How column i was differenced. */
export type DifferenceScheme = 'central' | 'forward' | 'backward';

export interface HessianResult {
  dimension: number;
  /** Symmetrised Hessian, P×P row-major. */
  hessian: Float64Array;
  /** Objective value and gradient at x. */
  value: number;
  gradient: Float64Array;
  /** Steps actually used (shrunk where the bounds leave less room). */
  steps: Float64Array;
  schemes: DifferenceScheme[];
  /** Largest |H_ij − H_ji| / √(|H_ii H_jj|) before symmetrising. */
  asymmetry: number;
  /** null when the check was not asked for. */
  stepCheck: {
    factor: number;
    steps: Float64Array;
    /** The Hessian estimated with the check steps (symmetrised). */
    hessian: Float64Array;
    /** Largest |H_ij − H′_ij| / √(|H_ii H_jj|). */
    relativeDisagreement: number;
  } | null;
  evaluations: EvaluationCounts;
  wallMs: number;
}

interface Stencil {
  scheme: DifferenceScheme;
  step: number;
}

/** Finite-difference Hessian at x (see module comment); one evaluate call of 1 + 4P points (1 + 2P unchecked). */
export async function hessian(objective: BatchObjective, x: Float64Array, options: HessianOptions = {}): Promise<HessianResult> {
  const t0 = performance.now();
  const p = objectiveDimension(objective);
  const bounds = resolveBounds(options.bounds, p);
  if (x?.length !== p) throw new Error(`Hessian point must be a Float64Array of P=${p} entries, got ${x?.length} entries.`);
  checkPoints(x, p, bounds, 'Hessian point');
  const relativeStep = checkNonNegative(options.relativeStep ?? 1e-3, 'relativeStep', true);
  const factor = checkNonNegative(options.checkFactor ?? 2, 'checkFactor', true);
  if (factor === 1) throw new Error('checkFactor must differ from 1 (the check needs a different step size).');
  const scales =
    options.scales === undefined
      ? Float64Array.from(x, (value) => (value === 0 ? 1 : Math.abs(value)))
      : resolveScales(options.scales, p);

  const main: Stencil[] = [];
  const check: Stencil[] = [];
  for (let i = 0; i < p; i++) {
    main.push(stencil(x, bounds, i, relativeStep * scales[i]));
    check.push(stencil(x, bounds, i, factor * relativeStep * scales[i]));
  }
  // Layout: centre, then two points per parameter for the main stencils, then two per parameter for the check.
  const stencils = options.check === false ? main : [...main, ...check];
  const count = 1 + 2 * stencils.length;
  const points = new Float64Array(count * p);
  points.set(x, 0);
  stencils.forEach((s, index) => {
    const i = index % p;
    const direction = s.scheme === 'backward' ? -1 : 1;
    const [near, far] = s.scheme === 'central' ? [s.step, -s.step] : [direction * s.step, 2 * direction * s.step];
    for (const [slot, offset] of [[1 + 2 * index, near], [2 + 2 * index, far]] as const) {
      points.set(x, slot * p);
      points[slot * p + i] = Math.min(bounds.upper[i], Math.max(bounds.lower[i], x[i] + offset));
    }
  });
  const counts: EvaluationCounts = { calls: 0, points: 0 };
  const { values, gradients } = await evaluateBatch(objective, points, count, true, counts);
  for (let row = 0; row < count; row++) {
    const bad = !Number.isFinite(values[row]) || gradients.subarray(row * p, (row + 1) * p).some((g) => !Number.isFinite(g));
    if (bad) {
      throw new Error(
        `Hessian: the objective is not finite (value ${values[row]}) at ${formatPoint(points.subarray(row * p, (row + 1) * p))}, ` +
          `${row === 0 ? 'the point itself' : 'a displaced point'}; the finite-difference steps must stay where the model is valid. ` +
          'Pass smaller scales/relativeStep or tighter bounds.',
      );
    }
  }
  const gradientAt = (row: number) => gradients.subarray(row * p, (row + 1) * p);
  const estimate = (set: Stencil[], first: number) => {
    const raw = new Float64Array(p * p);
    set.forEach((s, i) => {
      const g0 = gradientAt(0);
      const g1 = gradientAt(1 + 2 * (first + i));
      const g2 = gradientAt(2 + 2 * (first + i));
      // Realised steps: x + h may round, and clamping may shorten the last point by an ulp.
      const h1 = points[(1 + 2 * (first + i)) * p + i] - x[i];
      const h2 = points[(2 + 2 * (first + i)) * p + i] - x[i];
      for (let j = 0; j < p; j++) {
        raw[i * p + j] =
          s.scheme === 'central'
            ? (g1[j] - g2[j]) / (h1 - h2)
            : threePoint(g0[j], g1[j], g2[j], h1, h2);
      }
    });
    return raw;
  };
  const raw = estimate(main, 0);
  const asymmetry = maxNormalisedDifference(raw, transpose(raw, p), raw, p);
  const h = symmetrise(raw, p);
  const hCheck = options.check === false ? null : symmetrise(estimate(check, p), p);
  return {
    dimension: p,
    hessian: h,
    value: values[0],
    gradient: Float64Array.from(gradientAt(0)),
    steps: Float64Array.from(main, (s) => s.step),
    schemes: main.map((s) => s.scheme),
    asymmetry,
    stepCheck: hCheck && {
      factor,
      steps: Float64Array.from(check, (s) => s.step),
      hessian: hCheck,
      relativeDisagreement: maxNormalisedDifference(h, hCheck, h, p),
    },
    evaluations: counts,
    wallMs: performance.now() - t0,
  };
}

/**
 * Central if x ± h both fit in the bounds; else one-sided towards the side with room for 2h; else one-sided
 * with h shrunk to half the larger room.
 */
function stencil(x: Float64Array, bounds: Bounds, i: number, h: number): Stencil {
  const up = bounds.upper[i] - x[i];
  const down = x[i] - bounds.lower[i];
  if (h <= up && h <= down) return { scheme: 'central', step: h };
  if (2 * h <= up) return { scheme: 'forward', step: h };
  if (2 * h <= down) return { scheme: 'backward', step: h };
  const room = Math.max(up, down);
  if (!(room > 0)) {
    throw new Error(
      `Hessian: parameter ${i} has bounds [${bounds.lower[i]}, ${bounds.upper[i]}] of zero width, so it cannot be ` +
        'differenced; leave fixed parameters out of the objective.',
    );
  }
  return { scheme: up >= down ? 'forward' : 'backward', step: room / 2 };
}

/**
 * Derivative at 0 from values at 0, h1 and h2 (same side), exact for quadratics: the derivative of the
 * interpolating parabola. For h2 = 2h1 it is (−3g0 + 4g1 − g2)/(2h1).
 */
function threePoint(g0: number, g1: number, g2: number, h1: number, h2: number): number {
  return (-(h1 + h2) / (h1 * h2)) * g0 + (h2 / (h1 * (h2 - h1))) * g1 - (h1 / (h2 * (h2 - h1))) * g2;
}

function transpose(a: Float64Array, n: number): Float64Array {
  const t = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) t[j * n + i] = a[i * n + j];
  return t;
}

function symmetrise(a: Float64Array, n: number): Float64Array {
  const s = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) s[i * n + j] = 0.5 * (a[i * n + j] + a[j * n + i]);
  return s;
}

/** max_ij |a_ij − b_ij| / √(|r_ii r_jj|), falling back to max|r| when a diagonal entry vanishes. */
function maxNormalisedDifference(a: Float64Array, b: Float64Array, reference: Float64Array, n: number): number {
  let largest = 0;
  for (const value of reference) largest = Math.max(largest, Math.abs(value));
  let worst = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const norm = Math.sqrt(Math.abs(reference[i * n + i] * reference[j * n + j])) || largest || 1;
      worst = Math.max(worst, Math.abs(a[i * n + j] - b[i * n + j]) / norm);
    }
  }
  return worst;
}

/** Covariance of the estimates, or why there is none. */
export type CovarianceResult =
  | {
      positiveDefinite: true;
      dimension: number;
      /** H⁻¹ (P×P): the NLL is −log L, so no factor 2. */
      covariance: Float64Array;
      /** √diag(H⁻¹). */
      errors: Float64Array;
      /** C_ij / (σ_i σ_j). */
      correlation: Float64Array;
    }
  | {
      positiveDefinite: false;
      dimension: number;
      /** Eigenvalues of H, ascending; the non-positive ones mark flat or downhill directions. */
      eigenvalues: Float64Array;
      message: string;
    };

/**
 * Covariance matrix, standard errors and correlations from the Hessian of the NLL = −log L, via Cholesky.
 * A Hessian that is not positive definite (not at a minimum, a flat direction, or a step problem) gives
 * `positiveDefinite: false` with its eigenvalues and a message — never NaN errors.
 */
export function covarianceFromHessian(h: Float64Array): CovarianceResult {
  if (!(h instanceof Float64Array)) throw new Error('covarianceFromHessian expects a Float64Array of P×P entries (row-major).');
  const n = Math.round(Math.sqrt(h.length));
  if (n * n !== h.length || n === 0) {
    throw new Error(`covarianceFromHessian expects a square P×P matrix (row-major); got ${h.length} entries, not a perfect square.`);
  }
  const bad = h.findIndex((value) => !Number.isFinite(value));
  if (bad >= 0) {
    throw new Error(
      `covarianceFromHessian: entry (${Math.floor(bad / n)}, ${bad % n}) of the Hessian is ${h[bad]}; the Hessian must be finite.`,
    );
  }
  const factor = cholesky(h, n);
  if (factor === undefined) {
    const eigenvalues = symmetricEigen(h, n).values;
    const negative = Array.from(eigenvalues).filter((value) => value <= 0).length;
    return {
      positiveDefinite: false,
      dimension: n,
      eigenvalues,
      message:
        `the Hessian is not positive definite (smallest eigenvalue ${eigenvalues[0].toExponential(3)}, ` +
        `${negative} of ${n} eigenvalues ≤ 0, or numerically singular): the point is not a well-defined minimum, ` +
        'so no covariance follows from it. Check the fit converged, that no parameter is flat, and the Hessian step check.',
    };
  }
  const covariance = choleskyInverse(factor, n);
  const errors = new Float64Array(n);
  for (let i = 0; i < n; i++) errors[i] = Math.sqrt(covariance[i * n + i]);
  const correlation = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) correlation[i * n + j] = i === j ? 1 : covariance[i * n + j] / (errors[i] * errors[j]);
  }
  return { positiveDefinite: true, dimension: n, covariance, errors, correlation };
}
