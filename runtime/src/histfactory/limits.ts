// Upper limits on the parameter of interest: CLs against μ on a grid with the crossings of the level
// interpolated linearly (pyhf's `linear_grid_scan`), and the crossings found to a tolerance by Brent's root
// finder (pyhf's `toms748_scan`, which uses TOMS 748 instead): the observed limit and the expected ones at
// −2σ…+2σ (the Brazil band).
import type { HistFactoryModel } from './model.ts';
import { AsymptoticCalculator, type CalculatorOptions, type HypotestResult } from './infer.ts';

export interface UpperLimits {
  /** CLs level (0.05 for 95 % CL). */
  level: number;
  /** μ where the observed CLs crosses the level, or null when it does not within the scanned range. */
  observed: number | null;
  /** Expected limits at −2σ, −1σ, median, +1σ, +2σ (null where that curve does not cross). */
  expected: (number | null)[];
  /** Every hypothesis test made, sorted by μ (the Brazil band's points). */
  points: HypotestResult[];
}

function checkLevel(level: number): number {
  if (!(level > 0 && level < 1)) throw new Error(`the CLs level must be in (0, 1), e.g. 0.05 for 95 % CL; got ${level}.`);
  return level;
}

function limitCalculator(model: HistFactoryModel, data: ArrayLike<number>, options: CalculatorOptions): AsymptoticCalculator {
  if (options.testStatistic === 'q0') throw new Error('upper limits need the test statistic qtilde or q; q0 is for discovery (flowscan hist significance).');
  return new AsymptoticCalculator(model, data, options);
}

/** Curve c of a result: 0 is the observed CLs, 1…5 the expected ones from −2σ to +2σ. */
function curve(result: HypotestResult, c: number): number {
  return c === 0 ? result.cls : result.expected[c - 1];
}

/** Asymptotic CLs at each μ in `pois` (one calculator, so the μ-independent fits run once). */
export async function clsScan(model: HistFactoryModel, data: ArrayLike<number>, pois: number[], options: CalculatorOptions = {}): Promise<HypotestResult[]> {
  if (pois.length === 0 || pois.some((mu) => !Number.isFinite(mu))) throw new Error(`clsScan needs finite μ values, got ${JSON.stringify(pois)}.`);
  const calculator = limitCalculator(model, data, options);
  const results: HypotestResult[] = [];
  for (const mu of pois) results.push(await calculator.hypotest(mu));
  return results;
}

/**
 * Limits from a scan: along increasing μ, the first interval in which a curve falls from ≥ level to < level,
 * interpolated linearly in CLs (for CLs falling monotonically this is pyhf's np.interp on the reversed arrays).
 */
export function limitsFromScan(points: HypotestResult[], level = 0.05): UpperLimits {
  checkLevel(level);
  const sorted = [...points].sort((a, b) => a.poiValue - b.poiValue);
  const crossing = (c: number): number | null => {
    for (let i = 0; i + 1 < sorted.length; i++) {
      const y0 = curve(sorted[i], c);
      const y1 = curve(sorted[i + 1], c);
      if (y0 >= level && y1 < level) return sorted[i].poiValue + ((y0 - level) / (y0 - y1)) * (sorted[i + 1].poiValue - sorted[i].poiValue);
    }
    return null;
  };
  return { level, observed: crossing(0), expected: [1, 2, 3, 4, 5].map(crossing), points: sorted };
}

export interface UpperLimitOptions extends CalculatorOptions {
  level?: number;
  /** Starting bracket for μ (default: the POI's bounds); widened, as pyhf does, until it brackets every curve. */
  bracket?: [number, number];
  /** Stop when the bracket is narrower than max(atol, rtol·μ) (defaults 1e-10 and 1e-9). */
  rtol?: number;
  atol?: number;
}

