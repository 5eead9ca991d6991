// Streaming event generation from exported flows (issue 14 item 1; the MC amplification of Gavranovič & Kerševan,
// "Normalizing Flows for Physics Data Analyses"): base draws through each model's `sample` graph, chunk by chunk,
// into event files and/or histograms, so memory stays bounded whatever the number of events.
//
// Reproducibility: the seed's generator forks one stream for the mixture labels and one per component for its
// base draws (random.ts `fork`); each stream is read strictly in event order, so the same seed gives the same
// events whatever the chunk size. A mixture has exact component counts (from yields, largest remainders) and a
// uniformly random interleaving of them: event i belongs to component k with probability r_k / Σr, r the counts
// still to place (drawing without replacement), so any prefix of the file is a fair mixture.
import { type FlowModel, Rng, baseDraws } from '@flowscan/runtime';
import type { EventWriter } from '@flowscan/runtime/node';
import type { HistogramSet } from './histograms.ts';
import type { Selection } from './cuts.ts';
import type { ThetaSource } from './theta.ts';

export interface GenerateComponent {
  name: string;
  model: FlowModel;
  /** Events of this component. */
  events: number;
  /** Weight of each of its events (yield / events when a yield is given, else 1). */
  weight: number;
}

export interface GenerateConfig {
  components: GenerateComponent[];
  theta: ThetaSource;
  seed: number;
  /** Events per chunk (per sampler call at most). */
  chunk: number;
  selection: Selection | null;
  /** Columns of the event file, in order, among the features, θ names, 'component' and 'weight'. */
  columns: readonly string[];
  writer: EventWriter | null;
  histograms: HistogramSet | null;
  onProgress?: (done: number, accepted: number) => void;
}

export interface ComponentSummary {
  events: number;
  accepted: number;
  weight: number;
}

export interface GenerateSummary {
  events: number;
  accepted: number;
  components: Record<string, ComponentSummary>;
  seconds: number;
  eventsPerSecond: number;
}

/** Tolerance on the training range of a parameter, relative to its width (the manifest stores float32 ends). */
const RANGE_TOLERANCE = 1e-4;

/** Refuses θ outside a model's training range: the flow never saw such points and would extrapolate silently. */
export function checkThetaInRange(models: FlowModel[], extent: Record<string, [number, number]>): void {
  for (const model of models) {
    for (const p of model.manifest.parameters) {
      const span = extent[p.name];
      if (!span) throw new Error(`model ${model.name} needs parameter ${p.name}; give it with --theta ${p.name}=VALUE, --grid or --theta-file`);
      const [lo, hi] = p.range;
      const slack = RANGE_TOLERANCE * (hi - lo);
      if (span[0] < lo - slack || span[1] > hi + slack) {
        throw new Error(`${p.name} spans [${span[0]}, ${span[1]}], outside ${model.name}'s training range [${lo}, ${hi}]: the flow would extrapolate`);
      }
    }
  }
}

/** Splits `total` events over components in proportion to `yields` (largest remainders, so the counts add up). */
export function splitEvents(total: number, yields: number[]): number[] {
  const sum = yields.reduce((s, y) => s + y, 0);
  if (!(sum > 0) || yields.some((y) => !(y >= 0 && Number.isFinite(y)))) throw new Error(`yields must be finite, ≥ 0 and not all 0, got ${yields.join(', ')}`);
  const exact = yields.map((y) => (total * y) / sum);
  const counts = exact.map(Math.floor);
  const order = exact.map((e, k) => [e - counts[k], k]).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  const missing = total - counts.reduce((s, c) => s + c, 0);
  for (let r = 0; r < missing; r++) counts[order[r][1]]++;
  return counts;
}

/** The component of each event of a chunk: draws without replacement from the counts still to place. */
function drawLabels(rng: Rng, remaining: number[], count: number): Uint8Array {
  const labels = new Uint8Array(count);
  if (remaining.length === 1) {
    remaining[0] -= count;
    return labels;
  }
  let left = remaining.reduce((s, r) => s + r, 0);
  for (let i = 0; i < count; i++) {
    let u = rng.uniform() * left;
    let k = 0;
    while (k < remaining.length - 1 && (u >= remaining[k] || remaining[k] === 0)) u -= remaining[k++];
    labels[i] = k;
    remaining[k]--;
    left--;
  }
  return labels;
}

