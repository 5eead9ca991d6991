// The toy bump hunt (DESIGN.md "Toy bump hunt"; Saito et al., ISGC 2024, §3.1): one observable x = M_reco in
// [40, 140] GeV. Signal: Breit–Wigner (Cauchy) with pole M_pole and full width at half maximum Γ, truncated to the
// window. Background: exp(−τx) truncated to the window. Both are analytic, so the exact likelihood is available
// to check the flows against. Everything is float64.
import type { Rng } from '@flowscan/runtime';

export const TOY_WINDOW: readonly [number, number] = [40, 140];
export const TOY_M_POLE_RANGE: readonly [number, number] = [60, 120];
export const TOY_GAMMA_RANGE: readonly [number, number] = [0.5, 5];
/** τ is drawn log-uniformly: log10 τ ∈ [−3, −1]. */
export const TOY_LOG10_TAU_RANGE: readonly [number, number] = [-3, -1];
/** The pseudo-data truth (M_pole, Γ, τ): a Z-like bump on a falling background. */
export const TOY_TRUTH = Object.freeze({ mPole: 91.2, gamma: 2.5, tau: 0.01 });
/** Training events per process in the paper. */
export const TOY_TRAINING_EVENTS = 200_000;

export const TOY_FEATURES = ['x'] as const;
export const TOY_SIGNAL_PARAMETERS = ['m_pole', 'gamma'] as const;
export const TOY_BACKGROUND_PARAMETERS = ['tau'] as const;

export type ToySignalTraining = Record<'x' | 'm_pole' | 'gamma', Float64Array>;
export type ToyBackgroundTraining = Record<'x' | 'tau', Float64Array>;
export type ToyPseudoData = Record<'x' | 'isSignal', Float64Array>;

const [LOW, HIGH] = TOY_WINDOW;
const WIDTH = HIGH - LOW;

function checkSignal(mPole: number, gamma: number): void {
  if (!Number.isFinite(mPole)) throw new RangeError(`signal pole M_pole must be a finite mass in GeV, got ${mPole}`);
  if (!(gamma > 0 && gamma < Infinity)) throw new RangeError(`signal width Γ must be a finite width > 0 GeV, got ${gamma}`);
}

function checkTau(tau: number): void {
  if (!(tau > 0 && tau < Infinity)) throw new RangeError(`background slope τ must be a finite number > 0 (1/GeV), got ${tau}`);
}

/** Angles atan((edge − M_pole)/(Γ/2)) of the window edges: the truncated Cauchy lives between them. */
function signalAngles(mPole: number, gamma: number): [number, number] {
  const half = gamma / 2;
  return [Math.atan((LOW - mPole) / half), Math.atan((HIGH - mPole) / half)];
}

/**
 * log p_sig(x | M_pole, Γ) = log[(Γ/2)/π / ((x − M_pole)² + (Γ/2)²)] − log Z, with the window probability
 * Z = (atan((140 − M_pole)/(Γ/2)) − atan((40 − M_pole)/(Γ/2)))/π; −Infinity outside the window.
 */
export function signalLogPdf(x: number, mPole: number, gamma: number): number {
  checkSignal(mPole, gamma);
  if (!(x >= LOW && x <= HIGH)) return -Infinity;
  const half = gamma / 2;
  const [a, b] = signalAngles(mPole, gamma);
  const d = x - mPole;
  return Math.log(half) - Math.log(d * d + half * half) - Math.log(b - a);
}

/** CDF of the truncated Breit–Wigner: (atan((x − M_pole)/(Γ/2)) − A)/(B − A), 0 below and 1 above the window. */
export function signalCdf(x: number, mPole: number, gamma: number): number {
  checkSignal(mPole, gamma);
  if (x <= LOW) return 0;
  if (x >= HIGH) return 1;
  const [a, b] = signalAngles(mPole, gamma);
  return (Math.atan((x - mPole) / (gamma / 2)) - a) / (b - a);
}

/** Fills `out` with signal events by inverse CDF: x = M_pole + (Γ/2)·tan(A + u(B − A)). Returns `out`. */
export function signalSample(rng: Rng, mPole: number, gamma: number, out: Float32Array | Float64Array): Float32Array | Float64Array {
  checkSignal(mPole, gamma);
  const half = gamma / 2;
  const [a, b] = signalAngles(mPole, gamma);
  for (let i = 0; i < out.length; i++) {
    const x = mPole + half * Math.tan(a + rng.uniform() * (b - a));
    out[i] = Math.min(HIGH, Math.max(LOW, x));
  }
  return out;
}

/**
 * log p_bkg(x | τ) = log τ − τ(x − 40) − log(1 − e^(−100τ)), with the normalisation written as −expm1(−100τ) so it
 * stays accurate as τ → 0 (where the density tends to the uniform 1/100); −Infinity outside the window.
 */
export function backgroundLogPdf(x: number, tau: number): number {
  checkTau(tau);
  if (!(x >= LOW && x <= HIGH)) return -Infinity;
  return Math.log(tau) - tau * (x - LOW) - Math.log(-Math.expm1(-tau * WIDTH));
}

