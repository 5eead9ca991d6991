// HDF5 files as event tables, through an h5wasm File opened by the caller (the Node build reads the file in
// place; the browser build needs the file in its in-memory file system). Recognised layouts:
// - pandas "fixed" DataFrames (DataFrame.to_hdf default; the LHC Olympics R&D files): a group with attribute
//   pandas_type = 'frame' holding blockK_items (column names) and blockK_values (rows × items);
// - pandas "table" DataFrames (format='table'): a group with pandas_type = 'frame_table' whose PyTables table
//   holds data columns as fields and the other columns packed in values_block_K fields, named by the
//   values_block_K_kind attribute (a protocol-0 pickle of the names);
// - a compound dataset (h5py record array): its fields; a 1-D dataset: one column; a 2-D dataset: its columns,
//   named by `names` or "0", "1", …; a group of equally long 1-D datasets: one column each.
// Plain and pandas-fixed datasets are read as typed hyperslabs a block of rows at a time; compound rows
// (pandas "table", record datasets) come from h5wasm as JavaScript arrays, a slower path.
import type { Dataset, Entity, File as H5File, Group, OutputData } from 'h5wasm';
import { evenBlocks, type EventSourceOptions, type EventTable } from './event-table.ts';

/** HDF5 datatype classes (H5Tpublic.h) that hold numbers: integer, float, enum (h5py's bool). */
const H5T_INTEGER = 0;
const H5T_FLOAT = 1;
const H5T_COMPOUND = 6;
const H5T_ENUM = 8;
const H5T_ARRAY = 10;

function isGroup(entity: Entity | null): entity is Group {
  return entity !== null && (entity as { type?: string }).type === 'Group';
}

function isDataset(entity: Entity | null): entity is Dataset {
  return entity !== null && (entity as { type?: string }).type === 'Dataset';
}

function isNumericType(type: number): boolean {
  return type === H5T_INTEGER || type === H5T_FLOAT || type === H5T_ENUM;
}

function attribute(entity: Group | Dataset, name: string): OutputData | null {
  return entity.attrs[name]?.value ?? null;
}

function text(value: OutputData | null): string {
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return new TextDecoder().decode(value);
  return String(value);
}

/** The column names pandas pickles (protocol 0) into values_block_K_kind: a list of `V<name>\n` unicode items. */
function pickledNames(pickle: string): string[] {
  return [...pickle.matchAll(/V([^\n]*)\n/g)].map((m) => m[1].replace(/\\u([0-9a-fA-F]{4})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))));
}

/** Row-major values of rows [from, to) of a numeric dataset, as float64. */
function sliceNumbers(dataset: Dataset, from: number, to: number): Float64Array {
  const values = dataset.slice([[from, to]]);
  if (values === null || typeof values !== 'object' || !('length' in values)) throw new Error(`dataset ${dataset.path}: h5wasm returned no values for rows ${from}…${to}.`);
  return Float64Array.from(values as ArrayLike<number | bigint>, Number);
}

function datasetShape(dataset: Dataset, where: string): number[] {
  const shape = dataset.shape;
  if (shape === null) throw new Error(`${where}: the dataset has no shape (a scalar or empty dataset); expected one row per event.`);
  return shape;
}

