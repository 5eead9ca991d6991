// The parts of jsroot (https://root.cern/js, MIT) that the ROOT event reader uses; jsroot ships types for its
// main module only.
declare module 'jsroot/io' {
  export class FileProxy {
    openFile(): Promise<boolean>;
    getFileName(): string;
    getFileSize(): number;
    readBuffer(position: number, length: number): Promise<DataView>;
  }
  export interface RootKey {
    fName: string;
    fCycle: number;
    fClassName: string;
  }
  export interface RootFile {
    fKeys: RootKey[];
    readObject(name: string, cycle?: number): Promise<unknown>;
  }
  export function openFile(source: FileProxy | ArrayBuffer): Promise<RootFile>;
}

declare module 'jsroot/tree' {
  export class TSelector {
    tgtobj: Record<string, unknown>;
    addBranch(branch: string, name?: string): number;
    Process(entry: number): void;
    Abort(): void;
  }
  export function treeProcess(tree: unknown, selector: TSelector, args?: { firstentry?: number; numentries?: number }): Promise<unknown>;
}
