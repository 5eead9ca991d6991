// LHCO-like resonance simulator (DESIGN.md "LHCO-like resonance"; Saito et al. ISGC 2024 §3.2; LHC Olympics
// 2020 R&D, Kasieczka, Nachman, Shih, arXiv:2101.08320): Z′ → X Y → (qq)(qq) seen as two large-R jets, against
// QCD dijets. A fast parametric stand-in for Pythia + Delphes whose shapes were tuned to the real LHCO R&D
// signal-region events. Every formula and constant, with its reason and the calibration, is written out in
// docs/lhco-simulator.md; the comments here only point at its sections.
//
// Features (GeV / dimensionless): mj1 = mass of the heavier jet, dmj = mj1 − mj2 ≥ 0, tau21j1 / tau21j2 = τ21 of
// the heavier / lighter jet, mjj = dijet invariant mass. Parameters: m_zprime, m_x, m_y (GeV).
import type { Rng } from '@flowscan/runtime';

export const LHCO_FEATURES = ['mj1', 'dmj', 'tau21j1', 'tau21j2', 'mjj'] as const;
export type LhcoFeature = (typeof LHCO_FEATURES)[number];
export const LHCO_PARAMETERS = ['m_zprime', 'm_x', 'm_y'] as const;
export type LhcoParameter = (typeof LHCO_PARAMETERS)[number];

export type LhcoEvents = Record<LhcoFeature, Float64Array>;
export type LhcoTrainingEvents = Record<LhcoFeature | LhcoParameter, Float64Array>;
export type LhcoPseudoData = Record<LhcoFeature | 'isSignal', Float64Array>;

export interface LhcoPoint {
  mZprime: number;
  mX: number;
  mY: number;
}

export const LHCO_M_ZPRIME_VALUES: readonly number[] = [3000, 3500, 4000, 4500];
export const LHCO_M_X_VALUES: readonly number[] = [250, 500, 750, 1000];
export const LHCO_M_Y_VALUES: readonly number[] = [50, 100, 150, 200, 250, 300];
/** The grid rule m_X − m_Y > 100 GeV keeps the two jets' mass peaks apart. */
export const LHCO_MIN_MASS_SPLITTING = 100;

/** The 80 signal points of the paper's grid, ordered by m_Z′, then m_X, then m_Y. */
export const LHCO_GRID: readonly LhcoPoint[] = Object.freeze(
  LHCO_M_ZPRIME_VALUES.flatMap((mZprime) =>
    LHCO_M_X_VALUES.flatMap((mX) =>
      LHCO_M_Y_VALUES.filter((mY) => mX - mY > LHCO_MIN_MASS_SPLITTING).map((mY) => Object.freeze({ mZprime, mX, mY })),
    ),
  ),
);

/** The benchmark point of the LHCO R&D signal and of the paper's pseudo-data. */
export const LHCO_BENCHMARK_POINT: LhcoPoint = Object.freeze({ mZprime: 3500, mX: 500, mY: 100 });
/** Defaults reproducing the paper's sample sizes: 80 × 7250 = 580k signal, 90k background. */
export const LHCO_TRAINING_EVENTS_PER_POINT = 7250;
export const LHCO_TRAINING_BACKGROUND_EVENTS = 90_000;
/** Default background m_JJ window (GeV): covers every grid signal's peak and its resolution tails. */
export const LHCO_BACKGROUND_MJJ_RANGE: readonly [number, number] = [2500, 6000];

