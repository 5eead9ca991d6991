// Assembles a study's figures and tables into ONE self-contained HTML file.
//
// Figures are embedded as data: URIs inside <img> (SVG when the figure has one, PNG otherwise), not
// as inline <svg> and not as relative links: the file can be mailed or attached to an issue and
// still shows every figure, and each SVG stays an isolated document, so the clip-path ids that every
// Vega SVG reuses ("clip1", …) cannot collide between figures.

import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';

export interface ReportFigure {
  /** Anchor id of the figure (letters, digits, '-', '_'). */
  name: string;
  caption: string;
  svgPath?: string;
  pngPath?: string;
}

export interface ReportTable {
  caption: string;
  columns: string[];
  /** Numbers are formatted by `formatNumber` and right-aligned; strings are shown as given. */
  rows: (string | number)[][];
}

export interface ReportSection {
  heading: string;
  /** Plain text; blank lines separate paragraphs. */
  text?: string;
  figures?: ReportFigure[];
  tables?: ReportTable[];
}

export interface ReportProvenance {
  /** The command that produced the report; default: this process's command line. */
  command?: string;
  /** Default: now. */
  date?: Date;
  /** Extra lines, e.g. "model toy-signal sha256 1f2e…". */
  notes?: string[];
}

export interface ReportOptions {
  title: string;
  subtitle?: string;
  sections: ReportSection[];
  provenance?: ReportProvenance;
}

/**
 * A number for a table cell: integers as they are (below 10^9), other values with 4 significant
 * digits (no decimals from 1000 up), magnitudes below 10⁻³ or from 10⁶ as 1.234×10⁻⁵; NaN as "—".
 */
export function formatNumber(value: number): string {
  if (Number.isNaN(value)) return '—';
  if (!Number.isFinite(value)) return value > 0 ? '∞' : '−∞';
  const magnitude = Math.abs(value);
  const sign = value < 0 ? '−' : '';
  if (Number.isInteger(value) && magnitude < 1e9) return sign + String(magnitude);
  if (magnitude !== 0 && (magnitude < 1e-3 || magnitude >= 1e6)) {
    const [mantissa, exponent] = magnitude.toExponential(3).split('e');
    return `${sign}${mantissa}×10${superscript(Number(exponent))}`;
  }
  return sign + magnitude.toFixed(Math.max(0, 3 - Math.floor(Math.log10(magnitude || 1))));
}

function superscript(exponent: number): string {
  const digits: Record<string, string> = { '-': '⁻', '0': '⁰', '1': '¹', '2': '²', '3': '³', '4': '⁴', '5': '⁵', '6': '⁶', '7': '⁷', '8': '⁸', '9': '⁹' };
  return [...String(exponent)].map((c) => digits[c]).join('');
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** The report as one HTML document (figures read from disk and embedded). */
export function buildReport(options: ReportOptions): string {
  if (typeof options.title !== 'string' || options.title === '') {
    throw new Error('buildReport: title must be a non-empty string');
  }
  if (!Array.isArray(options.sections)) throw new Error('buildReport: sections must be an array of { heading, text?, figures?, tables? }');
  const counters = { figure: 0, table: 0 };
  const usedIds = new Set<string>();
  const sections = options.sections.map((section, i) => renderSection(section, i, counters, usedIds));
  const toc =
    options.sections.length > 1
      ? `<nav><ol>${options.sections.map((s, i) => `<li><a href="#section-${i + 1}">${escapeHtml(s.heading)}</a></li>`).join('')}</ol></nav>`
      : '';
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(options.title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    '<header>',
    `<h1>${escapeHtml(options.title)}</h1>`,
    options.subtitle ? `<p class="subtitle">${escapeHtml(options.subtitle)}</p>` : '',
    '</header>',
    toc,
    `<main>${sections.join('\n')}</main>`,
    renderFooter(options.provenance ?? {}),
    '</body>',
    '</html>',
    '',
  ]
    .filter((line) => line !== '')
    .join('\n');
}

function renderSection(section: ReportSection, index: number, counters: { figure: number; table: number }, usedIds: Set<string>): string {
  if (typeof section.heading !== 'string' || section.heading === '') {
    throw new Error(`buildReport: sections[${index}].heading must be a non-empty string`);
  }
  const parts = [`<section id="section-${index + 1}">`, `<h2>${escapeHtml(section.heading)}</h2>`];
  if (section.text) {
    for (const paragraph of section.text.split(/\n\s*\n/)) {
      if (paragraph.trim()) parts.push(`<p>${escapeHtml(paragraph.trim())}</p>`);
    }
  }
  for (const figure of section.figures ?? []) {
    counters.figure += 1;
    parts.push(renderFigure(figure, counters.figure, usedIds));
  }
  for (const table of section.tables ?? []) {
    counters.table += 1;
    parts.push(renderTable(table, counters.table, `sections[${index}] ("${section.heading}")`));
  }
  parts.push('</section>');
  return parts.join('\n');
}

function renderFigure(figure: ReportFigure, number: number, usedIds: Set<string>): string {
  if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(figure.name ?? '')) {
    throw new Error(`buildReport: figure name ${JSON.stringify(figure.name)} must start with a letter and hold only letters, digits, '-' and '_' (it becomes the figure's anchor)`);
  }
  if (usedIds.has(figure.name)) throw new Error(`buildReport: figure name "${figure.name}" is used twice; names are anchors and must be unique`);
  usedIds.add(figure.name);
  const source = figure.svgPath ?? figure.pngPath;
  if (!source) throw new Error(`buildReport: figure "${figure.name}" has neither svgPath nor pngPath; write it with writeFigure and pass its paths`);
  if (!existsSync(source)) throw new Error(`buildReport: figure "${figure.name}": ${source} does not exist; write the figure before building the report`);
  const mime = figure.svgPath ? 'image/svg+xml' : 'image/png';
  const data = readFileSync(source).toString('base64');
  const caption = escapeHtml(figure.caption ?? '');
  return [
    `<figure id="${figure.name}">`,
    `<img src="data:${mime};base64,${data}" alt="Figure ${number}: ${caption}">`,
    `<figcaption><span class="label">Figure ${number}.</span> ${caption}</figcaption>`,
    '</figure>',
  ].join('\n');
}

