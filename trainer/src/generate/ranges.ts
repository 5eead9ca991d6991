// "name=lo:hi:n" lists, comma-separated: the binnings of --hist (n bins) and the axes of --grid (n points).

export interface NamedRange {
  name: string;
  lo: number;
  hi: number;
  /** Bins or points. */
  count: number;
}

/**
 * Parses "a=0:1:10,b=2:5:3". `what` names n in messages ("bins", "points"); `allowPoint` accepts lo = hi with n = 1
 * (a grid axis held at one value). Names must be unique.
 */
export function parseNamedRanges(text: string, where: string, what: string, example: string, allowPoint = false): NamedRange[] {
  const expected = `name=lo:hi:${what} with lo < hi and 1 ≤ ${what} ≤ 10^6 (e.g. ${example})`;
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((item) => {
      const match = /^([^=]+)=([^:]+):([^:]+):([^:]+)$/.exec(item);
      const [lo, hi, count] = [match?.[2], match?.[3], match?.[4]].map(Number);
      const point = allowPoint && count === 1 && lo === hi;
      if (!match || !Number.isFinite(lo) || !Number.isFinite(hi) || !(lo < hi || point) || !Number.isInteger(count) || count < 1 || count > 1_000_000) {
        throw new Error(`${where}: expected ${expected}, got "${item}"`);
      }
      return { name: match[1].trim(), lo, hi, count };
    });
  if (items.length === 0) throw new Error(`${where}: expected ${expected}, items separated by commas, got "${text}"`);
  const duplicate = items.find((s, i) => items.findIndex((t) => t.name === s.name) !== i);
  if (duplicate) throw new Error(`${where}: "${duplicate.name}" is given twice`);
  return items;
}