/** Runs the generation; the writer is left open (the caller closes or aborts it). */
export async function generateEvents(config: GenerateConfig): Promise<GenerateSummary> {
  const { components, theta, chunk } = config;
  const total = components.reduce((s, c) => s + c.events, 0);
  if (theta.events !== null && theta.events !== total) {
    throw new Error(`the θ source fixes ${theta.events} events but the components add up to ${total}`);
  }
  if (components.length > 255) throw new Error(`at most 255 components, got ${components.length}`);
  if (!(Number.isInteger(chunk) && chunk >= 1)) throw new Error(`the chunk must be a positive integer of events, got ${chunk}`);
  const features = components[0].model.featureNames;
  const D = features.length;
  const root = new Rng(config.seed);
  const labelStream = root.fork(0);
  const drawStreams = components.map((_, k) => root.fork(1 + k));
  const remaining = components.map((c) => c.events);
  const perComponent = components.map((c) => ({ events: 0, accepted: 0, weight: c.weight }));
  const t0 = performance.now();
  let accepted = 0;

  for (let start = 0; start < total; start += chunk) {
    const count = Math.min(chunk, total - start);
    const labels = drawLabels(labelStream, remaining, count);
    const thetaColumns = theta.values(start, count);
    const columns: Record<string, Float32Array> = Object.fromEntries(features.map((f) => [f, new Float32Array(count)]));
    const componentColumn = new Float32Array(count);
    const weightColumn = new Float32Array(count);

    for (let k = 0; k < components.length; k++) {
      const { model, weight } = components[k];
      const rows: number[] = [];
      for (let i = 0; i < count; i++) if (labels[i] === k) rows.push(i);
      if (rows.length === 0) continue;
      const z = baseDraws(model, rows.length, drawStreams[k]);
      const names = model.parameterNames;
      const P = names.length;
      const thetaRows = theta.perEvent ? rows.length : 1;
      const thetaF32 = new Float32Array(thetaRows * P);
      for (let r = 0; r < thetaRows; r++) for (let p = 0; p < P; p++) thetaF32[r * P + p] = thetaColumns[names[p]][rows[r]];
      const x = await model.sample(z, thetaF32);
      rows.forEach((i, r) => {
        for (let d = 0; d < D; d++) columns[features[d]][i] = x[r * D + d];
        componentColumn[i] = k;
        weightColumn[i] = weight;
      });
      perComponent[k].events += rows.length;
    }

    const all: Record<string, Float32Array | Float64Array> = { ...thetaColumns, ...columns, component: componentColumn, weight: weightColumn };
    const pass = config.selection ? config.selection.passes(all, count) : null;
    let chunkAccepted = count;
    if (pass) {
      chunkAccepted = 0;
      for (let i = 0; i < count; i++) {
        if (pass[i]) {
          chunkAccepted++;
          perComponent[labels[i]].accepted++;
        }
      }
    } else {
      for (let i = 0; i < count; i++) perComponent[labels[i]].accepted++;
    }
    accepted += chunkAccepted;

    if (config.histograms) {
      for (let k = 0; k < components.length; k++) {
        const mask = new Uint8Array(count);
        for (let i = 0; i < count; i++) mask[i] = labels[i] === k && (!pass || pass[i]) ? 1 : 0;
        config.histograms.fill(components[k].name, all, count, components[k].weight, mask);
      }
    }
    if (config.writer) {
      const out: Record<string, Float32Array> = {};
      for (const name of config.columns) {
        const values = all[name];
        if (!values) throw new Error(`no column "${name}" to write (columns: ${Object.keys(all).join(', ')})`);
        const kept = new Float32Array(chunkAccepted);
        for (let i = 0, j = 0; i < count; i++) if (!pass || pass[i]) kept[j++] = values[i];
        out[name] = kept;
      }
      config.writer.write(out, chunkAccepted);
    }
    config.onProgress?.(start + count, accepted);
  }
  const seconds = (performance.now() - t0) / 1000;
  return {
    events: total,
    accepted,
    components: Object.fromEntries(components.map((c, k) => [c.name, perComponent[k]])),
    seconds,
    eventsPerSecond: total / Math.max(seconds, 1e-9),
  };
}
