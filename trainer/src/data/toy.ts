// The toy bump hunt (Saito et al. 2024, §3.1; DESIGN.md "Toy bump hunt"), exact and in float64.
// x = M_reco on [40, 140] GeV. Signal: Breit–Wigner (Cauchy with full width at half maximum Γ) at M_pole,
// truncated to the window; background: exp(−τ x) truncated to the window.
import type { Rng } from '@flowscan/runtime';

export const TOY_X_RANGE: [number, number] = [40, 140];
export const TOY_MPOLE_RANGE: [number, number] = [60, 120];
export const TOY_GAMMA_RANGE: [number, number] = [0.5, 5];
export const TOY_LOG10_TAU_RANGE: [number, number] = [-3, -1];

const [A, B] = TOY_X_RANGE;

function cauchyCdf(x: number, mPole: number, gamma: number): number {
  return 0.5 + Math.atan((x - mPole) / (gamma / 2)) / Math.PI;
}

/** log p_s(x | M_pole, Γ) on the window (−∞ outside). */
export function signalLogPdf(x: number, mPole: number, gamma: number): number {
  if (x < A || x > B) return -Infinity;
  const g = gamma / 2;
  const z = cauchyCdf(B, mPole, gamma) - cauchyCdf(A, mPole, gamma);
  return Math.log(g / Math.PI) - Math.log((x - mPole) ** 2 + g * g) - Math.log(z);
}

export function signalCdf(x: number, mPole: number, gamma: number): number {
  if (x <= A) return 0;
  if (x >= B) return 1;
  const fa = cauchyCdf(A, mPole, gamma);
  return (cauchyCdf(x, mPole, gamma) - fa) / (cauchyCdf(B, mPole, gamma) - fa);
}

/** Fills `out` with signal events by inverting the truncated CDF. */
export function signalSample(rng: Rng, mPole: number, gamma: number, out: Float32Array | Float64Array): void {
  const fa = cauchyCdf(A, mPole, gamma);
  const fb = cauchyCdf(B, mPole, gamma);
  for (let i = 0; i < out.length; i++) {
    const u = fa + (fb - fa) * rng.uniform();
    out[i] = Math.min(B, Math.max(A, mPole + (gamma / 2) * Math.tan(Math.PI * (u - 0.5))));
  }
}

/** log of ∫_A^B e^{−τx} dx / ... normaliser, stable for small τ: log((e^{−τA} − e^{−τB})/τ). */
function logBackgroundNorm(tau: number): number {
  return -tau * A + Math.log(-Math.expm1(-tau * (B - A))) - Math.log(tau);
}

/** log p_b(x | τ) on the window (−∞ outside). */
export function backgroundLogPdf(x: number, tau: number): number {
  if (x < A || x > B) return -Infinity;
  return -tau * x - logBackgroundNorm(tau);
}

export function backgroundCdf(x: number, tau: number): number {
  if (x <= A) return 0;
  if (x >= B) return 1;
  return Math.expm1(-tau * (x - A)) / Math.expm1(-tau * (B - A));
}

/** Fills `out` with background events by inverting the truncated CDF. */
export function backgroundSample(rng: Rng, tau: number, out: Float32Array | Float64Array): void {
  const span = Math.expm1(-tau * (B - A));
  for (let i = 0; i < out.length; i++) {
    out[i] = Math.min(B, Math.max(A, A - Math.log1p(rng.uniform() * span) / tau));
  }
}

export interface SignalTrainingOptions {
  /** Leave out M_pole in this interval (interpolation studies): θ is drawn from the rest of the range. */
  excludeMPole?: [number, number];
}

/** Training events: M_pole and Γ uniform over their ranges, one event per θ draw. */
export function simulateSignalTraining(rng: Rng, n: number, options: SignalTrainingOptions = {}): { x: Float64Array; m_pole: Float64Array; gamma: Float64Array } {
  const [m0, m1] = TOY_MPOLE_RANGE;
  const ex = options.excludeMPole;
  if (ex && !(ex[0] < ex[1] && ex[0] >= m0 && ex[1] <= m1)) {
    throw new Error(`excluded M_pole interval [${ex.join(', ')}] must lie inside [${m0}, ${m1}] with lower < upper`);
  }
  const allowed = (m1 - m0) - (ex ? ex[1] - ex[0] : 0);
  const x = new Float64Array(n);
  const mPole = new Float64Array(n);
  const gamma = new Float64Array(n);
  const one = new Float64Array(1);
  for (let i = 0; i < n; i++) {
    let m = m0 + allowed * rng.uniform();
    if (ex && m >= ex[0]) m += ex[1] - ex[0];
    const g = TOY_GAMMA_RANGE[0] + (TOY_GAMMA_RANGE[1] - TOY_GAMMA_RANGE[0]) * rng.uniform();
    signalSample(rng, m, g, one);
    x[i] = one[0];
    mPole[i] = m;
    gamma[i] = g;
  }
  return { x, m_pole: mPole, gamma };
}

/** Training events: log10 τ uniform on [−3, −1] (τ spans two decades). */
export function simulateBackgroundTraining(rng: Rng, n: number): { x: Float64Array; tau: Float64Array } {
  const x = new Float64Array(n);
  const tau = new Float64Array(n);
  const one = new Float64Array(1);
  const [l0, l1] = TOY_LOG10_TAU_RANGE;
  for (let i = 0; i < n; i++) {
    const t = 10 ** (l0 + (l1 - l0) * rng.uniform());
    backgroundSample(rng, t, one);
    x[i] = one[0];
    tau[i] = t;
  }
  return { x, tau };
}

export interface PseudoDataOptions {
  nSignal?: number;
  nBackground?: number;
  mPole?: number;
  gamma?: number;
  tau?: number;
}

/** Pseudo-data: signal and background events at one θ, shuffled; is_signal marks the truth. */
export function pseudoData(rng: Rng, o: PseudoDataOptions = {}): { x: Float64Array; isSignal: Float64Array } {
  const nS = o.nSignal ?? 1000;
  const nB = o.nBackground ?? 100000;
  const sig = new Float64Array(nS);
  const bkg = new Float64Array(nB);
  signalSample(rng, o.mPole ?? 91.2, o.gamma ?? 2.5, sig);
  backgroundSample(rng, o.tau ?? 0.01, bkg);
  const order = Uint32Array.from({ length: nS + nB }, (_, i) => i);
  rng.shuffle(order);
  const x = new Float64Array(nS + nB);
  const isSignal = new Float64Array(nS + nB);
  order.forEach((from, to) => {
    x[to] = from < nS ? sig[from] : bkg[from - nS];
    isSignal[to] = from < nS ? 1 : 0;
  });
  return { x, isSignal };
}
