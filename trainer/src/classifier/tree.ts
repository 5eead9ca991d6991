// One regression tree of gradient boosting, grown leaf-wise on binned features from per-event gradients g and
// hessians h of the loss (second-order boosting: Friedman 2001; Chen & Guestrin, KDD 2016, eqs. 5–7):
//   leaf value  w* = −G / (H + λ)                      (G, H: sums of g, h over the leaf's events)
//   split gain  G_L²/(H_L + λ) + G_R²/(H_R + λ) − G²/(H + λ)
// Leaf-wise growth (LightGBM; Ke et al., NeurIPS 2017) always splits the leaf of largest gain, up to
// `maxLeafNodes` leaves. Split candidates come from per-bin histograms of (g, h, count); a child's histogram is
// its parent's minus its sibling's, so only the smaller child's events are scanned.

/** A tree as flat node tables; node 0 is the root. An event at node i goes left when x[feature[i]] ≤ threshold[i]. */
export interface Tree {
  /** Feature index of each split; −1 at leaves. */
  feature: Int32Array;
  /** Float32 split thresholds (bin edges); 0 at leaves. */
  threshold: Float32Array;
  /** Child nodes; −1 at leaves. */
  left: Int32Array;
  right: Int32Array;
  /** Leaf values (learning rate applied); 0 at split nodes. */
  value: Float64Array;
}

export interface TreeSettings {
  maxLeafNodes: number;
  minSamplesLeaf: number;
  /** L2 penalty λ on leaf values. */
  l2: number;
  learningRate: number;
}

/** The binned training events: bins[d][row], the bin edges per feature, and gradient statistics per row. */
export interface BinnedProblem {
  bins: Uint8Array[];
  edges: Float32Array[];
  gradient: Float64Array;
  hessian: Float64Array;
}

/** A leaf's hessian sum must exceed this to be split off (the logistic loss's h = w p(1 − p) vanishes on sure events). */
const MIN_HESSIAN = 1e-3;

interface Split {
  gain: number;
  feature: number;
  bin: number;
}

interface GrowingLeaf {
  node: number;
  /** Its events: rows[start … end). */
  start: number;
  end: number;
  /** Per feature, per bin: g, h and event count (3 values per bin, SLOTS bins per feature). */
  histogram: Float64Array;
  sumG: number;
  sumH: number;
  split: Split | null;
}

/** Histogram slots per feature: one per possible bin index (a byte). */
const SLOTS = 256;

function histogramOf(p: BinnedProblem, rows: Uint32Array, start: number, end: number): Float64Array {
  const histogram = new Float64Array(p.bins.length * SLOTS * 3);
  p.bins.forEach((column, d) => {
    const base = d * SLOTS * 3;
    for (let i = start; i < end; i++) {
      const r = rows[i];
      const k = base + column[r] * 3;
      histogram[k] += p.gradient[r];
      histogram[k + 1] += p.hessian[r];
      histogram[k + 2] += 1;
    }
  });
  return histogram;
}

function score(g: number, h: number, l2: number): number {
  return (g * g) / (h + l2);
}

function bestSplit(leaf: GrowingLeaf, p: BinnedProblem, s: TreeSettings): Split | null {
  const count = leaf.end - leaf.start;
  if (count < 2 * s.minSamplesLeaf) return null;
  const parent = score(leaf.sumG, leaf.sumH, s.l2);
  let best: Split | null = null;
  p.edges.forEach((edges, d) => {
    const base = d * SLOTS * 3;
    let g = 0;
    let h = 0;
    let c = 0;
    // Split "bin ≤ k": bins 0 … k go left; the last bin cannot (the right side would be empty).
    for (let k = 0; k < edges.length; k++) {
      g += leaf.histogram[base + 3 * k];
      h += leaf.histogram[base + 3 * k + 1];
      c += leaf.histogram[base + 3 * k + 2];
      if (c < s.minSamplesLeaf) continue;
      if (count - c < s.minSamplesLeaf) break;
      if (h < MIN_HESSIAN || leaf.sumH - h < MIN_HESSIAN) continue;
      const gain = score(g, h, s.l2) + score(leaf.sumG - g, leaf.sumH - h, s.l2) - parent;
      if (gain > 1e-12 && (best === null || gain > best.gain)) best = { gain, feature: d, bin: k };
    }
  });
  return best;
}

