// The browser page of flowscan, from Node: bundle runtime/src/web with esbuild (browser build, no Node-only
// code), serve it with onnxruntime-web's .wasm/.mjs files and the exported model folders on loopback, or
// write the same files as a static folder for any web server.
//
// WASM threads need SharedArrayBuffer, which browsers only give to cross-origin-isolated pages: every
// response carries Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, readFile, readdir, realpath, stat, writeFile } from 'node:fs/promises';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { basename, dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The page's sources (runtime/src/web/), or, when this module runs from the build, the prebuilt page (runtime/dist/web/). */
const WEB_SOURCE = fileURLToPath(new URL('../web/', import.meta.url));
/** Whether this module runs from the JavaScript build (npm run build), where the page is prebuilt. */
const FROM_BUILD = import.meta.url.endsWith('.js');
/** The prebuilt page's files, and the list of modules bundled into it (scripts/build.ts writes them). */
const PREBUILT_FILES = ['index.html', 'style.css', 'app.js', 'app.js.map', 'worker.js', 'worker.js.map'];
const PREBUILT_INPUTS = 'bundle-inputs.json';
/** The shipped models (`flowscan study toy --ship` puts toy-signal/ and toy-background/ there). */
export const DEFAULT_MODELS_DIR = join(REPO_ROOT, 'models');

/**
 * The onnxruntime-web files that `onnxruntime-web/webgpu` loads at run time (its WebGPU build of the WASM
 * runtime); the page points env.wasm.wasmPaths at the folder `ort/` that holds them.
 */
const ORT_RUNTIME_FILES = ['ort-wasm-simd-threaded.asyncify.mjs', 'ort-wasm-simd-threaded.asyncify.wasm'];

export const ISOLATION_HEADERS: Readonly<Record<string, string>> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/**
 * The page's Content-Security-Policy, sent with every response: its own scripts, styles, workers and fetches only,
 * nothing inline, no other origin, no plugins, no framing. 'wasm-unsafe-eval' lets onnxruntime-web compile its
 * WebAssembly. 'unsafe-eval' is still needed: ajv compiles the manifest and request schemas with new Function() when
 * the page's modules load (without it the page never starts), and Vega compiles the figures' expressions the same
 * way; precompiled (standalone) validators and vega-interpreter would remove it. blob: workers are onnxruntime-web's
 * WASM threads; data: images are the page's empty favicon.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self' 'wasm-unsafe-eval' 'unsafe-eval'",
  "worker-src 'self' blob:",
  "connect-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  // instantiateStreaming refuses a .wasm served with any other type.
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
  '.csv': 'text/csv; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/** Paths (relative to the repository) of modules that must never reach the browser bundle. */
