// The formula every table in test/fixtures/formats/ follows (written by make-fixtures.py there with NumPy,
// h5py, pandas): the tests compare the readers' output with it, not with recorded output.
import { fileURLToPath } from 'node:url';

export const FIXTURE_ROWS = 50;

/** Path of a fixture file. */
export function fixture(name: string): string {
  return fileURLToPath(new URL(`./fixtures/formats/${name}`, import.meta.url));
}

/** Row i: x = 40 + 0.25 i, y = i² / 7, label = i mod 3. */
export function expectedColumn(name: 'x' | 'y' | 'label', rows = FIXTURE_ROWS): Float64Array {
  const column = new Float64Array(rows);
  for (let i = 0; i < rows; i++) column[i] = name === 'x' ? 40 + 0.25 * i : name === 'y' ? (i * i) / 7 : i % 3;
  return column;
}
