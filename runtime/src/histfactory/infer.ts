// Hypothesis tests on a HistFactory model: the profile-likelihood test statistics q0, qμ and q̃μ, their
// asymptotic distributions (G. Cowan, K. Cranmer, E. Gross, O. Vitells, "Asymptotic formulae for
// likelihood-based tests of new physics", Eur. Phys. J. C 71 (2011) 1554, arXiv:1007.1727; CCGV below) with
// the Asimov data set for σ, CLs (A. L. Read, J. Phys. G 28 (2002) 2693) with the expected ±1σ/±2σ band, and
// the same from pseudo-experiments. Conventions, including the order of the expected band, follow pyhf 0.7's
// `infer.hypotest`, so its numbers can be compared one to one.
import { Rng } from '../random.ts';
import { quantile } from '../stats/quantile.ts';
import type { HistFactoryModel } from './model.ts';
import { fit, fixedPoiFit, type FitSettings, type HistFitResult } from './mle.ts';
import { normalCdf } from './special.ts';

/** q0: discovery (CCGV eq. 12); q: upper limits, qμ (eq. 14); qtilde: q̃μ for μ ≥ 0 (eq. 16). */
export type TestStatistic = 'q0' | 'q' | 'qtilde';
export const TEST_STATISTICS: readonly TestStatistic[] = ['q0', 'q', 'qtilde'];

/** Test statistic value with the two fits behind it. */
export interface TestStatisticValue {
  /** q0, qμ or q̃μ (the clipped −2 log λ). */
  value: number;
  /** μ̂ of the free fit. */
  poiHat: number;
  free: HistFitResult;
  fixed: HistFitResult;
}

export function checkTestStatistic(name: string): TestStatistic {
  if (!(TEST_STATISTICS as readonly string[]).includes(name)) throw new Error(`test statistic must be one of ${TEST_STATISTICS.join(', ')}, got ${JSON.stringify(name)}.`);
  return name as TestStatistic;
}

/**
 * tμ = −2 log λ(μ) = 2 (NLL(μ, θ̂̂) − NLL(μ̂, θ̂)), clipped at 0; qμ = q̃μ = 0 when μ̂ > μ and q0 = 0 when μ̂ < 0.
 * q̃μ differs from qμ only through the POI's lower bound 0 (CCGV eq. 10) and its asymptotic formula, as in pyhf.
 */
export function clippedStatistic(kind: TestStatistic, poiValue: number, free: HistFitResult, fixed: HistFitResult, poiIndex: number): TestStatisticValue {
  const poiHat = free.parameters[poiIndex];
  const t = Math.max(2 * (fixed.nll - free.nll), 0);
  const zero = kind === 'q0' ? poiHat < 0 : poiHat > poiValue;
  return { value: zero ? 0 : t, poiHat, free, fixed };
}

/** The μ a test statistic compares against: q0 tests μ = 0 whatever is asked. */
function testedPoi(kind: TestStatistic, poiValue: number): number {
  return kind === 'q0' ? 0 : poiValue;
}

/** Observed and expected p-values of one hypothesis test. */
export interface HypotestResult {
  poiValue: number;
  testStatistic: TestStatistic;
  calculator: 'asymptotics' | 'toys';
  /** CLs = CLs+b / CLb for q and qtilde; for q0 the discovery p-value p0 (= CLs+b, pyhf's convention). */
  pValue: number;
  cls: number;
  clsb: number;
  clb: number;
  /** Expected pValue at the −2σ, −1σ, median, +1σ, +2σ quantiles of the background-only (q0: signal) hypothesis, pyhf's order. */
  expected: number[];
  /** The observed test statistic (q0, qμ or q̃μ). */
  q: number;
  /** Asymptotics: the test statistic on the Asimov data set (σ² = μ²/qμ,A, CCGV eq. 32). */
  qAsimov?: number;
  poiHat: number;
  /** Toys: the number thrown per hypothesis. */
  toys?: number;
}

export interface CalculatorOptions extends FitSettings {
  testStatistic?: TestStatistic;
}

