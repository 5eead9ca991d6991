// What every binary event reader provides: a table of rows read a block at a time (see events.ts).
import type { EventFormat } from './events.ts';

/** Where in a file the events are, for formats that can hold several tables or unnamed columns. */
export interface EventSourceOptions {
  /** The format, when the file's extension does not say it (default: chosen by extension). */
  format?: EventFormat;
  /**
   * Which table: a ROOT TTree name (several separated by commas are concatenated), an HDF5 dataset or group path
   * (a pandas DataFrame's key), a .npz array name. Default: the file's only table.
   */
  key?: string;
  /** Names for the columns of an unlabelled 2-D array (.npy, a .npz member, a plain HDF5 dataset), in order. */
  names?: string[];
}

/** One table of a binary event file, read a block of rows at a time. */
export interface EventTable {
  /** The table in messages: the file and, where the file holds several, the tree or dataset. */
  where: string;
  /** What the format calls a column ('column', 'branch', 'field'). */
  columnWord: string;
  rows: number;
  /** The numeric columns this reader can return. */
  columns: string[];
  /** Columns the table has but cannot return, with the reason (strings, jagged arrays): named in messages. */
  unreadable?: Record<string, string>;
  /** First rows of the blocks to read (a Parquet row group, a block of .npy rows), ascending from 0. */
  blockStarts: number[];
  /** Rows [from, to) of `columns`, one float64 array each. */
  read(columns: string[], from: number, to: number): Promise<Float64Array[]>;
}

/** Rows per block for formats that have no blocks of their own (.npy, HDF5, ROOT): a few MB per column. */
export const EVENT_BLOCK_ROWS = 1 << 18;

/** Block starts of `rows` rows in blocks of `blockRows`. */
export function evenBlocks(rows: number, blockRows = EVENT_BLOCK_ROWS): number[] {
  const starts: number[] = [];
  for (let from = 0; from < rows; from += blockRows) starts.push(from);
  return starts;
}

