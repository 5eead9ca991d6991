// Likelihood-scan figures: the 2-D ΔNLL map with the gradient field the flow's θ-gradient graph
// provides (Saito et al., ISGC 2024, Fig. 3 and 7), and 1-D profile curves with interval levels.

import { quantile } from '../stats/quantile.ts';
import { contourLines, levelCrossings } from './contours.ts';
import {
  ARROW_HEAD_PATH,
  PLOT_HEIGHT,
  STAR_PATH,
  X_CROSS_PATH,
  X_STROKE_PATH,
  baseSpec,
  checkFinite,
  checkIncreasing,
  checkMatrix,
  compactNumber,
  fail,
  type DataRow,
  type VegaLiteSpec,
} from './spec.ts';

export interface Point2D {
  x: number;
  y: number;
}

export interface DeltaNllMapOptions {
  title?: string;
  xTitle: string;
  yTitle: string;
  /** Grid coordinates, strictly increasing (need not be uniform). */
  x: number[];
  y: number[];
  /** ΔNLL at the grid nodes, indexed [iy][ix]; NaN marks points that could not be evaluated. */
  deltaNll: number[][];
  /** ∂NLL/∂x and ∂NLL/∂y at the grid nodes, [iy][ix]. Arrows point along −∇NLL, i.e. downhill. */
  gradient?: { gx: number[][]; gy: number[][] };
  truth?: Point2D;
  bestFit?: Point2D;
  /** ΔNLL contour levels (default [0.5, 2.0]); pass [] for none. */
  contours?: number[];
  /** Top of the colour scale; larger ΔNLL shows in the top colour. Default: 10 × the highest contour level (at most the map's maximum). */
  zMax?: number;
  /** At most this many arrows along each axis (default 15); the grid is subsampled to match. */
  arrowsPerAxis?: number;
  width?: number;
  height?: number;
}

const MAP_WIDTH = 460;
const CONTOUR_DASHES = [[1, 0], [7, 4], [2, 3], [10, 3, 2, 3]];
const TRUTH_COLOR = '#FF2A2A';
const MIN_ARROW_PX = 6;

/**
 * Heatmap of ΔNLL over a 2-D grid (viridis, clipped at `zMax`), gradient arrows, contour lines,
 * truth (star) and best fit (cross). Figure data: `datasets.cells` (x, y, x1, x2, y1, y2, deltaNll),
 * `datasets.arrows` (x, y, xEnd, yEnd, angle, lengthPx, headSize), `datasets.contours` (level,
 * label, line, order, x, y: one polyline per `line`) and `datasets.markers` (marker, x, y).
 */
