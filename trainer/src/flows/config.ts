// Flow configuration: which flow, its size, its base distribution; plus the variables it models.

export type FlowKind = 'maf' | 'nsf' | 'nsf-coupling' | 'realnvp';
export const FLOW_KINDS: readonly FlowKind[] = ['maf', 'nsf', 'nsf-coupling', 'realnvp'];
export type Activation = 'tanh' | 'silu' | 'relu';
export const ACTIVATIONS: readonly Activation[] = ['tanh', 'silu', 'relu'];

export type BaseDistribution = { kind: 'normal' } | { kind: 'student-t'; nu: number };

export interface FlowConfig {
  kind: FlowKind;
  /** Number of transform blocks. */
  blocks: number;
  /** Hidden units per layer of each conditioner network. */
  hidden: number;
  /** Hidden layers per conditioner network. */
  depth: number;
  /**
   * Smooth activations (tanh, silu) give a log-density that is smooth in θ, which the gradient fits and the
   * finite-difference Hessian need; relu makes it piecewise linear in the network's pre-activations.
   */
  activation: Activation;
  /** Rational-quadratic spline bins (nsf, nsf-coupling). */
  bins: number;
  /** Splines act on [−tailBound, tailBound]; identity outside (Durkan et al. 2019). */
  tailBound: number;
  base: BaseDistribution;
  /**
   * A linear path from θ to every transform parameter beside the conditioner networks (zero at the start).
   * Flows trained on a grid of θ then interpolate between grid points far better where a feature moves
   * linearly with θ (the LHCO-like m_JJ at an untrained m_Z′: median off by 23 instead of 83 GeV).
   */
  linearTheta: boolean;
}

/** A feature or parameter, with the range seen in training. */
export interface Variable {
  name: string;
  unit: string;
  /** [min, max] seen in the training data. */
  range: [number, number];
  /** Parameters spanning decades (the toy's τ) enter the networks as log10. */
  logScale: boolean;
}

/**
 * How a feature scaled to (0, 1) reaches the real line: 'logit' (then standardised) for a support inferred from
 * the training range, 'probit' (Φ⁻¹) for a declared window whose edges carry density (a selection cut),
 * 'quantile' (Gauss-rank: the training sample's piecewise-linear empirical CDF on the support, then Φ⁻¹).
 */
export type FeatureMap = 'logit' | 'probit' | 'quantile';

/** Per-feature preprocessing: scale to (0,1) by the support [lo, hi], map to ℝ, standardise (logit only). */
export interface FeaturePreprocessing {
  lo: number;
  hi: number;
  map: FeatureMap;
  /** Mean and standard deviation of the mapped training values (0 and 1 for probit and quantile: their tails are the base's). */
  mean: number;
  std: number;
  /**
   * quantile only: x_0 = lo < x_1 < … < x_K = hi, the empirical CDF's knots, with F̂(x_k) = k/K (x_k the k/K quantile
   * of the training values in between); F̂ is linear between knots.
   */
  knots?: number[];
  /**
   * The parameter this feature is measured in units of: the flow sees x/θ_j (support, map and statistics are of
   * the ratio) and log p gains −log θ_j. A resonance's mass peak then sits near 1 at every θ, so the networks learn
   * one shape instead of placing a peak to a fraction of its width at each θ (issue 17); θ_j must be > 0.
   */
  scaledBy?: string;
}

export interface ModelDefinition {
  features: Variable[];
  params: Variable[];
  flow: FlowConfig;
  preprocessing: FeaturePreprocessing[];
  /** Fraction of the training range added on each side to form the feature support. */
  supportMargin: number;
}

export const DEFAULT_FLOWS: Record<FlowKind, Omit<FlowConfig, 'kind'>> = {
  maf: { blocks: 5, hidden: 64, depth: 2, activation: 'tanh', bins: 8, tailBound: 5, base: { kind: 'normal' }, linearTheta: false },
  nsf: { blocks: 3, hidden: 64, depth: 2, activation: 'tanh', bins: 8, tailBound: 5, base: { kind: 'normal' }, linearTheta: false },
  'nsf-coupling': { blocks: 4, hidden: 64, depth: 2, activation: 'tanh', bins: 8, tailBound: 5, base: { kind: 'normal' }, linearTheta: false },
  realnvp: { blocks: 6, hidden: 64, depth: 2, activation: 'tanh', bins: 8, tailBound: 5, base: { kind: 'normal' }, linearTheta: false },
};

export function flowConfig(kind: FlowKind, overrides: Partial<Omit<FlowConfig, 'kind'>> = {}): FlowConfig {
  if (!FLOW_KINDS.includes(kind)) {
    throw new Error(`unknown flow "${String(kind)}": expected one of ${FLOW_KINDS.join(', ')}`);
  }
  const config: FlowConfig = { kind, ...DEFAULT_FLOWS[kind], ...stripUndefined(overrides) };
  validateFlowConfig(config);
  return config;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export function validateFlowConfig(c: FlowConfig): void {
  const positiveInt = (name: string, v: number, max: number): void => {
    if (!Number.isInteger(v) || v < 1 || v > max) throw new Error(`flow ${name} must be an integer in [1, ${max}], got ${v}`);
  };
  positiveInt('blocks', c.blocks, 64);
  positiveInt('hidden', c.hidden, 4096);
  positiveInt('depth', c.depth, 16);
  positiveInt('bins', c.bins, 256);
  if (!ACTIVATIONS.includes(c.activation)) {
    throw new Error(`unknown activation "${c.activation}": expected one of ${ACTIVATIONS.join(', ')}`);
  }
  if (typeof c.linearTheta !== 'boolean') throw new Error(`flow linearTheta must be true or false, got ${String(c.linearTheta)}`);
  if (!(c.tailBound > 0 && Number.isFinite(c.tailBound))) throw new Error(`tail bound must be > 0, got ${c.tailBound}`);
  if (c.base.kind === 'student-t' && !(c.base.nu > 0 && Number.isFinite(c.base.nu))) {
    throw new Error(`Student-t base needs ν > 0, got ${c.base.nu}`);
  }
}
