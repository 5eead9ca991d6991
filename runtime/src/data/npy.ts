// NumPy .npy arrays (format versions 1–3, NEP 1 "A simple file format for NumPy arrays") and .npz archives
// (a ZIP of .npy members, as np.savez / np.savez_compressed write). Browser-safe: bytes in, arrays out.
//
// Accepted: C-order arrays of booleans, integers (1–8 bytes) and floats (2, 4, 8 bytes), either byte order,
// and structured arrays of such fields (np.save of a record array: each field is a named column). Values are
// returned as float64 (event tables are floats; 64-bit integers beyond 2^53 lose precision, as in NumPy's
// own astype(float)). Object arrays, strings, complex numbers and Fortran order are refused with the NumPy
// call that converts them.

/** One scalar type of a .npy array or of a field of a structured array. */
export interface NpyScalarType {
  /** The NumPy type string, e.g. '<f8', '>i4', '|b1'. */
  descr: string;
  /** Byte size of one value. */
  size: number;
  /** Reads the value at `offset` of `view` as a number. */
  read: (view: DataView, offset: number) => number;
}

/** A named field of a structured dtype, at a fixed byte offset inside each record. */
export interface NpyField {
  name: string;
  type: NpyScalarType;
  offset: number;
}

export interface NpyHeader {
  shape: number[];
  /** The plain scalar type, or null for a structured array (see `fields`). */
  scalar: NpyScalarType | null;
  /** The fields of a structured array (empty for a plain array). */
  fields: NpyField[];
  /** Bytes per element (a record for structured arrays). */
  itemSize: number;
  /** Byte offset of the first element in the file. */
  dataOffset: number;
}

export interface NpyArray {
  /** Array shape, e.g. [rows, columns]. */
  shape: number[];
  /** The NumPy type string of a plain array ('<f8', …), or the field list of a structured one. */
  dtype: string;
  /** A plain array's values in C (row-major) order, as float64. Empty for structured arrays (see `fields`). */
  data: Float64Array;
  /** A structured array's fields, each a float64 column of shape[0] values. */
  fields: Record<string, Float64Array>;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
/** Longest header we look for before giving up: NEP 1 headers are padded to 64 bytes, structured dtypes are longer. */
export const NPY_MAX_HEADER_BYTES = 1 << 20;

function scalarType(descr: string, source: string): NpyScalarType {
  const match = /^([<>|=])([biuf])(\d+)$/.exec(descr);
  const unsupported = (): Error =>
    new Error(
      `${source}: array dtype '${descr}' is not supported; numbers (bool, int, uint, float) are. ` +
        `Convert in NumPy with np.save(path, arr.astype('<f8')).`,
    );
  if (match === null) throw unsupported();
  const [, order, kind, sizeText] = match;
  const size = Number(sizeText);
  const little = order !== '>';
  const readers: Record<string, ((view: DataView, offset: number) => number) | undefined> = {
    b1: (view, offset) => view.getUint8(offset),
    i1: (view, offset) => view.getInt8(offset),
    u1: (view, offset) => view.getUint8(offset),
    i2: (view, offset) => view.getInt16(offset, little),
    u2: (view, offset) => view.getUint16(offset, little),
    i4: (view, offset) => view.getInt32(offset, little),
    u4: (view, offset) => view.getUint32(offset, little),
    i8: (view, offset) => Number(view.getBigInt64(offset, little)),
    u8: (view, offset) => Number(view.getBigUint64(offset, little)),
    f2: (view, offset) => float16(view.getUint16(offset, little)),
    f4: (view, offset) => view.getFloat32(offset, little),
    f8: (view, offset) => view.getFloat64(offset, little),
  };
  const read = readers[`${kind}${size}`];
  if (read === undefined) throw unsupported();
  return { descr, size, read };
}

/** IEEE 754 binary16 to a number (DataView has no getFloat16 in Node 20). */
function float16(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 31) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/**
 * Parses a structured dtype, the Python list of (name, type) tuples NumPy writes for record arrays, e.g.
 * `[('mjj', '<f8'), ('label', '<i8')]`. Sub-array fields (a third tuple element) and nested records are refused.
 */
function structuredFields(descr: string, source: string): NpyField[] {
  const fields: NpyField[] = [];
  let offset = 0;
  const tuple = /\(\s*'([^']*)'\s*,\s*'([^']*)'\s*(,[^)]*)?\)/g;
  const body = descr.trim().slice(1, -1);
  for (let match = tuple.exec(body); match !== null; match = tuple.exec(body)) {
    const [, name, type, subShape] = match;
    // Unnamed void bytes are padding NumPy inserts in aligned records (np.dtype(..., align=True)).
    const padding = /^\|V(\d+)$/.exec(type);
    if (name === '' && padding !== null && subShape === undefined) {
      offset += Number(padding[1]);
      continue;
    }
    if (subShape !== undefined) {
      throw new Error(`${source}: field '${name}' is a sub-array (${type}${subShape}); save each column as its own field or array.`);
    }
    const scalar = scalarType(type, `${source}, field '${name}'`);
    fields.push({ name, type: scalar, offset });
    offset += scalar.size;
  }
  // Anything but separators left between the tuples (a nested record, a titled field) is not understood.
  if (fields.length === 0 || !/^[\s,]*$/.test(body.replace(tuple, ''))) {
    throw new Error(`${source}: cannot read the structured dtype ${descr}; expected a list of ('name', 'type') pairs of numbers.`);
  }
  return fields;
}

