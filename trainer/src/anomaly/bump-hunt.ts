// The bump hunt after an anomaly score (issue 13 item 3): a binned Poisson fit of the m_jj spectrum with a smooth
// background and a Gaussian signal at a fixed mass, with and without a cut on the score. A good score removes
// much more background than signal, so the local significance of the bump grows; the ratio of the two is the
// significance improvement that CWoLa hunting (Collins, Howe, Nachman, PRD 99 (2019) 014038) and CATHODE
// (Hallin et al., PRD 106 (2022) 055006, §V) report.
//   background  the four-parameter dijet function dN/dm ∝ (1 − x)^p1 / x^(p2 + p3 ln x), x = m_jj/√s (CMS,
//               PRL 105 (2010) 211801; ATLAS and CMS dijet searches since), per bin at its centre × width
//   signal      s · ∫_bin N(m; mass, σ) dm, the yield s ≥ 0 free, mass and σ fixed (a search at one mass)
//   Z           √q0, q0 = 2 (NLL_b − NLL_sb) (Cowan et al., EPJC 71 (2011) 1554), from runtime/src/fit
import { type BatchObjective, type LocalSignificance, histfactory, localSignificance, minimize } from '@flowscan/runtime';

export interface BumpHuntOptions {
  /** m_jj fit range [low, high) in the units of the events (GeV for the simulator). */
  range: readonly [number, number];
  bins: number;
  /** Centre-of-mass energy in the same units: x = m_jj/√s in the dijet function. */
  sqrtS: number;
  /** The signal's Gaussian in m_jj: fixed mass and width. */
  signal: { mass: number; sigma: number };
  /**
   * Parameters of the dijet function: 3 (p3 = 0) or 4. Each one more absorbs more of a bump into the
   * background (on the test's Asimov data the fourth takes half of q0) and follows more sculpting by a cut.
   */
  backgroundParameters: 3 | 4;
}

export interface BumpHuntResult {
  /** Events in each bin of the fit range. */
  counts: Float64Array;
  /** NLL (−log L without the data-only log n! terms) of the background-only and the signal-plus-background fit. */
  nllBackground: number;
  nllSignalPlusBackground: number;
  /** The fitted signal yield (events in the whole Gaussian). */
  signalYield: number;
  significance: LocalSignificance;
  converged: boolean;
}

function checkOptions(o: BumpHuntOptions): void {
  const [low, high] = o.range;
  if (!(Number.isFinite(low) && Number.isFinite(high) && low > 0 && high > low)) throw new Error(`the bump hunt's m_jj range must be finite with 0 < low < high, got [${low}, ${high}]`);
  if (!(high < o.sqrtS)) throw new Error(`the bump hunt's range [${low}, ${high}] must lie below √s = ${o.sqrtS} (the dijet function has (1 − m/√s)^p1)`);
  if (o.backgroundParameters !== 3 && o.backgroundParameters !== 4) throw new Error(`the dijet function has 3 or 4 parameters, got ${o.backgroundParameters}`);
  if (!(Number.isInteger(o.bins) && o.bins >= 6)) throw new Error(`the bump hunt needs an integer number of bins ≥ 6 (4 background parameters and a signal yield), got ${o.bins}`);
  if (!(o.signal.mass > low && o.signal.mass < high)) throw new Error(`the signal mass ${o.signal.mass} lies outside the fit range [${low}, ${high}]`);
  if (!(o.signal.sigma > 0 && Number.isFinite(o.signal.sigma))) throw new Error(`the signal width must be a positive number, got ${o.signal.sigma}`);
}

/** Events per bin of the fit range; events outside it are left out. */
export function histogram(mjj: ArrayLike<number>, range: readonly [number, number], bins: number): Float64Array {
  const counts = new Float64Array(bins);
  const width = (range[1] - range[0]) / bins;
  for (let i = 0; i < mjj.length; i++) {
    const bin = Math.floor((mjj[i] - range[0]) / width);
    if (bin >= 0 && bin < bins) counts[bin]++;
  }
  return counts;
}

/**
 * The binned model in a well-conditioned parametrisation. The dijet function is log-linear in its parameters,
 * ln b(m) = c₀ + p1 ln(1 − x) − p2 ln x − p3 ln² x, but ln x, ln² x and ln(1 − x) are nearly collinear over a
 * search range, so the fit uses the same family in a basis φ_k orthonormalised (Gram–Schmidt) with the weights
 * of a first estimate of the counts: the coordinates are then nearly uncorrelated with unit errors.
 */