/**
 * Grows one tree on the events rows[0 … n) (the array is reordered: each leaf's events end up contiguous) and
 * returns it with the leaf each row landed in, as ranges of `rows`: leafRanges[j] = [start, end, node].
 */
export function growTree(p: BinnedProblem, rows: Uint32Array, s: TreeSettings): { tree: Tree; leafRanges: [number, number, number][] } {
  const feature: number[] = [-1];
  const threshold: number[] = [0];
  const left: number[] = [-1];
  const right: number[] = [-1];
  const value: number[] = [0];
  const makeLeaf = (node: number, start: number, end: number, histogram: Float64Array): GrowingLeaf => {
    // Totals from feature 0's bins: every event sits in exactly one of them.
    let sumG = 0;
    let sumH = 0;
    for (let k = 0; k < SLOTS; k++) {
      sumG += histogram[3 * k];
      sumH += histogram[3 * k + 1];
    }
    const leaf: GrowingLeaf = { node, start, end, histogram, sumG, sumH, split: null };
    leaf.split = bestSplit(leaf, p, s);
    return leaf;
  };
  const leaves = [makeLeaf(0, 0, rows.length, histogramOf(p, rows, 0, rows.length))];
  const scratch = new Uint32Array(rows.length);
  while (leaves.length < s.maxLeafNodes) {
    let pick = -1;
    leaves.forEach((leaf, i) => {
      if (leaf.split && (pick < 0 || leaf.split.gain > leaves[pick].split!.gain)) pick = i;
    });
    if (pick < 0) break;
    const leaf = leaves[pick];
    const { feature: d, bin } = leaf.split!;
    // Stable partition of the leaf's rows: bin ≤ split bin first.
    const column = p.bins[d];
    let l = leaf.start;
    let r = 0;
    for (let i = leaf.start; i < leaf.end; i++) {
      const row = rows[i];
      if (column[row] <= bin) rows[l++] = row;
      else scratch[r++] = row;
    }
    rows.set(scratch.subarray(0, r), l);
    const leftNode = feature.length;
    feature.push(-1, -1);
    threshold.push(0, 0);
    left.push(-1, -1);
    right.push(-1, -1);
    value.push(0, 0);
    feature[leaf.node] = d;
    threshold[leaf.node] = p.edges[d][bin];
    left[leaf.node] = leftNode;
    right[leaf.node] = leftNode + 1;
    const leftSmaller = l - leaf.start <= leaf.end - l;
    const small = leftSmaller ? histogramOf(p, rows, leaf.start, l) : histogramOf(p, rows, l, leaf.end);
    const large = leaf.histogram.map((v, k) => v - small[k]);
    const [leftHistogram, rightHistogram] = leftSmaller ? [small, large] : [large, small];
    leaves.splice(pick, 1, makeLeaf(leftNode, leaf.start, l, leftHistogram), makeLeaf(leftNode + 1, l, leaf.end, rightHistogram));
  }
  for (const leaf of leaves) value[leaf.node] = (-s.learningRate * leaf.sumG) / (leaf.sumH + s.l2);
  return {
    tree: {
      feature: Int32Array.from(feature),
      threshold: Float32Array.from(threshold),
      left: Int32Array.from(left),
      right: Int32Array.from(right),
      value: Float64Array.from(value),
    },
    leafRanges: leaves.map((leaf): [number, number, number] => [leaf.start, leaf.end, leaf.node]),
  };
}

/** The value of the leaf an event x (D features, read as float32) reaches. */
export function treeValue(tree: Tree, x: ArrayLike<number>, offset = 0): number {
  let node = 0;
  while (tree.feature[node] >= 0) node = Math.fround(x[offset + tree.feature[node]]) <= tree.threshold[node] ? tree.left[node] : tree.right[node];
  return tree.value[node];
}

/** Depth of the deepest leaf (0 for a single leaf). */
export function treeDepth(tree: Tree): number {
  const depth = (node: number): number => (tree.feature[node] < 0 ? 0 : 1 + Math.max(depth(tree.left[node]), depth(tree.right[node])));
  return depth(0);
}