/** Observed and expected upper limits by root finding on each CLs curve (pyhf's `upper_limit` without a scan). */
export async function upperLimit(model: HistFactoryModel, data: ArrayLike<number>, options: UpperLimitOptions = {}): Promise<UpperLimits> {
  const level = checkLevel(options.level ?? 0.05);
  const rtol = options.rtol ?? 1e-9;
  const atol = options.atol ?? 1e-10;
  const { level: _l, bracket: _b, rtol: _r, atol: _a, ...calculatorOptions } = options;
  const calculator = limitCalculator(model, data, calculatorOptions);
  const cache = new Map<number, HypotestResult>();
  const at = async (mu: number) => {
    const hit = cache.get(mu);
    if (hit) return hit;
    const result = await calculator.hypotest(mu);
    cache.set(mu, result);
    return result;
  };
  const poiBounds = model.suggestedBounds()[model.poiIndex];
  let [lo, hi] = options.bracket ?? poiBounds;
  if (!(lo < hi)) throw new Error(`upperLimit: the bracket must have lower < upper, got [${lo}, ${hi}].`);
  const curves = [0, 1, 2, 3, 4, 5];
  for (let i = 0; i < 60; i++) {
    const low = await at(lo);
    if (curves.every((c) => curve(low, c) >= level) || lo <= 0) break;
    lo /= 2;
  }
  for (let i = 0; i < 60; i++) {
    const high = await at(hi);
    if (curves.every((c) => curve(high, c) <= level)) break;
    hi *= 2;
  }
  const limits: (number | null)[] = [];
  for (const c of curves) {
    // The tightest bracket known so far: the largest μ still at or above the level, the smallest below it.
    const entries = [...cache.values()].map((r) => ({ mu: r.poiValue, f: curve(r, c) - level }));
    const above = entries.filter((e) => e.f >= 0).sort((a, b) => b.mu - a.mu)[0];
    const below = entries.filter((e) => e.f < 0 && (!above || e.mu > above.mu)).sort((a, b) => a.mu - b.mu)[0];
    if (!above || !below) {
      limits.push(null);
      continue;
    }
    limits.push(await brentRoot(async (mu) => curve(await at(mu), c) - level, above, below, (mu) => Math.max(atol, rtol * Math.abs(mu))));
  }
  return { level, observed: limits[0], expected: limits.slice(1), points: [...cache.values()].sort((a, b) => a.poiValue - b.poiValue) };
}

/**
 * Brent's method (R. P. Brent, "Algorithms for Minimization without Derivatives", 1973, ch. 4): inverse
 * quadratic or secant steps inside a bracket that always holds the sign change, bisection when they do not
 * shrink it fast enough. Ends when the bracket is narrower than 2·tolerance(μ).
 */
async function brentRoot(
  f: (x: number) => Promise<number>,
  first: { mu: number; f: number },
  second: { mu: number; f: number },
  tolerance: (x: number) => number,
): Promise<number> {
  let [a, fa] = [first.mu, first.f];
  let [b, fb] = [second.mu, second.f];
  let [c, fc] = [b, fb];
  let d = b - a;
  let e = d;
  for (let i = 0; i < 200; i++) {
    if (fb === 0) return b;
    if (fb > 0 === fc > 0) {
      [c, fc] = [a, fa];
      d = b - a;
      e = d;
    }
    if (Math.abs(fc) < Math.abs(fb)) {
      [a, fa] = [b, fb];
      [b, fb] = [c, fc];
      [c, fc] = [a, fa];
    }
    const tol = tolerance(b);
    const half = 0.5 * (c - b);
    if (Math.abs(half) <= tol) return b;
    if (Math.abs(e) >= tol && Math.abs(fa) > Math.abs(fb)) {
      // Interpolation through (a, fa), (b, fb) and, when distinct, (c, fc).
      const s = fb / fa;
      let p: number;
      let q: number;
      if (a === c) {
        p = 2 * half * s;
        q = 1 - s;
      } else {
        const qa = fa / fc;
        const r = fb / fc;
        p = s * (2 * half * qa * (qa - r) - (b - a) * (r - 1));
        q = (qa - 1) * (r - 1) * (s - 1);
      }
      if (p > 0) q = -q;
      else p = -p;
      if (2 * p < Math.min(3 * half * q - Math.abs(tol * q), Math.abs(e * q))) {
        e = d;
        d = p / q;
      } else {
        d = half;
        e = d;
      }
    } else {
      d = half;
      e = d;
    }
    [a, fa] = [b, fb];
    b += Math.abs(d) > tol ? d : half > 0 ? tol : -tol;
    fb = await f(b);
  }
  return b;
}