const NODE_ONLY = [/(^|\/)runtime\/src\/node\//, /(^|\/)onnxruntime-node\//, /^node:/, /(^|\/)trainer\//];

export interface BundleInputs {
  app: string[];
  worker: string[];
}

export interface WebBundle {
  /** Page files by URL path: index.html, style.css, app.js, worker.js and their .map files. */
  files: Map<string, Uint8Array>;
  /**
   * The modules esbuild put into each script (paths relative to the repository): the page's main thread (app.js)
   * and its fit worker (worker.js), so a test can see that the fits and onnxruntime-web are only in the worker.
   */
  inputs: BundleInputs;
}

/** Bundles the page (runtime/src/web/main.ts, worker.ts and everything they import) for browsers, in memory. */
export async function bundleWebApp(): Promise<WebBundle> {
  // esbuild is a development dependency: the build (scripts/build.ts) bundles the page once, and an install from
  // the build serves that (webApp), so neither esbuild nor its native binary is needed at run time.
  const { build } = await import('esbuild');
  const result = await build({
    absWorkingDir: REPO_ROOT,
    // The page and its fit worker (which holds onnxruntime-web, the flows and the fits).
    entryPoints: { app: join(WEB_SOURCE, 'main.ts'), worker: join(WEB_SOURCE, 'worker.ts') },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    // onnxruntime-web's "extern wasm" build: the .wasm/.mjs are served next to the page, not inlined.
    conditions: ['onnxruntime-web-use-extern-wasm'],
    minify: true,
    sourcemap: 'linked',
    outdir: join(REPO_ROOT, 'out', 'web-bundle'),
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const leaked = Object.keys(result.metafile.inputs).filter((path) => NODE_ONLY.some((pattern) => pattern.test(path)));
  if (leaked.length > 0) throw new Error(`internal error: the browser bundle would include Node-only modules: ${leaked.join(', ')}`);
  const files = new Map<string, Uint8Array>();
  for (const out of result.outputFiles) files.set(basename(out.path), out.contents);
  for (const name of ['index.html', 'style.css']) files.set(name, new Uint8Array(await readFile(join(WEB_SOURCE, name))));
  const scriptInputs = (name: string): string[] => {
    const output = Object.entries(result.metafile.outputs).find(([path]) => basename(path) === name);
    if (!output) throw new Error(`internal error: esbuild wrote no ${name}`);
    return Object.keys(output[1].inputs);
  };
  return { files, inputs: { app: scriptInputs('app.js'), worker: scriptInputs('worker.js') } };
}

/** The page to serve: prebuilt when running from the build, bundled from the sources otherwise. */
export async function webApp(): Promise<WebBundle> {
  if (!FROM_BUILD) return bundleWebApp();
  const read = (name: string) =>
    readFile(join(WEB_SOURCE, name)).catch((error: NodeJS.ErrnoException) => {
      throw new Error(`the prebuilt page is incomplete: ${join(WEB_SOURCE, name)} cannot be read (${error.code ?? error.message}); run \`npm run build\` again`);
    });
  const files = new Map<string, Uint8Array>();
  for (const name of PREBUILT_FILES) files.set(name, new Uint8Array(await read(name)));
  return { files, inputs: JSON.parse(new TextDecoder().decode(await read(PREBUILT_INPUTS))) as BundleInputs };
}

/** Absolute paths of onnxruntime-web's run-time files, from the same installed package that was bundled. */
function ortRuntimeFiles(): Map<string, string> {
  const require = createRequire(import.meta.url);
  return new Map(ORT_RUNTIME_FILES.map((name) => [name, require.resolve(`onnxruntime-web/${name}`)]));
}

/**
 * The real path of `path` when it is a regular file or folder inside `realRoot` (itself a real path) after every
 * symbolic link is resolved, and no part of it below the root is a dotfile; otherwise null.
 */
async function insideRoot(realRoot: string, path: string, kind: 'file' | 'folder'): Promise<string | null> {
  const real = await realpath(path).catch(() => null);
  if (real === null || !real.startsWith(realRoot + sep)) return null;
  if (real.slice(realRoot.length + 1).split(sep).some((part) => part.startsWith('.'))) return null;
  const info = await stat(real).catch(() => null);
  return (kind === 'file' ? info?.isFile() : info?.isDirectory()) ? real : null;
}

/**
 * Exported model folders (those holding a manifest.json) directly inside `dir`, sorted by name: not hidden, and
 * inside `dir` after resolving links (the server serves nothing outside it).
 */
export async function listModelFolders(dir: string): Promise<string[]> {
  let entries;
  let root: string;
  try {
    entries = await readdir(dir, { withFileTypes: true });
    root = await realpath(dir);
  } catch (error) {
    throw new Error(`models folder ${dir} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): pass an existing folder with --models`);
  }
  const names: string[] = [];
  for (const entry of entries) {
    if (entry.name.startsWith('.') || (!entry.isDirectory() && !entry.isSymbolicLink())) continue;
    if (await insideRoot(root, join(dir, entry.name, 'manifest.json'), 'file')) names.push(entry.name);
  }
  return names.sort();
}

function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

export interface WebServerOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** A loopback address (default 127.0.0.1). */
  host?: string;
  modelsDir?: string;
}

export interface WebServer {
  url: string;
  port: number;
  modelsDir: string;
  /** The modules bundled into the page. */
  bundleInputs: BundleInputs;
  close(): Promise<void>;
}

function headers(type: string, length: number, etag?: string): Record<string, string | number> {
  // no-cache = revalidate every time: a re-exported model or rebuilt page is never mixed with stale files,
  // while the 26 MB onnxruntime .wasm comes back as a 304 (and its compiled code stays cached).
  return {
    ...ISOLATION_HEADERS,
    'Content-Security-Policy': CONTENT_SECURITY_POLICY,
    'Content-Type': type,
    'Content-Length': length,
    'Cache-Control': 'no-cache',
    'X-Content-Type-Options': 'nosniff',
    ...(etag ? { ETag: etag } : {}),
  };
}

function send(response: ServerResponse, status: number, type: string, body: string | Uint8Array, head: boolean): void {
  response.writeHead(status, headers(type, Buffer.byteLength(body)));
  response.end(head ? undefined : body);
}

/** Answers 304 when the browser's copy is current. */
function notModified(request: IncomingMessage, response: ServerResponse, type: string, etag: string): boolean {
  if (request.headers['if-none-match'] !== etag) return false;
  response.writeHead(304, headers(type, 0, etag));
  response.end();
  return true;
}

/**
 * A regular file below `realRoot` named by decoded URL path segments, or null when the path tries to leave it
 * (.., an encoded slash or backslash, a symbolic link that points out), names a dotfile or names nothing.
 */
async function fileBelow(realRoot: string, segments: string[]): Promise<string | null> {
  const bad = (s: string): boolean => s === '' || s.startsWith('.') || s.includes('/') || s.includes('\\') || s.includes('\0');
  if (segments.length === 0 || segments.some(bad)) return null;
  return insideRoot(realRoot, join(realRoot, ...segments), 'file');
}

/** Host headers that name the bound address (or localhost) and port: anything else is a DNS-rebinding attempt. */
function allowedHosts(host: string, boundAddress: string, port: number): Set<string> {
  const withPort = (name: string): string => `${isIP(name) === 6 ? `[${name}]` : name}:${port}`.toLowerCase();
  return new Set([withPort(host), withPort(boundAddress), withPort('localhost')]);
}

/** Serves the page on loopback only, cross-origin isolated, with the models of `modelsDir` under /models/. */
export async function startWebServer(options: WebServerOptions = {}): Promise<WebServer> {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopback(host)) {
    throw new Error(
      `--host ${host} is not a loopback address: \`flowscan web\` serves this computer only (127.0.0.1, ::1 or localhost). ` +
        'To publish the page, write it with `flowscan web build --out DIR` and serve that folder with COOP/COEP headers.',
    );
  }
  const port = options.port ?? 0;
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new Error(`port must be an integer in [0, 65535], got ${port}`);
  const modelsDir = resolve(options.modelsDir ?? DEFAULT_MODELS_DIR);
  await listModelFolders(modelsDir);
  const modelsRoot = await realpath(modelsDir);
  const bundle = await webApp();
  const bundleTags = new Map([...bundle.files].map(([name, data]) => [name, `"${createHash('sha256').update(data).digest('hex').slice(0, 32)}"`]));
  const ort = ortRuntimeFiles();

  let hosts = new Set<string>();
  let pageUrl = '';
  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const head = request.method === 'HEAD';
    // A page on another site whose name was re-pointed at 127.0.0.1 reaches this server with its own name as Host.
    if (!hosts.has((request.headers.host ?? '').toLowerCase())) {
      return send(response, 421, CONTENT_TYPES['.txt'], `this server answers only for ${pageUrl} (or localhost on its port), not for Host ${request.headers.host ?? '(none)'}\n`, head);
    }
    if (request.method !== 'GET' && !head) {
      response.setHeader('Allow', 'GET, HEAD');
      return send(response, 405, CONTENT_TYPES['.txt'], 'only GET and HEAD are served\n', false);
    }
    let segments: string[];
    try {
      segments = new URL(request.url ?? '/', 'http://localhost').pathname.split('/').slice(1).map(decodeURIComponent);
    } catch {
      return send(response, 400, CONTENT_TYPES['.txt'], 'malformed URL\n', head);
    }
    const path = segments.join('/') || 'index.html';
    const page = bundle.files.get(path);
    if (page) {
      const type = CONTENT_TYPES[extname(path)] ?? 'application/octet-stream';
      const etag = bundleTags.get(path)!;
      if (notModified(request, response, type, etag)) return;
      response.writeHead(200, headers(type, page.byteLength, etag));
      response.end(head ? undefined : page);
      return;
    }
    if (segments[0] === 'ort' && segments.length === 2 && ort.has(segments[1])) return sendFile(request, response, ort.get(segments[1])!, head);
    if (segments[0] === 'models') {
      if (path === 'models/index.json') return send(response, 200, CONTENT_TYPES['.json'], JSON.stringify({ models: await listModelFolders(modelsDir) }), head);
      const file = await fileBelow(modelsRoot, segments.slice(1));
      if (file) return sendFile(request, response, file, head);
    }
    send(response, 404, CONTENT_TYPES['.txt'], `${path} is not served here\n`, head);
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) send(response, 500, CONTENT_TYPES['.txt'], `${(error as Error).message}\n`, false);
      else response.destroy();
    });
  });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(new Error(error.code === 'EADDRINUSE' ? `port ${port} on ${host} is in use: choose another with --port (or 0 for any free port)` : `cannot listen on ${host}:${port}: ${error.message}`)),
    );
    server.listen(port, host, () => resolveListen());
  });
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  const urlHost = isIP(host) === 6 ? `[${host}]` : host;
  hosts = allowedHosts(host, typeof address === 'object' && address ? address.address : host, actualPort);
  pageUrl = `http://${urlHost}:${actualPort}/`;
  return {
    url: pageUrl,
    port: actualPort,
    modelsDir,
    bundleInputs: bundle.inputs,
    close: () =>
      new Promise<void>((resolveClose) => {
        server.closeAllConnections();
        server.close(() => resolveClose());
      }),
  };
}

