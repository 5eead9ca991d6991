/**
 * Checks of user-supplied fit inputs at the boundary of the fit layer. Each error says what was wrong, with
 * the offending value, what was expected and what to do; inside the layer the inputs are then trusted.
 */
import type { BatchObjective, Bounds } from './objective.ts';

/** P of the objective, checked to be a positive integer. */
export function objectiveDimension(objective: BatchObjective): number {
  const p = objective?.dimension;
  if (!Number.isInteger(p) || p < 1) {
    throw new Error(`objective.dimension must be a positive integer (the number of parameters P), got ${String(p)}.`);
  }
  return p;
}

/** Bounds of length P with lower ≤ upper and no NaN; omitted bounds mean the whole real line. */
export function resolveBounds(bounds: Bounds | undefined, p: number): Bounds {
  if (bounds === undefined) {
    return { lower: new Float64Array(p).fill(-Infinity), upper: new Float64Array(p).fill(Infinity) };
  }
  const { lower, upper } = bounds;
  if (!(lower instanceof Float64Array) || !(upper instanceof Float64Array)) {
    throw new Error('bounds.lower and bounds.upper must be Float64Arrays of length P (use ±Infinity for no bound).');
  }
  if (lower.length !== p || upper.length !== p) {
    throw new Error(
      `bounds have lengths lower=${lower.length}, upper=${upper.length} but the objective has P=${p} parameters; ` +
        'pass one lower and one upper bound per parameter (±Infinity for none).',
    );
  }
  for (let i = 0; i < p; i++) {
    if (Number.isNaN(lower[i]) || Number.isNaN(upper[i])) {
      throw new Error(`bounds of parameter ${i} contain NaN (lower=${lower[i]}, upper=${upper[i]}); use ±Infinity for no bound.`);
    }
    if (lower[i] > upper[i]) {
      throw new Error(
        `bounds of parameter ${i} are inverted: lower=${lower[i]} > upper=${upper[i]}; swap them so that lower ≤ upper.`,
      );
    }
    if (lower[i] === Infinity || upper[i] === -Infinity) {
      throw new Error(`bounds of parameter ${i} are empty (lower=${lower[i]}, upper=${upper[i]}).`);
    }
  }
  return { lower, upper };
}

/** Bounds that must be finite on both sides (grid and random scans need a box to fill). */
export function requireFiniteBounds(bounds: Bounds, p: number, what: string): Bounds {
  const checked = resolveBounds(bounds, p);
  for (let i = 0; i < p; i++) {
    if (!Number.isFinite(checked.lower[i]) || !Number.isFinite(checked.upper[i])) {
      throw new Error(
        `${what} needs finite bounds on every parameter; parameter ${i} has [${checked.lower[i]}, ${checked.upper[i]}]. ` +
          'Give a finite range to scan.',
      );
    }
  }
  return checked;
}

/** Per-parameter scales (positive, finite, length P); omitted scales are all 1. */
export function resolveScales(scales: Float64Array | undefined, p: number): Float64Array {
  if (scales === undefined) return new Float64Array(p).fill(1);
  if (!(scales instanceof Float64Array) || scales.length !== p) {
    throw new Error(
      `scales must be a Float64Array with one entry per parameter (P=${p}), got ${describeLength(scales)}.`,
    );
  }
  for (let i = 0; i < p; i++) {
    if (!(scales[i] > 0) || !Number.isFinite(scales[i])) {
      throw new Error(
        `scale of parameter ${i} is ${scales[i]}; scales must be finite and > 0 (a typical size of the parameter's ` +
          'uncertainty, e.g. an expected standard error).',
      );
    }
  }
  return scales;
}

/**
 * Checks a K×P row-major block of points: length a multiple of P, finite entries, inside the bounds.
 * Returns K. `what` names the points in messages ("start", "best-fit point").
 */
export function checkPoints(points: Float64Array, p: number, bounds: Bounds, what: string): number {
  if (!(points instanceof Float64Array)) {
    throw new Error(`${what} points must be a Float64Array of K×P entries (row-major), got ${describeLength(points)}.`);
  }
  if (points.length === 0 || points.length % p !== 0) {
    throw new Error(
      `${what} points have ${points.length} entries, which is not a positive multiple of P=${p}; ` +
        `pass K×P values row-major (K points of ${p} parameters).`,
    );
  }
  const k = points.length / p;
  for (let row = 0; row < k; row++) {
    for (let i = 0; i < p; i++) {
      const value = points[row * p + i];
      const label = k > 1 ? `${what} ${row}` : what;
      if (!Number.isFinite(value)) {
        throw new Error(`${label}: parameter ${i} is ${value}; every parameter value must be finite.`);
      }
      if (value < bounds.lower[i] || value > bounds.upper[i]) {
        throw new Error(
          `${label}: parameter ${i} = ${value} is outside its bounds [${bounds.lower[i]}, ${bounds.upper[i]}]; ` +
            'move the point inside the bounds (or widen the bounds).',
        );
      }
    }
  }
  return k;
}

/** A number option that must be an integer ≥ `min`. */
export function checkInteger(value: number, name: string, min: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw new Error(`${name} must be an integer ≥ ${min}, got ${value}.`);
  }
  return value;
}

/** A number option that must be finite and ≥ 0 (or > 0 when `strict`). */
export function checkNonNegative(value: number, name: string, strict = false): number {
  if (!Number.isFinite(value) || value < 0 || (strict && value === 0)) {
    throw new Error(`${name} must be a finite number ${strict ? '> 0' : '≥ 0'}, got ${value}.`);
  }
  return value;
}

/** A parameter index in [0, P). */
export function checkIndex(index: number, p: number, name: string): number {
  if (!Number.isInteger(index) || index < 0 || index >= p) {
    throw new Error(`${name} must be a parameter index in [0, ${p - 1}], got ${index}.`);
  }
  return index;
}

/** "[a, b, c]" with 8 significant digits, for messages. */
export function formatPoint(x: Float64Array): string {
  return `[${Array.from(x, (v) => Number(v.toPrecision(8))).join(', ')}]`;
}

function describeLength(value: unknown): string {
  if (value instanceof Float64Array) return `a Float64Array of length ${value.length}`;
  if (Array.isArray(value)) return `a plain array of length ${value.length} (wrap it in new Float64Array(...))`;
  return String(value);
}