/** CDF of the truncated exponential: expm1(−τ(x − 40))/expm1(−100τ). */
export function backgroundCdf(x: number, tau: number): number {
  checkTau(tau);
  if (x <= LOW) return 0;
  if (x >= HIGH) return 1;
  return Math.expm1(-tau * (x - LOW)) / Math.expm1(-tau * WIDTH);
}

/** Fills `out` with background events by inverse CDF: x = 40 − log1p(u·expm1(−100τ))/τ. Returns `out`. */
export function backgroundSample(rng: Rng, tau: number, out: Float32Array | Float64Array): Float32Array | Float64Array {
  checkTau(tau);
  const scale = Math.expm1(-tau * WIDTH);
  for (let i = 0; i < out.length; i++) {
    const x = LOW - Math.log1p(rng.uniform() * scale) / tau;
    out[i] = Math.min(HIGH, Math.max(LOW, x));
  }
  return out;
}

function checkCount(n: number, what: string): void {
  if (!(Number.isSafeInteger(n) && n >= 0)) throw new RangeError(`${what} must be a whole number ≥ 0, got ${n}`);
}

export interface ToySignalTrainingOptions {
  /** Leave out M_pole in this closed interval (GeV): θ is drawn uniformly from the rest of [60, 120]. */
  excludeMPole?: readonly [number, number];
}

/**
 * Signal training events: for each event θ = (M_pole, Γ) uniform on [60, 120] × [0.5, 5] (minus the excluded
 * M_pole interval), then one x from p_sig(x|θ). One event per θ draw, as in the paper's continuous-θ training.
 */
export function simulateSignalTraining(rng: Rng, n: number = TOY_TRAINING_EVENTS, options: ToySignalTrainingOptions = {}): ToySignalTraining {
  checkCount(n, 'number of signal training events');
  const [mLo, mHi] = TOY_M_POLE_RANGE;
  const [gLo, gHi] = TOY_GAMMA_RANGE;
  let cutLo = mLo;
  let cutWidth = 0;
  if (options.excludeMPole !== undefined) {
    const [a, b] = options.excludeMPole;
    if (!(a >= mLo && b <= mHi && a < b && b - a < mHi - mLo)) {
      throw new RangeError(`excluded M_pole interval [${a}, ${b}] GeV must lie inside [${mLo}, ${mHi}] with low < high, and leave part of it; e.g. [85, 95].`);
    }
    cutLo = a;
    cutWidth = b - a;
  }
  const allowed = mHi - mLo - cutWidth;
  const out: ToySignalTraining = { x: new Float64Array(n), m_pole: new Float64Array(n), gamma: new Float64Array(n) };
  const one = new Float64Array(1);
  for (let i = 0; i < n; i++) {
    // Uniform on the allowed length, then step over the gap.
    let m = mLo + rng.uniform() * allowed;
    if (m >= cutLo) m += cutWidth;
    const g = gLo + rng.uniform() * (gHi - gLo);
    out.m_pole[i] = m;
    out.gamma[i] = g;
    out.x[i] = signalSample(rng, m, g, one)[0];
  }
  return out;
}

/** Background training events: τ log-uniform (log10 τ uniform on [−3, −1]), then one x from p_bkg(x|τ). */
export function simulateBackgroundTraining(rng: Rng, n: number = TOY_TRAINING_EVENTS): ToyBackgroundTraining {
  checkCount(n, 'number of background training events');
  const [lo, hi] = TOY_LOG10_TAU_RANGE;
  const out: ToyBackgroundTraining = { x: new Float64Array(n), tau: new Float64Array(n) };
  const one = new Float64Array(1);
  for (let i = 0; i < n; i++) {
    const tau = Math.pow(10, lo + rng.uniform() * (hi - lo));
    out.tau[i] = tau;
    out.x[i] = backgroundSample(rng, tau, one)[0];
  }
  return out;
}

export interface ToyPseudoDataOptions {
  nSignal?: number;
  nBackground?: number;
  mPole?: number;
  gamma?: number;
  tau?: number;
}

/** Pseudo-data: nSignal signal + nBackground background events at fixed θ, shuffled; isSignal (1/0) marks the truth. */
export function pseudoData(rng: Rng, options: ToyPseudoDataOptions = {}): ToyPseudoData {
  const nSignal = options.nSignal ?? 1000;
  const nBackground = options.nBackground ?? 100_000;
  checkCount(nSignal, 'number of pseudo-data signal events');
  checkCount(nBackground, 'number of pseudo-data background events');
  const signal = signalSample(rng, options.mPole ?? TOY_TRUTH.mPole, options.gamma ?? TOY_TRUTH.gamma, new Float64Array(nSignal));
  const background = backgroundSample(rng, options.tau ?? TOY_TRUTH.tau, new Float64Array(nBackground));
  const n = nSignal + nBackground;
  const order = rng.shuffle(Uint32Array.from({ length: n }, (_, i) => i));
  const out: ToyPseudoData = { x: new Float64Array(n), isSignal: new Float64Array(n) };
  for (let k = 0; k < n; k++) {
    const i = order[k];
    out.x[k] = i < nSignal ? signal[i] : background[i - nSignal];
    out.isSignal[k] = i < nSignal ? 1 : 0;
  }
  return out;
}
