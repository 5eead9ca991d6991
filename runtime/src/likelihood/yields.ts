// Yields from expected event counts: a physicist knows "1000 signal events in 101k", not the fraction 0.00990099.
// A request component may give `events` (its expected count in the fitted sample) instead of a fraction:
//   fixed fractions, every component counted:  f_c = n_c / Σ_c' n_c'   (the counts' proportions);
//   fixed fractions, all but one counted:      f_c = n_c / N, the remaining component takes 1 − Σ f_c
//                                               (N: the events read, Σ of their weights when weighted, before
//                                               any outside-support drop);
//   extended yields:                            n_c is the start of the yield parameter n_<component>.
import type { ScanRequest } from '../scan/scan.ts';
import { yieldName } from './mixture.ts';

type Component = ScanRequest['components'][number];

/**
 * The request with its component counts turned into fractions (fixed-fraction mode) or yield starts (extended
 * mode); a request without counts is returned as it is. `totalEvents` is the sum of the event weights (the event
 * count when unweighted) of the sample the request is fitted to. Throws naming the component and numbers when the
 * counts cannot describe that sample.
 */
export function applyEventCounts(request: ScanRequest, totalEvents: number): ScanRequest {
  const counted = request.components.filter((c) => c.events !== undefined);
  if (counted.length === 0) return request;
  for (const c of counted) {
    if (!(Number.isFinite(c.events) && c.events! >= 0)) throw new Error(`component "${c.name}": events must be a number ≥ 0, got ${c.events}`);
    if (c.fraction !== undefined) {
      throw new Error(`component "${c.name}" gives both fraction ${c.fraction} and events ${c.events}: give one (events become the fraction)`);
    }
  }
  if ((request.yields ?? 'fixed-fractions') === 'extended') {
    const start = { ...request.start };
    for (const c of counted) start[yieldName(c.name)] ??= c.events!;
    return { ...request, start };
  }
  const rest = request.components.filter((c) => c.events === undefined && c.fraction === undefined);
  let fraction: (c: Component) => number;
  if (counted.length === request.components.length) {
    const sum = counted.reduce((s, c) => s + c.events!, 0);
    if (!(sum > 0)) throw new Error(`the components' events add up to ${sum}: at least one component needs events > 0`);
    fraction = (c) => c.events! / sum;
  } else {
    if (rest.length > 1) {
      throw new Error(
        `components ${rest.map((c) => `"${c.name}"`).join(', ')} have neither events nor a fraction: with counts on some components, ` +
          'exactly one component may take the rest of the sample; give the others events or fractions',
      );
    }
    if (!(totalEvents > 0)) throw new Error(`the sample has ${totalEvents} events (sum of weights): counts cannot become fractions`);
    fraction = (c) => c.events! / totalEvents;
  }
  const fractions = new Map(request.components.map((c) => [c.name, c.events !== undefined ? fraction(c) : c.fraction]));
  if (rest.length === 1) {
    const taken = [...fractions.values()].reduce((s: number, f) => s + (f ?? 0), 0);
    if (taken > 1 + 1e-12) {
      const listed = counted.map((c) => `${c.name} ${c.events}`).join(', ');
      throw new Error(`the counts (${listed}) and fractions take ${taken.toPrecision(6)} of the ${totalEvents} events, more than all of them: nothing is left for "${rest[0].name}"`);
    }
    fractions.set(rest[0].name, Math.max(0, 1 - taken));
  }
  // The counts leave the request: it records the fractions fitted, and runs again as it is.
  return {
    ...request,
    components: request.components.map(({ events: _counted, ...c }) => {
      const f = fractions.get(c.name);
      return f === undefined ? c : { ...c, fraction: f };
    }),
  };
}