async function sendFile(request: IncomingMessage, response: ServerResponse, path: string, head: boolean): Promise<void> {
  const info = await stat(path).catch(() => null);
  if (!info?.isFile()) return send(response, 404, CONTENT_TYPES['.txt'], `${basename(path)} is not served here\n`, head);
  const type = CONTENT_TYPES[extname(path)] ?? 'application/octet-stream';
  const etag = `"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
  if (notModified(request, response, type, etag)) return;
  response.writeHead(200, headers(type, info.size, etag));
  if (head) {
    response.end();
    return;
  }
  await new Promise<void>((done, fail) => {
    const stream = createReadStream(path);
    stream.on('error', fail);
    response.on('close', () => done());
    stream.pipe(response);
  });
}

const DEPLOY_NOTES = `flowscan page: static files
============================

Serve this folder with any web server. The page is index.html; it loads app.js, style.css, the
onnxruntime-web runtime under ort/ and the exported models listed in models/index.json.

For WASM threads the page must be cross-origin isolated: the server must send these headers with
EVERY file (otherwise the page still works, on one thread, and says so):

  Cross-Origin-Opener-Policy: same-origin
  Cross-Origin-Embedder-Policy: require-corp

and serve .wasm files as application/wasm. Send this Content-Security-Policy too (the _headers file has it):

  ${CONTENT_SECURITY_POLICY}

Examples:

  nginx:    add_header Cross-Origin-Opener-Policy same-origin always;
            add_header Cross-Origin-Embedder-Policy require-corp always;
  Apache:   Header always set Cross-Origin-Opener-Policy "same-origin"
            Header always set Cross-Origin-Embedder-Policy "require-corp"
  Netlify / Cloudflare Pages: the _headers file in this folder does it.

Opening index.html from disk (file://) does not work: browsers do not fetch files from file:// pages.
To add models, copy exported model folders into models/ and add their names to models/index.json.
`;

const NETLIFY_HEADERS = `/*\n${Object.entries({ ...ISOLATION_HEADERS, 'Content-Security-Policy': CONTENT_SECURITY_POLICY }).map(([k, v]) => `  ${k}: ${v}`).join('\n')}\n`;

export interface BuildResult {
  outDir: string;
  /** Files written, relative to outDir. */
  files: string[];
  models: string[];
}

/** Writes the page as static files: bundle, onnxruntime-web runtime, models (copied) and deployment notes. */
export async function buildWebApp(outDir: string, options: { modelsDir?: string } = {}): Promise<BuildResult> {
  const out = resolve(outDir);
  const modelsDir = resolve(options.modelsDir ?? DEFAULT_MODELS_DIR);
  const models = await listModelFolders(modelsDir);
  const bundle = await webApp();
  const written: string[] = [];
  const write = async (path: string, data: string | Uint8Array): Promise<void> => {
    await mkdir(dirname(join(out, path)), { recursive: true });
    await writeFile(join(out, path), data);
    written.push(path);
  };
  const copy = async (from: string, path: string): Promise<void> => {
    await mkdir(dirname(join(out, path)), { recursive: true });
    await copyFile(from, join(out, path));
    written.push(path);
  };
  try {
    for (const [name, data] of bundle.files) await write(name, data);
    for (const [name, path] of ortRuntimeFiles()) await copy(path, `ort/${name}`);
    for (const name of models) {
      const folder = join(modelsDir, name);
      for (const entry of await readdir(folder, { withFileTypes: true })) {
        if (entry.isFile()) await copy(join(folder, entry.name), `models/${name}/${entry.name}`);
      }
    }
    await write('models/index.json', `${JSON.stringify({ models }, null, 2)}\n`);
    await write('README.txt', DEPLOY_NOTES);
    await write('_headers', NETLIFY_HEADERS);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(`cannot write the page to ${out}: ${(error as Error).message}${code === 'EACCES' ? ' (no permission; choose another --out folder)' : ''}`);
  }
  return { outDir: out, files: written, models };
}
