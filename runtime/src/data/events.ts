// The event-source layer: named float64 columns from an event file in any format physicists keep events in —
// CSV, NumPy .npy/.npz, Parquet, HDF5 (plain datasets and pandas DataFrames) and ROOT TTrees. Browser-safe:
// files are ByteSources (runtime/src/data/byte-source.ts) read range by range; the binary formats are read in
// chunks of rows into arrays allocated once, so a 10^7-row file costs its columns, not a copy of the file.
// HDF5 and ROOT come from the caller (PlatformReaders): HDF5 needs the h5wasm build of the platform, and ROOT's
// jsroot (~0.7 MB minified) stays out of the page's bundle. Node: runtime/src/node/event-files.ts.
import type { File as H5File } from 'h5wasm';
import type { ByteSource } from './byte-source.ts';
import type { EventSourceOptions, EventTable } from './event-table.ts';
import { MAX_REPORTED_SKIPS, parseEventsCsv, type ParsedEvents, type SkippedRow } from './csv.ts';
import { hdf5Table } from './hdf5.ts';
import { npyTable, npzTable } from './npy-table.ts';
import { parquetTable } from './parquet.ts';

export { EVENT_BLOCK_ROWS, evenBlocks, type EventSourceOptions, type EventTable } from './event-table.ts';

export const EVENT_FORMATS = ['csv', 'npy', 'npz', 'parquet', 'hdf5', 'root'] as const;
export type EventFormat = (typeof EVENT_FORMATS)[number];

/** File extensions and the format each one means (checked case-insensitively). */
export const EVENT_FILE_EXTENSIONS: Readonly<Record<string, EventFormat>> = {
  '.csv': 'csv',
  '.npy': 'npy',
  '.npz': 'npz',
  '.parquet': 'parquet',
  '.pq': 'parquet',
  '.h5': 'hdf5',
  '.hdf5': 'hdf5',
  '.hdf': 'hdf5',
  '.root': 'root',
};

export interface ReadEventsOptions extends EventSourceOptions {
  /** Columns (ROOT: branches) to read, in any order. */
  columns: string[];
  /** Skip rows with a non-finite value (and, in CSV, unreadable rows), reporting them, instead of failing. */
  skipBadRows?: boolean;
}

/** The format of `name`: the explicit one when given (checked), else by extension. */
export function eventFormatOf(name: string, format?: string): EventFormat {
  if (format !== undefined) {
    if (!(EVENT_FORMATS as readonly string[]).includes(format)) {
      throw new Error(`event file format "${format}" is not known; expected one of ${EVENT_FORMATS.join(', ')}.`);
    }
    return format as EventFormat;
  }
  const dot = name.lastIndexOf('.');
  const extension = dot >= 0 ? name.slice(dot).toLowerCase() : '';
  const known = EVENT_FILE_EXTENSIONS[extension];
  if (known === undefined) {
    throw new Error(
      `${name}: cannot tell the event file's format from its extension "${extension}"; expected one of ` +
        `${Object.keys(EVENT_FILE_EXTENSIONS).join(', ')}, or name the format (${EVENT_FORMATS.join(', ')}).`,
    );
  }
  return known;
}

function plural(word: string): string {
  return word.endsWith('h') ? `${word}es` : `${word}s`;
}

function quoted(names: string[], most = 30): string {
  const shown = names.slice(0, most).map((n) => `"${n}"`).join(', ');
  return names.length > most ? `${shown} and ${names.length - most} more` : shown;
}

/** Refuses requested columns the table does not have, listing those it has. */
function checkColumns(table: EventTable, wanted: string[]): void {
  if (wanted.length === 0) throw new Error(`${table.where}: no columns were requested; name the ${plural(table.columnWord)} to read.`);
  if (new Set(wanted).size !== wanted.length) throw new Error(`${table.where}: the requested ${plural(table.columnWord)} ${quoted(wanted)} contain a duplicate.`);
  for (const name of wanted) {
    const why = table.unreadable?.[name];
    if (why !== undefined) throw new Error(`${table.where}: ${table.columnWord} "${name}" cannot be read as event values: ${why}.`);
  }
  const missing = wanted.filter((name) => !table.columns.includes(name));
  if (missing.length > 0) {
    // An unlabelled array's columns are "0", "1", …: the fix is to name them, not to ask for "0".
    const fix = table.columns.every((name) => /^\d+$/.test(name))
      ? `Its columns are unnamed (numbered by position): name them (names), in order.`
      : `Ask for ${plural(table.columnWord)} it has, or point at another ${table.columnWord === 'branch' ? 'tree' : 'table'}.`;
    throw new Error(`${table.where}: no ${missing.length > 1 ? plural(table.columnWord) : table.columnWord} ${quoted(missing)}; it has ${quoted(table.columns)}. ${fix}`);
  }
}

/**
 * Reads `columns` of a table block by block into arrays allocated once. A row with a non-finite value (NaN,
 * ±Infinity, a missing value) is refused naming the table, column and row, or with `skipBadRows` left out and
 * reported — as the CSV reader does with unreadable rows.
 */
