// Renders the Vega-Lite specs of @flowscan/runtime's plots in Node: Vega-Lite → Vega → SVG (vega's
// headless "none" renderer), SVG → PNG with resvg. resvg gets the DejaVu fonts explicitly, because
// the specs ask for "DejaVu Sans" and a PNG with missing glyphs fails silently (blank labels).

import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import type { Spec as VegaSpec } from 'vega';
import type { TopLevelSpec } from 'vega-lite';

/**
 * Any Vega-Lite top-level spec as a plain object, such as the figure builders of
 * @flowscan/runtime's plots return. Kept structural so rendering does not depend on the runtime.
 */
export interface VegaLiteSpec {
  [key: string]: unknown;
}

const DEJAVU_DIRS = ['/usr/share/fonts/truetype/dejavu', '/usr/share/fonts/dejavu', '/usr/share/fonts/TTF'];

export interface CompiledFigure {
  vega: VegaSpec;
  /** Vega-Lite compiler warnings (e.g. an encoding it had to drop); empty for a clean spec. */
  warnings: string[];
}

/**
 * Vega-Lite → Vega, collecting the compiler's warnings instead of printing them. Vega-Lite and Vega are loaded on
 * the first figure, not with this module: their d3 and geo-projection modules (~350) were most of what every
 * `flowscan` start loaded, and most commands draw nothing.
 */
export async function compileSpec(spec: VegaLiteSpec): Promise<CompiledFigure> {
  const { compile } = await import('vega-lite');
  const warnings: string[] = [];
  let level = 0;
  const logger = {
    level(next?: number) {
      if (next === undefined) return level;
      level = next;
      return logger;
    },
    error(...args: readonly unknown[]) {
      throw new Error(`Vega-Lite rejected the figure spec: ${args.map(String).join(' ')}`);
    },
    warn(...args: readonly unknown[]) {
      warnings.push(args.map(String).join(' '));
      return logger;
    },
    info() {
      return logger;
    },
    debug() {
      return logger;
    },
  };
  const compiled = compile(spec as unknown as TopLevelSpec, { logger: logger as never });
  return { vega: compiled.spec, warnings };
}

// Advance widths of DejaVu Sans in em, for Vega's text layout. Headless Vega has no canvas to measure
// text and guesses 0.8 em per character, which truncates legend labels and leaves boxes half empty.
const DEJAVU_SANS_ADVANCE: Record<string, number> = {
  ' ': 0.318, '!': 0.4, '"': 0.46, '%': 0.95, "'": 0.275, '(': 0.39, ')': 0.39, '*': 0.5, '+': 0.838, ',': 0.318,
  '-': 0.361, '.': 0.318, '/': 0.337, ':': 0.337, ';': 0.337, '<': 0.838, '=': 0.838, '>': 0.838, '[': 0.39,
  ']': 0.39, '_': 0.5, '|': 0.337, '−': 0.838, '±': 0.838, '·': 0.318, '…': 1.0,
  a: 0.613, b: 0.635, c: 0.55, d: 0.635, e: 0.615, f: 0.352, g: 0.635, h: 0.634, i: 0.278, j: 0.278, k: 0.579,
  l: 0.278, m: 0.974, n: 0.634, o: 0.612, p: 0.635, q: 0.635, r: 0.411, s: 0.521, t: 0.392, u: 0.634, v: 0.592,
  w: 0.818, x: 0.592, y: 0.592, z: 0.525,
  A: 0.684, B: 0.686, C: 0.698, D: 0.77, E: 0.632, F: 0.575, G: 0.775, H: 0.752, I: 0.295, J: 0.295, K: 0.656,
  L: 0.557, M: 0.863, N: 0.748, O: 0.787, P: 0.603, Q: 0.787, R: 0.695, S: 0.635, T: 0.611, U: 0.732, V: 0.684,
  W: 0.989, X: 0.685, Y: 0.611, Z: 0.685,
};
const DIGIT_ADVANCE = 0.636;
const OTHER_ADVANCE = 0.65;

interface TextItem {
  fontSize?: number;
  fontWeight?: string | number;
  limit?: number;
}

function dejavuTextWidth(item: TextItem, text: unknown): number {
  const size = item.fontSize != null ? Number(item.fontSize) || 0 : 11;
  const line = text == null ? '' : String(text).trim();
  let em = 0;
  for (const char of line) em += DEJAVU_SANS_ADVANCE[char] ?? (char >= '0' && char <= '9' ? DIGIT_ADVANCE : OTHER_ADVANCE);
  const bold = item.fontWeight === 'bold' || Number(item.fontWeight) >= 600;
  const width = em * size * (bold ? 1.1 : 1);
  // Vega truncates labels longer than `limit` to about `limit` pixels.
  return item.limit && item.limit > 0 ? Math.min(width, item.limit) : width;
}

export async function renderSvg(spec: VegaLiteSpec): Promise<string> {
  const { vega: vegaSpec } = await compileSpec(spec);
  const vega = await import('vega');
  // Vega's hook for custom text measurement in headless rendering (used the same way by vl-convert);
  // vega's type declarations do not list it.
  (vega as unknown as { textMetrics: { width: typeof dejavuTextWidth } }).textMetrics.width = dejavuTextWidth;
  const view = new vega.View(vega.parse(vegaSpec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export interface PngOptions {
  /** Pixels per SVG pixel (default 2, sharp on high-density screens and in print). */
  scale?: number;
  /** Extra font directories, searched before the system fonts. */
  fontDirs?: string[];
}

export async function renderPng(spec: VegaLiteSpec, options: PngOptions = {}): Promise<Uint8Array> {
  return svgToPng(await renderSvg(spec), options);
}

/** Rasterises an SVG (any, not only ours) with the fonts flowscan figures ask for. */
export function svgToPng(svg: string, options: PngOptions = {}): Uint8Array {
  const scale = options.scale ?? 2;
  if (!(Number.isFinite(scale) && scale > 0 && scale <= 10)) {
    throw new Error(`renderPng: scale must be a number in (0, 10], got ${scale}; 1 gives the SVG's own pixel size`);
  }
  const fontDirs = [...(options.fontDirs ?? []), ...DEJAVU_DIRS.filter((dir) => existsSync(dir))];
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    background: 'white',
    font: {
      fontDirs,
      // System fonts stay available for glyphs DejaVu lacks; DejaVu is the fallback family.
      loadSystemFonts: true,
      defaultFontFamily: 'DejaVu Sans',
      sansSerifFamily: 'DejaVu Sans',
    },
  });
  return resvg.render().asPng();
}

export interface FigurePaths {
  svgPath: string;
  pngPath: string;
}

/** Writes `<dir>/<name>.svg` and `<dir>/<name>.png` (creating `dir`) and returns their paths. */
export async function writeFigure(dir: string, name: string, spec: VegaLiteSpec, options: PngOptions = {}): Promise<FigurePaths> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
    throw new Error(`writeFigure: name must be a plain file stem (letters, digits, '.', '_', '-'), got ${JSON.stringify(name)}`);
  }
  await mkdir(dir, { recursive: true });
  const svg = await renderSvg(spec);
  const svgPath = join(dir, `${name}.svg`);
  const pngPath = join(dir, `${name}.png`);
  await writeFile(svgPath, svg);
  await writeFile(pngPath, svgToPng(svg, options));
  return { svgPath, pngPath };
}
