// Event tables as CSV text: parse (browser-safe, no Node imports) and format.
//
// Accepted format (what `flowscan simulate` writes, and what a physicist exports from a notebook):
// - Optional comment lines starting with `#` BEFORE the header (provenance notes); none after it.
// - One header line of comma-separated column names (surrounding spaces ignored); names must be unique and
//   non-empty. Columns not asked for are ignored, so extra bookkeeping columns are fine.
// - One line per event: plain decimal numbers (`12`, `-0.5`, `1.25e3`, spaces around them allowed). Empty
//   fields, NaN, ±Infinity, hex/binary/octal literals and quoted fields are errors, never guessed at.
// - Line ends `\n` or `\r\n`; blank lines are ignored; a UTF-8 byte-order mark is ignored.
// Speed: one pass with indexOf over lines and fields and Number() per requested field (no regex per row).

export interface ParseEventsCsvOptions {
  /** Where the text came from (file name), used in every message. */
  source: string;
  /** Columns to extract, in any order; each must be in the header. */
  columns: string[];
  /** Skip rows with a bad value or the wrong number of fields, reporting them in `skipped`, instead of failing. */
  skipBadRows?: boolean;
}

export interface SkippedRow {
  /** 1-based line number in the file, counting comment and header lines. */
  line: number;
  reason: string;
}

export interface ParsedEvents {
  /** One float64 array per requested column, all of length `rows`. */
  columns: Record<string, Float64Array>;
  rows: number;
  /** The first MAX_REPORTED_SKIPS skipped rows (only with skipBadRows). */
  skipped: SkippedRow[];
  /** How many rows were skipped in total (only with skipBadRows). */
  skippedCount: number;
}

/** How many skipped rows are reported individually; the rest are only counted. */
export const MAX_REPORTED_SKIPS = 10;

const SPACE = 32;
const TAB = 9;
const QUOTE = 34;
const CR = 13;
const HASH = 35;

function isBlank(line: string): boolean {
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c !== SPACE && c !== TAB && c !== CR) return false;
  }
  return true;
}

/** Number() also accepts '0x1F', '0b11', '0o17' and turns blank text into 0; event values must be decimal. */
function isDecimalLiteral(text: string, value: number): boolean {
  let i = 0;
  while (i < text.length && (text.charCodeAt(i) === SPACE || text.charCodeAt(i) === TAB)) i++;
  if (i === text.length) return false;
  if (text.charCodeAt(i) === 48 && i + 1 < text.length) {
    const next = text.charCodeAt(i + 1) | 0x20;
    if (next === 0x78 || next === 0x62 || next === 0x6f) return false;
  }
  return Number.isFinite(value);
}

function describeBadValue(text: string): string {
  if (text.trim() === '') return 'the value is empty';
  if (text.includes('"') || text.includes("'")) return `value '${text}' contains a quote character; quoted fields are not supported, write plain numbers`;
  return `"${text}" is not a finite decimal number`;
}

function listNames(names: string[]): string {
  return names.map((n) => `"${n}"`).join(', ');
}

/**
 * Parses an event table. Throws an Error naming the source, line and column for anything it cannot read
 * (or, with `skipBadRows`, skips and reports bad data rows; a file with no usable row is still an error).
 */
