// The observed events of a mixture likelihood, checked and prepared once: every column a model needs, finite values,
// weights finite, ≥ 0 and not all 0, events outside a model's feature support refused or dropped (and counted), and
// each component's events as one [N × D] matrix in its model's feature order.
import { featureSupport } from '../model/manifest.ts';
import type { FlowModel } from '../model/flow-model.ts';

/** What to do with events outside a model's feature support: refuse (default), or drop and report them. */
export type OutsideSupportPolicy = 'error' | 'drop';

export interface DataSummary {
  /** Events used (after dropping those outside the support). */
  events: number;
  sumWeights: number;
  droppedOutsideSupport: number;
  /** Per feature: events outside the support in that feature (an event may count under several). */
  outsideByFeature: Record<string, number>;
}

export interface ObservedEvents {
  data: DataSummary;
  /** The kept events' weights (1 when none were given). */
  weights: Float64Array;
  /** The kept events [N × D] in the feature order of `model`. */
  matrix(model: FlowModel): Float64Array;
}

export interface ObservedEventsSpec {
  models: readonly FlowModel[];
  events: Record<string, ArrayLike<number>>;
  weights?: ArrayLike<number> | undefined;
  outsideSupport?: OutsideSupportPolicy | undefined;
}

function checkedColumns(models: readonly FlowModel[], events: Record<string, ArrayLike<number>>): Map<string, ArrayLike<number>> {
  const featureNames = [...new Set(models.flatMap((m) => m.featureNames))];
  const columns = new Map<string, ArrayLike<number>>();
  for (const f of featureNames) {
    const column = events[f];
    if (!column) {
      const owner = models.find((m) => m.featureNames.includes(f))!;
      throw new Error(`the events have no column "${f}" needed by model ${owner.name} (columns: ${Object.keys(events).join(', ')})`);
    }
    columns.set(f, column);
  }
  const total = columns.get(featureNames[0])!.length;
  if (total === 0) throw new Error('there are no observed events');
  for (const [f, column] of columns) {
    if (column.length !== total) throw new Error(`column "${f}" has ${column.length} values, "${featureNames[0]}" has ${total}`);
    for (let i = 0; i < total; i++) {
      if (!Number.isFinite(column[i])) throw new Error(`event ${i + 1} has ${column[i]} in "${f}": events must be finite numbers`);
    }
  }
  return columns;
}

/** Rows inside every model's support, with the count outside per feature; refuses outside events unless dropped. */
function rowsInsideSupport(models: readonly FlowModel[], columns: Map<string, ArrayLike<number>>, total: number, policy: OutsideSupportPolicy): { kept: number[]; outsideByFeature: Record<string, number> } {
  const keep = new Uint8Array(total).fill(1);
  const outsideByFeature: Record<string, number> = {};
  for (const model of models) {
    featureSupport(model.manifest).forEach(([lo, hi], d) => {
      const name = model.featureNames[d];
      const column = columns.get(name)!;
      let outside = 0;
      for (let i = 0; i < total; i++) {
        if (column[i] < lo || column[i] > hi) {
          outside++;
          keep[i] = 0;
        }
      }
      if (outside > 0) outsideByFeature[name] = Math.max(outsideByFeature[name] ?? 0, outside);
    });
  }
  const kept: number[] = [];
  for (let i = 0; i < total; i++) if (keep[i]) kept.push(i);
  const dropped = total - kept.length;
  if (dropped > 0 && policy === 'error') {
    const detail = Object.entries(outsideByFeature).map(([f, n]) => `${n} in ${f}`).join(', ');
    throw new Error(
      `${dropped} of ${total} events lie outside the models' feature support (${detail}); the flows are not defined there. ` +
        'Select events inside the training ranges, or use the outside-support policy "drop" to drop and report them.',
    );
  }
  if (kept.length === 0) throw new Error('every event lies outside the models\' support');
  return { kept, outsideByFeature };
}

export function prepareObservedEvents(spec: ObservedEventsSpec): ObservedEvents {
  const columns = checkedColumns(spec.models, spec.events);
  const total = columns.values().next().value!.length;
  if (spec.weights && spec.weights.length !== total) throw new Error(`${spec.weights.length} event weights for ${total} events`);
  const { kept, outsideByFeature } = rowsInsideSupport(spec.models, columns, total, spec.outsideSupport ?? 'error');
  const given = spec.weights;
  const weights = Float64Array.from(kept, (i) => (given ? given[i] : 1));
  weights.forEach((w, r) => {
    if (!(Number.isFinite(w) && w >= 0)) throw new Error(`event ${kept[r] + 1} has weight ${w}: event weights must be finite and ≥ 0`);
  });
  const dropped = total - kept.length;
  // Zero weights make the NLL identically 0: every point would be a "converged" best fit.
  if (weights.every((w) => w === 0)) {
    const after = dropped > 0 ? ` after dropping the ${dropped} outside the support` : '';
    throw new Error(`every event weight is 0 (${kept.length} events${after}): the likelihood is flat and there is nothing to fit; check the weight column`);
  }
  return {
    data: { events: kept.length, sumWeights: weights.reduce((s, w) => s + w, 0), droppedOutsideSupport: dropped, outsideByFeature },
    weights,
    matrix(model) {
      const D = model.dimension;
      const xs = new Float64Array(kept.length * D);
      model.featureNames.forEach((f, d) => {
        const column = columns.get(f)!;
        kept.forEach((i, r) => (xs[r * D + d] = column[i]));
      });
      return xs;
    },
  };
}