export class DijetBumpModel {
  readonly bins: number;
  /** Background parameters P (3 or 4). */
  readonly parameters: number;
  /** φ_k(bin), k < P, row-major [bins, P]: ln b_i = ln(bin width) + Σ_k c_k φ_k(i). */
  readonly basis: Float64Array;
  readonly logWidth: number;
  /** Fraction of the unit-normalised signal Gaussian in each bin. */
  readonly signalShape: Float64Array;

  constructor(readonly options: BumpHuntOptions, weights: ArrayLike<number>) {
    checkOptions(options);
    const { range, bins, sqrtS, signal } = options;
    this.bins = bins;
    this.parameters = options.backgroundParameters;
    const width = (range[1] - range[0]) / bins;
    this.logWidth = Math.log(width);
    const raw = Array.from({ length: bins }, (_, i) => {
      const x = (range[0] + (i + 0.5) * width) / sqrtS;
      return [1, Math.log(1 - x), -Math.log(x), -(Math.log(x) ** 2)].slice(0, this.parameters);
    });
    this.basis = orthonormalBasis(raw, weights);
    const cdf = (m: number): number => histfactory.normalCdf((m - signal.mass) / signal.sigma);
    this.signalShape = Float64Array.from({ length: bins }, (_, i) => cdf(range[0] + (i + 1) * width) - cdf(range[0] + i * width));
  }

  /** Expected background per bin for coordinates c (P). */
  background(c: ArrayLike<number>): Float64Array {
    const P = this.parameters;
    return Float64Array.from({ length: this.bins }, (_, i) => {
      let log = this.logWidth;
      for (let k = 0; k < P; k++) log += c[k] * this.basis[P * i + k];
      return Math.exp(log);
    });
  }

  /**
   * NLL = Σ ν_i − n_i ln ν_i with ν = b(c) + s·g, and its gradient: ∂ν_i/∂c_k = b_i φ_k(i), ∂ν_i/∂s = g_i.
   * θ = (c₀…c_{P−1}) for the background-only model, (c₀…c_{P−1}, s) with the signal.
   */
  nll(theta: ArrayLike<number>, counts: ArrayLike<number>, gradient?: Float64Array): number {
    const P = this.parameters;
    const b = this.background(theta);
    const withSignal = theta.length > P;
    const s = withSignal ? theta[P] : 0;
    gradient?.fill(0);
    let value = 0;
    for (let i = 0; i < this.bins; i++) {
      const nu = b[i] + s * this.signalShape[i];
      value += nu - (counts[i] > 0 ? counts[i] * Math.log(nu) : 0);
      if (gradient) {
        const dNu = 1 - counts[i] / nu;
        for (let k = 0; k < P; k++) gradient[k] += dNu * b[i] * this.basis[P * i + k];
        if (withSignal) gradient[P] += dNu * this.signalShape[i];
      }
    }
    return value;
  }
}

/** Columns of `raw` ([rows][K]) made orthonormal under Σ_i w_i f(i) g(i) (modified Gram–Schmidt), row-major. */
function orthonormalBasis(raw: number[][], weights: ArrayLike<number>): Float64Array {
  const rows = raw.length;
  const K = raw[0].length;
  const columns = Array.from({ length: K }, (_, k) => Float64Array.from(raw, (r) => r[k]));
  const inner = (f: Float64Array, g: Float64Array): number => f.reduce((a, fi, i) => a + weights[i] * fi * g[i], 0);
  columns.forEach((column, k) => {
    for (let j = 0; j < k; j++) {
      const projection = inner(column, columns[j]);
      column.forEach((_, i) => (column[i] -= projection * columns[j][i]));
    }
    const norm = Math.sqrt(inner(column, column));
    if (!(norm > 1e-12)) throw new Error('the bump hunt cannot fit the dijet function: too few filled bins to tell its four parameters apart; widen the range or use more events');
    column.forEach((_, i) => (column[i] /= norm));
  });
  return Float64Array.from({ length: rows * K }, (_, index) => columns[index % K][Math.floor(index / K)]);
}