export function parseEventsCsv(text: string, options: ParseEventsCsvOptions): ParsedEvents {
  const { source, columns: wanted } = options;
  const skipBadRows = options.skipBadRows ?? false;
  if (wanted.length === 0) throw new Error(`${source}: no columns were requested; name the columns to read.`);
  if (new Set(wanted).size !== wanted.length) {
    throw new Error(`${source}: the requested columns ${listNames(wanted)} contain a duplicate; name each column once.`);
  }
  const start = text.charCodeAt(0) === 0xfeff ? 1 : 0;

  // Upper bound on the number of rows, to allocate once.
  let lineCount = 1;
  for (let p = text.indexOf('\n', start); p !== -1; p = text.indexOf('\n', p + 1)) lineCount++;

  let pos = start;
  let lineNo = 0;
  const nextLine = (): string | null => {
    if (pos > text.length) return null;
    let end = text.indexOf('\n', pos);
    if (end === -1) end = text.length;
    let stop = end;
    if (stop > pos && text.charCodeAt(stop - 1) === CR) stop--;
    const line = text.slice(pos, stop);
    pos = end + 1;
    lineNo++;
    return line;
  };

  // Header: the first line that is neither blank nor a comment.
  let header: string | null = null;
  let headerLine = 0;
  for (let line = nextLine(); line !== null; line = nextLine()) {
    if (isBlank(line) || line.charCodeAt(0) === HASH) continue;
    header = line;
    headerLine = lineNo;
    break;
  }
  if (header === null) {
    throw new Error(
      `${source}: the file is empty (no header line). Expected a comma-separated header naming the columns ` +
        `(${listNames(wanted)} at least), then one line per event.`,
    );
  }
  if (header.includes('"')) {
    throw new Error(`${source}, line ${headerLine}: the header contains a quote character; quoted fields are not supported, write bare column names separated by commas.`);
  }
  const names = header.split(',').map((name) => name.trim());
  const seen = new Map<string, number>();
  names.forEach((name, index) => {
    if (name === '') {
      throw new Error(`${source}, line ${headerLine}: column ${index + 1} of the header has no name (header: "${header}"); every column needs a name.`);
    }
    const earlier = seen.get(name);
    if (earlier !== undefined) {
      throw new Error(`${source}, line ${headerLine}: column name "${name}" appears twice (columns ${earlier + 1} and ${index + 1}); column names must be unique.`);
    }
    seen.set(name, index);
  });
  const missing = wanted.filter((name) => !seen.has(name));
  if (missing.length > 0) {
    throw new Error(
      `${source}: missing column${missing.length > 1 ? 's' : ''} ${listNames(missing)}; the header (line ${headerLine}) has ` +
        `${listNames(names)}. Rename the column${missing.length > 1 ? 's' : ''} in the file or ask for the columns it has.`,
    );
  }

  const fieldCount = names.length;
  // For each field position: where its value goes (index into `targets`), or -1 if not requested.
  const targetOf = new Int32Array(fieldCount).fill(-1);
  const capacity = Math.max(0, lineCount - headerLine);
  const targets = wanted.map((name, k) => {
    targetOf[seen.get(name)!] = k;
    return new Float64Array(capacity);
  });

  let rows = 0;
  let skippedCount = 0;
  const skipped: SkippedRow[] = [];
  const reject = (reason: string): void => {
    if (!skipBadRows) {
      throw new Error(`${source}, line ${lineNo}: ${reason}. Fix the row, or skip bad rows explicitly (skipBadRows).`);
    }
    if (skipped.length < MAX_REPORTED_SKIPS) skipped.push({ line: lineNo, reason });
    skippedCount++;
  };

  rowLoop: for (let line = nextLine(); line !== null; line = nextLine()) {
    if (isBlank(line)) continue;
    if (line.charCodeAt(0) === HASH) {
      reject('a comment line after the header; comment lines (#) are only allowed above the header');
      continue;
    }
    let fieldStart = 0;
    for (let f = 0; f < fieldCount; f++) {
      let fieldEnd = line.indexOf(',', fieldStart);
      const last = f === fieldCount - 1;
      if (fieldEnd === -1) {
        if (!last) {
          reject(`${f + 1} field${f === 0 ? '' : 's'} but the header has ${fieldCount}${line.includes('"') ? ' (quoted fields are not supported)' : ''}`);
          continue rowLoop;
        }
        fieldEnd = line.length;
      } else if (last) {
        let count = fieldCount;
        for (let p = fieldEnd; p !== -1; p = line.indexOf(',', p + 1)) count++;
        reject(`${count} fields but the header has ${fieldCount}${line.includes('"') ? ' (quoted fields are not supported)' : ''}`);
        continue rowLoop;
      }
      const k = targetOf[f];
      if (k >= 0) {
        const field = line.slice(fieldStart, fieldEnd);
        const value = Number(field);
        if (!isDecimalLiteral(field, value)) {
          reject(`column "${names[f]}": ${describeBadValue(field)}`);
          continue rowLoop;
        }
        targets[k][rows] = value;
      } else if (line.charCodeAt(fieldStart) === QUOTE) {
        reject(`column "${names[f]}" is quoted; quoted fields are not supported, write plain numbers`);
        continue rowLoop;
      }
      fieldStart = fieldEnd + 1;
    }
    rows++;
  }

  if (rows === 0) {
    if (skippedCount > 0) {
      throw new Error(
        `${source}: none of the ${skippedCount} data rows could be read; first problem at line ${skipped[0].line}: ${skipped[0].reason}.`,
      );
    }
    throw new Error(`${source}: the header (line ${headerLine}) is followed by no data rows; expected one line per event.`);
  }
  const columns: Record<string, Float64Array> = {};
  wanted.forEach((name, k) => {
    columns[name] = rows === capacity ? targets[k] : targets[k].slice(0, rows);
  });
  return { columns, rows, skipped, skippedCount };
}

