/**
 * HistFactory binned likelihoods, compatible with pyhf's JSON workspaces: build or read a workspace, compile it
 * to a model, fit it, test hypotheses (q0, qμ, q̃μ; asymptotic or toys) and set CLs upper limits. Pure
 * TypeScript on float64, no Node-only imports. See docs/histfactory.md.
 */
export * from './workspace.ts';
export { HistFactoryModel, type ChannelLayout, type Constraint, type ModelOptions, type ParameterKind, type ParameterSet } from './model.ts';
export type { HistosysInterpolation, NormsysInterpolation } from './interpolation.ts';
export { fit, fixedPoiFit, FreeParameterNll, type FitSettings, type HistFitResult } from './mle.ts';
export {
  AsymptoticCalculator,
  checkTestStatistic,
  clippedStatistic,
  hypotest,
  sampleData,
  TEST_STATISTICS,
  toyHypotest,
  type CalculatorOptions,
  type HypotestResult,
  type TestStatistic,
  type TestStatisticValue,
  type ToyOptions,
} from './infer.ts';
export { clsScan, limitsFromScan, upperLimit, type UpperLimitOptions, type UpperLimits } from './limits.ts';
export { normalCdf, normalQuantile, normalSurvival } from './special.ts';
