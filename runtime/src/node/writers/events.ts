// Writers for generated event tables (Node only): CSV, NumPy .npy and Parquet, each fed chunk by chunk so that
// 10^8–10^9 events never sit in memory at once. Every writer takes float32 columns (the sampler graph's
// precision) in a fixed column order and writes to a temporary file renamed over the target at close, so a
// crash or a full disk leaves the old file or none, never a truncated one that looks complete.
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { ParquetWriter, fileWriter } from 'hyparquet-writer';
import { formatEventsCsv } from '../../data/csv.ts';

export type EventFileFormat = 'csv' | 'npy' | 'parquet';
export const EVENT_FILE_FORMATS: readonly EventFileFormat[] = ['csv', 'npy', 'parquet'];

export interface EventWriter {
  /** Appends `count` events; `columns` holds one array per column name, each with at least `count` values. */
  write(columns: Record<string, Float32Array>, count: number): void;
  /** Finishes the file (npy: the final row count into the header; Parquet: the footer) and moves it into place. */
  close(): void;
  /** Removes the unfinished file (after an error). */
  abort(): void;
  /** Events written so far. */
  readonly rows: number;
}

/** The format a file name asks for by its extension, or an error naming the extensions understood. */
export function eventFileFormat(path: string): EventFileFormat {
  const extension = extname(path).toLowerCase().slice(1);
  if ((EVENT_FILE_FORMATS as readonly string[]).includes(extension)) return extension as EventFileFormat;
  throw new Error(`cannot tell the format of ${path} from its extension "${extname(path)}": use .csv, .npy or .parquet`);
}

function checkColumnNames(columns: readonly string[], path: string): void {
  if (columns.length === 0) throw new Error(`${path}: an event file needs at least one column`);
  const duplicate = columns.find((name, i) => columns.indexOf(name) !== i);
  if (duplicate !== undefined) throw new Error(`${path}: column "${duplicate}" is named twice`);
  for (const name of columns) {
    if (name === '' || /[,"\r\n']/.test(name) || name.trim() !== name) {
      throw new Error(`${path}: column name "${name}" cannot be written; use a non-empty name without commas, quotes, line breaks or surrounding spaces`);
    }
  }
}

function checkChunk(columns: Record<string, Float32Array>, order: readonly string[], count: number, path: string): void {
  if (!(Number.isInteger(count) && count >= 0)) throw new Error(`${path}: the number of events to write must be a non-negative integer, got ${count}`);
  for (const name of order) {
    const values = columns[name];
    if (!(values instanceof Float32Array)) throw new Error(`${path}: column "${name}" is missing from the chunk (expected a Float32Array)`);
    if (values.length < count) throw new Error(`${path}: column "${name}" holds ${values.length} values, the chunk has ${count} events`);
  }
}

/** A file written under a temporary name beside its target, renamed over it when complete. */
class StagedFile {
  readonly temporary: string;
  fd: number;
  constructor(readonly path: string) {
    this.temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      this.fd = openSync(this.temporary, 'w');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const hint = code === 'ENOENT' ? ` (folder ${resolve(dirname(path))} does not exist; create it first)` : '';
      throw new Error(`cannot write ${path}: ${(error as Error).message}${hint}`);
    }
  }
  append(bytes: Uint8Array | string, position?: number): void {
    if (typeof bytes === 'string') writeSync(this.fd, bytes, position ?? null, 'utf8');
    else writeSync(this.fd, bytes, 0, bytes.byteLength, position ?? null);
  }
  commit(): void {
    closeSync(this.fd);
    renameSync(this.temporary, this.path);
  }
  abort(): void {
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
    rmSync(this.temporary, { force: true });
  }
}

/**
 * The shortest decimal that rounds to the same float32 (6 to 9 significant digits: 9 always suffice, IEEE 754
 * §5.12.2), as a float64, so CSV holds "91.2" rather than the float32's float64 expansion 91.19999694824219.
 */
export function shortestFloat32(value: number): number {
  const target = Math.fround(value);
  for (let digits = 6; digits < 9; digits++) {
    const candidate = Number(target.toPrecision(digits));
    if (Math.fround(candidate) === target) return candidate;
  }
  return Number(target.toPrecision(9));
}