export function deltaNllMap(options: DeltaNllMapOptions): VegaLiteSpec {
  const figure = 'deltaNllMap';
  const { x, y, deltaNll } = options;
  checkIncreasing(figure, 'x', x, 2);
  checkIncreasing(figure, 'y', y, 2);
  checkMatrix(figure, 'deltaNll', deltaNll, x.length, y.length);
  const levels = options.contours ?? [0.5, 2.0];
  levels.forEach((level, i) => checkFinite(figure, `contours[${i}]`, level));
  const width = options.width ?? MAP_WIDTH;
  const height = options.height ?? PLOT_HEIGHT;

  const xEdges = cellEdges(x);
  const yEdges = cellEdges(y);
  const finite = deltaNll.flat().filter(Number.isFinite);
  if (finite.length === 0) fail(figure, 'deltaNll has no finite entry; check the scan produced values');
  const zMin = Math.min(0, ...finite);
  const zTop = Math.max(...finite);
  const zMax = options.zMax ?? Math.min(zTop, 10 * Math.max(...levels, 0.5));
  if (!(Number.isFinite(zMax) && zMax > zMin)) {
    fail(figure, `zMax must be a number above the smallest ΔNLL (${zMin}), got ${zMax}`);
  }

  const cells: DataRow[] = [];
  for (let iy = 0; iy < y.length; iy += 1) {
    for (let ix = 0; ix < x.length; ix += 1) {
      const value = deltaNll[iy][ix];
      if (!Number.isFinite(value)) continue;
      cells.push({ x: x[ix], y: y[iy], x1: xEdges[ix], x2: xEdges[ix + 1], y1: yEdges[iy], y2: yEdges[iy + 1], deltaNll: value });
    }
  }

  const contours: DataRow[] = [];
  const contourLabels = levels.map((level) => `ΔNLL = ${compactNumber(level)}`);
  let lineId = 0;
  levels.forEach((level, i) => {
    for (const line of contourLines(x, y, deltaNll, level)) {
      line.forEach((point, order) => contours.push({ level, label: contourLabels[i], line: lineId, order, x: point.x, y: point.y }));
      lineId += 1;
    }
  });

  const markers: DataRow[] = [];
  if (options.truth) markers.push({ marker: 'truth', ...checkPoint(figure, 'truth', options.truth) });
  if (options.bestFit) markers.push({ marker: 'best fit', ...checkPoint(figure, 'bestFit', options.bestFit) });

  const plotArea = { width, height, xDomain: [xEdges[0], xEdges[x.length]], yDomain: [yEdges[0], yEdges[y.length]] } as const;
  const arrows = options.gradient ? gradientArrows(figure, options, plotArea) : [];
  const pxPerX = width / (plotArea.xDomain[1] - plotArea.xDomain[0]);
  const pxPerY = height / (plotArea.yDomain[1] - plotArea.yDomain[0]);

  const spec = baseSpec({ title: options.title, datasets: { cells, arrows, contours, markers } });
  spec.width = width;
  spec.height = height;
  const xScale = { domain: plotArea.xDomain, nice: false, zero: false };
  const yScale = { domain: plotArea.yDomain, nice: false, zero: false };
  const xAt = (field: string) => ({ field, type: 'quantitative', title: options.xTitle, scale: xScale });
  const yAt = (field: string) => ({ field, type: 'quantitative', title: options.yTitle, scale: yScale });
  const markerNames = markers.map((m) => m.marker as string);
  const layers: Record<string, unknown>[] = [
    {
      data: { name: 'cells' },
      // Cells are drawn 0.3 px larger on each side: abutting anti-aliased edges leave light seams.
      transform: [
        { calculate: `datum.x1 - ${0.3 / pxPerX}`, as: 'left' },
        { calculate: `datum.x2 + ${0.3 / pxPerX}`, as: 'right' },
        { calculate: `datum.y1 - ${0.3 / pxPerY}`, as: 'bottom' },
        { calculate: `datum.y2 + ${0.3 / pxPerY}`, as: 'top' },
      ],
      mark: { type: 'rect', clip: true },
      encoding: {
        x: xAt('left'),
        x2: { field: 'right' },
        y: yAt('bottom'),
        y2: { field: 'top' },
        color: {
          field: 'deltaNll',
          type: 'quantitative',
          scale: { scheme: 'viridis', domain: [zMin, zMax], clamp: true, nice: false },
          legend: {
            title: zTop > zMax ? 'ΔNLL (clipped)' : 'ΔNLL',
            gradientLength: Math.max(120, height - 140),
            orient: 'right',
          },
        },
      },
    },
  ];
  if (levels.length > 0) {
    const dash = {
      field: 'label',
      type: 'nominal',
      scale: { domain: contourLabels, range: contourLabels.map((_, i) => CONTOUR_DASHES[i % CONTOUR_DASHES.length]) },
    };
    const contourLine = { x: xAt('x'), y: yAt('y'), detail: { field: 'line', type: 'nominal' }, order: { field: 'order', type: 'quantitative' } };
    // A dark halo under each white line keeps contours visible over both ends of the colour scale.
    layers.push(
      {
        data: { name: 'contours' },
        mark: { type: 'line', color: 'black', strokeWidth: 3.5, opacity: 0.45, strokeJoin: 'round' },
        encoding: { ...contourLine, strokeDash: { ...dash, legend: { title: 'Contours', orient: 'right', symbolSize: 500 } } },
      },
      {
        data: { name: 'contours' },
        mark: { type: 'line', color: 'white', strokeWidth: 1.8, strokeJoin: 'round' },
        encoding: { ...contourLine, strokeDash: dash },
      },
    );
  }
  if (arrows.length > 0) {
    layers.push(
      {
        data: { name: 'arrows' },
        mark: { type: 'rule', color: 'white', strokeWidth: 1.3, opacity: 0.9 },
        encoding: { x: xAt('x'), y: yAt('y'), x2: { field: 'xEnd' }, y2: { field: 'yEnd' } },
      },
      {
        data: { name: 'arrows' },
        mark: { type: 'point', shape: ARROW_HEAD_PATH, filled: true, color: 'white', opacity: 0.9 },
        encoding: { x: xAt('xEnd'), y: yAt('yEnd'), angle: { field: 'angle', type: 'quantitative', scale: null }, size: { field: 'headSize', type: 'quantitative', scale: null } },
      },
    );
  }
  if (markers.length > 0) {
    const markerStyles: Record<string, { shape: string; fill: string }> = {
      truth: { shape: STAR_PATH, fill: TRUTH_COLOR },
      'best fit': { shape: X_CROSS_PATH, fill: 'white' },
    };
    layers.push({
      data: { name: 'markers' },
      mark: { type: 'point', filled: true, size: 260, stroke: 'black', strokeWidth: 1.2, opacity: 1 },
      encoding: {
        x: xAt('x'),
        y: yAt('y'),
        shape: {
          field: 'marker',
          type: 'nominal',
          scale: { domain: markerNames, range: markerNames.map((name) => markerStyles[name].shape) },
          legend: { title: null, orient: 'right', symbolSize: 200, symbolStrokeWidth: 1.2 },
        },
        fill: {
          field: 'marker',
          type: 'nominal',
          scale: { domain: markerNames, range: markerNames.map((name) => markerStyles[name].fill) },
        },
      },
    });
  }
  spec.layer = layers;
  return spec;
}

