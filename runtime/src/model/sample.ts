// Events drawn from an exported flow: base draws (normal or Student-t, as the manifest says) through the sampler
// graph at one parameter point.
import type { Rng } from '../random.ts';
import type { FlowModel } from './flow-model.ts';

/** Largest number of events sent through the sampler graph in one call (its intermediates grow with n). */
const SAMPLE_CHUNK = 1 << 16;

/** n draws [n×D] of the model's base distribution (normal or Student-t, as its manifest says), for its sampler graph. */
export function baseDraws(model: FlowModel, n: number, rng: Rng): Float32Array {
  const z = new Float32Array(n * model.dimension);
  const base = model.manifest.flow.base;
  if (base.kind === 'normal') rng.fillNormal(z);
  else rng.fillStudentT(z, base.nu);
  return z;
}

/** n events [n×D] (float32, the sampler's precision) from `model` at θ (one point). */
export async function sampleFlow(model: FlowModel, theta: ArrayLike<number>, n: number, rng: Rng): Promise<Float32Array> {
  if (!(Number.isInteger(n) && n >= 0)) throw new Error(`the number of events to sample must be a non-negative integer, got ${n}`);
  if (theta.length !== model.parameterCount) {
    throw new Error(`θ has ${theta.length} values, ${model.manifest.name} takes ${model.parameterCount} (${model.parameterNames.join(', ')})`);
  }
  const D = model.dimension;
  const thetaF32 = Float32Array.from(theta);
  const out = new Float32Array(n * D);
  for (let start = 0; start < n; start += SAMPLE_CHUNK) {
    const count = Math.min(SAMPLE_CHUNK, n - start);
    out.set(await model.sample(baseDraws(model, count, rng), thetaF32), start * D);
  }
  return out;
}

/** Columns by feature name from events [n×D]. */
export function featureColumns(model: FlowModel, events: Float32Array | Float64Array): Record<string, Float64Array> {
  const D = model.dimension;
  const n = events.length / D;
  return Object.fromEntries(
    model.featureNames.map((name, d) => {
      const column = new Float64Array(n);
      for (let i = 0; i < n; i++) column[i] = events[i * D + d];
      return [name, column];
    }),
  );
}

/**
 * n events of an ensemble's mean density (1/M) Σ_m p_m: member m draws n/M of them (the first n mod M one more)
 * from rng.fork(m + 1). Equal counts instead of multinomial ones: the sample of the mixture, stratified by member.
 */
export async function sampleEnsemble(members: readonly FlowModel[], theta: ArrayLike<number>, n: number, rng: Rng): Promise<Float32Array> {
  const M = members.length;
  const D = members[0].dimension;
  const events = new Float32Array(n * D);
  let offset = 0;
  for (const [m, model] of members.entries()) {
    const count = Math.floor(n / M) + (m < n % M ? 1 : 0);
    if (count === 0) continue;
    events.set(await sampleFlow(model, theta, count, rng.fork(m + 1)), offset * D);
    offset += count;
  }
  return events;
}
