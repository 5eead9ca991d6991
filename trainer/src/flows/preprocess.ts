// Preprocessing bijections inside the graph, so densities are in PHYSICAL units of the features:
// scale to (0, 1) by the support [lo, hi] (training range widened by a margin, or a declared window), then logit
// and standardise, or the normal quantile Φ⁻¹ — or map to (0, 1) by the training sample's piecewise-linear
// empirical CDF and then Φ⁻¹ (Gauss-rank, the paper's quantile preprocessing) — with
// their log-determinants. θ is normalised to about [−1, 1] (log10 first for log-scaled parameters) before it
// enters the networks; that is not a bijection of x and adds nothing to log p.
import type { FeaturePreprocessing, Variable } from './config.ts';
import type { GraphBuilder, T } from '../ir/graph.ts';

/** Logit clamp: u is kept in [ε, 1 − ε] so points on or past the support edge give finite values. */
export const LOGIT_EPSILON = 1e-6;
/**
 * Probit clamp: Φ⁻¹ keeps p in [ε, 1 − ε], |z| ≤ 6.4 (inside AS 241's second region). Smaller than the logit's:
 * the base puts 2e-10 of its mass beyond, so samples round-trip; float32 resolves p to ~1e-8 near an edge anyway.
 */
export const PROBIT_EPSILON = 1e-10;
/** Smallest value a log-scaled parameter is clamped to before log10 (keeps θ ≤ 0 finite, never NaN). */
const LOG_PARAM_FLOOR = 1e-30;

function perFeature(g: GraphBuilder, pre: FeaturePreprocessing[], f: (p: FeaturePreprocessing) => number): T {
  return g.constant(pre.map(f), [pre.length]);
}

/** Horner evaluation of c[0] + c[1] r + … with the coefficients lowest order first. */
function polynomial(r: T, c: readonly number[]): T {
  let acc = r.mul(c[c.length - 1]).add(c[c.length - 2]);
  for (let k = c.length - 3; k >= 0; k--) acc = acc.mul(r).add(c[k]);
  return acc;
}

// Wichura's AS 241 (Appl. Statist. 37 (1988) 477), PPND16: Φ⁻¹(p) to ~1e-16 in two rational approximations;
// with p clamped to [PROBIT_EPSILON, 1 − PROBIT_EPSILON] its third region (p < e^−25 ≈ 1.4e-11) is never reached.
const PPND_CENTRAL_NUMERATOR = [3.387132872796366608, 133.14166789178437745, 1971.5909503065514427, 13731.693765509461125, 45921.953931549871457, 67265.770927008700853, 33430.575583588128105, 2509.0809287301226727];
const PPND_CENTRAL_DENOMINATOR = [1, 42.313330701600911252, 687.1870074920579083, 5394.1960214247511077, 21213.794301586595867, 39307.89580009271061, 28729.085735721942674, 5226.495278852854561];
const PPND_TAIL_NUMERATOR = [1.42343711074968357734, 4.6303378461565452959, 5.7694972214606914055, 3.64784832476320460504, 1.27045825245236838258, 0.24178072517745061177, 0.0227238449892691845833, 7.7454501427834140764e-4];
const PPND_TAIL_DENOMINATOR = [1, 2.05319162663775882187, 1.6763848301838038494, 0.68976733498510000455, 0.14810397642748007459, 0.0151986665636164571966, 5.475938084995344946e-4, 1.05075007164441684324e-9];
const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

/** Φ⁻¹(p) given p and 1 − p (each computed from x directly, so neither edge loses precision). */
function normalQuantile(g: GraphBuilder, p: T, oneMinusP: T): T {
  const q = p.sub(0.5);
  const r = g.scalar(0.180625).sub(q.square());
  const central = q.mul(polynomial(r, PPND_CENTRAL_NUMERATOR)).div(polynomial(r, PPND_CENTRAL_DENOMINATOR));
  const s = p.minimum(oneMinusP).log().neg().sqrt().sub(1.6);
  const tail = polynomial(s, PPND_TAIL_NUMERATOR).div(polynomial(s, PPND_TAIL_DENOMINATOR));
  return g.where(q.abs().greaterEqual(0.425), g.where(q.greaterEqual(0), tail, tail.neg()), central);
}

/** Smallest lower-tail mass the sampler returns: keeps log finite for base draws beyond any data. */
const TAIL_MASS_FLOOR = 1e-30;

/**
 * Φ(s) for s ≤ 0 (the lower tail, no cancellation): Abramowitz & Stegun 7.1.26 for erfc as the start, then two
 * Newton steps on Φ⁻¹(m) = s, so the sampler inverts the log-density graph's own Φ⁻¹ to working precision.
 */
function normalLowerTail(g: GraphBuilder, s: T): T {
  const a = s.neg().mul(Math.SQRT1_2);
  const t = g.scalar(1).div(a.mul(0.3275911).add(1));
  const erfc = polynomial(t, [0, 0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429]).mul(a.square().neg().exp());
  let m = erfc.mul(0.5).clamp(TAIL_MASS_FLOOR, 0.5);
  for (let step = 0; step < 2; step++) {
    const z = normalQuantile(g, m, g.scalar(1).sub(m));
    const density = z.square().mul(-0.5).sub(LOG_SQRT_2PI).exp();
    m = m.sub(z.sub(s).mul(density)).clamp(TAIL_MASS_FLOOR, 0.5);
  }
  return m;
}

