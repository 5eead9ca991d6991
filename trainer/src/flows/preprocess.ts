// Preprocessing bijections inside the graph, so densities are in PHYSICAL units of the features:
// scale to (0, 1) by the support [lo, hi] (training range widened by a margin), logit, standardise, with
// their log-determinants. θ is normalised to about [−1, 1] (log10 first for log-scaled parameters) before it
// enters the networks; that is not a bijection of x and adds nothing to log p.
import type { FeaturePreprocessing, Variable } from './config.ts';
import type { GraphBuilder, T } from '../ir/graph.ts';

/** Logit clamp: u is kept in [ε, 1 − ε] so points on or past the support edge give finite values. */
export const LOGIT_EPSILON = 1e-6;
/** Smallest value a log-scaled parameter is clamped to before log10 (keeps θ ≤ 0 finite, never NaN). */
const LOG_PARAM_FLOOR = 1e-30;

function perFeature(g: GraphBuilder, pre: FeaturePreprocessing[], f: (p: FeaturePreprocessing) => number): T {
  return g.constant(pre.map(f), [pre.length]);
}

export function preprocessToBase(g: GraphBuilder, pre: FeaturePreprocessing[], x: T): { y: T; logDet: T } {
  const lo = perFeature(g, pre, (p) => p.lo);
  const width = perFeature(g, pre, (p) => p.hi - p.lo);
  const mean = perFeature(g, pre, (p) => p.mean);
  const std = perFeature(g, pre, (p) => p.std);
  const constantLogDet = pre.reduce((s, p) => s - Math.log(p.hi - p.lo) - Math.log(p.std), 0);
  const u = x.sub(lo).div(width).clamp(LOGIT_EPSILON, 1 - LOGIT_EPSILON);
  const logU = u.log();
  const log1mU = g.scalar(1).sub(u).log();
  const y = logU.sub(log1mU).sub(mean).div(std);
  const logDet = logU.add(log1mU).sumLast().neg().add(constantLogDet);
  return { y, logDet };
}

export function preprocessFromBase(g: GraphBuilder, pre: FeaturePreprocessing[], y: T): T {
  const lo = perFeature(g, pre, (p) => p.lo);
  const width = perFeature(g, pre, (p) => p.hi - p.lo);
  const mean = perFeature(g, pre, (p) => p.mean);
  const std = perFeature(g, pre, (p) => p.std);
  return y.mul(std).add(mean).sigmoid().mul(width).add(lo);
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
