// Node adapter: load exported models from a folder with onnxruntime-node, choosing the execution provider.
// onnxruntime does not fall back by itself when a provider cannot start (docs/onnx.md, Execution providers), so providers are
// tried in order here and the one that ran is reported.
import { type Stats, constants, existsSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { FlowModel, type ModelSource, type PrecisionChoice } from '../model/flow-model.ts';

export type ExecutionProviderChoice = 'auto' | 'cpu' | 'webgpu' | 'cuda';
export const EXECUTION_PROVIDERS: readonly ExecutionProviderChoice[] = ['auto', 'cpu', 'webgpu', 'cuda'];

const HINTS: Record<string, string> = {
  webgpu: 'WebGPU on Linux needs a GPU, its driver, and the Vulkan loader (Debian/Ubuntu package libvulkan1).',
  cuda: 'the CUDA provider is downloaded at install time: reinstall with `npm_config_onnxruntime_node_install=cuda12 npm ci` (needs internet, CUDA 12 and cuDNN 9).',
};

/** A file the manifest gives no size for (manifest.json itself) may have at most this many bytes. */
export const MAX_UNDECLARED_FILE_BYTES = 16 * 2 ** 20;

/** What a non-regular file is, for messages. */
function fileKind(info: Stats): string {
  if (info.isDirectory()) return 'a folder';
  if (info.isFIFO()) return 'a named pipe (FIFO)';
  if (info.isCharacterDevice()) return 'a character device';
  if (info.isBlockDevice()) return 'a block device';
  if (info.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Model files from a folder. Each is opened without blocking (a FIFO would wait for a writer) and checked to be a
 * regular file (symbolic links are followed, so one to /dev/zero is a character device) of the manifest's size, or
 * at most MAX_UNDECLARED_FILE_BYTES, before a byte is read: a bad folder cannot make the loader hang or allocate
 * without bound.
 */
export function folderSource(dir: string): ModelSource {
  const root = resolve(dir);
  return {
    location: root,
    async readBytes(file: string, expectedBytes?: number) {
      const path = join(root, file);
      let handle: FileHandle;
      try {
        handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
      } catch {
        throw new Error(`${path} cannot be read: is ${root} an exported model folder (manifest.json + .onnx files)?`);
      }
      try {
        const info = await handle.stat();
        if (!info.isFile()) throw new Error(`${path} is ${fileKind(info)}: a model folder holds regular files only`);
        if (expectedBytes !== undefined && info.size !== expectedBytes) {
          throw new Error(`${path} has ${info.size} bytes, the manifest says ${expectedBytes}: the file is truncated or was replaced`);
        }
        if (expectedBytes === undefined && info.size > MAX_UNDECLARED_FILE_BYTES) {
          throw new Error(`${path} has ${info.size} bytes, more than the ${MAX_UNDECLARED_FILE_BYTES} a model's ${file} may have`);
        }
        const bytes = new Uint8Array(info.size);
        let filled = 0;
        while (filled < info.size) {
          const { bytesRead } = await handle.read(bytes, filled, info.size - filled, filled);
          if (bytesRead === 0) throw new Error(`${path} changed while it was read (${filled} of ${info.size} bytes)`);
          filled += bytesRead;
        }
        return bytes;
      } finally {
        await handle.close();
      }
    },
  };
}

export interface NodeLoadOptions {
  ep?: ExecutionProviderChoice;
  threads?: number;
  /** Evaluation precision: 'auto' (float64 on CPU when the model has the graphs), 'float32' or 'float64'. */
  precision?: PrecisionChoice;
}

/**
 * Why a provider cannot start here, found without starting it (onnxruntime prints errors for providers
 * that fail to load): null when it may work. Used by 'auto' to skip what is certainly absent.
 */
function absentProvider(ep: string): string | null {
  if (ep === 'cuda') {
    const binding = createRequire(import.meta.url).resolve('onnxruntime-node');
    const bin = join(dirname(binding), '..', 'bin', 'napi-v6', process.platform, process.arch);
    return existsSync(join(bin, 'libonnxruntime_providers_cuda.so')) || process.platform === 'win32' ? null : 'the CUDA provider library is not installed';
  }
  if (ep === 'webgpu' && process.platform === 'linux') {
    const dirs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib/x86_64-linux-gnu'];
    return dirs.some((d) => existsSync(join(d, 'libvulkan.so.1'))) ? null : 'the Vulkan loader (libvulkan.so.1) is not installed';
  }
  return null;
}

/** The provider that worked for the last 'auto' load, so later loads do not retry failing ones. */
let autoProvider: string | null = null;

export async function loadModel(dir: string, options: NodeLoadOptions = {}): Promise<FlowModel> {
  const choice = options.ep ?? 'auto';
  if (!EXECUTION_PROVIDERS.includes(choice)) {
    throw new Error(`unknown execution provider "${String(choice)}": expected one of ${EXECUTION_PROVIDERS.join(', ')}`);
  }
  if (options.threads !== undefined && !(Number.isInteger(options.threads) && options.threads >= 1)) {
    throw new Error(`threads must be a positive integer, got ${options.threads}`);
  }
  const source = folderSource(dir);
  const order = choice === 'auto' ? (autoProvider ? [autoProvider] : ['cuda', 'webgpu', 'cpu']) : [choice];
  const failures: string[] = [];
  for (const ep of order) {
    const absent = choice === 'auto' ? absentProvider(ep) : null;
    if (absent) {
      failures.push(`${ep}: ${absent}${HINTS[ep] ? ` — ${HINTS[ep]}` : ''}`);
      continue;
    }
    try {
      const model = await FlowModel.load(source, ort, {
        executionProviders: [ep],
        ...(options.threads ? { intraOpNumThreads: options.threads } : {}),
        ...(options.precision ? { precision: options.precision } : {}),
      });
      if (choice === 'auto') autoProvider = ep;
      return model;
    } catch (error) {
      const message = (error as Error).message;
      // Only a provider that cannot start is worth another try; a bad file fails the same everywhere.
      if (!message.includes('cannot be loaded by onnxruntime')) throw error;
      failures.push(`${ep}: ${message}${HINTS[ep] ? ` — ${HINTS[ep]}` : ''}`);
    }
  }
  throw new Error(`no execution provider could run ${source.location}:\n  ${failures.join('\n  ')}`);
}