/** Per-feature constants of both directions; isProbit (1/0 per feature) only when some feature uses Φ⁻¹ (probit or quantile). */
function supportConstants(g: GraphBuilder, pre: FeaturePreprocessing[]) {
  const usesProbit = (p: FeaturePreprocessing): boolean => p.map !== 'logit';
  return {
    lo: perFeature(g, pre, (p) => p.lo),
    hi: perFeature(g, pre, (p) => p.hi),
    width: perFeature(g, pre, (p) => p.hi - p.lo),
    mean: perFeature(g, pre, (p) => p.mean),
    std: perFeature(g, pre, (p) => p.std),
    isProbit: pre.some(usesProbit) ? perFeature(g, pre, (p) => (usesProbit(p) ? 1 : 0)) : null,
  };
}

/** Beyond any float32 feature value: the outer edges of the first and last segments' indicators, so x = lo and x = hi belong to them. */
const ABOVE_EVERYTHING = 3e38;

/**
 * The quantile map's constants, [D, K] per segment k (knots x_k … x_k+1, F̂ rising by 1/K on each): lower knot,
 * the indicator's upper knot, width and slope (1/K)/width. Features with another map get evenly spaced knots on
 * their support, never used (`where` keeps their own map). Null when no feature uses the quantile map.
 */
function quantileConstants(g: GraphBuilder, pre: FeaturePreprocessing[]) {
  const quantile = pre.filter((p) => p.map === 'quantile');
  if (quantile.length === 0) return null;
  const K = quantile[0].knots!.length - 1;
  const knotsOf = (p: FeaturePreprocessing): number[] => {
    const knots = p.map === 'quantile' ? p.knots! : Array.from({ length: K + 1 }, (_, k) => p.lo + ((p.hi - p.lo) * k) / K);
    if (knots.length !== K + 1) throw new Error(`quantile maps need the same number of knots per feature: ${knots.length} and ${K + 1}`);
    return knots;
  };
  const table = (f: (knots: number[], k: number) => number): T =>
    g.constant(pre.flatMap((p) => Array.from({ length: K }, (_, k) => f(knotsOf(p), k))), [pre.length, K]);
  return {
    K,
    isQuantile: perFeature(g, pre, (p) => (p.map === 'quantile' ? 1 : 0)),
    lower: table((x, k) => x[k]),
    lowerIndicator: table((x, k) => (k === 0 ? -ABOVE_EVERYTHING : x[k])),
    upperIndicator: table((x, k) => (k === K - 1 ? ABOVE_EVERYTHING : x[k + 1])),
    width: table((x, k) => x[k + 1] - x[k]),
    slope: table((x, k) => 1 / K / (x[k + 1] - x[k])),
    segment: g.constant(Array.from({ length: K }, (_, k) => k), [K]),
    segmentFromTop: g.constant(Array.from({ length: K }, (_, k) => K - 1 - k), [K]),
  };
}

/**
 * The empirical CDF u = F̂(x) = Σ_k clamp((x − x_k)/(x_k+1 − x_k), 0, 1)/K with x clamped to the support, 1 − u
 * summed from the top in the same way (so Φ⁻¹ keeps its precision at both edges), and log F̂′(x), the slope of the
 * one segment holding x (the indicator of [x_k, x_k+1) is a difference of two steps, the end segments open outwards).
 */
function quantileCdf(g: GraphBuilder, q: NonNullable<ReturnType<typeof quantileConstants>>, x: T, lo: T, hi: T): { u: T; v: T; logSlope: T } {
  const inside = x.maximum(lo).minimum(hi).unsqueeze(x.rank);
  const t = inside.sub(q.lower).div(q.width);
  const u = t.clamp(0, 1).sumLast().div(q.K);
  const v = g.scalar(1).sub(t).clamp(0, 1).sumLast().div(q.K);
  const inSegment = g.where(inside.greaterEqual(q.lowerIndicator), 1, 0).sub(g.where(inside.greaterEqual(q.upperIndicator), 1, 0));
  return { u, v, logSlope: inSegment.mul(q.slope).sumLast().log() };
}

