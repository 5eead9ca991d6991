/**
 * The contract between the fit layer and whatever it minimises.
 *
 * The likelihood layer evaluates −log L for K parameter points against the same N events in one call of the
 * exported θ-gradient graph (θ[K,P] → [K,…]), so every algorithm in `fit/` asks for its points in batches and
 * counts calls and points separately: one call with K points costs roughly one graph run, not K.
 */

/** −log L (or any smooth function) of P free parameters, evaluated at K points per call. */
export interface BatchObjective {
  /** P, the number of parameters of one point. */
  readonly dimension: number;
  /** points: K×P row-major. Returns K values and, if asked, K×P gradients (row-major). */
  evaluate(
    points: Float64Array,
    count: number,
    withGradient: boolean,
  ): Promise<{ values: Float64Array; gradients?: Float64Array }>;
}

/** Box bounds lower_i ≤ x_i ≤ upper_i; entries may be ±Infinity for an open side. */
export interface Bounds {
  lower: Float64Array;
  upper: Float64Array;
}

/** How often the objective ran: `calls` evaluate() calls (graph runs) carrying `points` points in total. */
export interface EvaluationCounts {
  calls: number;
  points: number;
}

/** Values (and gradients when asked for) of one batch, with lengths checked. */
export interface BatchValues {
  values: Float64Array;
  gradients?: Float64Array;
}

/**
 * Calls `objective.evaluate` once, adds the call and its points to `counts`, and checks that the reply has
 * one value per point (and P gradient components per point when gradients were requested), so a broken
 * objective fails here with a message instead of corrupting a fit.
 */
export async function evaluateBatch(
  objective: BatchObjective,
  points: Float64Array,
  count: number,
  withGradient: true,
  counts: EvaluationCounts,
): Promise<{ values: Float64Array; gradients: Float64Array }>;
export async function evaluateBatch(
  objective: BatchObjective,
  points: Float64Array,
  count: number,
  withGradient: boolean,
  counts: EvaluationCounts,
): Promise<BatchValues>;
export async function evaluateBatch(
  objective: BatchObjective,
  points: Float64Array,
  count: number,
  withGradient: boolean,
  counts: EvaluationCounts,
): Promise<BatchValues> {
  const p = objective.dimension;
  counts.calls += 1;
  counts.points += count;
  const reply = await objective.evaluate(points.subarray(0, count * p), count, withGradient);
  if (!reply || !(reply.values instanceof Float64Array) || reply.values.length !== count) {
    const got = reply?.values instanceof Float64Array ? `${reply.values.length} values` : 'no Float64Array of values';
    throw new Error(
      `BatchObjective.evaluate returned ${got} for ${count} points; it must return a Float64Array with one value ` +
        'per point (K values for K points). Fix the objective implementation.',
    );
  }
  if (withGradient) {
    const gradients = reply.gradients;
    if (!(gradients instanceof Float64Array) || gradients.length !== count * p) {
      const got = gradients instanceof Float64Array ? `${gradients.length} gradient entries` : 'no gradients';
      throw new Error(
        `BatchObjective.evaluate was asked for gradients of ${count} points in ${p} dimensions and returned ${got}; ` +
          `expected a Float64Array of ${count}×${p} = ${count * p} entries (row-major). Fix the objective implementation.`,
      );
    }
    return { values: reply.values, gradients };
  }
  return { values: reply.values };
}