/** pandas "fixed": columns spread over blocks of one dtype each, every block a (rows × items) dataset. */
function pandasFixedTable(group: Group, where: string): EventTable {
  const blocks = Number(attribute(group, 'nblocks') ?? 0);
  const location = new Map<string, { values: Dataset; column: number; width: number }>();
  const unreadable: Record<string, string> = {};
  let rows = -1;
  for (let k = 0; k < blocks; k++) {
    const items = group.get(`block${k}_items`);
    const values = group.get(`block${k}_values`);
    if (!isDataset(items) || !isDataset(values)) throw new Error(`${where}: pandas block ${k} is incomplete (block${k}_items or block${k}_values missing); is the file complete?`);
    const names = (items.value as OutputData[]).map((name) => text(name));
    const shape = datasetShape(values, where);
    if (!isNumericType(values.metadata.type) || shape.length !== 2) {
      for (const name of names) unreadable[name] = `a non-numeric pandas column (HDF5 type class ${values.metadata.type}; strings and objects are stored pickled)`;
      continue;
    }
    rows = shape[0];
    names.forEach((name, column) => location.set(name, { values, column, width: shape[1] }));
  }
  if (rows < 0) throw new Error(`${where}: the pandas DataFrame has no numeric columns.`);
  return {
    where,
    columnWord: 'column',
    rows,
    columns: [...location.keys()],
    unreadable,
    blockStarts: evenBlocks(rows),
    read: async (wanted, from, to) => {
      const blockValues = new Map<Dataset, Float64Array>();
      return wanted.map((name) => {
        const { values, column, width } = location.get(name)!;
        let block = blockValues.get(values);
        if (block === undefined) {
          block = sliceNumbers(values, from, to);
          blockValues.set(values, block);
        }
        return Float64Array.from({ length: to - from }, (_, r) => block[r * width + column]);
      });
    },
  };
}

/**
 * Compound rows (record datasets, pandas "table"): each column is a field, or element `index` of an array field.
 * `location` maps column names to [field position, element index or -1].
 */
function compoundTable(dataset: Dataset, where: string, location: Map<string, [number, number]>, unreadable: Record<string, string>): EventTable {
  const rows = datasetShape(dataset, where)[0];
  return {
    where,
    columnWord: 'column',
    rows,
    columns: [...location.keys()],
    unreadable,
    blockStarts: evenBlocks(rows, 1 << 16),
    read: async (wanted, from, to) => {
      const records = dataset.slice([[from, to]]) as OutputData[][];
      return wanted.map((name) => {
        const [field, element] = location.get(name)!;
        return Float64Array.from(records, (record) => Number(element < 0 ? record[field] : (record[field] as OutputData[])[element]));
      });
    },
  };
}

function compoundFields(dataset: Dataset, where: string, names?: Map<string, string[]>): EventTable {
  const members = dataset.metadata.compound_type?.members ?? [];
  const location = new Map<string, [number, number]>();
  const unreadable: Record<string, string> = {};
  members.forEach((member, field) => {
    if (isNumericType(member.type)) location.set(member.name, [field, -1]);
    else if (member.type === H5T_ARRAY && member.array_type !== undefined && isNumericType(member.array_type.type) && names?.has(member.name)) {
      names.get(member.name)!.forEach((column, element) => location.set(column, [field, element]));
    } else unreadable[member.name] = `a field of HDF5 type class ${member.type}, not a number`;
  });
  return compoundTable(dataset, where, location, unreadable);
}

function pandasTableTable(group: Group, where: string): EventTable {
  const table = group.get('table');
  if (!isDataset(table) || table.metadata.type !== H5T_COMPOUND) throw new Error(`${where}: a pandas "table" DataFrame without its table dataset; is the file complete?`);
  const blockNames = new Map<string, string[]>();
  for (const member of table.metadata.compound_type?.members ?? []) {
    const kind = attribute(table, `${member.name}_kind`);
    if (kind !== null) blockNames.set(member.name, pickledNames(text(kind)));
  }
  const result = compoundFields(table, where, blockNames);
  // The index is pandas' row label, not an event column.
  return { ...result, columns: result.columns.filter((name) => name !== 'index') };
}

/** A plain numeric dataset: 1-D is one column named `name`, 2-D has one column per entry of its second axis. */
function plainTable(dataset: Dataset, where: string, name: string, names?: string[]): EventTable {
  const shape = datasetShape(dataset, where);
  if (shape.length > 2 || shape.length === 0) throw new Error(`${where}: a dataset of shape (${shape.join(', ')}); expected events as rows, 1-D or 2-D.`);
  const width = shape.length === 1 ? 1 : shape[1];
  const columns = names ?? (shape.length === 1 ? [name] : Array.from({ length: width }, (_, c) => String(c)));
  if (columns.length !== width) throw new Error(`${where}: ${columns.length} column names (${columns.join(', ')}) for a dataset of ${width} columns (shape (${shape.join(', ')})); name each column once.`);
  return {
    where,
    columnWord: 'column',
    rows: shape[0],
    columns,
    blockStarts: evenBlocks(shape[0]),
    read: async (wanted, from, to) => {
      const block = sliceNumbers(dataset, from, to);
      return wanted.map((column) => {
        const c = columns.indexOf(column);
        return width === 1 ? block : Float64Array.from({ length: to - from }, (_, r) => block[r * width + c]);
      });
    },
  };
}