/** All constants of the generator; the meaning and origin of each is in docs/lhco-simulator.md. */
export interface LhcoModel {
  /** Collider energy √s (GeV), the scale of the dijet function. */
  sqrtS: number;
  signal: {
    /** §2.1 prongs further apart than this (in units of the jet radius R = 1) leave the jet. */
    containmentRadius: number;
    /** §2.2 jet-mass response r = m_core/m_true = 1 + σ·t, t ~ double-sided Crystal Ball (α, n per side), r kept in [min, max]. */
    massResolution: number;
    massResponseMin: number;
    massResponseMax: number;
    massTailLowAlpha: number;
    massTailLowN: number;
    massTailHighAlpha: number;
    massTailHighN: number;
    /** §2.2 extra mass² from radiation caught in the jet: pT²·ε, ε = scale·(U^(−1/index) − 1) (Lomax). */
    contaminationScale: number;
    contaminationIndex: number;
    /** §2.2 momentum fraction the contaminating radiation adds to the jet: x = factor·ε (raises m_JJ with the mass). */
    contaminationMomentumFactor: number;
    /** §2.3 two-prong τ21 = logistic(μ + w·N(0,1)) with μ = intercept − slope·ln(m/pT). */
    tauLogitIntercept: number;
    tauLogitSlope: number;
    tauLogitWidth: number;
    /** §2.4 m_JJ response: scale, Gaussian resolution, and with some probability an exponential FSR loss. */
    mjjScale: number;
    mjjResolution: number;
    mjjTailProbability: number;
    mjjTailMeanLoss: number;
  };
  background: {
    /** §3.1 dijet function f(x) ∝ (1 − x)^p1 / x^p2, x = m_JJ/√s. */
    dijetP1: number;
    dijetP2: number;
    /** §3.2 jet mass m = pT·exp(ℓmin + (ℓmax − ℓmin)·K), K ~ Kumaraswamy(a, b). */
    logMassFractionMin: number;
    logMassFractionMax: number;
    massShapeA: number;
    massShapeB: number;
    /** §3.3 one-prong τ21 = logistic(μ + w·N(0,1)), μ sliding from `tauLogitLow` to `tauLogitHigh` as ln(m/pT) crosses `tauLogMassFractionMid`. */
    tauLogitLow: number;
    tauLogitHigh: number;
    tauLogMassFractionMid: number;
    tauLogMassFractionWidth: number;
    tauLogitWidth: number;
  };
}

/** The tuned constants (see docs/lhco-simulator.md §4 for the calibration). */
export const LHCO_MODEL: LhcoModel = Object.freeze({
  sqrtS: 13000,
  signal: Object.freeze({
    containmentRadius: 1.34,
    massResolution: 0.0536,
    massResponseMin: 0.1,
    massResponseMax: 2,
    massTailLowAlpha: 1.65,
    massTailLowN: 2.3,
    massTailHighAlpha: 1.43,
    massTailHighN: 11.5,
    contaminationScale: 0.00106,
    contaminationIndex: 1.21,
    contaminationMomentumFactor: 4,
    tauLogitIntercept: -2.32,
    tauLogitSlope: 0.632,
    tauLogitWidth: 0.754,
    mjjScale: 0.995,
    mjjResolution: 0.0335,
    mjjTailProbability: 0.05,
    mjjTailMeanLoss: 0.05,
  }),
  background: Object.freeze({
    dijetP1: 6,
    dijetP2: 3,
    logMassFractionMin: -4.37,
    logMassFractionMax: -0.275,
    massShapeA: 2.55,
    massShapeB: 3.64,
    tauLogitLow: 0.493,
    tauLogitHigh: -1.02,
    tauLogMassFractionMid: -1.63,
    tauLogMassFractionWidth: 0.289,
    tauLogitWidth: 0.753,
  }),
}) as LhcoModel;

function checkCount(n: number, what: string): void {
  if (!(Number.isSafeInteger(n) && n >= 0)) throw new RangeError(`${what} must be a whole number ≥ 0, got ${n}`);
}

function allocate<K extends string>(names: readonly K[], n: number): Record<K, Float64Array> {
  const out = {} as Record<K, Float64Array>;
  for (const name of names) out[name] = new Float64Array(n);
  return out;
}

/** §2.2 Double-sided Crystal Ball (Oreglia 1980) in t: unit Gaussian core on (−α_low, α_high), power-law tails. */
class CrystalBall {
  private readonly pLow: number;
  private readonly pHigh: number;
  constructor(
    private readonly alphaLow: number,
    private readonly nLow: number,
    private readonly alphaHigh: number,
    private readonly nHigh: number,
  ) {
    // Tail integrals in closed form, ∫ A(B ∓ t)^(−n) = (n/α)·e^(−α²/2)/(n − 1); the core by Simpson's rule.
    const tail = (alpha: number, n: number): number => ((n / alpha) * Math.exp(-0.5 * alpha * alpha)) / (n - 1);
    const steps = 400;
    const h = (alphaHigh + alphaLow) / steps;
    let core = 0;
    for (let i = 0; i <= steps; i++) {
      const t = -alphaLow + i * h;
      core += (i === 0 || i === steps ? 1 : i % 2 === 1 ? 4 : 2) * Math.exp(-0.5 * t * t);
    }
    core *= h / 3;
    const low = tail(alphaLow, nLow);
    const high = tail(alphaHigh, nHigh);
    const total = low + core + high;
    this.pLow = low / total;
    this.pHigh = high / total;
  }

