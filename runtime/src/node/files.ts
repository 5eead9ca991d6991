// Node file helpers: event tables from and to CSV files, and atomic writes (results, models and event files are
// never left half-written: a crash or a full disk leaves the old file or none, not a truncated one).
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm, writeFile } from 'node:fs/promises';
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

/** Reads and parses an event CSV file (see parseEventsCsv for the format); messages name the file. */
export async function readEventsCsvFile(path: string, options: Omit<ParseEventsCsvOptions, 'source'>): Promise<ParsedEvents> {
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
  return parseEventsCsv(text, { ...options, source: path });
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