interface PlotArea {
  width: number;
  height: number;
  xDomain: readonly [number, number];
  yDomain: readonly [number, number];
}

/**
 * Arrows along −∇NLL, the steepest descent in the plot's own pixel metric: they cross the contours
 * at right angles as drawn, whatever the units of the two axes. Every arrow is a descent direction
 * in data units too (its dot product with ∇NLL is −|∇NLL|²-like, always negative). Lengths grow
 * with the gradient up to the median magnitude and are capped there, so the far field stays
 * readable while arrows shrink towards the minimum.
 */
function gradientArrows(figure: string, options: DeltaNllMapOptions, area: PlotArea): DataRow[] {
  const { x, y } = options;
  const { gx, gy } = options.gradient!;
  checkMatrix(figure, 'gradient.gx', gx, x.length, y.length);
  checkMatrix(figure, 'gradient.gy', gy, x.length, y.length);
  const perAxis = options.arrowsPerAxis ?? 15;
  if (!Number.isInteger(perAxis) || perAxis < 1) fail(figure, `arrowsPerAxis must be a positive integer, got ${perAxis}`);
  const pxPerX = area.width / (area.xDomain[1] - area.xDomain[0]);
  const pxPerY = area.height / (area.yDomain[1] - area.yDomain[0]);
  const strideX = Math.ceil(x.length / perAxis);
  const strideY = Math.ceil(y.length / perAxis);
  // Longest arrow: most of the spacing between sampled nodes, so neighbours do not touch.
  const maxLengthPx = 0.8 * Math.min(area.width / Math.ceil(x.length / strideX), area.height / Math.ceil(y.length / strideY));

  const samples: { ix: number; iy: number; su: number; sv: number; magnitude: number }[] = [];
  for (let iy = Math.floor(strideY / 2); iy < y.length; iy += strideY) {
    for (let ix = Math.floor(strideX / 2); ix < x.length; ix += strideX) {
      // Gradient with respect to pixel coordinates (u, v) = (x·pxPerX, y·pxPerY).
      const su = gx[iy][ix] / pxPerX;
      const sv = gy[iy][ix] / pxPerY;
      const magnitude = Math.hypot(su, sv);
      if (Number.isFinite(magnitude) && magnitude > 0) samples.push({ ix, iy, su, sv, magnitude });
    }
  }
  const reference = quantile(samples.map((s) => s.magnitude), 0.5);
  const arrows: DataRow[] = [];
  for (const { ix, iy, su, sv, magnitude } of samples) {
    const lengthPx = maxLengthPx * Math.min(1, magnitude / reference);
    // Shorter arrows would be all head or all shaft: the field is flat there, which the colours show.
    if (lengthPx < MIN_ARROW_PX) continue;
    const du = (-su / magnitude) * lengthPx;
    const dv = (-sv / magnitude) * lengthPx;
    // Head length about 6 px, but never more than 45 % of the arrow.
    const headScale = Math.min(3.2, (0.45 * lengthPx) / 1.9);
    arrows.push({
      x: x[ix],
      y: y[iy],
      xEnd: x[ix] + du / pxPerX,
      yEnd: y[iy] + dv / pxPerY,
      // Vega rotates symbols clockwise from "up"; screen y points down, so up is +v here.
      angle: (Math.atan2(du, dv) * 180) / Math.PI,
      lengthPx,
      headSize: (2 * headScale) ** 2,
    });
  }
  return arrows;
}

