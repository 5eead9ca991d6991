/**
 * Minimisers and inference on a batched objective (−log L of P parameters, K points per call): multi-start
 * L-BFGS-B / Adam / momentum, finite-difference Hessian and covariance, profile-likelihood intervals, grid,
 * random and 2-D scans, the local significance, and the global search (Sobol' scan, distinct starts, minima).
 * Pure TypeScript, no Node-only imports.
 */
export type { BatchObjective, Bounds, EvaluationCounts } from './objective.ts';
export type { StopReason } from './machine.ts';
export {
  minimize,
  type AdamOptions,
  type BoundState,
  type ConvergenceOptions,
  type LbfgsbOptions,
  type MinimizeMethod,
  type MinimizeOptions,
  type MinimizeProgress,
  type MinimizeResult,
  type MinimizerOptions,
  type MomentumOptions,
  type StartResult,
} from './minimize.ts';
export {
  covarianceFromHessian,
  hessian,
  type CovarianceResult,
  type DifferenceScheme,
  type HessianOptions,
  type HessianResult,
} from './hessian.ts';
export {
  profileLikelihood,
  type ParameterProfile,
  type ProfileEndpoint,
  type ProfileInterval,
  type ProfileOptions,
  type ProfileResult,
} from './profile.ts';
export {
  gridScan,
  nllMap2d,
  randomScan,
  type GridScanOptions,
  type NllMap,
  type MapRanges,
  type NllMapOptions,
  type RandomScanOptions,
  type ScanOptions,
  type ScanProgress,
  type ScanResult,
} from './grid.ts';
export { localSignificance, type LocalSignificance } from './significance.ts';
export { SOBOL_MAX_DIMENSION, sobolPoints } from './sobol.ts';
export {
  bestDistinct,
  classifyEnds,
  descendsTo,
  groupMinima,
  sameMinimum,
  sobolScan,
  type MinimaOptions,
  type MinimaResult,
  type SobolScan,
  type StartEnd,
  type StartOutcome,
  type Valued,
} from './search.ts';
export { cholesky, choleskyInverse, choleskySolve, symmetricEigen, type SymmetricEigen } from './linalg.ts';
