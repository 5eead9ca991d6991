// Sample quantiles (runtime/src/stats/quantile.ts), shared by the reports, toys and HistFactory expected limits.
import test from 'ava';
import { Rng } from '../runtime/src/random.ts';
import { median } from '../runtime/src/stats/median.ts';
import { quantile, sortedQuantile } from '../runtime/src/stats/quantile.ts';

// Oracle: the definition of the linear (type 7) quantile — at q = k/(n − 1) the value with k of the others below it
// (found by counting, not sorting), linear in q between those points — and numpy's documented values.

/** The value of `values` (distinct) with exactly k others below it. */
function orderStatistic(values: number[], k: number): number {
  return values.find((v) => values.filter((w) => w < v).length === k)!;
}

test('quantile: the order statistics at q = k/(n − 1), linear between them, numpy values', (t) => {
  const rng = new Rng(11);
  for (const n of [1, 2, 5, 16]) {
    const values = Array.from({ length: n }, () => rng.normal());
    const copy = [...values];
    for (let k = 0; k < n; k++) t.is(quantile(values, n === 1 ? 0.5 : k / (n - 1)), orderStatistic(values, k));
    for (let k = 0; k + 1 < n; k++) {
      const [lower, upper] = [orderStatistic(values, k), orderStatistic(values, k + 1)];
      const q = (k + 0.3) / (n - 1);
      t.true(Math.abs(quantile(values, q) - (lower + 0.3 * (upper - lower))) < 1e-12, `n = ${n}, q = ${q}`);
    }
    t.is(quantile(values, 0.5), median(values));
    t.deepEqual(values, copy);
  }
  // numpy.percentile([1, 2, 3, 4], 25) = 1.75; numpy.quantile([10, 0, 5], 0.9) = 9.0
  t.is(quantile([4, 1, 3, 2], 0.25), 1.75);
  t.is(quantile(Float64Array.of(10, 0, 5), 0.9), 9);
});

test('quantile: skips non-finite entries, NaN for none; sortedQuantile reads a sorted sample as it is', (t) => {
  t.is(quantile([Number.NaN, 3, Number.POSITIVE_INFINITY, 1], 0.5), 2);
  t.true(Number.isNaN(quantile([Number.NaN], 0.5)));
  t.true(Number.isNaN(sortedQuantile([], 0.5)));
  t.is(sortedQuantile([1, 2, 4], 0.75), 3);
});