/**
 * Asymptotic CLs for one data set, reusing what does not depend on the tested μ: the free fit to the data,
 * the Asimov data set (from the fit with μ fixed at 0, or at 1 for q0, as pyhf) and the free fit to it.
 * Each further μ costs two fits (μ fixed, on the data and on the Asimov data).
 */
export class AsymptoticCalculator {
  readonly testStatistic: TestStatistic;
  private freeFit?: Promise<HistFitResult>;
  private asimov?: Promise<{ data: Float64Array; parameters: Float64Array; free: HistFitResult }>;

  constructor(
    readonly model: HistFactoryModel,
    readonly data: ArrayLike<number>,
    private readonly settings: CalculatorOptions = {},
  ) {
    this.testStatistic = checkTestStatistic(settings.testStatistic ?? 'qtilde');
    model.checkData(data, 'hypothesis test data');
  }

  /** The free fit to the data (μ̂, θ̂). */
  bestFit(): Promise<HistFitResult> {
    this.freeFit ??= fit(this.model, this.data, this.fitSettings);
    return this.freeFit;
  }

  /** The Asimov data set: expected main and auxiliary data at the fit to the data with μ = 0 (q0: μ = 1). */
  asimovData(): Promise<{ data: Float64Array; parameters: Float64Array; free: HistFitResult }> {
    this.asimov ??= (async () => {
      const asimovPoi = this.testStatistic === 'q0' ? 1 : 0;
      const conditional = await fixedPoiFit(this.model, this.data, asimovPoi, this.fitSettings);
      const data = this.model.expectedData(conditional.parameters);
      return { data, parameters: conditional.parameters, free: await fit(this.model, data, this.fitSettings) };
    })();
    return this.asimov;
  }

  private get fitSettings(): FitSettings {
    const { testStatistic: _, ...rest } = this.settings;
    return rest;
  }

  /** CLs (or p0 for q0) at `poiValue`, observed and expected. */
  async hypotest(poiValue: number): Promise<HypotestResult> {
    const kind = this.testStatistic;
    const mu = testedPoi(kind, poiValue);
    const [free, asimov] = await Promise.all([this.bestFit(), this.asimovData()]);
    const observed = clippedStatistic(kind, mu, free, await fixedPoiFit(this.model, this.data, mu, this.fitSettings), this.model.poiIndex);
    const onAsimov = clippedStatistic(kind, mu, asimov.free, await fixedPoiFit(this.model, asimov.data, mu, this.fitSettings), this.model.poiIndex);
    const sqrtQ = Math.sqrt(observed.value);
    const sqrtQA = Math.sqrt(onAsimov.value);
    // The statistic in −μ̂/σ space (pyhf's AsymptoticTestStatDistribution): N(−√qμ,A, 1) under s+b, N(0, 1)
    // under b. For q̃μ beyond √qμ,A the linear branch of CCGV eq. 66 applies: (qμ − qμ,A) / (2√qμ,A).
    const t = kind === 'qtilde' && sqrtQ > sqrtQA && sqrtQA > 0 ? (observed.value - onAsimov.value) / (2 * sqrtQA) : sqrtQ - sqrtQA;
    const pvalues = (stat: number) => {
      const clsb = normalCdf(-(stat + sqrtQA));
      const clb = normalCdf(-stat);
      return { clsb, clb, cls: clsb / clb };
    };
    const obs = pvalues(t);
    // Expected: the b-only statistic at its median shifted by ±1σ, ±2σ (CCGV eq. 89), from +2 down to −2.
    const expected = [2, 1, 0, -1, -2].map((n) => pvalues(n)).map((p) => (kind === 'q0' ? p.clsb : p.cls));
    return {
      poiValue: mu,
      testStatistic: kind,
      calculator: 'asymptotics',
      pValue: kind === 'q0' ? obs.clsb : obs.cls,
      ...obs,
      expected,
      q: observed.value,
      qAsimov: onAsimov.value,
      poiHat: observed.poiHat,
    };
  }
}

export interface ToyOptions extends CalculatorOptions {
  /** Pseudo-experiments per hypothesis (default 1000). */
  toys?: number;
  seed?: number;
  onToy?: (done: number, total: number) => void;
}

