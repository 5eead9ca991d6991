// `flowscan compare`: a generated sample against a reference sample, feature by feature (KS, binned χ²/ndf, KL,
// Jensen–Shannon, Hellinger, a histogram with a ratio panel) and, optionally, all features at once by a
// classifier two-sample test (c2st.ts). Issue 14 item 2; the validation of Gavranovič & Kerševan.
import { ksTwoSample, plots } from '@flowscan/runtime';
import { type C2stOptions, type C2stResult, classifierTwoSampleTest } from './c2st.ts';
import { type Chi2Result, type Divergences, binSample, binnedChi2, divergences } from './metrics.ts';

export interface Sample {
  label: string;
  columns: Record<string, Float64Array>;
  /** Per-event weights (e.g. the "weight" column of a generated mixture), or null for unit weights. */
  weights: Float64Array | null;
}

export interface FeatureBinning {
  lo: number;
  hi: number;
  bins: number;
}

export interface FeatureComparison {
  feature: string;
  binning: FeatureBinning;
  /** Unbinned two-sample KS (unweighted). */
  ks: { statistic: number; pValue: number };
  chi2: Chi2Result;
  divergences: Divergences;
  figure: plots.VegaLiteSpec;
}

export interface ComparisonResult {
  reference: { label: string; events: number };
  generated: { label: string; events: number };
  features: FeatureComparison[];
  c2st: C2stResult | null;
}

/** The range of both samples together, in `bins` bins (the default binning of a feature). */
export function defaultBinning(a: Float64Array, b: Float64Array, bins: number): FeatureBinning {
  let lo = Infinity;
  let hi = -Infinity;
  for (const values of [a, b]) {
    for (const v of values) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  if (!(lo < hi)) throw new Error(`the samples take the single value ${lo}; give the feature's bins explicitly`);
  // Widen the top edge by a hair so the largest value falls inside the last bin [lo, hi).
  return { lo, hi: hi + (hi - lo) * 1e-9, bins };
}

/** Row-major [n×D] float32 events of `features`, the first `limit` rows. */
function eventMatrix(sample: Sample, features: string[], limit: number): Float32Array {
  const n = Math.min(limit, sample.columns[features[0]].length);
  const D = features.length;
  const x = new Float32Array(n * D);
  features.forEach((f, d) => {
    const column = sample.columns[f];
    for (let i = 0; i < n; i++) x[i * D + d] = column[i];
  });
  return x;
}

export async function compareSamples(
  reference: Sample,
  generated: Sample,
  features: string[],
  binnings: Record<string, FeatureBinning>,
  c2st: (C2stOptions & { maxEvents: number }) | null,
): Promise<ComparisonResult> {
  const results: FeatureComparison[] = features.map((feature) => {
    const r = reference.columns[feature];
    const g = generated.columns[feature];
    const binning = binnings[feature];
    const refBins = binSample(r, reference.weights, binning.lo, binning.hi, binning.bins);
    const genBins = binSample(g, generated.weights, binning.lo, binning.hi, binning.bins);
    const edges = Array.from({ length: binning.bins + 1 }, (_, i) => binning.lo + ((binning.hi - binning.lo) * i) / binning.bins);
    return {
      feature,
      binning,
      ks: ksTwoSample(g, r),
      chi2: binnedChi2(refBins, genBins),
      divergences: divergences(refBins.sumw, genBins.sumw),
      figure: plots.ratioComparison({
        title: feature,
        xTitle: feature,
        edges,
        reference: { label: reference.label, sumw: Array.from(refBins.sumw), sumw2: Array.from(refBins.sumw2) },
        generated: { label: generated.label, sumw: Array.from(genBins.sumw), sumw2: Array.from(genBins.sumw2) },
      }),
    };
  });
  const c2stResult = c2st
    ? await classifierTwoSampleTest(eventMatrix(reference, features, c2st.maxEvents), eventMatrix(generated, features, c2st.maxEvents), c2st)
    : null;
  return {
    reference: { label: reference.label, events: reference.columns[features[0]].length },
    generated: { label: generated.label, events: generated.columns[features[0]].length },
    features: results,
    c2st: c2stResult,
  };
}

/** The comparison as a plain-text table, one row per feature, and the C2ST line. */
export function comparisonTable(result: ComparisonResult): string {
  const header = ['feature', 'KS D', 'KS p', 'χ²/ndf', 'χ² p', 'KL', 'JS', 'Hellinger'];
  const rows = result.features.map((f) => [
    f.feature,
    f.ks.statistic.toPrecision(3),
    f.ks.pValue.toPrecision(3),
    `${f.chi2.chi2.toFixed(1)}/${f.chi2.ndf}`,
    f.chi2.pValue.toPrecision(3),
    f.divergences.kl.toExponential(2),
    f.divergences.jensenShannon.toExponential(2),
    f.divergences.hellinger.toExponential(2),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (cells: string[]): string => cells.map((cell, c) => cell.padEnd(widths[c])).join('  ');
  const lines = [
    `${result.generated.label} (${result.generated.events} events) against ${result.reference.label} (${result.reference.events} events)`,
    line(header),
    ...rows.map(line),
  ];
  if (result.c2st) {
    const c = result.c2st;
    lines.push(`C2ST: AUC ${c.auc.toFixed(4)} ± ${c.aucError.toFixed(4)} (0.5: indistinguishable), permutation p ${c.permutationPValue.toPrecision(3)} (${c.permutations} permutations, ${c.folds} folds, ${c.events[0]} + ${c.events[1]} events)`);
  }
  return `${lines.join('\n')}\n`;
}
