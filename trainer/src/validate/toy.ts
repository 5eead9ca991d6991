// `flowscan validate toy`: the exported toy flows against the toy's EXACT likelihood (trainer/src/study/toy-exact.ts)
// over a design of truth points. Each item is one pseudo-experiment at one point, drawn from its own stream
// (seed, item index), fitted twice on the same events from the truth: with the flows and with the exact likelihood.
// The pull (flow − exact)/σ_exact is then the flows' own error in units of the statistical one, free of the data's
// fluctuation, and σ_flow/σ_exact says whether the flows' curvature, hence their errors, can be trusted.
import { type FlowModel, MixtureLikelihood, Rng, fitLikelihood } from '@flowscan/runtime';
import { TOY_SIGNAL_FRACTION, type ToyPoint, exactFit, toyPseudoData } from '../study/toy.ts';
import { type ToyDesign, designItem } from './design.ts';
import { type FitValues, type FlowFitValues, type ParameterAxis, flowFitValues } from './fits.ts';

export interface ToyValidationConfig {
  reference: 'toy';
  design: string;
  points: ToyPoint[];
  size: ToyDesign['size'];
  experiments: number;
  seed: number;
  parameters: ParameterAxis[];
  /** sha256 of each model's log-density graph: shards of one run fit the same flows. */
  models: { signal: string; background: string };
  precision: string;
}

interface ToyItemBase {
  point: number;
  experiment: number;
  seconds: number;
}
/** One pseudo-experiment: both fits, or why one of them failed (the summary counts it, the run goes on). */
export type ToyItem = ToyItemBase & ({ flow: FlowFitValues; exact: FitValues } | { failure: string });

export interface ToyModels {
  signal: FlowModel;
  background: FlowModel;
}

export function toyValidationConfig(design: ToyDesign, experiments: number, seed: number, models: ToyModels): ToyValidationConfig {
  for (const [role, names] of [['signal', ['m_pole', 'gamma']], ['background', ['tau']]] as const) {
    const got = models[role].parameterNames;
    if (got.join(',') !== names.join(',')) {
      throw new Error(`the toy ${role} model ${models[role].name} has parameters (${got.join(', ')}); the toy reference needs (${names.join(', ')})`);
    }
  }
  const precisions = [...new Set([models.signal.precision, models.background.precision])];
  return {
    reference: 'toy',
    design: design.name,
    points: design.points,
    size: design.size,
    experiments,
    seed,
    parameters: [models.signal, models.background].flatMap((m) => m.manifest.parameters.map((p) => ({ name: p.name, unit: p.unit, logScale: p.logScale === true }))),
    models: { signal: models.signal.manifest.graphs.log_prob.sha256, background: models.background.manifest.graphs.log_prob.sha256 },
    precision: precisions.join('+'),
  };
}

/** The paper's fixed-fraction mixture of the toy flows over events x. */
export function toyFlowLikelihood(models: ToyModels, x: Float64Array): MixtureLikelihood {
  return new MixtureLikelihood({
    components: [
      { name: 'signal', model: models.signal, fraction: TOY_SIGNAL_FRACTION },
      { name: 'background', model: models.background, fraction: 1 - TOY_SIGNAL_FRACTION },
    ],
    events: { x },
    yields: 'fixed-fractions',
  });
}

/** Item `index` of the run: its pseudo-experiment and the two fits. */
export async function runToyItem(config: ToyValidationConfig, models: ToyModels, index: number): Promise<ToyItem> {
  const started = performance.now();
  const { point, experiment } = designItem(index, config.experiments);
  const truth = config.points[point];
  const x = toyPseudoData(new Rng(config.seed).fork(index), truth, config.size);
  const base = { point, experiment };
  try {
    const likelihood = toyFlowLikelihood(models, x);
    // Both fits start at the truth, with no global search: the question is the flows' minimum near it, not
    // finding it from afar.
    const flow = flowFitValues(await fitLikelihood(likelihood, { start: { ...truth }, starts: 1, globalSearch: false }));
    const exact = await exactFit(x, 'fixed-fractions', truth);
    return { ...base, flow, exact: { values: exact.values, errors: exact.errors, atBound: exact.atBound }, seconds: (performance.now() - started) / 1000 };
  } catch (error) {
    return { ...base, failure: (error as Error).message, seconds: (performance.now() - started) / 1000 };
  }
}