/** Per-feature log|dy_d/dx_d| without its constant part, and y: what both forms of the forward map share. */
function preprocessCore(g: GraphBuilder, pre: FeaturePreprocessing[], x: T): { y: T; logDerivative: T } {
  const { lo, hi, width, mean, std, isProbit } = supportConstants(g, pre);
  const quantile = quantileConstants(g, pre);
  const u = x.sub(lo).div(width);
  const v = hi.sub(x).div(width);
  const logU = u.clamp(LOGIT_EPSILON, 1 - LOGIT_EPSILON).log();
  const logV = v.clamp(LOGIT_EPSILON, 1 - LOGIT_EPSILON).log();
  let mapped = logU.sub(logV);
  let logDerivative = logU.add(logV).neg();
  if (isProbit) {
    const cdf = quantile ? quantileCdf(g, quantile, x, lo, hi) : null;
    const [p, oneMinusP] = cdf && quantile ? [g.where(quantile.isQuantile, cdf.u, u), g.where(quantile.isQuantile, cdf.v, v)] : [u, v];
    const z = normalQuantile(g, p.clamp(PROBIT_EPSILON, 1 - PROBIT_EPSILON), oneMinusP.clamp(PROBIT_EPSILON, 1 - PROBIT_EPSILON));
    mapped = g.where(isProbit, z, mapped);
    // log |dz/dp| = −log φ(z); the quantile map adds log F̂′(x).
    let probitLogDerivative = z.square().mul(0.5).add(LOG_SQRT_2PI);
    if (cdf && quantile) probitLogDerivative = probitLogDerivative.add(g.where(quantile.isQuantile, cdf.logSlope, 0));
    logDerivative = g.where(isProbit, probitLogDerivative, logDerivative);
  }
  return { y: mapped.sub(mean).div(std), logDerivative };
}

/** log(hi − lo) of the scaling to (0, 1), a constant of the log-derivative; 0 for the quantile map, whose slope carries its own 1/width. */
function logWidth(p: FeaturePreprocessing): number {
  return p.map === 'quantile' ? 0 : Math.log(p.hi - p.lo);
}

/**
 * Features → the flow's space, with log|det J| summed over features. Each feature is scaled to (0, 1) by its
 * support and mapped to the real line: by the logit (then standardised), or by the normal quantile Φ⁻¹, whose
 * Gaussian tails match the base's when the density stays finite at a hard edge of the support (a window).
 */
export function preprocessToBase(g: GraphBuilder, pre: FeaturePreprocessing[], x: T): { y: T; logDet: T } {
  const { y, logDerivative } = preprocessCore(g, pre, x);
  const constantLogDet = pre.reduce((s, p) => s - logWidth(p) - Math.log(p.std), 0);
  return { y, logDet: logDerivative.sumLast().add(constantLogDet) };
}

/** The same map with each feature's log|dy_d/dx_d| kept apart ([..., D]), for graphs that map some features elsewhere. */
export function preprocessPerFeature(g: GraphBuilder, pre: FeaturePreprocessing[], x: T): { y: T; logDerivative: T } {
  const { y, logDerivative } = preprocessCore(g, pre, x);
  return { y, logDerivative: logDerivative.add(perFeature(g, pre, (p) => -logWidth(p) - Math.log(p.std))) };
}

export function preprocessFromBase(g: GraphBuilder, pre: FeaturePreprocessing[], y: T): T {
  const { lo, hi, width, mean, std, isProbit } = supportConstants(g, pre);
  const mapped = y.mul(std).add(mean);
  const logitInverse = mapped.sigmoid().mul(width).add(lo);
  if (!isProbit) return logitInverse;
  const tailMass = normalLowerTail(g, mapped.abs().neg());
  const upperHalf = mapped.greaterEqual(0);
  let probitInverse = g.where(upperHalf, hi.sub(tailMass.mul(width)), lo.add(tailMass.mul(width)));
  const quantile = quantileConstants(g, pre);
  if (quantile) {
    // F̂⁻¹ from the nearer edge: below the median u = m fills segments from x_0 up, above it 1 − u = m fills them
    // from x_K down; segment k is covered by the fraction clamp(K·m − (segments before it), 0, 1).
    const mK = tailMass.unsqueeze(2).mul(quantile.K);
    const fromBelow = lo.add(mK.sub(quantile.segment).clamp(0, 1).mul(quantile.width).sumLast());
    const fromAbove = hi.sub(mK.sub(quantile.segmentFromTop).clamp(0, 1).mul(quantile.width).sumLast());
    probitInverse = g.where(quantile.isQuantile, g.where(upperHalf, fromAbove, fromBelow), probitInverse);
  }
  return g.where(isProbit, probitInverse, logitInverse);
}

/** Centre and half-width of each parameter's (log10 for log-scaled) training range. */
export function parameterScaling(params: Variable[]): { center: number[]; halfWidth: number[] } {
  const t = params.map((p) => (p.logScale ? p.range.map(Math.log10) : p.range));
  return {
    center: t.map(([a, b]) => (a + b) / 2),
    halfWidth: t.map(([a, b]) => (b > a ? (b - a) / 2 : 1)),
  };
}

export function normaliseParameters(g: GraphBuilder, params: Variable[], theta: T): T {
  const { center, halfWidth } = parameterScaling(params);
  const isLog = params.map((p) => (p.logScale ? 1 : 0));
  let t = theta;
  if (isLog.some((v) => v === 1)) {
    // log10 only where declared; elsewhere the value passes through (Where keeps both branches finite).
    const mask = g.constant(isLog, [params.length]);
    t = g.where(mask, theta.maximum(LOG_PARAM_FLOOR).log().div(Math.LN10), theta);
  }
  return t.sub(g.constant(center, [params.length])).div(g.constant(halfWidth, [params.length]));
}
