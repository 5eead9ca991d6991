// The calibration figure: a grid of small panels, one row per fitted parameter and one column per design axis,
// each showing a per-point quantity (mean pull, σ ratio or pull width) against that coordinate of the truth, with
// its standard error, the goal as a grey band and the ideal value as a dashed line. Points that miss the goal are
// drawn as red crosses, so "where" can be read off: e.g. the τ pulls falling with τ in the τ column.
import { plots } from '@flowscan/runtime';
import type { Calibration, ParameterCalibration } from './calibration.ts';
import type { ParameterAxis } from './fits.ts';

const VEGA_LITE_V6 = 'https://vega.github.io/schema/vega-lite/v6.json';
const MEETS = 'meets the goal';
const MISSES = 'misses the goal';

export interface CalibrationFigure {
  title: string;
  /** The per-point quantity and its standard error. */
  quantity(c: ParameterCalibration): { value: number; error: number | null };
  /** The y-axis title of a row, e.g. "m_pole pull". */
  yTitle(parameter: string): string;
  ideal: number;
  band: [number, number];
  /** Whether the quantity meets its part of the goal at a point. */
  meets(c: ParameterCalibration): boolean;
}

/** 1·10^k and 3·10^k inside [lo, hi]: readable ticks on a log axis that spans a decade or two. */
function logTicks([lo, hi]: number[]): number[] {
  const ticks: number[] = [];
  for (let k = Math.floor(Math.log10(lo)); k <= Math.ceil(Math.log10(hi)); k++) {
    for (const m of [1, 3]) if (m * 10 ** k >= lo && m * 10 ** k <= hi) ticks.push(Number((m * 10 ** k).toPrecision(1)));
  }
  return ticks;
}

function axisTitle(a: ParameterAxis): string {
  return a.unit ? `${a.name} [${a.unit}]` : a.name;
}

export function calibrationSpec(calibration: Calibration, figure: CalibrationFigure): plots.VegaLiteSpec {
  const axes = calibration.parameters;
  const rows: plots.DataRow[] = [];
  for (const point of calibration.points) {
    point.parameters.forEach((c) => {
      const { value, error } = figure.quantity(c);
      if (!Number.isFinite(value)) return;
      const row: plots.DataRow = {
        parameter: c.parameter,
        value,
        lo: value - (error ?? 0),
        hi: value + (error ?? 0),
        status: figure.meets(c) ? MEETS : MISSES,
      };
      axes.forEach((a, k) => (row[`c${k}`] = point.truth[a.name] ?? null));
      rows.push(row);
    });
  }
  const status = { field: 'status', type: 'nominal', title: null, scale: { domain: [MEETS, MISSES], range: [plots.PALETTE[0], plots.PALETTE[1]] } };
  const shape = { field: 'status', type: 'nominal', title: null, scale: { domain: [MEETS, MISSES], range: ['circle', 'cross'] } };
  const panel = (parameter: string, a: ParameterAxis, k: number) => {
    // Every panel of a column spans the whole design along its axis, so rows can be compared point by point.
    const coordinates = calibration.points.map((p) => p.truth[a.name]).filter((v) => Number.isFinite(v));
    const domain = [Math.min(...coordinates), Math.max(...coordinates)];
    const x = {
      field: `c${k}`,
      type: 'quantitative',
      title: axisTitle(a),
      scale: { ...(a.logScale ? { type: 'log' } : { zero: false }), domain, nice: false, padding: 12 },
      axis: a.logScale ? { values: logTicks(domain), format: '~g' } : { tickCount: 5 },
    };
    const y = { field: 'value', type: 'quantitative', title: k === 0 ? figure.yTitle(parameter) : null, scale: { zero: false } };
    return {
      width: 170,
      height: 130,
      layer: [
        {
          data: { values: [{ lo: figure.band[0], hi: figure.band[1] }] },
          mark: { type: 'rect', color: '#e4e4e4' },
          encoding: { y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } },
        },
        {
          data: { values: [{ ideal: figure.ideal }] },
          mark: { type: 'rule', strokeDash: [4, 3], color: '#808080' },
          encoding: { y: { field: 'ideal', type: 'quantitative' } },
        },
        {
          data: { name: 'calibration' },
          transform: [{ filter: { field: 'parameter', equal: parameter } }],
          layer: [
            { mark: { type: 'rule', strokeWidth: 1.5 }, encoding: { x, y: { ...y, field: 'lo' }, y2: { field: 'hi' }, color: status } },
            { mark: { type: 'point', filled: true, size: 50, opacity: 1 }, encoding: { x, y, color: status, shape } },
          ],
        },
      ],
    };
  };
  return {
    $schema: VEGA_LITE_V6,
    datasets: { calibration: rows },
    config: plots.physicsConfig(),
    title: figure.title,
    vconcat: axes.map((p) => ({ hconcat: axes.map((a, k) => panel(p.name, a, k)) })),
  };
}
