// The median of a sample: the middle value, or the mean of the two middle ones for an even count.

export function median(values: ArrayLike<number>): number {
  if (values.length === 0) throw new RangeError('the median of an empty sample is undefined');
  const sorted = Float64Array.from(values).sort();
  const h = sorted.length >> 1;
  return sorted.length % 2 ? sorted[h] : 0.5 * (sorted[h - 1] + sorted[h]);
}
