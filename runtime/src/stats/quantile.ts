// Quantiles of a sample by linear interpolation between order statistics (numpy's default, Hyndman & Fan type 7).

/** The q-quantile (q in [0, 1]) of values already sorted ascending; NaN for an empty sample. */
export function sortedQuantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const position = q * (sorted.length - 1);
  const lower = Math.floor(position);
  const upper = Math.min(lower + 1, sorted.length - 1);
  return sorted[lower] + (position - lower) * (sorted[upper] - sorted[lower]);
}

/** The q-quantile (q in [0, 1]) of the finite entries of `values`, in any order; NaN when none is finite. */
export function quantile(values: ArrayLike<number>, q: number): number {
  return sortedQuantile(Float64Array.from(values).filter(Number.isFinite).sort(), q);
}