function cellEdges(centres: readonly number[]): number[] {
  const n = centres.length;
  const edges = [centres[0] - 0.5 * (centres[1] - centres[0])];
  for (let i = 0; i + 1 < n; i += 1) edges.push(0.5 * (centres[i] + centres[i + 1]));
  edges.push(centres[n - 1] + 0.5 * (centres[n - 1] - centres[n - 2]));
  return edges;
}

function checkPoint(figure: string, name: string, point: Point2D): { x: number; y: number } {
  return { x: checkFinite(figure, `${name}.x`, point.x), y: checkFinite(figure, `${name}.y`, point.y) };
}

const PARABOLA_LABEL = 'parabola (±σ)';
const PARABOLA_COLOR = '#009E73';
const PARABOLA_POINTS = 100;

export interface ProfileCurveOptions {
  title?: string;
  xTitle: string;
  /** Default "ΔNLL" (profiled −log L minus its minimum). */
  yTitle?: string;
  x: number[];
  deltaNll: number[];
  /** Horizontal levels (default [0.5, 2.0]: 1σ and 2σ for one parameter). */
  levels?: number[];
  truth?: number;
  bestFit?: number;
  /** Mark each computed point (default true): a profile computed at a few points is drawn as straight segments between them. */
  showPoints?: boolean;
  /**
   * The Hessian's parabola ΔNLL = ½((x − center)/sigma)², dashed, for comparison: where the profile leaves it, the
   * ± error misstates the interval.
   */
  parabola?: { center: number; sigma: number };
  /** Top of the y axis; default 2.5 × the highest level, or the curve's maximum if lower. */
  yMax?: number;
  width?: number;
  height?: number;
}

/**
 * ΔNLL profile along one parameter, with dashed levels labelled by their Gaussian significance
 * (√(2ΔNLL) σ), dotted drops at the interval edges, the truth, the best fit and optionally the Hessian's parabola.
 * Figure data: `datasets.curve` (x, deltaNll), `datasets.parabola` (x, deltaNll; empty without it),
 * `datasets.levels` (level, label), `datasets.edges` (level, x) —
 * the interval edges found by linear interpolation — and `datasets.markers` (marker, x).
 */