/** Tolerances as the HistFactory fits (runtime/src/histfactory/mle.ts): far below the 1e-3 that Z needs. */
const FIT_TOLERANCES = { gtol: 1e-9, ftolAbs: 1e-12, ftolRel: 1e-15, maxIterations: 2000, maxEvaluations: 10000 } as const;

function objective(model: DijetBumpModel, counts: Float64Array, dimension: number): BatchObjective {
  return {
    dimension,
    evaluate: async (points, count, withGradient) => {
      const values = new Float64Array(count);
      const gradients = withGradient ? new Float64Array(count * dimension) : undefined;
      for (let k = 0; k < count; k++) values[k] = model.nll(points.subarray(k * dimension, (k + 1) * dimension), counts, gradients?.subarray(k * dimension, (k + 1) * dimension));
      return gradients ? { values, gradients } : { values };
    },
  };
}

/**
 * L-BFGS-B from `starts` (K × dimension; dimension P without the signal, P + 1 with its yield, bounded at 0), run
 * twice (a restart settles a line search stopped just short).
 */
async function fitModel(model: DijetBumpModel, counts: Float64Array, starts: Float64Array, withSignal: boolean): Promise<{ x: Float64Array; nll: number; converged: boolean }> {
  const P = model.parameters;
  const dimension = withSignal ? P + 1 : P;
  const lower = new Float64Array(dimension).fill(-Infinity);
  const upper = new Float64Array(dimension).fill(Infinity);
  const scales = new Float64Array(dimension).fill(1);
  if (withSignal) {
    lower[P] = 0;
    // The yield's error where the background dominates: 1/√(Σ g²/b).
    const b = model.background(starts);
    scales[P] = 1 / Math.sqrt(model.signalShape.reduce((a, g, i) => a + (g * g) / b[i], 0));
  }
  let best = await minimize(objective(model, counts, dimension), { method: 'lbfgsb', ...FIT_TOLERANCES, starts, scales, bounds: { lower, upper } });
  const again = await minimize(objective(model, counts, dimension), { method: 'lbfgsb', ...FIT_TOLERANCES, starts: Float64Array.from(best.best.x), scales, bounds: { lower, upper } });
  if (again.best.value <= best.best.value) best = again;
  return { x: Float64Array.from(best.best.x), nll: best.best.value, converged: best.best.converged };
}

/**
 * Fits the m_jj spectrum of the events with the background-only and the signal-plus-background model and
 * returns the local significance of the signal (one-sided: a fitted yield at its bound 0 gives Z = 0).
 */
export function bumpHunt(mjj: ArrayLike<number>, options: BumpHuntOptions): Promise<BumpHuntResult> {
  return fitBump(histogram(mjj, options.range, options.bins), options);
}

/** bumpHunt on binned counts (non-negative, not necessarily integer: Asimov data). */
export async function fitBump(counts: Float64Array, options: BumpHuntOptions): Promise<BumpHuntResult> {
  if (counts.length !== options.bins) throw new Error(`${counts.length} bin counts for ${options.bins} bins`);
  const negative = counts.findIndex((n) => !(n >= 0 && Number.isFinite(n)));
  if (negative >= 0) throw new Error(`bin ${negative + 1} holds ${counts[negative]} events; counts must be finite and ≥ 0`);
  const filled = counts.filter((n) => n > 0).length;
  if (filled < 6) throw new Error(`the bump hunt needs events in at least 6 bins of [${options.range.join(', ')}], got ${filled} filled bins`);
  // Weights of the basis: the counts, with empty bins counted as one half so that the basis stays full rank.
  const model = new DijetBumpModel(options, Float64Array.from(counts, (n) => Math.max(n, 0.5)));
  const start = weightedLogFit(model, counts);
  const background = await fitModel(model, counts, start, false);
  const b = model.background(background.x);
  // Two starts for the yield: none, and the excess the Gaussian window holds over the background fit.
  const excess = Math.max(model.signalShape.reduce((a, g, i) => a + g * (counts[i] - b[i]), 0) / model.signalShape.reduce((a, g) => a + g * g, 0), 1);
  const starts = Float64Array.from([...background.x, 0, ...background.x, excess]);
  const signalPlusBackground = await fitModel(model, counts, starts, true);
  // The s + b model contains the background-only one (s = 0); its fit can only end lower, up to the tolerance.
  const nllSignalPlusBackground = Math.min(signalPlusBackground.nll, background.nll);
  return {
    counts,
    nllBackground: background.nll,
    nllSignalPlusBackground,
    signalYield: signalPlusBackground.x[model.parameters],
    significance: localSignificance(background.nll, nllSignalPlusBackground, signalPlusBackground.x[model.parameters]),
    converged: background.converged && signalPlusBackground.converged,
  };
}