function csvWriter(path: string, order: readonly string[]): EventWriter {
  const file = new StagedFile(path);
  let rows = 0;
  file.append(`${order.join(',')}\n`);
  return {
    write(columns, count) {
      checkChunk(columns, order, count, path);
      const short: Record<string, Float64Array> = {};
      for (const name of order) {
        const values = columns[name];
        const out = new Float64Array(count);
        for (let i = 0; i < count; i++) out[i] = shortestFloat32(values[i]);
        short[name] = out;
      }
      if (count > 0) file.append(formatEventsCsv(short, [...order], { header: false }));
      rows += count;
    },
    close: () => file.commit(),
    abort: () => file.abort(),
    get rows() {
      return rows;
    },
  };
}

/**
 * NumPy .npy, format 1.0 (NEP 1), as a structured array: one record of float32 fields per event, each field named
 * after its column (np.load gives a record array, `a['x']`; pandas.DataFrame(a) the table). The row count is known
 * only at the end, so the header is written first with room for a 16-digit count (padded with spaces to a
 * multiple of 64 bytes, as NumPy pads it) and rewritten in place at close.
 */
function npyHeader(order: readonly string[], rows: number): Uint8Array {
  const descr = `[${order.map((name) => `('${name}', '<f4')`).join(', ')}]`;
  const dict = (count: string): string => `{'descr': ${descr}, 'fortran_order': False, 'shape': (${count},), }`;
  // magic (6) + version (2) + header length (2) + dict + padding + '\n', a multiple of 64.
  const length = Math.ceil((10 + dict('9'.repeat(16)).length + 1) / 64) * 64;
  const text = dict(String(rows)).padEnd(length - 10 - 1, ' ') + '\n';
  const bytes = new Uint8Array(length);
  bytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(bytes.buffer).setUint16(8, length - 10, true);
  bytes.set(new TextEncoder().encode(text), 10);
  return bytes;
}

function npyWriter(path: string, order: readonly string[]): EventWriter {
  const file = new StagedFile(path);
  let rows = 0;
  file.append(npyHeader(order, 0));
  return {
    write(columns, count) {
      checkChunk(columns, order, count, path);
      const D = order.length;
      const block = new Float32Array(count * D);
      order.forEach((name, d) => {
        const values = columns[name];
        for (let i = 0; i < count; i++) block[i * D + d] = values[i];
      });
      // The fields are little-endian '<f4'; Float32Array bytes are in the platform's order, little-endian on every
      // platform Node supports (x86-64, arm64).
      file.append(new Uint8Array(block.buffer));
      rows += count;
    },
    close() {
      file.append(npyHeader(order, rows), 0);
      file.commit();
    },
    abort: () => file.abort(),
    get rows() {
      return rows;
    },
  };
}

/**
 * Parquet through hyparquet-writer's incremental ParquetWriter: each chunk becomes its own row group (FLOAT
 * columns, required, snappy-compressed), written to the file before the next chunk is generated. What stays in
 * memory until the footer is written is per row group and per page: the row-group metadata and the page index
 * entries (tens of bytes per column and page), about 1 MB per 10^7 events at the default chunk of 65 536 — so
 * memory grows slowly with the file, unlike CSV and .npy, which hold nothing.
 */
function parquetWriter(path: string, order: readonly string[]): EventWriter {
  const temporary = new StagedFile(path);
  // hyparquet-writer's file writer opens the file by name itself; hand it the temporary name.
  closeSync(temporary.fd);
  const writer = new ParquetWriter({
    writer: fileWriter(temporary.temporary),
    schema: [{ name: 'root', num_children: order.length }, ...order.map((name) => ({ name, type: 'FLOAT' as const, repetition_type: 'REQUIRED' as const }))],
    createdBy: 'flowscan generate',
  });
  let rows = 0;
  return {
    write(columns, count) {
      checkChunk(columns, order, count, path);
      if (count === 0) return;
      void writer.write({ columnData: order.map((name) => ({ name, data: columns[name].subarray(0, count), type: 'FLOAT' as const })), rowGroupSize: count });
      rows += count;
    },
    close() {
      void writer.finish();
      renameSync(temporary.temporary, path);
    },
    abort: () => rmSync(temporary.temporary, { force: true }),
    get rows() {
      return rows;
    },
  };
}

/** Opens a writer for `columns` (in this order) in the format `format` (default: from the file's extension). */
export function openEventWriter(path: string, columns: readonly string[], format: EventFileFormat = eventFileFormat(path)): EventWriter {
  checkColumnNames(columns, path);
  if (format === 'csv') return csvWriter(path, columns);
  if (format === 'npy') return npyWriter(path, columns);
  if (format === 'parquet') return parquetWriter(path, columns);
  throw new Error(`unknown event file format "${String(format)}": expected ${EVENT_FILE_FORMATS.join(', ')}`);
}
