// Where each generated event's parameter point θ comes from: one point for all events, a grid (events generated
// point after point), or a table with one row per event (a CSV column per parameter). Every source answers the
// same question, "θ of events [start, start + count)", so the generator never cares which one it has.
import { parseNamedRanges } from './ranges.ts';

export interface ThetaSource {
  /** Parameter names this source sets. */
  readonly names: readonly string[];
  /** Events the source fixes the number of (grid points × events per point, table rows), or null (fixed θ). */
  readonly events: number | null;
  /** True when θ changes from event to event (the output then carries θ columns). */
  readonly perEvent: boolean;
  /** θ columns for events [start, start + count). */
  values(start: number, count: number): Record<string, Float64Array>;
  /** Smallest and largest value of each parameter over all events (checked against the models' training ranges). */
  extent(): Record<string, [number, number]>;
}

export function fixedTheta(point: Record<string, number>): ThetaSource {
  const names = Object.keys(point);
  return {
    names,
    events: null,
    perEvent: false,
    values: (_start, count) => Object.fromEntries(names.map((n) => [n, new Float64Array(count).fill(point[n])])),
    extent: () => Object.fromEntries(names.map((n) => [n, [point[n], point[n]]])),
  };
}

export interface GridAxis {
  name: string;
  lo: number;
  hi: number;
  points: number;
}

/** "m_pole=60:120:7,gamma=1:4:4" → axes with evenly spaced points, ends included; "gamma=2:2:1" holds one value. */
export function parseGrid(text: string, where = '--grid'): GridAxis[] {
  return parseNamedRanges(text, where, 'points', 'm_pole=60:120:7', true).map((r) => ({ name: r.name, lo: r.lo, hi: r.hi, points: r.count }));
}

/**
 * The grid's points in row-major order (the last axis fastest), `perPoint` events each; parameters not on the grid
 * take their value from `fixed`.
 */
export function gridTheta(axes: GridAxis[], perPoint: number, fixed: Record<string, number>): ThetaSource {
  const axisValue = (a: GridAxis, k: number): number => (a.points === 1 ? a.lo : a.lo + ((a.hi - a.lo) * k) / (a.points - 1));
  const pointCount = axes.reduce((p, a) => p * a.points, 1);
  const fixedNames = Object.keys(fixed).filter((n) => !axes.some((a) => a.name === n));
  const names = [...axes.map((a) => a.name), ...fixedNames];
  return {
    names,
    events: pointCount * perPoint,
    perEvent: true,
    values(start, count) {
      const out: Record<string, Float64Array> = Object.fromEntries(names.map((n) => [n, new Float64Array(count)]));
      for (let i = 0; i < count; i++) {
        let point = Math.floor((start + i) / perPoint);
        for (let a = axes.length - 1; a >= 0; a--) {
          out[axes[a].name][i] = axisValue(axes[a], point % axes[a].points);
          point = Math.floor(point / axes[a].points);
        }
      }
      for (const n of fixedNames) out[n].fill(fixed[n]);
      return out;
    },
    extent: () => ({
      ...Object.fromEntries(axes.map((a) => [a.name, [a.lo, a.points === 1 ? a.lo : a.hi]])),
      ...Object.fromEntries(fixedNames.map((n) => [n, [fixed[n], fixed[n]]])),
    }),
  };
}

/** θ of event i from row i of `table` (columns by parameter name); parameters not in it come from `fixed`. */
export function tableTheta(table: Record<string, Float64Array>, fixed: Record<string, number>): ThetaSource {
  const tableNames = Object.keys(table);
  if (tableNames.length === 0) throw new Error('a θ table needs at least one parameter column');
  const rows = table[tableNames[0]].length;
  const fixedNames = Object.keys(fixed).filter((n) => !tableNames.includes(n));
  const names = [...tableNames, ...fixedNames];
  return {
    names,
    events: rows,
    perEvent: true,
    values(start, count) {
      return {
        ...Object.fromEntries(tableNames.map((n) => [n, table[n].slice(start, start + count)])),
        ...Object.fromEntries(fixedNames.map((n) => [n, new Float64Array(count).fill(fixed[n])])),
      };
    },
    extent() {
      const out: Record<string, [number, number]> = {};
      for (const n of tableNames) {
        let lo = Infinity;
        let hi = -Infinity;
        for (const v of table[n]) {
          if (v < lo) lo = v;
          if (v > hi) hi = v;
        }
        out[n] = [lo, hi];
      }
      for (const n of fixedNames) out[n] = [fixed[n], fixed[n]];
      return out;
    },
  };
}
