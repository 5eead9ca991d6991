// .npy files and .npz members as event tables, read a block of rows at a time from their byte source.
import { sliceSource, bytesSource, type ByteSource } from './byte-source.ts';
import { evenBlocks, type EventSourceOptions, type EventTable } from './event-table.ts';
import { decodeNpyValues, npzArrayName, parseNpyHeader, readZipDirectory, readZipMember, zipMemberDataOffset, NPY_MAX_HEADER_BYTES } from './npy.ts';

/** Bytes read first: the magic, the header length and a typical header (NEP 1 pads headers to 64 bytes). */
const NPY_FIRST_READ = 4096;

/**
 * The columns of an array: a record array's fields; a 2-D array's columns, named by `names` or "0", "1", …;
 * a 1-D array is one column named `names[0]`, else `singleName`.
 */
export async function npyTable(source: ByteSource, options: EventSourceOptions, singleName = '0'): Promise<EventTable> {
  let head = await source.read(0, Math.min(source.size, NPY_FIRST_READ));
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  if (head.length >= 12 && head[6] >= 2) {
    const needed = 12 + view.getUint32(8, true);
    if (needed > head.length && needed <= Math.min(source.size, NPY_MAX_HEADER_BYTES)) head = await source.read(0, needed);
  }
  const header = parseNpyHeader(head, source.name, source.size);
  const { shape, scalar, fields, itemSize, dataOffset } = header;
  const table = (columns: string[], rowBytes: number, decode: (view: DataView, column: number, rows: number, out: Float64Array) => void): EventTable => ({
    where: source.name,
    columnWord: 'column',
    rows: shape[0],
    columns,
    blockStarts: evenBlocks(shape[0]),
    read: async (wanted, from, to) => {
      const bytes = await source.read(dataOffset + from * rowBytes, (to - from) * rowBytes);
      const block = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      return wanted.map((name) => {
        const out = new Float64Array(to - from);
        decode(block, columns.indexOf(name), to - from, out);
        return out;
      });
    },
  });
  if (scalar === null) {
    if (shape.length !== 1) throw new Error(`${source.name}: a record array of shape (${shape.join(', ')}); expected one record per event (1-D).`);
    if (options.names !== undefined) throw new Error(`${source.name}: a record array names its own columns (${fields.map((f) => f.name).join(', ')}); drop the names option.`);
    return table(fields.map((f) => f.name), itemSize, (block, c, rows, out) => decodeNpyValues(block, fields[c].offset, rows, itemSize, fields[c].type, out, 0));
  }
  if (shape.length === 1 || shape.length === 2) {
    const width = shape.length === 1 ? 1 : shape[1];
    const names = options.names ?? (shape.length === 1 ? [singleName] : Array.from({ length: width }, (_, c) => String(c)));
    if (names.length !== width) {
      throw new Error(`${source.name}: ${names.length} column names (${names.join(', ')}) for an array of ${width} column${width === 1 ? '' : 's'} (shape (${shape.join(', ')})); name each column once.`);
    }
    return table(names, width * itemSize, (block, c, rows, out) => decodeNpyValues(block, c * itemSize, rows, width * itemSize, scalar, out, 0));
  }
  throw new Error(`${source.name}: an array of shape (${shape.join(', ')}); expected events as rows: 1-D (one column) or 2-D (rows, columns).`);
}

/**
 * A .npz archive as one table: the array named by `key`, or, when every requested column is a 1-D array of the
 * archive (np.savez(path, x=…, y=…)), those arrays side by side, or the archive's only array. Stored members are
 * read in place; deflated ones (np.savez_compressed) are inflated whole first.
 */
export async function npzTable(source: ByteSource, options: EventSourceOptions & { columns: string[] }): Promise<EventTable> {
  const readAt = (offset: number, length: number): Promise<Uint8Array> => source.read(offset, length);
  const tailLength = Math.min(source.size, 1 << 16);
  const members = await readZipDirectory(await readAt(source.size - tailLength, tailLength), source.size - tailLength, readAt, source.name);
  const names = members.map((m) => npzArrayName(m.name));
  const open = async (index: number): Promise<EventTable> => {
    const member = members[index];
    const where = `${source.name}, array '${names[index]}'`;
    let memberSource: ByteSource;
    if (member.method === 0) {
      const dataOffset = zipMemberDataOffset(await readAt(member.localHeaderOffset, 30), member, source.name);
      memberSource = sliceSource(source, where, dataOffset, member.size);
    } else {
      memberSource = bytesSource(where, await readZipMember(member, readAt, source.name));
    }
    return npyTable(memberSource, options, names[index]);
  };
  if (options.key !== undefined) {
    const index = names.indexOf(options.key);
    if (index < 0) throw new Error(`${source.name}: no array '${options.key}'; the archive holds ${names.map((n) => `'${n}'`).join(', ')}.`);
    return open(index);
  }
  if (members.length === 1) return open(0);
  const indices = options.columns.map((name) => names.indexOf(name));
  if (indices.some((i) => i < 0)) {
    throw new Error(
      `${source.name}: the archive holds arrays ${names.map((n) => `'${n}'`).join(', ')}; ask for columns among them (one 1-D array each), ` +
        `or name the 2-D array to read (key) and its columns (names).`,
    );
  }
  const tables = await Promise.all(indices.map(open));
  for (const t of tables) {
    if (t.columns.length !== 1) throw new Error(`${t.where}: a ${t.columns.length}-column array; name it as the key to read its columns.`);
    if (t.rows !== tables[0].rows) throw new Error(`${t.where} has ${t.rows} rows but ${tables[0].where} has ${tables[0].rows}; columns must have one value per event.`);
  }
  const tableOf = (name: string): EventTable => tables[options.columns.indexOf(name)];
  return {
    where: source.name,
    columnWord: 'array',
    rows: tables[0].rows,
    columns: options.columns,
    blockStarts: tables[0].blockStarts,
    read: (wanted, from, to) => Promise.all(wanted.map(async (name) => (await tableOf(name).read(tableOf(name).columns, from, to))[0])),
  };
}
