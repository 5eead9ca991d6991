// Node access to event files: a file handle as the event-source layer's ByteSource (read range by range, never
// copied whole), HDF5 opened in place with h5wasm's Node build, and whole NumPy arrays and archives.
import { open, readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { ByteSource } from '../data/byte-source.ts';
import { readEvents, type OpenHdf5, type ReadEventsOptions } from '../data/events.ts';
import { rootTables } from '../data/root.ts';
import { parseNpy, parseNpz, type NpyArray } from '../data/npy.ts';
import type { ParsedEvents } from '../data/csv.ts';

/** Turns the common failures of opening a file into messages that say what to check. */
function openFailure(path: string, what: string, error: unknown): Error {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new Error(`${what} ${path} does not exist (looked for ${resolve(path)}); check the path.`);
  if (code === 'EISDIR') return new Error(`${what} ${path} is a folder; pass the path of a file inside it.`);
  return new Error(`cannot read ${what} ${path}: ${(error as Error).message}`);
}

/** Reads a whole file. */
async function readWholeFile(path: string, what: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (error) {
    throw openFailure(path, what, error);
  }
}

/** Reads a .npy file from disk (see parseNpy). */
export async function readNpyFile(path: string): Promise<NpyArray> {
  return parseNpy(await readWholeFile(path, 'NumPy file'), path);
}

/** Reads a .npz archive from disk into its arrays by name (see parseNpz). */
export async function readNpzFile(path: string): Promise<Map<string, NpyArray>> {
  return parseNpz(await readWholeFile(path, 'NumPy archive'), path);
}

/** Runs `use` with a ByteSource over the file at `path`, closing the file afterwards. */
export async function withFileSource<T>(path: string, use: (source: ByteSource) => Promise<T>): Promise<T> {
  let handle;
  let size: number;
  try {
    if ((await stat(path)).isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    handle = await open(path, 'r');
    size = (await handle.stat()).size;
  } catch (error) {
    await handle?.close();
    throw openFailure(path, 'event file', error);
  }
  const file = handle;
  const source: ByteSource = {
    name: path,
    size,
    read: async (offset, length) => {
      if (!(offset >= 0 && length >= 0 && offset + length <= size)) {
        throw new Error(`${path}: the file is truncated or damaged (a read of bytes ${offset}…${offset + length} was asked of a ${size}-byte file).`);
      }
      const bytes = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await file.read(bytes, done, length - done, offset + done);
        if (bytesRead === 0) throw new Error(`${path}: the file ended at byte ${offset + done} while ${size} were expected; was it changed while being read?`);
        done += bytesRead;
      }
      return bytes;
    },
  };
  try {
    return await use(source);
  } finally {
    await file.close();
  }
}

/** HDF5 through h5wasm's Node build, which reads the file in place (only the hyperslabs asked for). */
const openHdf5InPlace: OpenHdf5 = async (source) => {
  const { default: h5wasm } = await import('h5wasm/node');
  await h5wasm.ready;
  try {
    return new h5wasm.File(source.name, 'r');
  } catch (error) {
    throw new Error(`${source.name} is not a readable HDF5 file: ${(error as Error).message}`);
  }
};

/**
 * Reads named columns of an event file of any supported format (CSV, .npy, .npz, Parquet, HDF5, ROOT; chosen by
 * `options.format` or the extension); see readEvents.
 */
export async function readEventFile(path: string, options: ReadEventsOptions): Promise<ParsedEvents> {
  return withFileSource(path, (source) => readEvents(source, options, { openHdf5: openHdf5InPlace, rootTables }));
}
