// Quantile binning of features for histogram-based gradient boosting (the LightGBM / scikit-learn
// HistGradientBoosting scheme): each feature is cut into at most `maxBins` bins holding about equal numbers of
// training events, so that a split search scans ≤ 255 bin totals instead of every distinct value.
//
// An edge e_k is a float32 number and an event x falls in bin b = #{k : e_k < x}, so "bin ≤ k" is exactly
// "x ≤ e_k" for float32 x: the trees learnt on bins are evaluated on raw features with the same comparison
// (in TypeScript and in the ONNX graph), without a table of bin indices.

/** The largest number of bins per feature: bin indices fit a byte. */
export const MAX_BINS = 255;

/** A float32 edge e with a ≤ e < b, for float32 values a < b: their midpoint, or a where rounding reaches b. */
function edgeBetween(a: number, b: number): number {
  const middle = Math.fround(a + (b - a) / 2);
  return middle < b && middle >= a ? middle : a;
}

/**
 * The bin edges of one feature from its training values (float32, any order): with u distinct values, one edge
 * between each pair of neighbours when u ≤ maxBins; otherwise the edge after the j_k-th smallest value with
 * j_k = round(k·n/maxBins), k = 1 … maxBins − 1, so that bin k holds n/maxBins events up to ties (an edge that
 * would cut through tied values moves just above them, and coinciding edges are kept once).
 */
export function quantileEdges(values: Float32Array, maxBins = MAX_BINS): Float32Array {
  if (!(Number.isInteger(maxBins) && maxBins >= 2 && maxBins <= MAX_BINS)) throw new Error(`bins per feature must be an integer in [2, ${MAX_BINS}], got ${maxBins}`);
  const sorted = Float32Array.from(values).sort();
  const n = sorted.length;
  if (n === 0) throw new Error('cannot bin a feature without training values');
  const edges: number[] = [];
  /** Index of the first value above sorted[i] (n when none). */
  const nextDistinct = (i: number): number => {
    let lo = i;
    let hi = n;
    while (hi - lo > 1) {
      const mid = (lo + hi) >>> 1;
      if (sorted[mid] > sorted[i]) hi = mid;
      else lo = mid;
    }
    return hi;
  };
  let distinct = 1;
  for (let i = 1; i < n && distinct <= maxBins; i++) if (sorted[i] !== sorted[i - 1]) distinct++;
  if (distinct <= maxBins) {
    for (let i = 1; i < n; i++) if (sorted[i] !== sorted[i - 1]) edges.push(edgeBetween(sorted[i - 1], sorted[i]));
  } else {
    for (let k = 1; k < maxBins; k++) {
      const j = Math.round((k * n) / maxBins);
      if (j < 1) continue;
      const above = nextDistinct(j - 1);
      if (above >= n) break;
      const edge = edgeBetween(sorted[j - 1], sorted[above]);
      if (edges.length === 0 || edge > edges[edges.length - 1]) edges.push(edge);
    }
  }
  return Float32Array.from(edges);
}

/** The bin of x: the number of edges below it (binary search; edges ascending). */
export function binOf(edges: Float32Array, x: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (edges[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Bin indices of every event's feature d, column by column: bins[d][i] for events x [count, D] row-major. */
export function binEvents(x: Float32Array, D: number, edges: Float32Array[]): Uint8Array[] {
  const count = x.length / D;
  return edges.map((e, d) => {
    const column = new Uint8Array(count);
    for (let i = 0; i < count; i++) column[i] = binOf(e, x[i * D + d]);
    return column;
  });
}
