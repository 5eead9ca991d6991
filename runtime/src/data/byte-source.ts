// Random-access bytes of an event file: the readers ask for the ranges they need (a Parquet row group, a block
// of .npy rows, a ROOT basket), so large files are never copied whole into memory. Browser-safe: a File or any
// Blob, or bytes already in memory; the Node adapter (runtime/src/node/event-files.ts) reads a file handle.

export interface ByteSource {
  /** The file's name or path: messages name it, and its extension chooses the format. */
  readonly name: string;
  /** Total size in bytes. */
  readonly size: number;
  /** Bytes [offset, offset + length); refused when the range leaves the file. */
  read(offset: number, length: number): Promise<Uint8Array>;
}

function checkRange(name: string, size: number, offset: number, length: number): void {
  if (!(Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset >= 0 && length >= 0 && offset + length <= size)) {
    throw new Error(`${name}: the file is truncated or damaged (a read of bytes ${offset}…${offset + length} was asked of a ${size}-byte file).`);
  }
}

/** Bytes already in memory (a fetched or generated file). */
export function bytesSource(name: string, bytes: Uint8Array): ByteSource {
  return {
    name,
    size: bytes.length,
    read: async (offset, length) => {
      checkRange(name, bytes.length, offset, length);
      return bytes.subarray(offset, offset + length);
    },
  };
}

/** A browser File (from an <input type=file> or a drop) or any Blob, read slice by slice. */
export function blobSource(name: string, blob: Blob): ByteSource {
  return {
    name,
    size: blob.size,
    read: async (offset, length) => {
      checkRange(name, blob.size, offset, length);
      return new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
    },
  };
}

/** The bytes [offset, offset + length) of another source, as a source of their own (e.g. a stored .npz member). */
export function sliceSource(source: ByteSource, name: string, offset: number, length: number): ByteSource {
  checkRange(source.name, source.size, offset, length);
  return {
    name,
    size: length,
    read: async (at, count) => {
      checkRange(name, length, at, count);
      return source.read(offset + at, count);
    },
  };
}
