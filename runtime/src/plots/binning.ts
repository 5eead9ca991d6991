// Fixed-width 1-D histograms. Figures bin 10^5–10^6 events here, in one pass, and hand Vega only the
// bin table: raw events never reach the renderer.

export interface Histogram1D {
  /** bins + 1 edges; bin i is [edges[i], edges[i+1]) and the last bin also holds edges[bins]. */
  edges: Float64Array;
  /** Sum of weights per bin (counts when unweighted). */
  sumW: Float64Array;
  /** Sum of squared weights per bin: the Poisson variance estimate of sumW. */
  sumW2: Float64Array;
  underflow: number;
  overflow: number;
  /** Events skipped because the value or its weight was NaN or infinite. */
  nonFinite: number;
}

export interface HistogramOptions {
  range: [number, number];
  bins: number;
  weights?: ArrayLike<number>;
}

export function histogram1d(values: ArrayLike<number>, options: HistogramOptions): Histogram1D {
  const [lo, hi] = options.range;
  const { bins, weights } = options;
  if (!(Number.isFinite(lo) && Number.isFinite(hi) && lo < hi)) {
    throw new Error(`histogram1d: range must be [lo, hi] with finite lo < hi, got [${lo}, ${hi}]`);
  }
  if (!Number.isInteger(bins) || bins < 1) {
    throw new Error(`histogram1d: bins must be a positive integer, got ${bins}`);
  }
  if (weights && weights.length !== values.length) {
    throw new Error(`histogram1d: weights has ${weights.length} entries but values has ${values.length}; pass one weight per event`);
  }
  const width = (hi - lo) / bins;
  const edges = new Float64Array(bins + 1);
  for (let i = 0; i <= bins; i += 1) edges[i] = lo + i * width;
  edges[bins] = hi;

  const sumW = new Float64Array(bins);
  const sumW2 = new Float64Array(bins);
  let underflow = 0;
  let overflow = 0;
  let nonFinite = 0;
  for (let k = 0; k < values.length; k += 1) {
    const v = values[k];
    const w = weights ? weights[k] : 1;
    if (!Number.isFinite(v) || !Number.isFinite(w)) {
      nonFinite += 1;
      continue;
    }
    if (v < lo) {
      underflow += w;
      continue;
    }
    if (v > hi) {
      overflow += w;
      continue;
    }
    let i = Math.min(Math.floor((v - lo) / width), bins - 1);
    // (v - lo) / width can round across an edge; settle on the bin whose stored edges contain v, so
    // the table agrees with any count made against `edges`.
    if (v < edges[i]) i -= 1;
    else if (i < bins - 1 && v >= edges[i + 1]) i += 1;
    sumW[i] += w;
    sumW2[i] += w * w;
  }
  return { edges, sumW, sumW2, underflow, overflow, nonFinite };
}

/** Total weight inside the histogram range. */
export function histogramTotal(histogram: Histogram1D): number {
  let total = 0;
  for (const w of histogram.sumW) total += w;
  return total;
}
