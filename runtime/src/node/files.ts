// Node file helpers: event tables from and to CSV files, and atomic writes (results, models and event files are
// never left half-written: a crash or a full disk leaves the old file or none, not a truncated one).
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { formatEventsCsv, parseEventsCsv, type ParseEventsCsvOptions, type ParsedEvents } from '../data/csv.ts';

/** Why a write failed, in words a user can act on. */
function writeFailure(path: string, error: unknown): Error {
  const code = (error as NodeJS.ErrnoException).code;
  const hint =
    code === 'ENOENT' ? ` (folder ${resolve(dirname(path))} does not exist; create it first)` :
    code === 'EACCES' || code === 'EPERM' ? ' (no permission to write there; choose another folder)' :
    code === 'ENOSPC' ? ' (disk full; free space or write elsewhere)' :
    code === 'EISDIR' ? ' (a folder has that name; choose a file name)' : '';
  return new Error(`cannot write ${path}: ${(error as Error).message}${hint}`);
}

function temporaryPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

/**
 * Writes `data` to a temporary file in the same folder as `path` (so the rename stays on one file system), then
 * renames it over `path`; rename is atomic on POSIX and replaces the target on Windows. The temporary file is
 * removed if anything fails.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await writeChunksAtomic(path, [data]);
}

/** Like writeFileAtomic, for data produced piece by piece (large files never held whole in memory). */
export async function writeChunksAtomic(path: string, chunks: Iterable<string | Uint8Array>): Promise<void> {
  const temporary = temporaryPathFor(path);
  try {
    const handle = await open(temporary, 'w');
    try {
      for (const chunk of chunks) {
        if (typeof chunk === 'string') await handle.write(chunk);
        else await handle.write(chunk);
      }
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw writeFailure(path, error);
  }
}

export interface ReadEventsCsvFileOptions extends Omit<ParseEventsCsvOptions, 'source'> {
  /** A per-event weight column (one of `columns`): refused when a weight is negative or all are 0, naming the line. */
  weights?: string;
}

/**
 * The 1-based file line of data row `row` (0-based, counting the rows parsed), or null when rows skipped beyond the
 * reported ones make it unknown. Data rows are the non-blank lines after the header that were not skipped.
 */
function lineOfRow(text: string, row: number, parsed: ParsedEvents): number | null {
  if (parsed.skippedCount > parsed.skipped.length) return null;
  const skipped = new Set(parsed.skipped.map((s) => s.line));
  const lines = text.split('\n');
  let seenHeader = false;
  let rows = -1;
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n].replace(/^\uFEFF/, '');
    if (line.trim() === '') continue;
    if (!seenHeader) {
      seenHeader = !line.startsWith('#');
      continue;
    }
    if (!skipped.has(n + 1) && ++rows === row) return n + 1;
  }
  return null;
}

/** Negative or all-zero weights: a weighted NLL −Σ wᵢ log p(xᵢ|θ) then has no minimum (or is 0 everywhere). */
function checkWeightColumn(text: string, path: string, parsed: ParsedEvents, column: string): void {
  const weights = parsed.columns[column];
  const bad = weights.findIndex((w) => !(w >= 0));
  if (bad >= 0) {
    const line = lineOfRow(text, bad, parsed);
    throw new Error(
      `${path}${line === null ? '' : ` line ${line}`}: event ${bad + 1} has weight ${weights[bad]} in column "${column}": ` +
        'event weights must be ≥ 0 (negative weights are not supported; drop or merge those events)',
    );
  }
  if (weights.every((w) => w === 0)) {
    throw new Error(`${path}: every weight in column "${column}" is 0 (${weights.length} events): the likelihood would be flat, there is nothing to fit`);
  }
}

/** Reads and parses an event CSV file (see parseEventsCsv for the format); messages name the file. */
export async function readEventsCsvFile(path: string, options: ReadEventsCsvFileOptions): Promise<ParsedEvents> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new Error(`event file ${path} does not exist (looked for ${resolve(path)}); check the path, or create it with \`flowscan simulate\`.`);
    }
    if (code === 'EISDIR') throw new Error(`event file ${path} is a folder; pass the path of a .csv file inside it.`);
    throw new Error(`cannot read event file ${path}: ${(error as Error).message}`);
  }
  const { weights, ...parseOptions } = options;
  const parsed = parseEventsCsv(text, { ...parseOptions, source: path });
  if (weights !== undefined) checkWeightColumn(text, path, parsed, weights);
  return parsed;
}

/** Events per chunk when streaming a CSV file: a few MB of text at a time. */
const CSV_CHUNK_ROWS = 50_000;

/**
 * Formats `columns` in `order` as CSV (full float64 precision) and writes the file atomically, in chunks so that
 * tables of any size fit in memory. `onProgress(rowsWritten)` is called after each chunk.
 */
export async function writeEventsCsvFile(
  path: string,
  columns: Record<string, ArrayLike<number>>,
  order: string[],
  onProgress?: (rowsWritten: number) => void,
): Promise<void> {
  // Validates names and lengths before any file is created.
  formatEventsCsv(columns, order, { to: 0 });
  const rows = columns[order[0]].length;
  function* chunks(): Generator<string> {
    yield formatEventsCsv(columns, order, { to: 0 });
    for (let from = 0; from < rows; from += CSV_CHUNK_ROWS) {
      const to = Math.min(rows, from + CSV_CHUNK_ROWS);
      yield formatEventsCsv(columns, order, { from, to, header: false });
      onProgress?.(to);
    }
  }
  await writeChunksAtomic(path, chunks());
}