/** A group of 1-D numeric datasets (h5py's usual layout: one dataset per column). */
function groupOfColumns(group: Group, where: string): EventTable {
  const datasets = new Map<string, Dataset>();
  const unreadable: Record<string, string> = {};
  for (const name of group.keys()) {
    const entity = group.get(name);
    if (!isDataset(entity)) continue;
    const shape = entity.shape;
    if (isNumericType(entity.metadata.type) && shape !== null && shape.length === 1) datasets.set(name, entity);
    else unreadable[name] = `dataset of shape (${shape?.join(', ') ?? 'scalar'}) and type class ${entity.metadata.type}; a column is a 1-D numeric dataset`;
  }
  if (datasets.size === 0) throw new Error(`${where}: the group holds no 1-D numeric datasets (it has ${group.keys().join(', ') || 'nothing'}); name a dataset inside it.`);
  const lengths = [...datasets].map(([name, d]) => [name, d.shape![0]] as const);
  const rows = lengths[0][1];
  const uneven = lengths.find(([, n]) => n !== rows);
  if (uneven !== undefined) throw new Error(`${where}: dataset "${uneven[0]}" has ${uneven[1]} rows but "${lengths[0][0]}" has ${rows}; columns must have one value per event.`);
  return {
    where,
    columnWord: 'dataset',
    rows,
    columns: [...datasets.keys()],
    unreadable,
    blockStarts: evenBlocks(rows),
    read: async (wanted, from, to) => wanted.map((name) => sliceNumbers(datasets.get(name)!, from, to)),
  };
}

/** The event table at `options.key` of an open HDF5 file (default: the file's only top-level object). */
export function hdf5Table(file: H5File, fileName: string, options: EventSourceOptions): EventTable {
  const topLevel = file.keys();
  let key = options.key;
  if (key === undefined) {
    if (topLevel.length !== 1) {
      throw new Error(`${fileName}: the file holds ${topLevel.length === 0 ? 'nothing' : topLevel.map((k) => `"${k}"`).join(', ')}; name the dataset or group (pandas key) to read.`);
    }
    key = topLevel[0];
  }
  const entity = file.get(key);
  const where = `${fileName}, ${isGroup(entity) ? 'group' : 'dataset'} /${key.replace(/^\//, '')}`;
  if (entity === null) {
    throw new Error(`${fileName}: no dataset or group "${key}"; the file's top level holds ${topLevel.map((k) => `"${k}"`).join(', ') || 'nothing'}.`);
  }
  if (isGroup(entity)) {
    if (options.names !== undefined) throw new Error(`${where}: a group's columns are named by its datasets; drop the names option.`);
    const pandasType = attribute(entity, 'pandas_type');
    if (pandasType !== null && text(pandasType) === 'frame') return pandasFixedTable(entity, where);
    if (pandasType !== null && text(pandasType) === 'frame_table') return pandasTableTable(entity, where);
    if (pandasType !== null) throw new Error(`${where}: a pandas ${text(pandasType)} is not a DataFrame; save events with DataFrame.to_hdf.`);
    return groupOfColumns(entity, where);
  }
  if (!isDataset(entity)) throw new Error(`${where}: "${key}" is neither a dataset nor a group.`);
  if (entity.metadata.type === H5T_COMPOUND) {
    if (options.names !== undefined) throw new Error(`${where}: a compound dataset names its own fields; drop the names option.`);
    return compoundFields(entity, where);
  }
  if (!isNumericType(entity.metadata.type)) throw new Error(`${where}: the dataset holds HDF5 type class ${entity.metadata.type}, not numbers.`);
  return plainTable(entity, where, key.split('/').filter((s) => s !== '').pop() ?? key, options.names);
}