/**
 * The start of the background fit: least squares of ln n_i − ln width on the orthonormal basis with weights
 * n_i (the Poisson variance of ln n is 1/n), which in that basis is one projection per coordinate.
 */
function weightedLogFit(model: DijetBumpModel, counts: Float64Array): Float64Array {
  const P = model.parameters;
  return Float64Array.from({ length: P }, (_, k) => counts.reduce((a, n, i) => a + (n > 0 ? n * (Math.log(n) - model.logWidth) * model.basis[P * i + k] : 0), 0));
}

/** The score threshold that `efficiency` of the scores pass (score ≥ threshold). */
export function thresholdForEfficiency(scores: ArrayLike<number>, efficiency: number): number {
  if (!(efficiency > 0 && efficiency <= 1)) throw new Error(`the cut's efficiency must be in (0, 1], got ${efficiency}`);
  if (scores.length === 0) throw new Error('a score threshold needs at least one score');
  const sorted = Float64Array.from(scores).sort((a, b) => b - a);
  return sorted[Math.max(0, Math.ceil(efficiency * sorted.length) - 1)];
}

/** Events of a bump hunt: m_jj, an anomaly score (high: signal-like) and truth labels (1 signal). */
export interface ScoredSpectrum {
  mjj: Float64Array;
  score: Float64Array;
  label: Uint8Array;
}

export interface CutSignificance {
  /** The fraction of signal-region events that pass the cut; 1 is no cut. */
  efficiency: number;
  threshold: number;
  /** Events passing in the fit range, and signal events among them (truth). */
  events: number;
  signalEvents: number;
  result: BumpHuntResult;
  /**
   * Z of the same fit on the background events alone that pass: the cut's spurious signal (0 when it sculpts no
   * bump); null when they fill fewer than 6 bins.
   */
  backgroundOnlyZ: number | null;
  /** Z with the cut over Z without; null when the uncut fit finds no signal (Z = 0: a downward fluctuation). */
  improvement: number | null;
}

/**
 * The bump hunt without a cut and after cuts on the score that keep `efficiencies` of the events in the signal
 * region (the threshold set on the events themselves, as an analysis on data would); the same fit on the
 * background events that pass measures what the cut's sculpting of m_jj alone fakes.
 */
export async function significanceAfterCuts(events: ScoredSpectrum, signalRegion: readonly [number, number], efficiencies: readonly number[], options: BumpHuntOptions): Promise<CutSignificance[]> {
  const n = events.mjj.length;
  if (events.score.length !== n || events.label.length !== n) throw new Error(`${n} m_jj values, ${events.score.length} scores and ${events.label.length} labels: one of each per event`);
  const inRegion = (m: number): boolean => m >= signalRegion[0] && m <= signalRegion[1];
  const regionScores = events.score.filter((_, i) => inRegion(events.mjj[i]));
  const inRange = (m: number): boolean => m >= options.range[0] && m < options.range[1];
  const rows: CutSignificance[] = [];
  for (const efficiency of [1, ...efficiencies]) {
    const threshold = efficiency === 1 ? -Infinity : thresholdForEfficiency(regionScores, efficiency);
    const passing = (i: number): boolean => events.score[i] >= threshold;
    const all: number[] = [];
    const background: number[] = [];
    let signalEvents = 0;
    for (let i = 0; i < n; i++) {
      if (!passing(i)) continue;
      all.push(events.mjj[i]);
      if (events.label[i] === 0) background.push(events.mjj[i]);
      else if (inRange(events.mjj[i])) signalEvents++;
    }
    const result = await bumpHunt(all, options);
    const z = result.significance.z;
    rows.push({
      efficiency,
      threshold,
      events: all.filter(inRange).length,
      signalEvents,
      result,
      backgroundOnlyZ: histogram(background, options.range, options.bins).filter((c) => c > 0).length >= 6 ? (await bumpHunt(background, options)).significance.z : null,
      improvement: rows.length === 0 ? 1 : rows[0].result.significance.z > 0 ? z / rows[0].result.significance.z : null,
    });
  }
  return rows;
}