function renderTable(table: ReportTable, number: number, where: string): string {
  const columns = table.columns;
  if (!Array.isArray(columns) || columns.length === 0) throw new Error(`buildReport: ${where}: table ${number} needs at least one column name`);
  const numeric = columns.map((_, c) => table.rows.length > 0 && table.rows.every((row) => typeof row[c] === 'number'));
  const head = columns.map((name, c) => `<th${numeric[c] ? ' class="num"' : ''}>${escapeHtml(name)}</th>`).join('');
  const body = table.rows
    .map((row, r) => {
      if (row.length !== columns.length) {
        throw new Error(`buildReport: ${where}: table ${number} ("${table.caption}") row ${r} has ${row.length} cells but there are ${columns.length} columns`);
      }
      const cells = row.map((cell) =>
        typeof cell === 'number' ? `<td class="num">${formatNumber(cell)}</td>` : `<td>${escapeHtml(String(cell))}</td>`,
      );
      return `<tr>${cells.join('')}</tr>`;
    })
    .join('\n');
  return [
    '<table>',
    `<caption><span class="label">Table ${number}.</span> ${escapeHtml(table.caption ?? '')}</caption>`,
    `<thead><tr>${head}</tr></thead>`,
    `<tbody>${body}</tbody>`,
    '</table>',
  ].join('\n');
}

function renderFooter(provenance: ReportProvenance): string {
  const date = provenance.date ?? new Date();
  const command = provenance.command ?? defaultCommand();
  const lines = [
    `Generated ${escapeHtml(date.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC'))} by <code>${escapeHtml(command)}</code>`,
    `flowscan · Node ${escapeHtml(process.version)} · ${escapeHtml(process.platform)}-${escapeHtml(process.arch)}`,
    ...(provenance.notes ?? []).map(escapeHtml),
  ];
  return `<footer>${lines.map((line) => `<p>${line}</p>`).join('')}</footer>`;
}

function defaultCommand(): string {
  const [, script, ...args] = process.argv;
  const quote = (arg: string) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`);
  return [script ? basename(script) : 'node', ...args].map(quote).join(' ');
}

const STYLE = `
:root { color-scheme: light; --ink: #1d1d1f; --muted: #5f6368; --rule: #d9d9de; --accent: #0b5cad; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 64rem; padding: 2rem 1.5rem 3rem; color: var(--ink); background: #fff;
  font: 16px/1.55 "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; }
header { border-bottom: 2px solid var(--ink); margin-bottom: 1.5rem; }
h1 { font-size: 1.8rem; margin: 0 0 0.25rem; font-weight: 600; }
.subtitle { margin: 0 0 0.75rem; color: var(--muted); }
h2 { font-size: 1.3rem; margin: 2.2rem 0 0.6rem; padding-bottom: 0.2rem; border-bottom: 1px solid var(--rule); font-weight: 600; }
nav ol { margin: 0 0 1rem; padding-left: 1.4rem; columns: 2; color: var(--muted); }
nav a { color: var(--accent); text-decoration: none; }
nav a:hover { text-decoration: underline; }
figure { margin: 1.5rem 0; text-align: center; page-break-inside: avoid; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--rule); }
figcaption { margin: 0.5rem auto 0; max-width: 48rem; text-align: left; font-size: 0.92rem; color: var(--muted); }
.label { font-weight: 600; color: var(--ink); }
table { border-collapse: collapse; margin: 1.5rem auto; font-size: 0.92rem; font-variant-numeric: tabular-nums; }
caption { caption-side: top; text-align: left; padding-bottom: 0.4rem; color: var(--muted); }
th, td { padding: 0.3rem 0.8rem; text-align: left; }
thead th { border-top: 2px solid var(--ink); border-bottom: 1px solid var(--ink); font-weight: 600; }
tbody tr:last-child td { border-bottom: 2px solid var(--ink); }
tbody tr:nth-child(even) { background: #f6f7f9; }
.num { text-align: right; }
code { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 0.88em; background: #f1f3f4; padding: 0.05rem 0.3rem; border-radius: 3px; }
footer { margin-top: 3rem; padding-top: 0.8rem; border-top: 1px solid var(--rule); font-size: 0.82rem; color: var(--muted); }
footer p { margin: 0.15rem 0; }
@media print { body { max-width: none; padding: 0; } nav { display: none; } }
`;
