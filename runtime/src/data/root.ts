// ROOT TTrees as event tables, read with jsroot (ROOT's own JavaScript I/O, https://root.cern/js) through a
// FileProxy over the ByteSource: jsroot asks for the key list, the streamer infos and the baskets of the
// requested branches, never the whole file. Flat numeric branches only (one value per entry: Double_t, Float_t,
// integers, Bool_t); arrays, jagged branches and objects are named as unreadable. jsroot is an optional
// dependency, loaded on the first ROOT file.
import type { ByteSource } from './byte-source.ts';
import { EVENT_BLOCK_ROWS, evenBlocks, type EventTable } from './event-table.ts';

/** Leaf classes that hold one number per entry when fLen is 1 and there is no leaf count. */
const NUMERIC_LEAVES = new Set(['TLeafD', 'TLeafF', 'TLeafI', 'TLeafL', 'TLeafS', 'TLeafB', 'TLeafO', 'TLeafD32', 'TLeafF16', 'TLeafG']);

interface RootLeaf {
  _typename: string;
  fLen: number;
  fLeafCount: unknown;
}

interface RootBranch {
  fName: string;
  fLeaves: { arr: RootLeaf[] };
  fBranches: { arr: RootBranch[] };
}

interface RootTree {
  _typename: string;
  fEntries: number;
  fBranches: { arr: RootBranch[] };
}

async function loadJsroot(): Promise<[typeof import('jsroot/io'), typeof import('jsroot/tree')]> {
  try {
    return await Promise.all([import('jsroot/io'), import('jsroot/tree')]);
  } catch (error) {
    throw new Error(`reading ROOT files needs the optional package jsroot, which could not be loaded (${(error as Error).message}); run npm install jsroot.`);
  }
}

function whyUnreadable(branch: RootBranch): string | null {
  if (branch.fBranches.arr.length > 0) return 'a branch with sub-branches (an object); read its numeric leaves as branches of their own';
  const leaves = branch.fLeaves.arr;
  if (leaves.length !== 1) return `a branch with ${leaves.length} leaves (a leaf list); write one branch per variable`;
  const [leaf] = leaves;
  if (leaf.fLeafCount) return 'a variable-length (jagged) array; events need one value per entry';
  if (leaf.fLen !== 1) return `a fixed-size array of ${leaf.fLen} values; events need one value per entry`;
  if (!NUMERIC_LEAVES.has(leaf._typename)) return `a ${leaf._typename} leaf, not a number`;
  return null;
}

/**
 * The trees named by `key` (several separated by commas, read one after the other) or the file's only tree, as
 * event tables in that order.
 */
export async function rootTables(source: ByteSource, key?: string): Promise<EventTable[]> {
  const [io, tree] = await loadJsroot();
  class SourceProxy extends io.FileProxy {
    override async openFile(): Promise<boolean> {
      return true;
    }
    override getFileName(): string {
      return source.name;
    }
    override getFileSize(): number {
      return source.size;
    }
    override async readBuffer(position: number, length: number): Promise<DataView> {
      const bytes = await source.read(position, length);
      return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
  }
  let file;
  try {
    file = await io.openFile(new SourceProxy());
  } catch (error) {
    throw new Error(`${source.name} is not a readable ROOT file: ${(error as Error).message}`);
  }
  const treeNames = [...new Set(file.fKeys.filter((k) => k.fClassName === 'TTree').map((k) => k.fName))];
  const names = key === undefined ? treeNames : key.split(',').map((name) => name.trim());
  if (key === undefined && treeNames.length !== 1) {
    throw new Error(
      `${source.name}: the file holds ${treeNames.length === 0 ? 'no TTree' : `the trees ${treeNames.map((n) => `"${n}"`).join(', ')}`}` +
        `${treeNames.length === 0 ? '' : '; name the tree to read'}.`,
    );
  }
  const tables: EventTable[] = [];
  for (const name of names) {
    const where = `${source.name}, tree "${name}"`;
    let object: RootTree | null;
    try {
      object = (await file.readObject(name)) as RootTree | null;
    } catch {
      object = null;
    }
    if (object === null || object._typename !== 'TTree') {
      throw new Error(`${source.name}: no TTree "${name}"; the file holds ${treeNames.length === 0 ? 'no TTree' : `the trees ${treeNames.map((n) => `"${n}"`).join(', ')}`}.`);
    }
    const columns: string[] = [];
    const unreadable: Record<string, string> = {};
    for (const branch of object.fBranches.arr) {
      const why = whyUnreadable(branch);
      if (why === null) columns.push(branch.fName);
      else unreadable[branch.fName] = why;
    }
    const rows = Number(object.fEntries);
    const treeObject = object;
    tables.push({
      where,
      columnWord: 'branch',
      rows,
      columns,
      unreadable,
      blockStarts: evenBlocks(rows, EVENT_BLOCK_ROWS * 4),
      read: async (wanted, from, to) => {
        const out = wanted.map(() => new Float64Array(to - from));
        const selector = new tree.TSelector();
        for (const name of wanted) selector.addBranch(name);
        selector.Process = function (entry: number) {
          for (let c = 0; c < wanted.length; c++) out[c][entry - from] = Number(this.tgtobj[wanted[c]]);
        };
        await tree.treeProcess(treeObject, selector, { firstentry: from, numentries: to - from });
        return out;
      },
    });
  }
  return tables;
}
