// Model sources for the browser: exported model folders served over HTTP (fetch), or folders the user picks
// from disk (<input type="file" webkitdirectory>). Both feed FlowModel.load, which checks every file. The page
// finds the picked folders; the fit worker reads them (File objects cross postMessage, closures do not).
import type { ModelSource } from '../model/flow-model.ts';

/** A model folder below `baseUrl` (absolute, or relative to the page), read with fetch. */
export function urlSource(baseUrl: string): ModelSource {
  const folder = new URL(baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`, globalThis.location.href);
  const location = folder.href.replace(/\/$/, '');
  return {
    location,
    async readBytes(file: string) {
      const url = new URL(file, folder);
      let response: Response;
      try {
        // no-cache: revalidate, so a re-exported model is never mixed with a cached older file.
        response = await fetch(url, { cache: 'no-cache' });
      } catch (error) {
        throw new Error(`${url.href} cannot be fetched (${(error as Error).message}): is the flowscan server still running?`);
      }
      if (!response.ok) {
        throw new Error(`${url.href} cannot be fetched: HTTP ${response.status} ${response.statusText}. Is ${location} an exported model folder (manifest.json + .onnx files)?`);
      }
      return new Uint8Array(await response.arrayBuffer());
    },
  };
}

/** The folder part of a picked file's path ("models/toy-signal/manifest.json" → "models/toy-signal"). */
function folderOf(file: File): string {
  const path = file.webkitRelativePath || file.name;
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '' : path.slice(0, slash);
}

/** An exported model folder among picked files: its path and its files. */
export interface PickedFolder {
  location: string;
  files: File[];
}

/** A picked folder's files as a model source. */
export function filesSource(location: string, files: readonly File[]): ModelSource {
  const byName = new Map(files.map((file) => [file.name, file]));
  return {
    location,
    async readBytes(name: string) {
      const file = byName.get(name);
      if (!file) {
        throw new Error(`${location}/${name} is not among the picked files: pick the whole exported model folder (manifest.json and every .onnx file it names).`);
      }
      return new Uint8Array(await file.arrayBuffer());
    },
  };
}

/**
 * Every exported model folder among files picked with a folder input: each folder that holds a
 * manifest.json is one, so picking a parent folder (e.g. `models/`) offers all models inside.
 */
export function pickedModelFolders(files: ArrayLike<File>): PickedFolder[] {
  const folders = new Map<string, File[]>();
  for (const file of Array.from(files)) {
    const folder = folderOf(file);
    if (!folders.has(folder)) folders.set(folder, []);
    folders.get(folder)!.push(file);
  }
  const found = [...folders]
    .sort(([a], [b]) => a.localeCompare(b))
    .filter(([, inside]) => inside.some((file) => file.name === 'manifest.json'))
    .map(([folder, inside]) => ({ location: folder === '' ? '(picked files)' : folder, files: inside }));
  if (found.length === 0) {
    const picked = [...folders.keys()].map((f) => f || '(top level)').join(', ');
    throw new Error(
      `none of the picked folders (${picked}) holds a manifest.json: pick an exported model folder (made by \`flowscan export\`) or a folder that contains such folders.`,
    );
  }
  return found;
}
