// Minimal reader for NumPy .npy files (format versions 1–3, NEP 1): little-endian float64 or float32 arrays in C
// order, which is what `np.save` writes for the event tables we read (e.g. the LHCO R&D signal-region files).
// Anything else is refused with a message saying how to convert it in NumPy, rather than misread.
import { readFile } from 'node:fs/promises';

export interface NpyArray {
  /** Array shape, e.g. [rows, columns]. */
  shape: number[];
  dtype: 'float64' | 'float32';
  /** The values in C (row-major) order. */
  data: Float64Array | Float32Array;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"

/** Parses the bytes of a .npy file; `source` names it in messages. */
export function parseNpy(bytes: Uint8Array, source: string): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new Error(`${source} is not a NumPy .npy file (it does not start with the \\x93NUMPY magic string); save arrays with np.save.`);
  }
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLength: number;
  let headerStart: number;
  if (major === 1) {
    headerLength = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new Error(`${source}: .npy header is truncated (file has ${bytes.length} bytes).`);
    headerLength = view.getUint32(8, true);
    headerStart = 12;
  } else {
    throw new Error(`${source}: .npy format version ${major}.${bytes[7]} is not supported (versions 1–3 are); re-save with a current NumPy.`);
  }
  const dataStart = headerStart + headerLength;
  if (dataStart > bytes.length) throw new Error(`${source}: .npy header claims ${headerLength} bytes but the file has only ${bytes.length}; the file is truncated.`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, dataStart));

  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new Error(`${source}: cannot read the .npy header ${JSON.stringify(header.trim())}; expected 'descr', 'fortran_order' and 'shape'.`);
  }
  let dtype: NpyArray['dtype'];
  if (descr === '<f8') dtype = 'float64';
  else if (descr === '<f4') dtype = 'float32';
  else {
    throw new Error(
      `${source}: array dtype '${descr}' is not supported; only little-endian float64 ('<f8') and float32 ('<f4') are. ` +
        `Convert with np.save(path, arr.astype('<f8')).`,
    );
  }
  if (fortran === 'True') {
    throw new Error(`${source}: array is stored in Fortran (column-major) order; re-save with np.save(path, np.ascontiguousarray(arr)).`);
  }
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => {
      const n = Number(s.replace(/L$/, ''));
      if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${source}: bad dimension '${s}' in .npy shape (${shapeText}).`);
      return n;
    });
  const count = shape.reduce((a, b) => a * b, 1);
  const itemSize = dtype === 'float64' ? 8 : 4;
  const available = bytes.length - dataStart;
  if (available < count * itemSize) {
    throw new Error(`${source}: shape (${shape.join(', ')}) needs ${count * itemSize} data bytes but the file holds ${available}; the file is truncated.`);
  }
  // DataView reads are explicit about endianness and need no alignment of the data offset.
  if (dtype === 'float64') {
    const data = new Float64Array(count);
    for (let i = 0; i < count; i++) data[i] = view.getFloat64(dataStart + 8 * i, true);
    return { shape, dtype, data };
  }
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = view.getFloat32(dataStart + 4 * i, true);
  return { shape, dtype, data };
}

/** Reads a .npy file from disk. */
export async function readNpyFile(path: string): Promise<NpyArray> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`NumPy file ${path} does not exist; check the path.`);
    throw new Error(`cannot read NumPy file ${path}: ${(error as Error).message}`);
  }
  return parseNpy(bytes, path);
}
