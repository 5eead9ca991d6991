// Node access to event files: whole NumPy arrays and archives read from disk, with messages naming the file.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseNpy, parseNpz, type NpyArray } from '../data/npy.ts';

/** Reads a whole file, turning the common failures into messages that say what to check. */
async function readWholeFile(path: string, what: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`${what} ${path} does not exist (looked for ${resolve(path)}); check the path.`);
    if (code === 'EISDIR') throw new Error(`${what} ${path} is a folder; pass the path of a file inside it.`);
    throw new Error(`cannot read ${what} ${path}: ${(error as Error).message}`);
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