  sample(rng: Rng): number {
    const u = rng.uniform();
    if (u < this.pLow) {
      // Inverse CDF of the tail: t = B − (B + α)·U^(−1/(n−1)), B = n/α − α.
      const b = this.nLow / this.alphaLow - this.alphaLow;
      return -(b - (b + this.alphaLow) * Math.pow(rng.uniform(), -1 / (this.nLow - 1)));
    }
    if (u > 1 - this.pHigh) {
      const b = this.nHigh / this.alphaHigh - this.alphaHigh;
      return b - (b + this.alphaHigh) * Math.pow(rng.uniform(), -1 / (this.nHigh - 1));
    }
    for (;;) {
      const t = rng.normal();
      if (t > -this.alphaLow && t < this.alphaHigh) return t;
    }
  }
}

/** §3.2 ln(m/pT) of a QCD (one-prong) jet. */
function qcdLogMassFraction(rng: Rng, bg: LhcoModel['background']): number {
  const k = Math.pow(1 - Math.pow(1 - rng.uniform(), 1 / bg.massShapeB), 1 / bg.massShapeA);
  return bg.logMassFractionMin + (bg.logMassFractionMax - bg.logMassFractionMin) * k;
}

function logistic(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** §3.3 QCD τ21 of a jet with ln(m/pT) = `logMassFraction`. */
function qcdTau21(rng: Rng, logMassFraction: number, bg: LhcoModel['background']): number {
  const s = logistic((logMassFraction - bg.tauLogMassFractionMid) / bg.tauLogMassFractionWidth);
  return logistic(bg.tauLogitLow + (bg.tauLogitHigh - bg.tauLogitLow) * s + bg.tauLogitWidth * rng.normal());
}

/**
 * Signal events at one grid point (any point with m_X + m_Y < m_Z′ works; the grid is what training uses).
 * Each resonance R ∈ {X, Y} with the two-body momentum p* (used as its pT) decays to two quarks sharing momentum z, 1 − z (z uniform: isotropic
 * decay); §2.1 if the opening angle m/(pT·√(z(1−z))) exceeds the containment radius the softer prong is lost and
 * the jet is an ordinary quark jet of momentum (1 − z)·pT, else §2.2 its mass is m_R smeared and contaminated
 * and §2.3 its τ21 is two-prong. §2.4 m_JJ = m_Z′ × scale × √(1−z) per lost prong × √(1+cε) per contained jet ×
 * resolution × FSR loss. Jets are then ordered by mass.
 */
export function simulateLhcoSignal(rng: Rng, n: number, point: LhcoPoint, model: LhcoModel = LHCO_MODEL): LhcoEvents {
  checkCount(n, 'number of signal events');
  if (!(point.mX > 0 && point.mY > 0 && point.mX + point.mY < point.mZprime)) {
    throw new RangeError(`signal point (m_Z′, m_X, m_Y) = (${point.mZprime}, ${point.mX}, ${point.mY}) GeV needs m_X, m_Y > 0 and m_X + m_Y < m_Z′.`);
  }
  const s = model.signal;
  const bg = model.background;
  const crystalBall = new CrystalBall(s.massTailLowAlpha, s.massTailLowN, s.massTailHighAlpha, s.massTailHighN);
  // Two-body decay momentum of X and Y in the Z′ frame (Z′ produced at rest in the transverse plane).
  const m2 = point.mZprime * point.mZprime;
  const pT = Math.sqrt((m2 - (point.mX + point.mY) ** 2) * (m2 - (point.mX - point.mY) ** 2)) / (2 * point.mZprime);
  const masses = [point.mX, point.mY];
  const tauLocations = masses.map((m) => s.tauLogitIntercept - s.tauLogitSlope * Math.log(m / pT));
  // Prong fraction below which the soft prong is outside the jet: z(1 − z) < (m/(pT·R))².
  const lostBelow = masses.map((m) => {
    const q = (m / (pT * s.containmentRadius)) ** 2;
    return q >= 0.25 ? 0.5 : 0.5 - Math.sqrt(0.25 - q);
  });
  const out = allocate(LHCO_FEATURES, n);
  const jetMass = [0, 0];
  const jetTau = [0, 0];
  for (let i = 0; i < n; i++) {
    let mjjScale = 1;
    for (let r = 0; r < 2; r++) {
      const z = 0.5 * rng.uniform();
      if (z < lostBelow[r]) {
        const logFraction = qcdLogMassFraction(rng, bg);
        jetMass[r] = (1 - z) * pT * Math.exp(logFraction);
        jetTau[r] = qcdTau21(rng, logFraction, bg);
        mjjScale *= Math.sqrt(1 - z);
      } else {
        let response = 0;
        do response = 1 + s.massResolution * crystalBall.sample(rng);
        while (response < s.massResponseMin || response > s.massResponseMax);
        const core = masses[r] * response;
        const epsilon = s.contaminationScale * (Math.pow(rng.uniform(), -1 / s.contaminationIndex) - 1);
        jetMass[r] = Math.sqrt(core * core + pT * pT * epsilon);
        mjjScale *= Math.sqrt(1 + s.contaminationMomentumFactor * epsilon);
        jetTau[r] = logistic(tauLocations[r] + s.tauLogitWidth * rng.normal());
      }
    }
    let mjj = point.mZprime * s.mjjScale * mjjScale * (1 + s.mjjResolution * rng.normal());
    if (rng.uniform() < s.mjjTailProbability) mjj *= Math.exp(-s.mjjTailMeanLoss * rng.exponential());
    const j1 = jetMass[0] >= jetMass[1] ? 0 : 1;
    out.mj1[i] = jetMass[j1];
    out.dmj[i] = jetMass[j1] - jetMass[1 - j1];
    out.tau21j1[i] = jetTau[j1];
    out.tau21j2[i] = jetTau[1 - j1];
    out.mjj[i] = mjj;
  }
  return out;
}

export interface LhcoTrainingOptions {
  /** Leave out every grid point with these m_Z′ values (interpolation tests). */
  excludeMZprime?: number[];
  model?: LhcoModel;
  /** Called after each grid point with (points done, points in total). */
  onProgress?: (done: number, total: number) => void;
}

/**
 * The signal training set: `nPerPoint` events at every grid point (minus excluded m_Z′), with the θ columns.
 * Each point draws from its own sub-stream, so excluding points leaves the other points' events unchanged.
 */
export function simulateLhcoSignalTraining(rng: Rng, nPerPoint: number = LHCO_TRAINING_EVENTS_PER_POINT, options: LhcoTrainingOptions = {}): LhcoTrainingEvents {
  checkCount(nPerPoint, 'events per grid point');
  const excluded = options.excludeMZprime ?? [];
  for (const m of excluded) {
    if (!LHCO_M_ZPRIME_VALUES.includes(m)) {
      throw new RangeError(`cannot exclude m_Z′ = ${m} GeV: it is not on the grid; choose among ${LHCO_M_ZPRIME_VALUES.join(', ')}.`);
    }
  }
  const points = LHCO_GRID.map((point, index) => ({ point, index })).filter(({ point }) => !excluded.includes(point.mZprime));
  if (points.length === 0) throw new RangeError(`excluding m_Z′ = ${excluded.join(', ')} leaves no grid point to simulate; exclude fewer values.`);
  const streamBase = rng.int(2 ** 21) * 128;
  const out = allocate([...LHCO_FEATURES, ...LHCO_PARAMETERS], points.length * nPerPoint);
  points.forEach(({ point, index }, k) => {
    const events = simulateLhcoSignal(rng.fork(streamBase + index), nPerPoint, point, options.model);
    const offset = k * nPerPoint;
    for (const name of LHCO_FEATURES) out[name].set(events[name], offset);
    out.m_zprime.fill(point.mZprime, offset, offset + nPerPoint);
    out.m_x.fill(point.mX, offset, offset + nPerPoint);
    out.m_y.fill(point.mY, offset, offset + nPerPoint);
    options.onProgress?.(k + 1, points.length);
  });
  return out;
}

export interface LhcoBackgroundOptions {
  /** m_JJ window in GeV (default LHCO_BACKGROUND_MJJ_RANGE). */
  mjjRange?: readonly [number, number];
  model?: LhcoModel;
}

/**
 * QCD dijet background (no parameters): §3.1 m_JJ from the dijet function by rejection from its x^(−p2) envelope
 * (exact; acceptance ((1−x)/(1−x_min))^p1), §3.2 two jet masses ∝ pT = m_JJ/2 drawn independently, §3.3 τ21 per
 * jet given its mass; jets ordered by mass.
 */
export function simulateLhcoBackground(rng: Rng, n: number, options: LhcoBackgroundOptions = {}): LhcoEvents {
  checkCount(n, 'number of background events');
  const model = options.model ?? LHCO_MODEL;
  const [lo, hi] = options.mjjRange ?? LHCO_BACKGROUND_MJJ_RANGE;
  if (!(lo > 0 && hi > lo && hi < model.sqrtS)) {
    throw new RangeError(`background m_JJ range [${lo}, ${hi}] GeV is not valid; it needs 0 < low < high < √s = ${model.sqrtS} GeV.`);
  }
  const bg = model.background;
  const xLo = lo / model.sqrtS;
  const xHi = hi / model.sqrtS;
  const e = 1 - bg.dijetP2;
  const aLo = Math.pow(xLo, e);
  const aHi = Math.pow(xHi, e);
  const out = allocate(LHCO_FEATURES, n);
  for (let i = 0; i < n; i++) {
    let x: number;
    do {
      x = Math.pow(aLo + rng.uniform() * (aHi - aLo), 1 / e);
    } while (rng.uniform() > Math.pow((1 - x) / (1 - xLo), bg.dijetP1));
    const mjj = x * model.sqrtS;
    const pT = mjj / 2;
    const lA = qcdLogMassFraction(rng, bg);
    const lB = qcdLogMassFraction(rng, bg);
    const mA = pT * Math.exp(lA);
    const mB = pT * Math.exp(lB);
    const tauA = qcdTau21(rng, lA, bg);
    const tauB = qcdTau21(rng, lB, bg);
    const aFirst = mA >= mB;
    out.mj1[i] = aFirst ? mA : mB;
    out.dmj[i] = Math.abs(mA - mB);
    out.tau21j1[i] = aFirst ? tauA : tauB;
    out.tau21j2[i] = aFirst ? tauB : tauA;
    out.mjj[i] = mjj;
  }
  return out;
}

export interface LhcoPseudoDataOptions {
  nSignal?: number;
  nBackground?: number;
  point?: LhcoPoint;
  mjjRange?: readonly [number, number];
  model?: LhcoModel;
}

/** Pseudo-data as in the paper: 10k signal at (3500, 500, 100) + 100k background, shuffled; isSignal (1/0) marks the truth. */
export function lhcoPseudoData(rng: Rng, options: LhcoPseudoDataOptions = {}): LhcoPseudoData {
  const nSignal = options.nSignal ?? 10_000;
  const nBackground = options.nBackground ?? 100_000;
  const signal = simulateLhcoSignal(rng, nSignal, options.point ?? LHCO_BENCHMARK_POINT, options.model);
  const background = simulateLhcoBackground(rng, nBackground, { mjjRange: options.mjjRange, model: options.model });
  const n = nSignal + nBackground;
  const order = rng.shuffle(Uint32Array.from({ length: n }, (_, i) => i));
  const out = allocate([...LHCO_FEATURES, 'isSignal'] as const, n);
  for (let k = 0; k < n; k++) {
    const i = order[k];
    const fromSignal = i < nSignal;
    for (const name of LHCO_FEATURES) out[name][k] = fromSignal ? signal[name][i] : background[name][i - nSignal];
    out.isSignal[k] = fromSignal ? 1 : 0;
  }
  return out;
}