/**
 * CLs from pseudo-experiments (pyhf's ToyCalculator): main counts Poisson(ν) and auxiliary data
 * (Gaussian or Poisson around the constrained parameters) drawn at the conditional fits to the data with μ at
 * the tested value and at 0 (q0: at 0 and 1), the test statistic of each toy from its own two fits, and the
 * p-values as the fractions of toys at or above the observed statistic. The expected band takes the
 * 2.3/15.9/50/84.1/97.7 % percentiles of the p-values of the background-like toys.
 */
export async function toyHypotest(model: HistFactoryModel, data: ArrayLike<number>, poiValue: number, options: ToyOptions = {}): Promise<HypotestResult> {
  const kind = checkTestStatistic(options.testStatistic ?? 'qtilde');
  const toys = options.toys ?? 1000;
  if (!Number.isInteger(toys) || toys < 1) throw new Error(`toys must be a whole number ≥ 1, got ${toys}.`);
  const { testStatistic: _t, toys: _n, seed: _s, onToy, ...fitSettings } = options;
  const rng = new Rng(options.seed ?? 0);
  const mu = testedPoi(kind, poiValue);
  const statistic = async (sample: ArrayLike<number>) =>
    clippedStatistic(kind, mu, await fit(model, sample, fitSettings), await fixedPoiFit(model, sample, mu, fitSettings), model.poiIndex);
  const observed = await statistic(data);
  const signalPars = (await fixedPoiFit(model, data, mu, fitSettings)).parameters;
  const backgroundPars = (await fixedPoiFit(model, data, kind === 'q0' ? 1 : 0, fitSettings)).parameters;
  const throwAt = async (pars: Float64Array, stream: number, offset: number) => {
    const generator = rng.fork(stream);
    const values = new Float64Array(toys);
    for (let i = 0; i < toys; i++) {
      values[i] = (await statistic(sampleData(model, pars, generator))).value;
      onToy?.(offset + i + 1, 2 * toys);
    }
    return values;
  };
  const signalLike = await throwAt(signalPars, 1, 0);
  const backgroundLike = await throwAt(backgroundPars, 2, toys);
  const tail = (values: Float64Array, q: number) => values.reduce((n, v) => n + (v >= q ? 1 : 0), 0) / values.length;
  const pvalues = (q: number) => {
    const clsb = tail(signalLike, q);
    const clb = tail(backgroundLike, q);
    return { clsb, clb, cls: clsb / clb };
  };
  const obs = pvalues(observed.value);
  const perToy = Array.from(backgroundLike, (q) => {
    const p = pvalues(q);
    return kind === 'q0' ? p.clsb : p.cls;
  });
  const expected = [2.27501319, 15.86552539, 50, 84.13447461, 97.72498681].map((pct) => quantile(perToy, pct / 100));
  return { poiValue: mu, testStatistic: kind, calculator: 'toys', pValue: kind === 'q0' ? obs.clsb : obs.cls, ...obs, expected, q: observed.value, poiHat: observed.poiHat, toys };
}

/** One pseudo-experiment at `pars`: Poisson main counts and auxiliary data drawn from the constraint terms. */
export function sampleData(model: HistFactoryModel, pars: ArrayLike<number>, rng: Rng): Float64Array {
  const expected = model.expectedData(pars);
  const out = new Float64Array(expected.length);
  for (let b = 0; b < model.mainBins; b++) out[b] = rng.poisson(expected[b]);
  let i = model.mainBins;
  for (const set of model.parameters) {
    const c = set.constraint;
    if (!c) continue;
    for (let k = 0; k < set.size; k++, i++) out[i] = c.type === 'normal' ? expected[i] + c.sigmas[k] * rng.normal() : rng.poisson(expected[i]);
  }
  return out;
}

/** One asymptotic hypothesis test (pyhf's `infer.hypotest` with calctype 'asymptotics'). */
export async function hypotest(model: HistFactoryModel, data: ArrayLike<number>, poiValue: number, options: CalculatorOptions = {}): Promise<HypotestResult> {
  return new AsymptoticCalculator(model, data, options).hypotest(poiValue);
}
