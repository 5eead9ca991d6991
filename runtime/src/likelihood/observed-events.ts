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
  /**
   * The kept events' weights, or null when none were given: every weight is 1, and 10^7 events need no 80 MB of
   * ones. Given weights with no event dropped are the caller's Float64Array itself (not copied).
   */
  weights: Float64Array | null;
  /**
   * The kept events [N × D] in the feature order of `model`, one array per feature order (components with the same
   * features share it). One feature with no event dropped is the caller's Float64Array column itself, not a copy:
   * the columns must not change while the likelihood is used.
   */
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

/**
 * Rows inside every model's support (null: all of them, the usual case, with no index array), with the count
 * outside per feature; refuses outside events unless dropped.
 */
function rowsInsideSupport(models: readonly FlowModel[], columns: Map<string, ArrayLike<number>>, total: number, policy: OutsideSupportPolicy): { kept: Uint32Array | null; outsideByFeature: Record<string, number> } {
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
  let count = 0;
  for (let i = 0; i < total; i++) count += keep[i];
  const dropped = total - count;
  if (dropped > 0 && policy === 'error') {
    const detail = Object.entries(outsideByFeature).map(([f, n]) => `${n} in ${f}`).join(', ');
    throw new Error(
      `${dropped} of ${total} events lie outside the models' feature support (${detail}); the flows are not defined there. ` +
        'Select events inside the training ranges, or use the outside-support policy "drop" to drop and report them.',
    );
  }
  if (count === 0) throw new Error('every event lies outside the models\' support');
  if (dropped === 0) return { kept: null, outsideByFeature };
  const kept = new Uint32Array(count);
  for (let i = 0, r = 0; i < total; i++) if (keep[i]) kept[r++] = i;
  return { kept, outsideByFeature };
}

/** The kept rows of `column`: the column itself when every row is kept and it is a Float64Array already. */
function keptValues(column: ArrayLike<number>, kept: Uint32Array | null): Float64Array {
  if (kept === null) return column instanceof Float64Array ? column : Float64Array.from(column);
  return Float64Array.from(kept, (i) => column[i]);
}

export function prepareObservedEvents(spec: ObservedEventsSpec): ObservedEvents {
  const columns = checkedColumns(spec.models, spec.events);
  const total = columns.values().next().value!.length;
  if (spec.weights && spec.weights.length !== total) throw new Error(`${spec.weights.length} event weights for ${total} events`);
  const { kept, outsideByFeature } = rowsInsideSupport(spec.models, columns, total, spec.outsideSupport ?? 'error');
  const events = kept?.length ?? total;
  const weights = spec.weights ? keptValues(spec.weights, kept) : null;
  let sumWeights = events;
  if (weights) {
    sumWeights = 0;
    weights.forEach((w, r) => {
      if (!(Number.isFinite(w) && w >= 0)) throw new Error(`event ${(kept?.[r] ?? r) + 1} has weight ${w}: event weights must be finite and ≥ 0`);
      sumWeights += w;
    });
  }
  const dropped = total - events;
  // Zero weights make the NLL identically 0: every point would be a "converged" best fit.
  if (sumWeights === 0) {
    const after = dropped > 0 ? ` after dropping the ${dropped} outside the support` : '';
    throw new Error(`every event weight is 0 (${events} events${after}): the likelihood is flat and there is nothing to fit; check the weight column`);
  }
  const matrices = new Map<string, Float64Array>();
  return {
    data: { events, sumWeights, droppedOutsideSupport: dropped, outsideByFeature },
    weights,
    matrix(model) {
      const order = model.featureNames.join('\n');
      let xs = matrices.get(order);
      if (!xs) {
        const D = model.dimension;
        if (D === 1) xs = keptValues(columns.get(model.featureNames[0])!, kept);
        else {
          const matrix = new Float64Array(events * D);
          model.featureNames.forEach((f, d) => {
            const column = columns.get(f)!;
            for (let r = 0; r < events; r++) matrix[r * D + d] = column[kept?.[r] ?? r];
          });
          xs = matrix;
        }
        matrices.set(order, xs);
      }
      return xs;
    },
  };
}