export async function readEventTable(table: EventTable, columns: string[], skipBadRows = false): Promise<ParsedEvents> {
  checkColumns(table, columns);
  const out = columns.map(() => new Float64Array(table.rows));
  const skipped: SkippedRow[] = [];
  let skippedCount = 0;
  let kept = 0;
  const starts = [...table.blockStarts, table.rows];
  for (let b = 0; b + 1 < starts.length; b++) {
    const from = starts[b];
    const to = starts[b + 1];
    const block = await table.read(columns, from, to);
    for (let r = 0; r < to - from; r++) {
      const bad = block.findIndex((values) => !Number.isFinite(values[r]));
      if (bad >= 0) {
        const reason = `${table.columnWord} "${columns[bad]}" holds ${block[bad][r]}, not a finite number`;
        if (!skipBadRows) {
          throw new Error(`${table.where}, row ${from + r} (counting from 0): ${reason}. Fix the file, or skip bad rows explicitly (skipBadRows).`);
        }
        if (skipped.length < MAX_REPORTED_SKIPS) skipped.push({ line: from + r, reason });
        skippedCount++;
        continue;
      }
      for (let c = 0; c < columns.length; c++) out[c][kept] = block[c][r];
      kept++;
    }
  }
  if (kept === 0) {
    throw new Error(
      skippedCount > 0
        ? `${table.where}: none of the ${skippedCount} rows could be read; first problem at row ${skipped[0].line}: ${skipped[0].reason}.`
        : `${table.where}: the table has no rows; expected one row per event.`,
    );
  }
  const result: Record<string, Float64Array> = {};
  columns.forEach((name, c) => {
    result[name] = kept === table.rows ? out[c] : out[c].slice(0, kept);
  });
  return { columns: result, rows: kept, skipped, skippedCount };
}

/** Concatenates event tables read with the same columns (several trees, several files). */
export function concatenateEvents(parts: ParsedEvents[], columns: string[]): ParsedEvents {
  if (parts.length === 1) return parts[0];
  const rows = parts.reduce((n, p) => n + p.rows, 0);
  const merged: Record<string, Float64Array> = {};
  for (const name of columns) {
    merged[name] = new Float64Array(rows);
    let at = 0;
    for (const part of parts) {
      merged[name].set(part.columns[name], at);
      at += part.rows;
    }
  }
  return {
    columns: merged,
    rows,
    skipped: parts.flatMap((p) => p.skipped).slice(0, MAX_REPORTED_SKIPS),
    skippedCount: parts.reduce((n, p) => n + p.skippedCount, 0),
  };
}

/** How the caller opens HDF5 files with the h5wasm build of its platform. */
export type OpenHdf5 = (source: ByteSource) => Promise<H5File>;

/**
 * The readers that depend on the platform or on a large library, given by the caller; a format whose reader is
 * absent is refused by name, with `unsupported` as the reason when given (the page says what it reads).
 */
export interface PlatformReaders {
  /** Opens HDF5 files (Node: in place; browsers: h5wasm copies the file into its memory). */
  openHdf5?: OpenHdf5;
  /** The trees of a ROOT file: rootTables of runtime/src/data/root.ts (jsroot). */
  rootTables?: (source: ByteSource, key?: string) => Promise<EventTable[]>;
  /** Why a format without a reader cannot be read here, and what to do instead. */
  unsupported?: string;
}

function missingReader(source: ByteSource, format: EventFormat, readers: PlatformReaders): Error {
  const why = readers.unsupported ?? 'read it with readEventFile of @flowscan/runtime/node (flowscan train, scan, toys, validate)';
  return new Error(`${source.name}: ${format === 'hdf5' ? 'HDF5' : 'ROOT'} files cannot be read here; ${why}.`);
}

/**
 * Reads the named columns of an event file. The format is `options.format` or the file's extension; HDF5 and
 * ROOT files need the caller's readers (see PlatformReaders).
 */
export async function readEvents(source: ByteSource, options: ReadEventsOptions, readers: PlatformReaders = {}): Promise<ParsedEvents> {
  const format = eventFormatOf(source.name, options.format);
  const skipBadRows = options.skipBadRows ?? false;
  if (format === 'csv') {
    if (options.key !== undefined || options.names !== undefined) {
      throw new Error(`${source.name}: a CSV file has one table with named columns; drop the key and names options.`);
    }
    const text = new TextDecoder().decode(await source.read(0, source.size));
    return parseEventsCsv(text, { source: source.name, columns: options.columns, skipBadRows });
  }
  if (options.names !== undefined && format !== 'npy' && format !== 'npz' && format !== 'hdf5') {
    throw new Error(`${source.name}: column names (names) are for unlabelled 2-D arrays (.npy, .npz, HDF5); ${format} columns have their own names.`);
  }
  if (options.key !== undefined && (format === 'npy' || format === 'parquet')) {
    throw new Error(`${source.name}: a ${format} file holds one table; drop the key option ("${options.key}").`);
  }
  let tables: EventTable[];
  if (format === 'npy') tables = [await npyTable(source, options)];
  else if (format === 'npz') tables = [await npzTable(source, options)];
  else if (format === 'parquet') tables = [await parquetTable(source)];
  else if (format === 'root') {
    if (readers.rootTables === undefined) throw missingReader(source, format, readers);
    tables = await readers.rootTables(source, options.key);
  } else {
    if (readers.openHdf5 === undefined) throw missingReader(source, format, readers);
    const file = await readers.openHdf5(source);
    try {
      return await readEventTable(hdf5Table(file, source.name, options), options.columns, skipBadRows);
    } finally {
      file.close();
    }
  }
  const parts: ParsedEvents[] = [];
  for (const table of tables) parts.push(await readEventTable(table, options.columns, skipBadRows));
  return concatenateEvents(parts, options.columns);
}