/**
 * Reads the header of a .npy file from its first bytes (at least the whole header; NPY_MAX_HEADER_BYTES always
 * suffice). `fileSize`, when known, checks that the data the shape needs is there.
 */
export function parseNpyHeader(bytes: Uint8Array, source: string, fileSize?: number): NpyHeader {
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
  const dataOffset = headerStart + headerLength;
  if (dataOffset > bytes.length) {
    throw new Error(`${source}: .npy header claims ${headerLength} bytes but only ${bytes.length - headerStart} follow; the file is truncated.`);
  }
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, dataOffset));

  const plainDescr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const structuredDescr = /'descr'\s*:\s*(\[.*\])\s*,\s*'(?:fortran_order|shape)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if ((plainDescr === undefined && structuredDescr === undefined) || fortran === undefined || shapeText === undefined) {
    throw new Error(`${source}: cannot read the .npy header ${JSON.stringify(header.trim())}; expected 'descr', 'fortran_order' and 'shape'.`);
  }
  const scalar = plainDescr !== undefined ? scalarType(plainDescr, source) : null;
  const fields = structuredDescr !== undefined && plainDescr === undefined ? structuredFields(structuredDescr, source) : [];
  const itemSize = scalar !== null ? scalar.size : fields.reduce((end, f) => Math.max(end, f.offset + f.type.size), 0);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => {
      const n = Number(s.replace(/L$/, ''));
      if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${source}: bad dimension '${s}' in .npy shape (${shapeText}).`);
      return n;
    });
  if (fortran === 'True' && shape.filter((n) => n > 1).length > 1) {
    throw new Error(`${source}: array is stored in Fortran (column-major) order; re-save with np.save(path, np.ascontiguousarray(arr)).`);
  }
  if (fileSize !== undefined) {
    const needed = shape.reduce((a, b) => a * b, 1) * itemSize;
    if (fileSize - dataOffset < needed) {
      throw new Error(`${source}: shape (${shape.join(', ')}) needs ${needed} data bytes but the file holds ${fileSize - dataOffset}; the file is truncated.`);
    }
  }
  return { shape, scalar, fields, itemSize, dataOffset };
}

/** The header's dtype in words: '<f8', or the structured field list. */
export function describeNpyDtype(header: NpyHeader): string {
  if (header.scalar !== null) return header.scalar.descr;
  return `[${header.fields.map((f) => `('${f.name}', '${f.type.descr}')`).join(', ')}]`;
}

/**
 * Decodes `count` elements starting at byte `offset` of `view` (element i at offset + i·itemSize + fieldOffset)
 * into `out[outOffset…]` as float64. DataView reads are explicit about byte order and need no alignment.
 */
export function decodeNpyValues(
  view: DataView,
  offset: number,
  count: number,
  stride: number,
  type: NpyScalarType,
  out: Float64Array,
  outOffset: number,
): void {
  if (type.descr === '<f8') {
    for (let i = 0; i < count; i++) out[outOffset + i] = view.getFloat64(offset + i * stride, true);
    return;
  }
  for (let i = 0; i < count; i++) out[outOffset + i] = type.read(view, offset + i * stride);
}

/** Parses the bytes of a whole .npy file; `source` names it in messages. */
export function parseNpy(bytes: Uint8Array, source: string): NpyArray {
  const header = parseNpyHeader(bytes, source, bytes.length);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = header.shape.reduce((a, b) => a * b, 1);
  if (header.scalar !== null) {
    const data = new Float64Array(count);
    decodeNpyValues(view, header.dataOffset, count, header.itemSize, header.scalar, data, 0);
    return { shape: header.shape, dtype: header.scalar.descr, data, fields: {} };
  }
  const fields: Record<string, Float64Array> = {};
  for (const field of header.fields) {
    fields[field.name] = new Float64Array(count);
    decodeNpyValues(view, header.dataOffset + field.offset, count, header.itemSize, field.type, fields[field.name], 0);
  }
  return { shape: header.shape, dtype: describeNpyDtype(header), data: new Float64Array(0), fields };
}

/** One member of a ZIP archive, located by its central-directory entry. */
export interface ZipMember {
  name: string;
  /** 0 = stored, 8 = deflate. */
  method: number;
  compressedSize: number;
  size: number;
  /** Offset of the member's local file header. */
  localHeaderOffset: number;
}

const EOCD_SIGNATURE = 0x06054b50;
const ZIP64_EOCD_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const UINT32_MAX = 0xffffffff;

/**
 * Reads a ZIP archive's central directory (APPNOTE 6.3: end-of-central-directory record, ZIP64 records and
 * extra fields, which np.savez writes for large arrays). `tail` is the archive's last bytes (the end record
 * and, for small archives, the directory); `readAt(offset, length)` reads any other range.
 */
export async function readZipDirectory(
  tail: Uint8Array,
  tailOffset: number,
  readAt: (offset: number, length: number) => Promise<Uint8Array>,
  source: string,
): Promise<ZipMember[]> {
  const tailView = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  let eocd = -1;
  for (let p = tail.length - 22; p >= 0; p--) {
    if (tailView.getUint32(p, true) === EOCD_SIGNATURE) {
      eocd = p;
      break;
    }
  }
  if (eocd < 0) throw new Error(`${source} is not a .npz (ZIP) archive: no end-of-central-directory record; save arrays with np.savez.`);
  let entries = tailView.getUint16(eocd + 10, true);
  let directorySize = tailView.getUint32(eocd + 12, true);
  let directoryOffset = tailView.getUint32(eocd + 16, true);
  const locator = eocd - 20;
  if (locator >= 0 && tailView.getUint32(locator, true) === ZIP64_EOCD_LOCATOR_SIGNATURE) {
    const zip64Offset = Number(tailView.getBigUint64(locator + 8, true));
    const record = await readAt(zip64Offset, 56);
    const recordView = new DataView(record.buffer, record.byteOffset, record.byteLength);
    if (recordView.getUint32(0, true) !== ZIP64_EOCD_SIGNATURE) throw new Error(`${source}: damaged ZIP64 end-of-central-directory record.`);
    entries = Number(recordView.getBigUint64(32, true));
    directorySize = Number(recordView.getBigUint64(40, true));
    directoryOffset = Number(recordView.getBigUint64(48, true));
  }
  const directory =
    directoryOffset >= tailOffset && directoryOffset + directorySize <= tailOffset + tail.length
      ? tail.subarray(directoryOffset - tailOffset, directoryOffset - tailOffset + directorySize)
      : await readAt(directoryOffset, directorySize);
  const view = new DataView(directory.buffer, directory.byteOffset, directory.byteLength);
  const members: ZipMember[] = [];
  let p = 0;
  for (let e = 0; e < entries; e++) {
    if (p + 46 > directory.length || view.getUint32(p, true) !== CENTRAL_SIGNATURE) {
      throw new Error(`${source}: damaged ZIP central directory (entry ${e + 1} of ${entries}); is the .npz file complete?`);
    }
    const method = view.getUint16(p + 10, true);
    let compressedSize = view.getUint32(p + 20, true);
    let size = view.getUint32(p + 24, true);
    const nameLength = view.getUint16(p + 28, true);
    const extraLength = view.getUint16(p + 30, true);
    const commentLength = view.getUint16(p + 32, true);
    let localHeaderOffset = view.getUint32(p + 42, true);
    const name = new TextDecoder().decode(directory.subarray(p + 46, p + 46 + nameLength));
    // ZIP64 extended information (header 0x0001): the 64-bit values of the fields saturated at 0xFFFFFFFF, in order.
    for (let x = p + 46 + nameLength; x + 4 <= p + 46 + nameLength + extraLength; ) {
      const id = view.getUint16(x, true);
      const length = view.getUint16(x + 2, true);
      if (id === 0x0001) {
        let q = x + 4;
        const next = (): number => {
          const value = Number(view.getBigUint64(q, true));
          q += 8;
          return value;
        };
        if (size === UINT32_MAX) size = next();
        if (compressedSize === UINT32_MAX) compressedSize = next();
        if (localHeaderOffset === UINT32_MAX) localHeaderOffset = next();
      }
      x += 4 + length;
    }
    members.push({ name, method, compressedSize, size, localHeaderOffset });
    p += 46 + nameLength + extraLength + commentLength;
  }
  return members;
}

/** Offset of a member's data: after its local header, whose name and extra field may differ from the directory's. */
export function zipMemberDataOffset(localHeader: Uint8Array, member: ZipMember, source: string): number {
  const view = new DataView(localHeader.buffer, localHeader.byteOffset, localHeader.byteLength);
  if (localHeader.length < 30 || view.getUint32(0, true) !== LOCAL_SIGNATURE) {
    throw new Error(`${source}: damaged ZIP local header for member '${member.name}'.`);
  }
  return member.localHeaderOffset + 30 + view.getUint16(26, true) + view.getUint16(28, true);
}

/** Inflates raw DEFLATE data (RFC 1951) with the platform's DecompressionStream (Node ≥ 18, all current browsers). */
export async function inflateRaw(compressed: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([compressed as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('deflate-raw'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** The array name of a .npz member: np.savez stores array `x` as `x.npy`. */
export function npzArrayName(memberName: string): string {
  return memberName.endsWith('.npy') ? memberName.slice(0, -4) : memberName;
}

/** Bytes of one .npz member, inflated if np.savez_compressed wrote it. */
export async function readZipMember(
  member: ZipMember,
  readAt: (offset: number, length: number) => Promise<Uint8Array>,
  source: string,
): Promise<Uint8Array> {
  const local = await readAt(member.localHeaderOffset, 30);
  const dataOffset = zipMemberDataOffset(local, member, source);
  const raw = await readAt(dataOffset, member.compressedSize);
  if (member.method === 0) return raw;
  if (member.method === 8) return inflateRaw(raw);
  throw new Error(`${source}: member '${member.name}' uses ZIP compression method ${member.method}; only stored and deflate (np.savez, np.savez_compressed) are supported.`);
}

/** Parses the bytes of a whole .npz archive into its arrays, by name (np.savez(path, x=…) gives 'x'). */
export async function parseNpz(bytes: Uint8Array, source: string): Promise<Map<string, NpyArray>> {
  const readAt = async (offset: number, length: number): Promise<Uint8Array> => {
    if (offset + length > bytes.length) throw new Error(`${source}: the archive is truncated (needs bytes up to ${offset + length}, has ${bytes.length}).`);
    return bytes.subarray(offset, offset + length);
  };
  const members = await readZipDirectory(bytes, 0, readAt, source);
  const arrays = new Map<string, NpyArray>();
  for (const member of members) {
    const name = npzArrayName(member.name);
    arrays.set(name, parseNpy(await readZipMember(member, readAt, source), `${source}, array '${name}'`));
  }
  return arrays;
}
