// Interval coverage from pseudo-experiments: the fraction of toys whose interval holds the truth, with its binomial
// error, per parameter and interval kind (Hessian ±σ, sandwich, profile ΔNLL), against the nominal content (dashed).
// A calibrated method sits on its level's line within the error; undercoverage means the intervals are too short.
import { PALETTE, PLOT_HEIGHT, PLOT_WIDTH, baseSpec, checkFinite, fail, type DataRow, type VegaLiteSpec } from './spec.ts';

export interface CoveragePoint {
  /** Where the point is drawn along x, e.g. the parameter name. */
  group: string;
  /** The interval kind, e.g. "Hessian ±1σ" (colour and legend). */
  method: string;
  /** Nominal content, e.g. 0.6827. */
  nominal: number;
  observed: number;
  /** Binomial standard error of `observed`. */
  error: number;
}

export interface CoverageOptions {
  title?: string;
  points: CoveragePoint[];
  width?: number;
  height?: number;
}

/** Figure data: `datasets.points` (group, method, nominal, observed, lo, hi) and `datasets.levels` (nominal, label). */
export function coverageFigure(options: CoverageOptions): VegaLiteSpec {
  const figure = 'coverageFigure';
  if (!Array.isArray(options.points) || options.points.length === 0) fail(figure, 'points must hold at least one { group, method, nominal, observed, error }');
  const rows: DataRow[] = options.points.map((p, i) => {
    for (const key of ['nominal', 'observed', 'error'] as const) checkFinite(figure, `points[${i}].${key}`, p[key]);
    if (!(p.nominal > 0 && p.nominal < 1)) fail(figure, `points[${i}].nominal must lie in (0, 1), got ${p.nominal}`);
    return { group: p.group, method: p.method, nominal: p.nominal, observed: p.observed, lo: Math.max(0, p.observed - p.error), hi: Math.min(1, p.observed + p.error) };
  });
  const levels = [...new Set(options.points.map((p) => p.nominal))].map((nominal) => ({ nominal, label: `nominal ${(100 * nominal).toFixed(1)} %` }));
  const groups = [...new Set(options.points.map((p) => p.group))];
  const methods = [...new Set(options.points.map((p) => p.method))];
  const lowest = Math.min(...rows.map((r) => r.lo as number), ...levels.map((l) => l.nominal));
  const spec = baseSpec({ title: options.title, datasets: { points: rows, levels } });
  spec.width = options.width ?? PLOT_WIDTH;
  spec.height = options.height ?? PLOT_HEIGHT;
  const x = { field: 'group', type: 'nominal', title: null, scale: { domain: groups, paddingOuter: 0.3 }, axis: { labelAngle: 0 } };
  const xOffset = { field: 'method', type: 'nominal', scale: { domain: methods, paddingOuter: 0.5 } };
  const yScale = { domain: [Math.max(0, Math.floor(lowest * 10 - 1) / 10), 1], nice: false, zero: false };
  const y = { field: 'observed', type: 'quantitative', title: 'coverage', scale: yScale };
  // The legend sits outside the frame: a coverage near 1 would hide under one inside it.
  const color = { field: 'method', type: 'nominal', scale: { domain: methods, range: PALETTE.slice(0, methods.length) }, legend: { title: null, orient: 'right' } };
  spec.layer = [
    { data: { name: 'levels' }, mark: { type: 'rule', strokeDash: [6, 4], color: '#707070' }, encoding: { y: { field: 'nominal', type: 'quantitative', scale: yScale } } },
    {
      data: { name: 'levels' },
      mark: { type: 'text', align: 'left', baseline: 'bottom', dx: 4, dy: -2, fontSize: 12, color: '#505050' },
      encoding: { x: { value: 0 }, y: { field: 'nominal', type: 'quantitative', scale: yScale }, text: { field: 'label' } },
    },
    { data: { name: 'points' }, mark: { type: 'rule', strokeWidth: 1.5 }, encoding: { x, xOffset, y: { ...y, field: 'lo' }, y2: { field: 'hi' }, color } },
    { data: { name: 'points' }, mark: { type: 'point', filled: true, size: 50 }, encoding: { x, xOffset, y, color } },
  ];
  return spec;
}
