// Distances between a generated and a reference sample, feature by feature, on common bins (the validation of
// Gavranovič & Kerševan, "Normalizing Flows for Physics Data Analyses", §4): the binned χ²/ndf with both samples'
// statistical errors, and the Kullback–Leibler, Jensen–Shannon and Hellinger distances of the normalised
// histograms. Unbinned: the two-sample KS test (runtime/src/stats/ks.ts).

/** Σw and Σw² per bin of one sample. */
export interface BinnedSample {
  sumw: ArrayLike<number>;
  sumw2: ArrayLike<number>;
}

export interface Chi2Result {
  chi2: number;
  /** Bins with an error, less one for the normalisation. */
  ndf: number;
  chi2PerNdf: number;
  /** P(χ²_ndf ≥ chi2). */
  pValue: number;
}

/**
 * Shape comparison of two weighted histograms of different totals: the generated one scaled by k = Σw_ref / Σw_gen,
 * χ² = Σ_i (r_i − k g_i)² / (σ²_r,i + k² σ²_g,i) with σ² = Σw² of each sample (Gagunashvili, "Chi-square tests for
 * comparing weighted histograms", NIM A 614 (2010) 287, the scaled form). Bins empty in both samples carry no
 * information and are skipped; the normalisation costs one degree of freedom.
 */
export function binnedChi2(reference: BinnedSample, generated: BinnedSample): Chi2Result {
  const bins = checkSameBins(reference, generated);
  const k = total(reference.sumw) / total(generated.sumw);
  let chi2 = 0;
  let used = 0;
  for (let i = 0; i < bins; i++) {
    const variance = reference.sumw2[i] + k * k * generated.sumw2[i];
    if (!(variance > 0)) continue;
    const d = reference.sumw[i] - k * generated.sumw[i];
    chi2 += (d * d) / variance;
    used++;
  }
  const ndf = Math.max(used - 1, 1);
  return { chi2, ndf, chi2PerNdf: chi2 / ndf, pValue: chi2Survival(chi2, ndf) };
}

export interface Divergences {
  /** KL(reference ‖ generated) in nats, over bins where both are non-empty (see skippedMass). */
  kl: number;
  /** Probability mass of the reference in bins where the generated histogram is empty (KL there is infinite). */
  klSkippedMass: number;
  /** Jensen–Shannon divergence in nats, ½KL(p‖m) + ½KL(q‖m) with m = (p + q)/2: in [0, ln 2], always finite. */
  jensenShannon: number;
  /** Hellinger distance sqrt(1 − Σ sqrt(p_i q_i)): in [0, 1]. */
  hellinger: number;
}

/** The divergences of the normalised histograms p (reference) and q (generated). */
export function divergences(reference: ArrayLike<number>, generated: ArrayLike<number>): Divergences {
  const bins = reference.length;
  if (generated.length !== bins) throw new Error(`the histograms have ${bins} and ${generated.length} bins; compare them on the same bins`);
  const sp = total(reference);
  const sq = total(generated);
  if (!(sp > 0 && sq > 0)) throw new Error(`a histogram is empty (totals ${sp} and ${sq}); nothing to compare`);
  let kl = 0;
  let skipped = 0;
  let js = 0;
  let bhattacharyya = 0;
  for (let i = 0; i < bins; i++) {
    const p = reference[i] / sp;
    const q = generated[i] / sq;
    if (p < 0 || q < 0) throw new Error(`bin ${i} has negative content (${reference[i]}, ${generated[i]}); divergences need probabilities`);
    if (p > 0 && q > 0) kl += p * Math.log(p / q);
    else if (p > 0) skipped += p;
    const m = (p + q) / 2;
    if (p > 0) js += 0.5 * p * Math.log(p / m);
    if (q > 0) js += 0.5 * q * Math.log(q / m);
    bhattacharyya += Math.sqrt(p * q);
  }
  return { kl, klSkippedMass: skipped, jensenShannon: js, hellinger: Math.sqrt(Math.max(0, 1 - bhattacharyya)) };
}

function total(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return s;
}

function checkSameBins(a: BinnedSample, b: BinnedSample): number {
  const n = a.sumw.length;
  if (a.sumw2.length !== n || b.sumw.length !== n || b.sumw2.length !== n) {
    throw new Error(`the histograms have ${n} and ${b.sumw.length} bins (Σw² ${a.sumw2.length}, ${b.sumw2.length}); compare them on the same bins`);
  }
  if (!(total(a.sumw) > 0 && total(b.sumw) > 0)) throw new Error('a histogram is empty in the compared range; widen the range or check the samples');
  return n;
}

/** log Γ(x), Lanczos (g = 7, 9 terms; Numerical Recipes 3rd ed. §6.1), relative error < 1e-14 for x > 0. */
function logGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let a = c[0];
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/**
 * P(χ²_ν ≥ x) = Q(ν/2, x/2), the regularised upper incomplete gamma function: its series below a + 1, Lentz's
 * continued fraction above (Numerical Recipes 3rd ed. §6.2).
 */
export function chi2Survival(x: number, ndf: number): number {
  if (!(ndf > 0)) throw new RangeError(`χ² degrees of freedom must be > 0, got ${ndf}`);
  if (!(x > 0)) return 1;
  const a = ndf / 2;
  const y = x / 2;
  const prefactor = Math.exp(-y + a * Math.log(y) - logGamma(a));
  if (y < a + 1) {
    let term = 1 / a;
    let sum = term;
    for (let n = 1; n < 10000 && Math.abs(term) > Math.abs(sum) * 1e-16; n++) {
      term *= y / (a + n);
      sum += term;
    }
    return Math.min(1, Math.max(0, 1 - prefactor * sum));
  }
  const tiny = 1e-300;
  let b = y + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.min(1, Math.max(0, prefactor * h));
}

/** Σw and Σw² of `values` (optionally weighted) in `bins` regular bins on [lo, hi); events outside are left out. */
export function binSample(values: ArrayLike<number>, weights: ArrayLike<number> | null, lo: number, hi: number, bins: number): { sumw: Float64Array; sumw2: Float64Array } {
  const sumw = new Float64Array(bins);
  const sumw2 = new Float64Array(bins);
  const scale = bins / (hi - lo);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!(v >= lo && v < hi)) continue;
    const b = Math.min(bins - 1, Math.floor((v - lo) * scale));
    const w = weights ? weights[i] : 1;
    sumw[b] += w;
    sumw2[b] += w * w;
  }
  return { sumw, sumw2 };
}
