// The fitted model as flow samples: each component of a mixture sampled at its best-fit parameters and weighted to
// the events it is expected to hold, for histograms of the data with the fit on top (flowscan scan --report, the
// studies' figures, the browser page).
import type { FlowModel } from '../model/flow-model.ts';
import { sampleEnsemble, sampleFlow } from '../model/sample.ts';
import type { Rng } from '../random.ts';
import { type ComponentModel, type ComponentSpec, type YieldMode, componentModels, yieldName } from './mixture.ts';

/** What the prediction needs of a fit: the values of the likelihood's parameters and the sum of event weights. */
export type FitForPrediction = { parameters: readonly { name: string; value: number }[]; data: { sumWeights: number } };

export interface FittedComponentSample {
  component: string;
  /** The component's flow (the first member of an ensemble: all members have its features). */
  model: FlowModel;
  /** The component's parameters at the fit, in the model's order. */
  theta: number[];
  /** Expected events: the fitted yield (extended), or the fraction of the summed event weights (fixed fractions). */
  expected: number;
  /** Sampled events [n × D] (float32, the sampler's precision). */
  events: Float32Array;
  /** Expected events per sampled event (expected / n). */
  weight: number;
}

/**
 * Samples every component with expected events > 0 at its fitted parameters (renamed as in the likelihood):
 * `samples(expected)` events each, component k from `rng.fork(k + 1)`, so a component's draws do not depend on
 * how many the others take.
 */
export async function sampleFittedComponents(
  components: readonly ComponentSpec[],
  yields: YieldMode,
  fit: FitForPrediction,
  samples: (expected: number) => number,
  rng: Rng,
): Promise<FittedComponentSample[]> {
  const value = (name: string): number => {
    const p = fit.parameters.find((q) => q.name === name);
    if (!p) throw new Error(`the fit has no parameter "${name}" (it has ${fit.parameters.map((q) => q.name).join(', ')})`);
    return p.value;
  };
  const drawn: FittedComponentSample[] = [];
  for (const [k, c] of components.entries()) {
    const expected = yields === 'extended' ? value(yieldName(c.name)) : (c.fraction ?? 0) * fit.data.sumWeights;
    if (!(expected > 0)) continue;
    const members = componentModels(c);
    const theta = members[0].parameterNames.map((n) => value(c.rename?.[n] ?? n));
    const n = samples(expected);
    const events = await sampleComponent(c.model, theta, n, rng.fork(k + 1));
    drawn.push({ component: c.name, model: members[0], theta, expected, events, weight: expected / n });
  }
  return drawn;
}

/** n events [n × D] of a component's density at θ: its flow's samples, or an ensemble's (sampleEnsemble). */
export async function sampleComponent(model: ComponentModel, theta: ArrayLike<number>, n: number, rng: Rng): Promise<Float32Array> {
  const members = componentModels({ model });
  return members.length === 1 ? sampleFlow(members[0], theta, n, rng) : sampleEnsemble(members, theta, n, rng);
}
