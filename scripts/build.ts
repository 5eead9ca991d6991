// `npm run build`: the runtime and the trainer as JavaScript (runtime/dist, trainer/dist), the runtime's type
// declarations (runtime/dist/**/*.d.ts, for projects that use it as a library), and the browser page prebuilt
// (runtime/dist/web), so that an install without dev dependencies runs without tsx or esbuild.
//
// Each source file becomes one .js file at the same place under dist/ (so import.meta.url-relative paths, the
// training jobs that name their module, and the worker entries keep working); relative imports stay imports,
// with .ts rewritten to .js; JSON schemas are inlined (they live outside the packages, in schemas/); npm packages
// stay imports. The page is bundled by bundleWebApp, as `flowscan web` does from the sources.
import { execFile } from 'node:child_process';
import { readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type Plugin, build } from 'esbuild';
import { bundleWebApp } from '../runtime/src/node/web-server.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
/** The packages built, and their source folders. */
const PACKAGES = ['runtime', 'trainer'];

/** Relative imports of other source modules stay imports of the built .js file next to it. */
const keepModules: Plugin = {
  name: 'keep-modules',
  setup(plugins) {
    plugins.onResolve({ filter: /^\.\.?\/.*\.(ts|mjs)$/ }, (args) => (args.kind === 'entry-point' ? undefined : { path: args.path.replace(/\.ts$/, '.js'), external: true }));
  },
};

/** The browser page's modules: only ever used bundled (buildPage), not as modules of the package. */
const PAGE_SOURCES = join(ROOT, 'runtime', 'src', 'web');

async function sources(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const path = join(entry.parentPath, entry.name);
    if (entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') && !path.startsWith(PAGE_SOURCES)) found.push(path);
  }
  return found.sort();
}

async function buildPackage(name: string): Promise<number> {
  const src = join(ROOT, name, 'src');
  const dist = join(ROOT, name, 'dist');
  await rm(dist, { recursive: true, force: true });
  const entryPoints = await sources(src);
  await build({
    entryPoints,
    outbase: src,
    outdir: dist,
    bundle: true,
    packages: 'external',
    // Not tsconfig.json, whose paths point @flowscan/* at the sources for tsx: the build imports the packages.
    tsconfigRaw: {},
    plugins: [keepModules],
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: 'linked',
    logLevel: 'warning',
  });
  return entryPoints.length;
}

/** The runtime's public types: tsc with runtime/tsconfig.build.json (declarations only; esbuild writes the code). */
async function buildDeclarations(): Promise<void> {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  try {
    await promisify(execFile)(process.execPath, [tsc, '-p', join(ROOT, 'runtime', 'tsconfig.build.json')], { cwd: ROOT });
  } catch (error) {
    const { stdout, message } = error as { stdout?: string; message: string };
    throw new Error(`the runtime's type declarations failed:\n${stdout || message}`);
  }
}

async function buildPage(): Promise<string[]> {
  const out = join(ROOT, 'runtime', 'dist', 'web');
  await mkdir(out, { recursive: true });
  const bundle = await bundleWebApp();
  for (const [file, data] of bundle.files) await writeFile(join(out, file), data);
  await writeFile(join(out, 'bundle-inputs.json'), `${JSON.stringify(bundle.inputs, null, 1)}\n`);
  return [...bundle.files.keys()];
}

const t0 = performance.now();
for (const name of PACKAGES) process.stdout.write(`${name}: ${await buildPackage(name)} modules → ${relative(ROOT, join(ROOT, name, 'dist'))}/\n`);
await buildDeclarations();
process.stdout.write('runtime: type declarations → runtime/dist/**/*.d.ts\n');
process.stdout.write(`page: ${(await buildPage()).join(', ')} → runtime/dist/web/\n`);
process.stdout.write(`built in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
