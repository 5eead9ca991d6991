// Shared pieces of every flowscan figure: the Vega-Lite spec type, the "physics plot" look, colours,
// marker paths and argument checks. Specs are plain JSON objects so they can be rendered in Node
// (trainer/src/report/render.ts) or embedded unchanged in a web page with vega-embed.

/** A row of pre-binned figure data. */
export type DataRow = Record<string, number | string | null>;

/**
 * A Vega-Lite v6 top-level spec. Figure data lives in `datasets` (named, pre-binned tables), so a
 * caller can read back exactly what is drawn without rendering.
 */
export interface VegaLiteSpec {
  $schema: string;
  datasets: Record<string, DataRow[]>;
  [key: string]: unknown;
}

export const VEGA_LITE_SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

/** Default plot-area size in pixels (axes, titles and legends come on top). */
export const PLOT_WIDTH = 560;
export const PLOT_HEIGHT = 380;

export const FONT_FAMILY = 'DejaVu Sans, Helvetica, Arial, sans-serif';

/**
 * Colour-blind-safe qualitative palette (Okabe & Ito, "Color Universal Design", 2008), yellow left out
 * because it disappears on white paper.
 */
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000'];

/**
 * Marker paths in Vega's custom-symbol convention: coordinates in the unit box [-1, 1]², scaled by
 * sqrt(size)/2 and rotated by `angle` degrees clockwise around the origin.
 */
export const STAR_PATH = starPath(5, 1, 0.42);
/** A diagonal cross ("x") with arms of finite width, so it can be filled and outlined. */
export const X_CROSS_PATH = 'M-1,-0.7L-0.7,-1L0,-0.3L0.7,-1L1,-0.7L0.3,0L1,0.7L0.7,1L0,0.3L-0.7,1L-1,0.7L-0.3,0Z';
/** A diagonal cross drawn as two strokes (for unfilled markers). */
export const X_STROKE_PATH = 'M-1,-1L1,1M-1,1L1,-1';
/** Arrow head with its tip at the origin pointing up (towards −y on screen), so `angle` aims it. */
export const ARROW_HEAD_PATH = 'M0,0L-0.75,1.9L0,1.45L0.75,1.9Z';

function starPath(points: number, outer: number, inner: number): string {
  const vertices: string[] = [];
  for (let k = 0; k < 2 * points; k += 1) {
    const radius = k % 2 === 0 ? outer : inner;
    const angle = (Math.PI * k) / points;
    vertices.push(`${(radius * Math.sin(angle)).toFixed(4)},${(-radius * Math.cos(angle)).toFixed(4)}`);
  }
  return `M${vertices.join('L')}Z`;
}

/**
 * Look of a printed physics figure: white background, closed black frame, ticks pointing into the
 * frame, no grid, plain (non-bold) titles in a font with Greek letters (DejaVu has Γ, θ, Δ, σ).
 */
export function physicsConfig(): Record<string, unknown> {
  const tickSize = 6;
  return {
    background: 'white',
    padding: 8,
    // No per-item ARIA labels: a 60×46 heatmap would carry 2760 of them and triple the SVG's size.
    aria: false,
    font: FONT_FAMILY,
    view: { stroke: 'black', strokeWidth: 1, fill: 'white' },
    axis: {
      grid: false,
      domain: false,
      tickColor: 'black',
      tickSize: -tickSize,
      tickWidth: 1,
      // With inward ticks the label offset must skip back over the tick length.
      labelPadding: tickSize + 4,
      labelColor: 'black',
      labelFontSize: 13,
      titleColor: 'black',
      titleFontSize: 15,
      titleFontWeight: 'normal',
      titlePadding: 8,
      labelFlush: true,
      // Labels closer than this are thinned out (every other one), instead of running into each other.
      labelSeparation: 4,
    },
    legend: {
      labelFontSize: 13,
      titleFontSize: 13,
      titleFontWeight: 'normal',
      labelColor: 'black',
      titleColor: 'black',
      symbolStrokeWidth: 2,
      // Legend-carrying layers are invisible (opacity 0); their legend symbols must not be.
      symbolOpacity: 1,
      symbolSize: 110,
      rowPadding: 5,
      labelLimit: 320,
    },
    header: { labelFontSize: 13, labelColor: 'black', titleFontSize: 14, titleFontWeight: 'normal' },
    title: { fontSize: 16, fontWeight: 'normal', anchor: 'start', color: 'black', subtitleFontSize: 13 },
    line: { strokeWidth: 2 },
    rule: { strokeWidth: 1.5 },
  };
}

/** Legend placed inside the frame, top right, on a white box, as on a printed figure. */
export function insideLegend(title: string | null): Record<string, unknown> {
  return {
    title,
    orient: 'top-right',
    fillColor: 'rgba(255,255,255,0.9)',
    strokeColor: '#b0b0b0',
    padding: 6,
    offset: 10,
  };
}

/** Pixel height of an inside legend with `entries` rows (and a title when `titled`). */
export function insideLegendHeight(entries: number, titled: boolean): number {
  return 2 * 6 + 10 + entries * 19 + (titled ? 20 : 0);
}

/**
 * Linear y domain [0, top] leaving the top `reservedPx` of the plot free for an inside legend, so the
 * legend never covers data.
 */
export function linearDomainWithHeadroom(maxValue: number, reservedPx: number, heightPx: number): [number, number] {
  const freeFraction = Math.max(0.3, 1 - reservedPx / heightPx - 0.02);
  const top = maxValue > 0 ? maxValue / freeFraction : 1;
  return [0, top];
}

