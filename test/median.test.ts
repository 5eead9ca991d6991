import test from 'ava';
import { Rng } from '../runtime/src/random.ts';
import { median } from '../runtime/src/stats/median.ts';

// Oracle: the definition — at least half the sample on each side; for an even count, the midpoint of the two values
// that split it, found by counting rather than sorting.
function countsSplit(values: number[], m: number): boolean {
  const below = values.filter((v) => v <= m).length;
  const above = values.filter((v) => v >= m).length;
  return below >= values.length / 2 && above >= values.length / 2;
}

test('median: splits odd and even samples in half, ties included, without reordering the input', (t) => {
  const rng = new Rng(7);
  for (const n of [1, 2, 3, 10, 11, 101]) {
    const values = Array.from({ length: n }, () => Math.round(rng.uniform() * 20) / 4);
    const copy = [...values];
    const m = median(values);
    t.true(countsSplit(values, m), `n = ${n}: ${m} does not split ${values.join(', ')}`);
    if (n % 2 === 1) t.true(values.includes(m));
    else {
      const lowerHalfMax = Math.max(...values.filter((v) => v <= m));
      const upperHalfMin = Math.min(...values.filter((v) => v >= m));
      t.is(m, 0.5 * (lowerHalfMax + upperHalfMin));
    }
    t.deepEqual(values, copy);
  }
  t.is(median(Float64Array.of(3, -1, 2, 10)), 2.5);
  t.throws(() => median([]), { message: /empty sample/ });
});
