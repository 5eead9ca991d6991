// Parquet files as event tables (hyparquet, pure JavaScript; hyparquet-compressors adds the codecs pyarrow and
// Spark write: snappy, gzip, brotli, zstd, lz4). Read a row group at a time through hyparquet's AsyncBuffer over
// the ByteSource, so only the requested columns' pages of one row group are in memory at once.
import { parquetMetadataAsync, parquetRead, parquetSchema, type AsyncBuffer, type DecodedArray } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import type { ByteSource } from './byte-source.ts';
import type { EventTable } from './event-table.ts';

/** Parquet physical types that hold one number per row. */
const NUMERIC_TYPES = new Set(['DOUBLE', 'FLOAT', 'INT32', 'INT64', 'BOOLEAN']);

function asyncBuffer(source: ByteSource): AsyncBuffer {
  return {
    byteLength: source.size,
    slice: async (start, end) => {
      const bytes = await source.read(start, (end ?? source.size) - start);
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    },
  };
}

/** Copies the part of a decoded chunk (rows [chunkStart, …)) inside rows [from, to) into `out` (row `from` at 0). */
function copyChunk(values: DecodedArray, chunkStart: number, from: number, to: number, out: Float64Array): void {
  const first = Math.max(from, chunkStart);
  const last = Math.min(to, chunkStart + values.length);
  for (let row = first; row < last; row++) {
    const value = values[row - chunkStart] as number | bigint | boolean | null | undefined;
    // A null (an optional column's missing value) becomes NaN, which the table reader refuses by row.
    out[row - from] = value === null || value === undefined ? NaN : Number(value);
  }
}

export async function parquetTable(source: ByteSource): Promise<EventTable> {
  const file = asyncBuffer(source);
  let metadata;
  try {
    metadata = await parquetMetadataAsync(file);
  } catch (error) {
    throw new Error(`${source.name} is not a readable Parquet file: ${(error as Error).message}`);
  }
  const columns: string[] = [];
  const unreadable: Record<string, string> = {};
  for (const child of parquetSchema(metadata).children) {
    const { name, type, repetition_type: repetition } = child.element;
    if (child.children.length > 0) unreadable[name] = 'a nested (struct or list) column; flatten it into numeric columns';
    else if (repetition === 'REPEATED') unreadable[name] = 'a repeated (list) column; events need one value per row';
    else if (type === undefined || !NUMERIC_TYPES.has(type)) unreadable[name] = `a ${type ?? 'non-numeric'} column; event values are numbers`;
    else columns.push(name);
  }
  const blockStarts: number[] = [];
  let rows = 0;
  for (const group of metadata.row_groups) {
    if (Number(group.num_rows) > 0) blockStarts.push(rows);
    rows += Number(group.num_rows);
  }
  return {
    where: source.name,
    columnWord: 'column',
    rows,
    columns,
    unreadable,
    blockStarts,
    read: async (wanted, from, to) => {
      const out = wanted.map(() => new Float64Array(to - from));
      await parquetRead({
        file,
        metadata,
        columns: wanted,
        rowStart: from,
        rowEnd: to,
        compressors,
        onChunk: ({ columnName, columnData, rowStart }) => copyChunk(columnData, rowStart, from, to, out[wanted.indexOf(columnName)]),
      });
      return out;
    },
  };
}