/** Log y domain [bottom, top] with the same headroom rule, in decades. */
export function logDomainWithHeadroom(minPositive: number, maxValue: number, reservedPx: number, heightPx: number): [number, number] {
  const freeFraction = Math.max(0.3, 1 - reservedPx / heightPx - 0.02);
  const lowDecade = Math.log10(minPositive);
  const highDecade = Math.log10(Math.max(maxValue, minPositive * 10));
  return [minPositive, 10 ** (lowDecade + (highDecade - lowDecade) / freeFraction)];
}

const SUPERSCRIPT_DIGITS: Record<string, string> = {
  '-': '⁻', '0': '⁰', '1': '¹', '2': '²', '3': '³', '4': '⁴', '5': '⁵', '6': '⁶', '7': '⁷', '8': '⁸', '9': '⁹',
};

/** "10³"-style label of a power of ten; 1 and 10 stay plain. */
export function powerOfTenLabel(exponent: number): string {
  if (exponent === 0) return '1';
  if (exponent === 1) return '10';
  return `10${[...String(exponent)].map((c) => SUPERSCRIPT_DIGITS[c]).join('')}`;
}

/**
 * Axis properties for a log scale over [lo, hi]: when it spans two decades or more, ticks at the
 * powers of ten labelled 10ⁿ (instead of "100,000,000"); otherwise Vega's own ticks.
 */
export function logAxis(lo: number, hi: number): Record<string, unknown> {
  const first = Math.ceil(Math.log10(lo) - 1e-9);
  const last = Math.floor(Math.log10(hi) + 1e-9);
  if (last - first < 2) return {};
  const step = Math.ceil((last - first + 1) / 12);
  const exponents: number[] = [];
  for (let k = first; k <= last; k += step) exponents.push(k);
  const labelExpr = exponents.reduceRight(
    (otherwise, k) => `abs(log(datum.value) / LN10 - ${k}) < 1e-6 ? ${JSON.stringify(powerOfTenLabel(k))} : ${otherwise}`,
    "''",
  );
  return { values: exponents.map((k) => 10 ** k), labelExpr };
}

/** `[unit]` at the end of an axis title, e.g. "M_reco [GeV]" → "GeV". */
export function unitOf(axisTitle: string): string | null {
  const match = /\[([^\]]+)\]\s*$/.exec(axisTitle);
  return match ? match[1].trim() : null;
}

/** Compact number for axis-derived labels: 2 → "2", 0.25 → "0.25", 1/3 → "0.333". */
export function compactNumber(value: number): string {
  return String(Number(value.toPrecision(3)));
}

export function baseSpec(parts: { title?: string; subtitle?: string; datasets: Record<string, DataRow[]> }): VegaLiteSpec {
  const spec: VegaLiteSpec = { $schema: VEGA_LITE_SCHEMA, datasets: parts.datasets, config: physicsConfig() };
  if (parts.title || parts.subtitle) {
    spec.title = parts.subtitle ? { text: parts.title ?? '', subtitle: parts.subtitle } : parts.title;
  }
  return spec;
}

// ---- argument checks (user-facing errors name the figure, the argument, the value and the fix) ----

export function fail(figure: string, message: string): never {
  throw new Error(`${figure}: ${message}`);
}

export function checkRange(figure: string, range: readonly number[] | undefined): [number, number] {
  if (!range || range.length !== 2 || !Number.isFinite(range[0]) || !Number.isFinite(range[1]) || !(range[0] < range[1])) {
    fail(figure, `range must be [lo, hi] with finite lo < hi, got ${JSON.stringify(range)}; pass the x-axis window in the feature's units`);
  }
  return [range[0], range[1]];
}

export function checkBins(figure: string, bins: number): number {
  if (!Number.isInteger(bins) || bins < 1 || bins > 10_000) {
    fail(figure, `bins must be an integer in [1, 10000], got ${bins}`);
  }
  return bins;
}

export function checkFinite(figure: string, name: string, value: number): number {
  if (!Number.isFinite(value)) fail(figure, `${name} must be a finite number, got ${value}`);
  return value;
}

/** Strictly increasing finite coordinates (grid axes). */
export function checkIncreasing(figure: string, name: string, values: readonly number[], minLength: number): void {
  if (!Array.isArray(values) || values.length < minLength) {
    fail(figure, `${name} must be an array of at least ${minLength} grid coordinates, got ${Array.isArray(values) ? `length ${values.length}` : typeof values}`);
  }
  for (let i = 0; i < values.length; i += 1) {
    if (!Number.isFinite(values[i])) fail(figure, `${name}[${i}] must be finite, got ${values[i]}`);
    if (i > 0 && !(values[i] > values[i - 1])) {
      fail(figure, `${name} must be strictly increasing, but ${name}[${i - 1}] = ${values[i - 1]} and ${name}[${i}] = ${values[i]}; sort the grid before plotting`);
    }
  }
}

/** A [ny][nx] matrix matching grid axes of lengths nx and ny. */
export function checkMatrix(figure: string, name: string, matrix: readonly (readonly number[])[], nx: number, ny: number): void {
  if (!Array.isArray(matrix) || matrix.length !== ny) {
    fail(figure, `${name} must have one row per y value (${ny} rows, indexed [iy][ix]), got ${Array.isArray(matrix) ? matrix.length : typeof matrix} rows`);
  }
  matrix.forEach((row, iy) => {
    if (!row || row.length !== nx) {
      fail(figure, `${name}[${iy}] must have one entry per x value (${nx}), got ${row ? row.length : row}; the layout is [iy][ix]`);
    }
  });
}