export function profileCurve(options: ProfileCurveOptions): VegaLiteSpec {
  const figure = 'profileCurve';
  const { x, deltaNll } = options;
  checkIncreasing(figure, 'x', x, 2);
  if (!Array.isArray(deltaNll) || deltaNll.length !== x.length) {
    fail(figure, `deltaNll must have one value per x (${x.length}), got ${Array.isArray(deltaNll) ? deltaNll.length : typeof deltaNll}`);
  }
  const levels = options.levels ?? [0.5, 2.0];
  levels.forEach((level, i) => {
    if (!(checkFinite(figure, `levels[${i}]`, level) > 0)) fail(figure, `levels[${i}] must be positive, got ${level}`);
  });
  const finite = deltaNll.filter(Number.isFinite);
  if (finite.length < 2) fail(figure, 'deltaNll needs at least two finite values to draw a curve');
  const yMin = Math.min(0, ...finite);
  const yMax = options.yMax ?? Math.min(Math.max(...finite), 2.5 * Math.max(...levels, 0.5));
  if (!(Number.isFinite(yMax) && yMax > yMin)) fail(figure, `yMax must be above the smallest ΔNLL (${yMin}), got ${yMax}`);

  const curve: DataRow[] = x.map((xi, i) => ({ x: xi, deltaNll: Number.isFinite(deltaNll[i]) ? deltaNll[i] : null }));
  const parabola: DataRow[] = [];
  if (options.parabola) {
    const center = checkFinite(figure, 'parabola.center', options.parabola.center);
    const sigma = checkFinite(figure, 'parabola.sigma', options.parabola.sigma);
    if (!(sigma > 0)) fail(figure, `parabola.sigma must be positive, got ${sigma}`);
    for (let k = 0; k <= PARABOLA_POINTS; k += 1) {
      const xk = x[0] + ((x[x.length - 1] - x[0]) * k) / PARABOLA_POINTS;
      parabola.push({ x: xk, deltaNll: 0.5 * ((xk - center) / sigma) ** 2 });
    }
  }
  const levelRows: DataRow[] = levels.map((level) => ({ level, label: `ΔNLL = ${compactNumber(level)} (${compactNumber(Math.sqrt(2 * level))}σ)` }));
  const edges: DataRow[] = levels.flatMap((level) => levelCrossings(x, deltaNll, level).map((xe) => ({ level, x: xe })));
  const markers: DataRow[] = [];
  if (options.truth !== undefined) markers.push({ marker: 'truth', x: checkFinite(figure, 'truth', options.truth) });
  if (options.bestFit !== undefined) markers.push({ marker: 'best fit', x: checkFinite(figure, 'bestFit', options.bestFit) });

  const spec = baseSpec({ title: options.title, datasets: { curve, parabola, levels: levelRows, edges, markers } });
  spec.width = options.width ?? 560;
  spec.height = options.height ?? PLOT_HEIGHT;
  const xEnc = { field: 'x', type: 'quantitative', title: options.xTitle, scale: { domain: [x[0], x[x.length - 1]], nice: false, zero: false } };
  const yScale = { domain: [yMin, yMax], nice: false, zero: false };
  const yTitle = options.yTitle ?? 'ΔNLL';
  const markerNames = markers.map((m) => m.marker as string);
  const legendEntries = ['profile', ...(parabola.length > 0 ? [PARABOLA_LABEL] : []), ...markerNames];
  const legendColors: Record<string, string> = { profile: 'black', [PARABOLA_LABEL]: PARABOLA_COLOR, truth: TRUTH_COLOR, 'best fit': '#0072B2' };
  const legendShapes: Record<string, string> = { profile: 'stroke', [PARABOLA_LABEL]: 'stroke', truth: 'stroke', 'best fit': X_STROKE_PATH };
  const legendChannel = {
    field: 'entry',
    type: 'nominal',
    scale: { domain: legendEntries, range: legendEntries.map((e) => legendColors[e]) },
  };

  spec.layer = [
    {
      data: { name: 'levels' },
      mark: { type: 'rule', color: '#707070', strokeDash: [6, 4], strokeWidth: 1.2 },
      encoding: { y: { field: 'level', type: 'quantitative', scale: yScale, title: yTitle } },
    },
    {
      data: { name: 'levels' },
      mark: { type: 'text', align: 'left', baseline: 'bottom', dx: 4, dy: -2, fontSize: 12, color: '#505050' },
      encoding: { x: { value: 0 }, y: { field: 'level', type: 'quantitative', scale: yScale }, text: { field: 'label' } },
    },
    {
      data: { name: 'edges' },
      mark: { type: 'rule', color: '#707070', strokeDash: [2, 3], strokeWidth: 1.2 },
      encoding: { x: xEnc, y: { field: 'level', type: 'quantitative', scale: yScale }, y2: { datum: yMin } },
    },
    {
      data: { name: 'markers' },
      transform: [{ filter: "datum.marker === 'truth'" }],
      mark: { type: 'rule', color: TRUTH_COLOR, strokeWidth: 1.8 },
      encoding: { x: xEnc },
    },
    {
      data: { name: 'parabola' },
      mark: { type: 'line', color: PARABOLA_COLOR, strokeWidth: 1.5, strokeDash: [6, 3], clip: true },
      encoding: { x: xEnc, y: { field: 'deltaNll', type: 'quantitative', scale: yScale, title: yTitle } },
    },
    {
      data: { name: 'curve' },
      mark: { type: 'line', color: 'black', strokeWidth: 2, clip: true, ...((options.showPoints ?? true) ? { point: { filled: true, size: 30, color: 'black' } } : {}) },
      encoding: { x: xEnc, y: { field: 'deltaNll', type: 'quantitative', scale: yScale, title: yTitle } },
    },
    {
      data: { name: 'markers' },
      transform: [{ filter: "datum.marker === 'best fit'" }],
      mark: { type: 'point', shape: X_STROKE_PATH, filled: false, strokeWidth: 2.5, color: legendColors['best fit'], size: 120, opacity: 1 },
      encoding: { x: xEnc, y: { datum: Math.max(yMin, 0), type: 'quantitative', scale: yScale } },
    },
    {
      // Carries the legend: one invisible point per entry, with the symbol each entry is drawn with.
      data: { values: legendEntries.map((entry) => ({ entry })) },
      mark: { type: 'point', filled: false, strokeWidth: 2.5, opacity: 0 },
      encoding: {
        x: { datum: x[0], type: 'quantitative' },
        y: { datum: yMin, type: 'quantitative', scale: yScale },
        color: { ...legendChannel, legend: { title: null, orient: 'right', symbolStrokeWidth: 2 } },
        shape: { field: 'entry', type: 'nominal', scale: { domain: legendEntries, range: legendEntries.map((e) => legendShapes[e]) } },
      },
    },
  ];
  return spec;
}
