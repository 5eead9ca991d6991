// Histograms filled while events are generated, so 10^8–10^9 events become a few kB of bin contents without
// ever being written: per column, regular bins on [lo, hi) with Σw and Σw² per bin (the MC-statistical error
// of a weighted histogram is sqrt(Σw²)), plus underflow and overflow. One set per mixture component and their sum.
import { parseNamedRanges } from './ranges.ts';

export interface BinningSpec {
  column: string;
  lo: number;
  hi: number;
  bins: number;
}

/** "x=40:140:100,mjj=2000:6000:40" → one binning per column. */
export function parseBinnings(text: string, where = '--hist'): BinningSpec[] {
  return parseNamedRanges(text, where, 'bins', 'x=40:140:100').map((r) => ({ column: r.name, lo: r.lo, hi: r.hi, bins: r.count }));
}

export interface HistogramContents {
  /** Σw per bin. */
  sumw: number[];
  /** Σw² per bin. */
  sumw2: number[];
  /** Unweighted entries per bin. */
  entries: number[];
  underflow: FlowBin;
  overflow: FlowBin;
}

/** What fell below lo or at or above hi (NaN counts as above). */
export interface FlowBin {
  sumw: number;
  sumw2: number;
  entries: number;
}

class Histogram {
  readonly sumw: Float64Array;
  readonly sumw2: Float64Array;
  readonly entries: Float64Array;
  /** Bins 0 and bins + 1 of the arrays below are underflow and overflow. */
  constructor(readonly spec: BinningSpec) {
    this.sumw = new Float64Array(spec.bins + 2);
    this.sumw2 = new Float64Array(spec.bins + 2);
    this.entries = new Float64Array(spec.bins + 2);
  }

  fill(values: ArrayLike<number>, count: number, weight: number, pass: Uint8Array | null): void {
    const { lo, hi, bins } = this.spec;
    const scale = bins / (hi - lo);
    const w2 = weight * weight;
    for (let i = 0; i < count; i++) {
      if (pass && pass[i] === 0) continue;
      const v = values[i];
      // NaN lands in the overflow (it compares false everywhere), where it cannot go unnoticed in the totals.
      const slot = v < lo ? 0 : v < hi ? 1 + Math.min(bins - 1, Math.floor((v - lo) * scale)) : bins + 1;
      this.sumw[slot] += weight;
      this.sumw2[slot] += w2;
      this.entries[slot] += 1;
    }
  }

  contents(): HistogramContents {
    const inside = (a: Float64Array): number[] => Array.from(a.subarray(1, this.spec.bins + 1));
    const last = this.spec.bins + 1;
    return {
      sumw: inside(this.sumw),
      sumw2: inside(this.sumw2),
      entries: inside(this.entries),
      underflow: { sumw: this.sumw[0], sumw2: this.sumw2[0], entries: this.entries[0] },
      overflow: { sumw: this.sumw[last], sumw2: this.sumw2[last], entries: this.entries[last] },
    };
  }
}

export interface HistogramSetJson {
  /** Per binned column: its bin edges and the contents of each component (and 'total' for several). */
  [column: string]: { edges: number[]; components: Record<string, HistogramContents> };
}

/** Histograms of every binned column for each of the named components. */
export class HistogramSet {
  private readonly histograms: Map<string, Histogram[]> = new Map();

  constructor(
    readonly specs: readonly BinningSpec[],
    readonly components: readonly string[],
  ) {
    for (const name of components) this.histograms.set(name, specs.map((s) => new Histogram(s)));
  }

  /** Fills `count` events of `component` (all with weight `weight`); `pass` masks events out (0) or in (1). */
  fill(component: string, columns: Record<string, ArrayLike<number>>, count: number, weight: number, pass: Uint8Array | null): void {
    const histograms = this.histograms.get(component);
    if (!histograms) throw new Error(`no histograms for component "${component}" (components: ${this.components.join(', ')})`);
    for (const h of histograms) h.fill(columns[h.spec.column], count, weight, pass);
  }

  toJSON(): HistogramSetJson {
    const out: HistogramSetJson = {};
    this.specs.forEach((spec, s) => {
      const edges = Array.from({ length: spec.bins + 1 }, (_, i) => spec.lo + ((spec.hi - spec.lo) * i) / spec.bins);
      const components: Record<string, HistogramContents> = {};
      for (const name of this.components) components[name] = this.histograms.get(name)![s].contents();
      if (this.components.length > 1) components.total = sumContents(Object.values(components));
      out[spec.column] = { edges, components };
    });
    return out;
  }

  /** One row per column, component and bin: column,component,bin,lo,hi,sumw,sumw2,entries (under/overflow as bins −1 and n). */
  toCsv(): string {
    const lines = ['column,component,bin,lo,hi,sumw,sumw2,entries'];
    for (const [column, { edges, components }] of Object.entries(this.toJSON())) {
      const n = edges.length - 1;
      for (const [name, c] of Object.entries(components)) {
        lines.push(`${column},${name},-1,-Infinity,${edges[0]},${c.underflow.sumw},${c.underflow.sumw2},${c.underflow.entries}`);
        for (let b = 0; b < n; b++) lines.push(`${column},${name},${b},${edges[b]},${edges[b + 1]},${c.sumw[b]},${c.sumw2[b]},${c.entries[b]}`);
        lines.push(`${column},${name},${n},${edges[n]},Infinity,${c.overflow.sumw},${c.overflow.sumw2},${c.overflow.entries}`);
      }
    }
    return `${lines.join('\n')}\n`;
  }
}

function sumContents(parts: HistogramContents[]): HistogramContents {
  const add = (pick: (c: HistogramContents) => number[]): number[] => pick(parts[0]).map((_, b) => parts.reduce((s, c) => s + pick(c)[b], 0));
  const addFlow = (pick: (c: HistogramContents) => FlowBin): FlowBin => ({
    sumw: parts.reduce((s, c) => s + pick(c).sumw, 0),
    sumw2: parts.reduce((s, c) => s + pick(c).sumw2, 0),
    entries: parts.reduce((s, c) => s + pick(c).entries, 0),
  });
  return {
    sumw: add((c) => c.sumw),
    sumw2: add((c) => c.sumw2),
    entries: add((c) => c.entries),
    underflow: addFlow((c) => c.underflow),
    overflow: addFlow((c) => c.overflow),
  };
}