export interface FormatEventsCsvOptions {
  /** First event to write (default 0). */
  from?: number;
  /** One past the last event to write (default: all). */
  to?: number;
  /** Start with the header line (default true); false for the later chunks of a streamed file. */
  header?: boolean;
}

/**
 * Formats columns as CSV text: header `order.join(',')`, then one line per event with each value written in
 * the shortest form that parses back to the identical float64 (JavaScript's Number→string rule), `\n` line ends.
 * `options` selects a slice of events, so large tables can be written in chunks.
 */
export function formatEventsCsv(columns: Record<string, ArrayLike<number>>, order: string[], options: FormatEventsCsvOptions = {}): string {
  if (order.length === 0) throw new Error('formatEventsCsv: no columns to write; pass the column order.');
  const arrays = order.map((name) => {
    if (name === '' || /[,"\r\n]/.test(name) || name.trim() !== name) {
      throw new Error(`formatEventsCsv: column name "${name}" cannot be written to CSV; use a non-empty name without commas, quotes, line breaks or surrounding spaces.`);
    }
    const values = columns[name];
    if (values === undefined) {
      throw new Error(`formatEventsCsv: column "${name}" is not among the given columns ${listNames(Object.keys(columns))}.`);
    }
    return values;
  });
  if (new Set(order).size !== order.length) throw new Error(`formatEventsCsv: the column order ${listNames(order)} names a column twice.`);
  const rows = arrays[0].length;
  arrays.forEach((values, c) => {
    if (values.length !== rows) {
      throw new Error(`formatEventsCsv: column "${order[c]}" has ${values.length} values but "${order[0]}" has ${rows}; all columns must have one value per event.`);
    }
  });
  const from = options.from ?? 0;
  const to = options.to ?? rows;
  if (!(Number.isInteger(from) && Number.isInteger(to) && from >= 0 && from <= to && to <= rows)) {
    throw new Error(`formatEventsCsv: event range [${from}, ${to}) is not inside [0, ${rows}].`);
  }
  const lines: string[] = [];
  if (options.header ?? true) lines.push(order.join(','));
  const fields: string[] = new Array(order.length);
  for (let r = from; r < to; r++) {
    for (let c = 0; c < arrays.length; c++) {
      const v = arrays[c][r];
      if (!Number.isFinite(v)) {
        throw new Error(`formatEventsCsv: column "${order[c]}", event ${r}: value ${v} is not finite; CSV event tables hold finite numbers only.`);
      }
      fields[c] = String(v);
    }
    lines.push(fields.join(','));
  }
  return lines.length === 0 ? '' : lines.join('\n') + '\n';
}
