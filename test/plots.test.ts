// Figures: spec builders (runtime/src/plots) checked against independent counts and exact geometry,
// rendered to SVG and PNG (trainer/src/report/render.ts), assembled into HTML (report/html.ts).
// Set FLOWSCAN_PLOTS_DIR to keep the rendered examples (e.g. /tmp/flowscan-plots) for a visual check.

import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import {
  contourLines,
  deltaNllMap,
  distributionsByTheta,
  histogram1d,
  histogramComparison,
  levelCrossings,
  lossCurve,
  profileCurve,
  rocCurve,
  type DataRow,
  type VegaLiteSpec,
} from '../runtime/src/plots/index.ts';
import { buildReport, formatNumber } from '../trainer/src/report/html.ts';
import { compileSpec, renderPng, renderSvg, svgToPng, writeFigure } from '../trainer/src/report/render.ts';

const keepDir = process.env.FLOWSCAN_PLOTS_DIR;
const outDir = keepDir ?? mkdtempSync(join(tmpdir(), 'flowscan-plots-'));
test.after.always(() => {
  if (!keepDir) rmSync(outDir, { recursive: true, force: true });
});

// ---- helpers (independent of the code under test) ----

function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Breit–Wigner (Cauchy, FWHM gamma) and truncated exponential samplers by inversion. */
function toyEvents(seed: number, nSignal: number, nBackground: number, pole = 91.2, gamma = 2.5, tau = 0.01): Float64Array {
  const random = mulberry32(seed);
  const out = new Float64Array(nSignal + nBackground);
  for (let i = 0; i < nSignal; i += 1) out[i] = pole + (gamma / 2) * Math.tan(Math.PI * (random() - 0.5));
  for (let i = 0; i < nBackground; i += 1) out[nSignal + i] = 40 - Math.log(1 - random() * (1 - Math.exp(-tau * 100))) / tau;
  return out;
}

/** Count per bin by direct comparison with the edges lo + i·(hi − lo)/bins, last bin closed. */
function countByComparison(values: ArrayLike<number>, lo: number, hi: number, bins: number, weights?: ArrayLike<number>) {
  const width = (hi - lo) / bins;
  const sumW = new Array<number>(bins).fill(0);
  const sumW2 = new Array<number>(bins).fill(0);
  for (let k = 0; k < values.length; k += 1) {
    const v = values[k];
    const w = weights ? weights[k] : 1;
    for (let i = 0; i < bins; i += 1) {
      const left = lo + i * width;
      const right = i === bins - 1 ? hi : lo + (i + 1) * width;
      if (v >= left && (v < right || (i === bins - 1 && v === hi))) {
        sumW[i] += w;
        sumW2[i] += w * w;
        break;
      }
    }
  }
  return { sumW, sumW2 };
}

function rowsOf(spec: VegaLiteSpec, dataset: string, where: (row: DataRow) => boolean = () => true): DataRow[] {
  return (spec.datasets[dataset] ?? []).filter(where);
}

function pngSize(png: Uint8Array): { width: number; height: number } {
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  signature.forEach((byte, i) => {
    if (png[i] !== byte) throw new Error(`not a PNG: byte ${i} is ${png[i]}`);
  });
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  if (String.fromCharCode(...png.subarray(12, 16)) !== 'IHDR') throw new Error('PNG without IHDR chunk first');
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

/** Checks tag nesting of an SVG document and returns the root's width and height. */
function parseSvg(svg: string): { width: number; height: number; texts: string[] } {
  const stack: string[] = [];
  const texts: string[] = [];
  const tag = /<(\/?)([A-Za-z][\w:.-]*)((?:[^>"']|"[^"]*"|'[^']*')*?)(\/?)>|<!--[\s\S]*?-->|<\?[\s\S]*?\?>/g;
  let root: string | null = null;
  let rootAttributes = '';
  let last = 0;
  for (let match = tag.exec(svg); match; match = tag.exec(svg)) {
    const between = svg.slice(last, match.index);
    if (/[<>]/.test(between)) throw new Error(`stray angle bracket near offset ${last}`);
    if (stack[stack.length - 1] === 'text' && between.trim()) texts.push(between.trim());
    last = tag.lastIndex;
    const [, closing, name, attributes, selfClosing] = match;
    if (!name) continue;
    if (closing) {
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open}>`);
    } else if (!selfClosing) {
      if (root === null) {
        root = name;
        rootAttributes = attributes;
      }
      stack.push(name);
    }
  }
  if (root !== 'svg') throw new Error(`root element is ${root}, expected svg`);
  if (stack.length !== 0) throw new Error(`unclosed elements: ${stack.join(', ')}`);
  const attribute = (key: string) => Number(new RegExp(`\\s${key}="([\\d.]+)"`).exec(rootAttributes)?.[1]);
  return { width: attribute('width'), height: attribute('height'), texts };
}

/** Renders a spec to SVG and PNG (scale 2), checks both, and keeps them under outDir. */
async function renderAndCheck(t: import('ava').ExecutionContext, name: string, spec: VegaLiteSpec) {
  t.deepEqual((await compileSpec(spec)).warnings, [], `${name}: Vega-Lite compiler warnings`);
  const { svgPath, pngPath } = await writeFigure(outDir, name, spec);
  const svg = readFileSync(svgPath, 'utf8');
  const parsed = parseSvg(svg);
  const png = new Uint8Array(readFileSync(pngPath));
  const size = pngSize(png);
  t.is(size.width, Math.round(2 * parsed.width), `${name}: PNG width is twice the SVG width`);
  t.is(size.height, Math.round(2 * parsed.height), `${name}: PNG height is twice the SVG height`);
  t.true(parsed.width >= 400 && parsed.width <= 1400, `${name}: SVG width ${parsed.width} px`);
  t.true(parsed.height >= 300 && parsed.height <= 1000, `${name}: SVG height ${parsed.height} px`);
  return { svg, parsed, png };
}

// ---- binning ----

test('histogram1d matches a count by direct comparison, with weights, edges, overflow and NaN', (t) => {
  const random = mulberry32(7);
  const values = Array.from({ length: 20_000 }, () => 30 + 120 * random());
  values.push(40, 42, 140, 139.99999999999997, 40 - 1e-12, 140 + 1e-12, Number.NaN);
  const weights = values.map(() => 0.5 + random());
  const histogram = histogram1d(values, { range: [40, 140], bins: 50, weights });
  const expected = countByComparison(values, 40, 140, 50, weights);
  for (let i = 0; i < 50; i += 1) {
    t.true(Math.abs(histogram.sumW[i] - expected.sumW[i]) < 1e-9, `bin ${i} Σw`);
    t.true(Math.abs(histogram.sumW2[i] - expected.sumW2[i]) < 1e-9, `bin ${i} Σw²`);
  }
  const inRange = values.filter((v) => v >= 40 && v <= 140);
  const below = values.reduce((sum, v, k) => (v < 40 ? sum + weights[k] : sum), 0);
  const above = values.reduce((sum, v, k) => (v > 140 ? sum + weights[k] : sum), 0);
  t.true(Math.abs(histogram.underflow - below) < 1e-9);
  t.true(Math.abs(histogram.overflow - above) < 1e-9);
  t.is(histogram.nonFinite, 1);
  t.is(histogram1d(inRange, { range: [40, 140], bins: 50 }).sumW.reduce((a, b) => a + b, 0), inRange.length);
});

// ---- histograms ----

test('histogramComparison: bin heights, Poisson errors and steps equal an independent count; renders', async (t) => {
  const data = toyEvents(1, 1_000, 100_000);
  const flow = toyEvents(2, 10_000, 1_000_000, 91, 2.7, 0.0102);
  const flowWeights = new Float64Array(flow.length).fill(0.1);
  const spec = histogramComparison({
    title: 'Toy bump hunt: pseudo-data vs flow',
    xTitle: 'M_reco [GeV]',
    range: [40, 140],
    bins: 50,
    series: [
      { label: 'Pseudo-data', values: data, style: 'points' },
      { label: 'Flow (signal + background)', values: flow, weights: flowWeights, style: 'line' },
      { label: 'Flow background', values: flow.subarray(10_000), weights: flowWeights.subarray(10_000), style: 'filled' },
    ],
  });
  const dataCount = countByComparison(data, 40, 140, 50);
  const dataBins = rowsOf(spec, 'histogram', (r) => r.role === 'bin' && r.series === 'Pseudo-data');
  t.is(dataBins.length, 50);
  dataBins.forEach((row, i) => {
    t.is(row.y, dataCount.sumW[i], `data bin ${i}`);
    t.true(Math.abs((row.yHi as number) - (row.y as number) - Math.sqrt(dataCount.sumW[i])) < 1e-9, `data bin ${i} error`);
    t.is(row.lo, 40 + 2 * i);
  });
  const flowCount = countByComparison(flow, 40, 140, 50, flowWeights);
  const flowSteps = rowsOf(spec, 'histogram', (r) => r.role === 'step' && r.series === 'Flow (signal + background)');
  t.is(flowSteps.length, 51, 'n + 1 step vertices');
  flowSteps.forEach((row, i) => {
    t.is(row.x, 40 + 2 * i);
    t.true(Math.abs((row.y as number) - flowCount.sumW[Math.min(i, 49)]) < 1e-6, `flow step ${i}`);
  });
  t.is((spec.layer as { encoding: { y?: { title?: string } } }[])[0].encoding.y?.title, 'Events / 2 GeV');
  const { parsed } = await renderAndCheck(t, 'histogram-comparison', spec);
  for (const text of ['M_reco [GeV]', 'Events / 2 GeV', 'Pseudo-data', 'Flow (signal + background)']) {
    t.true(parsed.texts.includes(text), `SVG shows "${text}"`);
  }
});

test('histogramComparison: density integrates to one; log y drops empty bins to a floor', async (t) => {
  const values = toyEvents(3, 500, 5_000);
  const spec = histogramComparison({
    title: 'Density, log scale',
    xTitle: 'M_reco [GeV]',
    range: [40, 240],
    bins: 40,
    normalize: 'density',
    logY: true,
    series: [
      { label: 'sample', values, style: 'points' },
      { label: 'same sample', values, style: 'line' },
    ],
  });
  const bins = rowsOf(spec, 'histogram', (r) => r.role === 'bin' && r.series === 'same sample');
  const integral = bins.reduce((sum, r) => sum + (r.y as number) * ((r.hi as number) - (r.lo as number)), 0);
  t.true(Math.abs(integral - 1) < 1e-12, `∫ density = ${integral}`);
  const points = rowsOf(spec, 'histogram', (r) => r.role === 'bin' && r.series === 'sample');
  const count = countByComparison(values, 40, 240, 40);
  const empty = count.sumW.map((n, i) => (n === 0 ? i : -1)).filter((i) => i >= 0);
  t.true(empty.length > 0, 'the range beyond 140 GeV has empty bins');
  for (const i of empty) t.is(points[i].y, null, `empty bin ${i} has no point on a log axis`);
  const steps = rowsOf(spec, 'histogram', (r) => r.role === 'step' && r.series === 'same sample');
  t.true(steps.every((r) => (r.y as number) > 0 && (r.y as number) >= (r.base as number)), 'step line stays on the log axis');
  await renderAndCheck(t, 'histogram-density-log', spec);
});

test('distributionsByTheta: per-group densities match independent counts, overlaid and faceted', async (t) => {
  const thetas: [number, number][] = [[60, 1], [75, 3], [91.2, 2.5], [105, 5], [118, 0.8]];
  const groups = thetas.map(([pole, gamma], g) => ({
    thetaLabel: `(${pole}, ${gamma})`,
    reference: toyEvents(10 + g, 5_000, 0, pole, gamma),
    model: toyEvents(20 + g, 50_000, 0, pole + 0.3, gamma * 1.1),
  }));
  const options = { title: 'Signal M_reco per (M_pole, Γ) bin', xTitle: 'M_reco [GeV]', range: [40, 140] as [number, number], bins: 100, groups, thetaTitle: '(M_pole, Γ) [GeV]' };
  const overlay = distributionsByTheta(options);
  t.is(overlay.facet, undefined, 'five groups are overlaid');
  groups.forEach((group) => {
    const count = countByComparison(group.reference, 40, 140, 100);
    const total = count.sumW.reduce((a, b) => a + b, 0);
    const rows = rowsOf(overlay, 'histogram', (r) => r.role === 'bin' && r.group === group.thetaLabel && r.kind === 'reference');
    t.is(rows.length, 100);
    rows.forEach((row, i) => t.true(Math.abs((row.y as number) - count.sumW[i] / total) < 1e-12, `${group.thetaLabel} bin ${i}`));
  });
  await renderAndCheck(t, 'distributions-by-theta', overlay);

  const many = distributionsByTheta({ ...options, groups: [...groups, ...groups.map((g) => ({ ...g, thetaLabel: `${g.thetaLabel}′` }))] });
  t.truthy(many.facet, 'ten groups are faceted');
  await renderAndCheck(t, 'distributions-by-theta-faceted', many);
});

test('histogram builders reject bad input with the value and the fix', (t) => {
  const error = t.throws(() => histogramComparison({ xTitle: 'x', range: [5, 5], bins: 10, series: [{ label: 'a', values: [1], style: 'points' }] }));
  t.regex(error.message, /range must be \[lo, hi\].*got \[5,5\]/);
  const weights = t.throws(() =>
    histogramComparison({ xTitle: 'x', range: [0, 1], bins: 10, series: [{ label: 'a', values: [0.1, 0.2], weights: [1], style: 'line' }] }),
  );
  t.regex(weights.message, /weights has 1 entries but values has 2/);
  const style = t.throws(() => histogramComparison({ xTitle: 'x', range: [0, 1], bins: 10, series: [{ label: 'a', values: [0.1], style: 'bars' as never }] }));
  t.regex(style.message, /style must be 'points', 'line' or 'filled', got "bars"/);
});

// ---- contours and profiles ----

test('contourLines of a circular quadratic are closed circles of radius σ√(2ΔNLL)', (t) => {
  const step = 0.1;
  const x = Array.from({ length: 81 }, (_, i) => -4 + step * i);
  const y = Array.from({ length: 61 }, (_, i) => -3 + step * i);
  const [x0, y0, sigma] = [0.37, -0.21, 1];
  const z = y.map((b) => x.map((a) => ((a - x0) ** 2 + (b - y0) ** 2) / (2 * sigma ** 2)));
  for (const level of [0.5, 2.0]) {
    const radius = sigma * Math.sqrt(2 * level);
    const lines = contourLines(x, y, z, level);
    t.is(lines.length, 1, `ΔNLL = ${level}: one line`);
    const [line] = lines;
    t.deepEqual(line[0], line[line.length - 1], 'the line is closed');
    let maxError = 0;
    const angles: number[] = [];
    for (const p of line) {
      maxError = Math.max(maxError, Math.abs(Math.hypot(p.x - x0, p.y - y0) - radius));
      angles.push(Math.atan2(p.y - y0, p.x - x0));
    }
    t.true(maxError < step, `ΔNLL = ${level}: radius off by at most ${maxError}, under a grid step`);
    t.true(maxError < 0.05 * step, `linear interpolation is much better than a grid step (${maxError})`);
    angles.sort((a, b) => a - b);
    const gaps = angles.slice(1).map((a, i) => a - angles[i]);
    gaps.push(angles[0] + 2 * Math.PI - angles[angles.length - 1]);
    t.true(Math.max(...gaps) < (2 * step) / radius, 'the circle is covered all round');
  }
});

test('contourLines separates a saddle cell by the centre value and skips NaN cells', (t) => {
  // Corners (bottom-left, bottom-right, top-right, top-left) = (1, 0, 1, 0): centre 0.5 lies above
  // level 0.4, so the two low corners are cut off.
  const lines = contourLines([0, 1], [0, 1], [[1, 0], [0, 1]], 0.4);
  t.is(lines.length, 2);
  const cutOff = lines.map((line) => {
    t.is(line.length, 2);
    return { x: (line[0].x + line[1].x) / 2, y: (line[0].y + line[1].y) / 2 };
  });
  const nearLowCorner = cutOff.map((m) => (m.x > 0.5 && m.y < 0.5 ? 'bottom-right' : m.x < 0.5 && m.y > 0.5 ? 'top-left' : 'other'));
  t.deepEqual(nearLowCorner.sort(), ['bottom-right', 'top-left']);
  t.deepEqual(contourLines([0, 1, 2], [0, 1], [[0, Number.NaN, 0], [1, 1, 1]], 0.5), []);
});

test('levelCrossings of a parabola give μ ± σ√(2ΔNLL)', (t) => {
  const x = Array.from({ length: 401 }, (_, i) => 80 + 0.05 * i);
  const [mu, sigma] = [91.2, 1.7];
  const values = x.map((v) => (v - mu) ** 2 / (2 * sigma ** 2));
  for (const level of [0.5, 2.0]) {
    const crossings = levelCrossings(x, values, level);
    const half = sigma * Math.sqrt(2 * level);
    t.is(crossings.length, 2);
    t.true(Math.abs(crossings[0] - (mu - half)) < 1e-3, `lower edge ${crossings[0]}`);
    t.true(Math.abs(crossings[1] - (mu + half)) < 1e-3, `upper edge ${crossings[1]}`);
  }
});

// ---- ΔNLL map ----

/** Correlated quadratic ΔNLL with its exact gradient: a stand-in for a scan near its minimum. */
function quadraticScan(x: number[], y: number[]) {
  const [mx, my, sx, sy, rho] = [91.2, 2.5, 4, 0.6, 0.5];
  const u = (a: number) => (a - mx) / sx;
  const v = (b: number) => (b - my) / sy;
  const f = (a: number, b: number) => (u(a) ** 2 - 2 * rho * u(a) * v(b) + v(b) ** 2) / (2 * (1 - rho ** 2));
  const fx = (a: number, b: number) => (u(a) - rho * v(b)) / ((1 - rho ** 2) * sx);
  const fy = (a: number, b: number) => (v(b) - rho * u(a)) / ((1 - rho ** 2) * sy);
  return {
    f,
    fx,
    fy,
    deltaNll: y.map((b) => x.map((a) => f(a, b))),
    gradient: { gx: y.map((b) => x.map((a) => fx(a, b))), gy: y.map((b) => x.map((a) => fy(a, b))) },
  };
}

test('deltaNllMap: arrows point downhill, across the contours as drawn; cells and markers', async (t) => {
  const x = Array.from({ length: 61 }, (_, i) => 60 + i);
  const y = Array.from({ length: 46 }, (_, i) => 0.5 + 0.1 * i);
  const scan = quadraticScan(x, y);
  scan.deltaNll[0][0] = Number.NaN;
  const spec = deltaNllMap({
    title: 'ΔNLL scan over (M_pole, Γ)',
    xTitle: 'M_pole [GeV]',
    yTitle: 'Γ [GeV]',
    x,
    y,
    deltaNll: scan.deltaNll,
    gradient: scan.gradient,
    truth: { x: 91.2, y: 2.5 },
    bestFit: { x: 90.6, y: 2.8 },
  });
  t.is(rowsOf(spec, 'cells').length, x.length * y.length - 1, 'the NaN node has no cell');
  const firstCell = rowsOf(spec, 'cells')[0];
  const cellEdges = [firstCell.x1, firstCell.x2, firstCell.y1, firstCell.y2] as number[];
  [60.5, 61.5, 0.45, 0.55].forEach((edge, i) => t.true(Math.abs(cellEdges[i] - edge) < 1e-12, `cell (1, 0) edge ${i} at the midpoint ${edge}`));

  // The frame spans the outer cell edges: [59.5, 120.5] × [0.45, 5.05].
  const width = spec.width as number;
  const height = spec.height as number;
  const pxPerX = width / 61;
  const pxPerY = height / 4.6;
  const arrows = rowsOf(spec, 'arrows');
  t.true(arrows.length >= 100, `${arrows.length} arrows`);
  const spacing = (values: number[], pxPerUnit: number) => {
    const distinct = [...new Set(values)].sort((a, b) => a - b);
    return Math.min(...distinct.slice(1).map((v, i) => (v - distinct[i]) * pxPerUnit));
  };
  const maxLength = 0.8 * Math.min(spacing(arrows.map((a) => a.x as number), pxPerX), spacing(arrows.map((a) => a.y as number), pxPerY));
  for (const a of arrows) {
    const [x0, y0, dx, dy] = [a.x as number, a.y as number, (a.xEnd as number) - (a.x as number), (a.yEnd as number) - (a.y as number)];
    const slope = scan.fx(x0, y0) * dx + scan.fy(x0, y0) * dy;
    t.true(slope < 0, `arrow at (${x0}, ${y0}) points downhill`);
    // Steepest descent in pixel space: parallel to −(∂f/∂u, ∂f/∂v), u = x·pxPerX, v = y·pxPerY.
    const [du, dv] = [dx * pxPerX, dy * pxPerY];
    const [gu, gv] = [scan.fx(x0, y0) / pxPerX, scan.fy(x0, y0) / pxPerY];
    const cosine = -(du * gu + dv * gv) / (Math.hypot(du, dv) * Math.hypot(gu, gv));
    t.true(cosine > 0.9999, `arrow at (${x0}, ${y0}) is the steepest descent on screen (cos ${cosine})`);
    // Vega rotates the head clockwise from screen-up; screen-up is +v.
    const expectedAngle = (Math.atan2(du, dv) * 180) / Math.PI;
    t.true(Math.abs((a.angle as number) - expectedAngle) < 1e-9, 'the head is aimed along the shaft');
    const length = Math.hypot(du, dv);
    t.true(length >= 6 && length <= maxLength + 1e-9, `arrow length ${length} px, neighbours ${maxLength / 0.8} px apart`);
  }
  // Right of M_pole = 105 GeV, ∂ΔNLL/∂M_pole > 0 on the whole Γ range: every arrow there points left.
  const farRight = arrows.filter((a) => (a.x as number) > 105);
  t.true(farRight.length >= 10);
  t.true(farRight.every((a) => (a.xEnd as number) < (a.x as number)), 'arrows far right point back left, towards the minimum');

  const markers = rowsOf(spec, 'markers');
  t.deepEqual(markers.map((m) => m.marker), ['truth', 'best fit']);
  const { svg } = await renderAndCheck(t, 'delta-nll-map', spec);
  t.true(svg.includes('ΔNLL (clipped)'), 'the colour legend says the scale is clipped');
});

test('deltaNllMap contours of a circular ΔNLL lie at the expected radius within a grid step', async (t) => {
  const step = 0.25;
  const x = Array.from({ length: 33 }, (_, i) => -4 + step * i);
  const y = Array.from({ length: 25 }, (_, i) => -3 + step * i);
  const sigma = 1.2;
  const deltaNll = y.map((b) => x.map((a) => (a * a + b * b) / (2 * sigma ** 2)));
  const gradient = { gx: y.map(() => x.map((a) => a / sigma ** 2)), gy: y.map((b) => x.map(() => b / sigma ** 2)) };
  const spec = deltaNllMap({ xTitle: 'θ₁', yTitle: 'θ₂', x, y, deltaNll, gradient, truth: { x: 0, y: 0 }, contours: [0.5, 2.0] });
  for (const level of [0.5, 2.0]) {
    const points = rowsOf(spec, 'contours', (r) => r.level === level);
    t.true(points.length > 12, `ΔNLL = ${level}: ${points.length} contour points`);
    const expected = sigma * Math.sqrt(2 * level);
    for (const p of points) {
      t.true(Math.abs(Math.hypot(p.x as number, p.y as number) - expected) < step, `ΔNLL = ${level} point at radius ${Math.hypot(p.x as number, p.y as number)}`);
    }
  }
  await renderAndCheck(t, 'delta-nll-map-circular', spec);
});

test('deltaNllMap rejects a matrix that does not match the grid', (t) => {
  const error = t.throws(() => deltaNllMap({ xTitle: 'a', yTitle: 'b', x: [0, 1, 2], y: [0, 1], deltaNll: [[0, 1], [1, 2]] }));
  t.regex(error.message, /deltaNll\[0\] must have one entry per x value \(3\), got 2; the layout is \[iy\]\[ix\]/);
  const order = t.throws(() => deltaNllMap({ xTitle: 'a', yTitle: 'b', x: [0, 2, 1], y: [0, 1], deltaNll: [[0, 1, 2], [1, 2, 3]] }));
  t.regex(order.message, /x must be strictly increasing, but x\[1\] = 2 and x\[2\] = 1/);
});

// ---- profile, ROC, loss ----

test('profileCurve: interval edges at μ ± σ and μ ± 2σ; renders', async (t) => {
  const x = Array.from({ length: 121 }, (_, i) => 85 + 0.1 * i);
  const [mu, sigma] = [91, 1.5];
  const spec = profileCurve({ title: 'Profile of M_pole', xTitle: 'M_pole [GeV]', x, deltaNll: x.map((v) => (v - mu) ** 2 / (2 * sigma ** 2)), truth: 91.2, bestFit: 91 });
  const edges = rowsOf(spec, 'edges');
  const byLevel = (level: number) => edges.filter((e) => e.level === level).map((e) => e.x as number);
  const close = (a: number[], b: number[]) => a.length === b.length && a.every((v, i) => Math.abs(v - b[i]) < 2e-3);
  t.true(close(byLevel(0.5), [mu - sigma, mu + sigma]), `1σ edges ${byLevel(0.5)}`);
  t.true(close(byLevel(2), [mu - 2 * sigma, mu + 2 * sigma]), `2σ edges ${byLevel(2)}`);
  t.deepEqual(rowsOf(spec, 'levels').map((l) => l.label), ['ΔNLL = 0.5 (1σ)', 'ΔNLL = 2 (2σ)']);
  await renderAndCheck(t, 'profile-curve', spec);
});

test('rocCurve: 1/ε_B on a log axis, AUC in the legend, infinite rejection dropped; rejects ε_B', async (t) => {
  // Gaussian scores: background N(0, 1), signal N(d, 1); ε_S = Φ(d − c), ε_B = Φ(−c), AUC = Φ(d/√2).
  const phi = (z: number) => 0.5 * (1 + erf(z / Math.SQRT2));
  const cuts = Array.from({ length: 161 }, (_, i) => -4 + 0.05 * i);
  const curves = [1, 2].map((d) => ({
    label: `score d = ${d}`,
    signalEfficiency: cuts.map((c) => phi(d - c)),
    backgroundRejection: cuts.map((c) => (phi(-c) > 1e-5 ? 1 / phi(-c) : Infinity)),
    auc: phi(d / Math.SQRT2),
  }));
  const spec = rocCurve({ title: 'Anomaly score', curves });
  const rows = rowsOf(spec, 'roc');
  t.true(rows.every((r) => Number.isFinite(r.rejection as number) && (r.rejection as number) >= 1));
  t.is(rows.length, curves.reduce((n, c) => n + c.backgroundRejection.filter(Number.isFinite).length, 0));
  t.true(rows.some((r) => r.curve === 'score d = 2 (AUC = 0.921)'));
  await renderAndCheck(t, 'roc-curve', spec);
  const error = t.throws(() => rocCurve({ curves: [{ label: 'x', signalEfficiency: [0.5], backgroundRejection: [0.2], auc: 0.7 }] }));
  t.regex(error.message, /backgroundRejection\[0\] = 0.2 is below 1; pass 1\/ε_B/);
});

function erf(x: number): number {
  // Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): enough for test curves.
  const s = Math.sign(x);
  const z = Math.abs(x);
  const k = 1 / (1 + 0.3275911 * z);
  const poly = k * (0.254829592 + k * (-0.284496736 + k * (1.421413741 + k * (-1.453152027 + k * 1.061405429))));
  return s * (1 - poly * Math.exp(-z * z));
}

test('lossCurve marks the best validation epoch; rejects mismatched lengths', async (t) => {
  const epochs = Array.from({ length: 60 }, (_, i) => i + 1);
  const validation = epochs.map((e) => 1.35 + Math.exp(-e / 8) + 4e-5 * (e - 30) ** 2);
  const spec = lossCurve({ title: 'Training history', epochs, train: epochs.map((e) => 1.3 + Math.exp(-e / 8) - 0.002 * e), validation });
  const argmin = validation.indexOf(Math.min(...validation));
  t.deepEqual(rowsOf(spec, 'best').map((b) => b.epoch), [epochs[argmin]]);
  t.is(rowsOf(spec, 'loss').length, 120);
  await renderAndCheck(t, 'loss-curve', spec);
  const error = t.throws(() => lossCurve({ epochs: [1, 2], train: [1], validation: [] }));
  t.regex(error.message, /train must have one loss per epoch \(2\), got 1/);
});

// ---- rendering ----

test('PNG text is drawn: the fonts load (a PNG with labels differs from one without)', (t) => {
  const svg = (text: string) =>
    `<svg xmlns="http://www.w3.org/2000/svg" width="200" height="40"><text x="5" y="28" font-family="DejaVu Sans" font-size="20">${text}</text></svg>`;
  const blank = svgToPng(svg(''), { scale: 1 });
  const labelled = svgToPng(svg('ΔNLL θ Γ [GeV]'), { scale: 1 });
  t.deepEqual(pngSize(labelled), { width: 200, height: 40 });
  t.notDeepEqual(Buffer.from(labelled), Buffer.from(blank));
});

test('renderPng scales; renderSvg output is one well-formed SVG; writeFigure checks the name', async (t) => {
  const spec = lossCurve({ epochs: [1, 2, 3], train: [3, 2, 1.5], validation: [3.1, 2.2, 1.9] });
  const svg = await renderSvg(spec);
  const { width, height } = parseSvg(svg);
  t.deepEqual(pngSize(await renderPng(spec, { scale: 1 })), { width: Math.round(width), height: Math.round(height) });
  t.deepEqual(pngSize(await renderPng(spec, { scale: 3 })), { width: Math.round(3 * width), height: Math.round(3 * height) });
  await t.throwsAsync(() => renderPng(spec, { scale: 0 }), { message: /scale must be a number in \(0, 10\], got 0/ });
  await t.throwsAsync(() => writeFigure(outDir, '../escape', spec), { message: /name must be a plain file stem/ });
});

// ---- report ----

test('buildReport embeds figures, formats numbers, escapes text and signs the footer', async (t) => {
  const spec = profileCurve({ xTitle: 'M_pole [GeV]', x: [88, 90, 92, 94], deltaNll: [2, 0.1, 0.3, 2.4] });
  const paths = await writeFigure(outDir, 'report-profile', spec);
  const html = buildReport({
    title: 'Toy study <bump hunt>',
    subtitle: 'Saito et al., ISGC 2024, §3.1',
    sections: [
      {
        heading: 'Fit',
        text: 'First paragraph & more.\n\nSecond paragraph.',
        figures: [
          { name: 'profile-svg', caption: 'Profile (SVG)', svgPath: paths.svgPath },
          { name: 'profile-png', caption: 'Profile (PNG)', pngPath: paths.pngPath },
        ],
        tables: [{ caption: 'Best fit', columns: ['parameter', 'value', 'events'], rows: [['M_pole', 91.23456, 101000], ['Γ', 0.00001234, 1234567890], ['τ', Number.NaN, 12]] }],
      },
      { heading: 'Appendix', text: 'Nothing else.' },
    ],
    provenance: { command: 'flowscan study toy --out out/toy', date: new Date('2026-01-02T03:04:05Z') },
  });
  writeFileSync(join(outDir, 'report.html'), html);
  t.true(html.startsWith('<!DOCTYPE html>'));
  t.true(html.includes('<title>Toy study &lt;bump hunt&gt;</title>'));
  t.true(html.includes('<p>First paragraph &amp; more.</p>\n<p>Second paragraph.</p>'));
  const svgBase64 = readFileSync(paths.svgPath).toString('base64');
  const pngBase64 = readFileSync(paths.pngPath).toString('base64');
  t.true(html.includes(`src="data:image/svg+xml;base64,${svgBase64}"`));
  t.true(html.includes(`src="data:image/png;base64,${pngBase64}"`));
  t.true(html.includes('Figure 2.</span> Profile (PNG)'));
  t.true(html.includes('<td class="num">91.23</td>'));
  t.true(html.includes('<td class="num">1.234×10⁻⁵</td>'));
  t.true(html.includes('<td class="num">101000</td>'));
  t.true(html.includes('<td class="num">1.235×10⁹</td>'));
  t.true(html.includes('<td class="num">—</td>'));
  t.true(html.includes('<th>parameter</th><th class="num">value</th><th class="num">events</th>'));
  t.true(html.includes('Generated 2026-01-02 03:04:05 UTC by <code>flowscan study toy --out out/toy</code>'));
  t.true(html.includes('<a href="#section-2">Appendix</a>'));
  t.true(statSync(paths.svgPath).size > 1000);
  const missing = t.throws(() => buildReport({ title: 'x', sections: [{ heading: 'h', figures: [{ name: 'f', caption: 'c', svgPath: join(outDir, 'nope.svg') }] }] }));
  t.regex(missing.message, /figure "f": .*nope\.svg does not exist/);
});

test('formatNumber keeps four significant digits and switches to powers of ten at the extremes', (t) => {
  t.is(formatNumber(0.5), '0.5000');
  t.is(formatNumber(-2.25), '−2.250');
  t.is(formatNumber(12345.678), '12346');
  t.is(formatNumber(0.0012346), '0.001235');
  t.is(formatNumber(2.5e-7), '2.500×10⁻⁷');
  t.is(formatNumber(Infinity), '∞');
  t.is(formatNumber(-7), '−7');
});
