// The runtime as a library of another project (issue 16 item 11): `npm run build`, `npm pack` of runtime/, the
// tarball installed in an empty folder (no tsx, no esbuild there), its type declarations checked from a .ts file,
// then a shipped model loaded and fitted from a plain .mjs file and from a browser page bundled against the
// installed package. Both fits must equal the same
// fit run here from the sources. Also `flowscan web` from the build with tsx and esbuild made unresolvable, as in
// an install without dev dependencies.
//
// The install reads package metadata from the registry (tarballs come from npm's cache): about 25 s.
import test, { type ExecutionContext } from 'ava';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { extname, join, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { MixtureLikelihood, Rng, fitLikelihood, formatEventsCsv } from '@flowscan/runtime';
import { loadModel } from '@flowscan/runtime/node';
import * as toy from '../trainer/src/data/toy.ts';
import { buildIsFresh } from './helpers/build.ts';
import { HANG_GUARD_MS, withinHangGuard } from './helpers/hang-guard.ts';

const run = promisify(execFile);
const REPO = resolve(import.meta.dirname, '..');
const MODELS = join(REPO, 'models');
const START = { m_pole: 90, gamma: 2, tau: 0.012 };
const SIGNAL_FRACTION = 0.1;

let work = '';
let consumer = '';
let eventsCsv = '';

function chromiumPath(): string | null {
  try {
    return execFileSync('which', ['chromium'], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

test.before(async () => {
  work = await mkdtemp(join(tmpdir(), 'flowscan-package-'));
  // `npm test` has just built; a build older than the sources (a single test run while editing) is rebuilt.
  if (!(await buildIsFresh())) await run('npm', ['run', 'build'], { cwd: REPO });
  const { stdout } = await run('npm', ['pack', './runtime', '--pack-destination', work, '--json'], { cwd: REPO });
  const tarball = join(work, (JSON.parse(stdout) as { filename: string }[])[0].filename);
  consumer = join(work, 'consumer');
  await run('mkdir', ['-p', consumer]);
  await writeFile(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  // onnxruntime-node's postinstall would download the CUDA provider: the CPU provider ships in the package.
  await writeFile(join(consumer, '.npmrc'), 'onnxruntime-node-install=skip\n');
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], { cwd: consumer, maxBuffer: 1 << 24 });
  const data = toy.pseudoData(new Rng(31), { nSignal: 200, nBackground: 1800, mPole: 91.2, gamma: 2.5, tau: 0.01 });
  eventsCsv = join(work, 'events.csv');
  await writeFile(eventsCsv, formatEventsCsv({ x: data.x }, ['x']));
});

test.after.always(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** The fit from the sources (float32 graphs, as in browsers), the reference of both consumers. */
interface FitSummary {
  nll: number;
  values: Record<string, number>;
  errors: Record<string, number>;
}

/** The reference fit, run once for both consumers. */
let reference: Promise<FitSummary> | undefined;
const sourceFit = (): Promise<FitSummary> => (reference ??= fitFromSources());

async function fitFromSources(): Promise<FitSummary> {
  const options = { ep: 'cpu', precision: 'float32' } as const;
  const signal = await loadModel(join(MODELS, 'toy-signal'), options);
  const background = await loadModel(join(MODELS, 'toy-background'), options);
  const { parseEventsCsv } = await import('@flowscan/runtime');
  const events = parseEventsCsv(await readFile(eventsCsv, 'utf8'), { source: eventsCsv, columns: ['x'] });
  const likelihood = new MixtureLikelihood({
    components: [
      { name: 'signal', model: signal, fraction: SIGNAL_FRACTION },
      { name: 'background', model: background, fraction: 1 - SIGNAL_FRACTION },
    ],
    events: events.columns,
    yields: 'fixed-fractions',
  });
  const fit = await fitLikelihood(likelihood, { start: START });
  await signal.release();
  await background.release();
  return { nll: fit.nll, values: Object.fromEntries(fit.parameters.map((p) => [p.name, p.value])), errors: Object.fromEntries(fit.parameters.map((p) => [p.name, p.error ?? NaN])) };
}

/** NLLs equal to `nllTolerance` relative, best-fit values to `sigmas` of the reference's Hessian errors. */
function sameFit(t: ExecutionContext, actual: Pick<FitSummary, 'nll' | 'values'>, expected: FitSummary, nllTolerance: number, sigmas: number): void {
  t.true(Math.abs(actual.nll - expected.nll) <= nllTolerance * Math.abs(expected.nll), `NLL ${actual.nll} vs ${expected.nll}`);
  for (const [name, value] of Object.entries(expected.values)) {
    t.true(Math.abs(actual.values[name] - value) <= sigmas * expected.errors[name], `${name}: ${actual.values[name]} vs ${value} ± ${expected.errors[name]}`);
  }
}

test('the packed runtime holds only its build, and nothing of tsx or esbuild is installed with it', async (t) => {
  const installed = join(consumer, 'node_modules', '@flowscan', 'runtime');
  t.deepEqual((await readdir(installed)).sort(), ['dist', 'package.json']);
  t.truthy(await stat(join(installed, 'dist', 'index.d.ts')).catch(() => null), 'type declarations are packed');
  for (const devOnly of ['tsx', 'esbuild', 'typescript']) t.is(await stat(join(consumer, 'node_modules', devOnly)).catch(() => null), null, devOnly);
});

// The consumer's plain .mjs: what a user of the library writes.
const FIT_MJS = `import { readFile } from 'node:fs/promises';
import { MixtureLikelihood, fitLikelihood, parseEventsCsv } from '@flowscan/runtime';
import { loadModel } from '@flowscan/runtime/node';
const [models, csv, fraction] = process.argv.slice(2);
const options = { ep: 'cpu', precision: 'float32' };
const signal = await loadModel(models + '/toy-signal', options);
const background = await loadModel(models + '/toy-background', options);
const events = parseEventsCsv(await readFile(csv, 'utf8'), { source: csv, columns: ['x'] });
const likelihood = new MixtureLikelihood({
  components: [{ name: 'signal', model: signal, fraction: Number(fraction) }, { name: 'background', model: background, fraction: 1 - Number(fraction) }],
  events: events.columns,
  yields: 'fixed-fractions',
});
const fit = await fitLikelihood(likelihood, { start: ${JSON.stringify(START)} });
console.log(JSON.stringify({ nll: fit.nll, values: Object.fromEntries(fit.parameters.map((p) => [p.name, p.value])) }));
`;

// A TypeScript user of the package: the declarations give real types (an assignment that must fail does fail).
const CHECK_TS = `import { type FitResult, MixtureLikelihood, fitLikelihood } from '@flowscan/runtime';
import { loadModel } from '@flowscan/runtime/node';
export const fit: (likelihood: MixtureLikelihood) => Promise<FitResult> = fitLikelihood;
export const load: (dir: string) => Promise<unknown> = loadModel;
// @ts-expect-error: a function is no number (with untyped, any-typed exports this line would not be an error).
export const wrong: number = fitLikelihood;
`;

test('the package\'s type declarations type-check a TypeScript user', async (t) => {
  // A folder of its own: the page test's esbuild must not meet this tsconfig.json while it is written.
  const folder = join(consumer, 'typescript-user');
  await mkdir(folder);
  await writeFile(join(folder, 'check.ts'), CHECK_TS);
  const compilerOptions = {
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    lib: ['ES2023', 'DOM'],
    typeRoots: [join(REPO, 'node_modules', '@types')],
    types: ['node'],
  };
  await writeFile(join(folder, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['check.ts'] }));
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const result = await run(process.execPath, [tsc, '-p', folder]).then(
    () => ({ code: 0, output: '' }),
    (error: { code: number; stdout: string }) => ({ code: error.code, output: error.stdout }),
  );
  t.is(result.code, 0, result.output);
});

test('a plain .mjs file loads the shipped models from the installed package and fits as the sources do', async (t) => {
  await writeFile(join(consumer, 'fit.mjs'), FIT_MJS);
  const { stdout } = await run(process.execPath, ['fit.mjs', MODELS, eventsCsv, String(SIGNAL_FRACTION)], { cwd: consumer });
  const installed = JSON.parse(stdout) as Pick<FitSummary, 'nll' | 'values'>;
  const expected = await sourceFit();
  t.log(`installed package: NLL ${installed.nll}, sources: ${expected.nll}`);
  // The same code on the same graphs and events: equal to rounding.
  sameFit(t, installed, expected, 1e-12, 1e-9);
});

// The consumer's browser page, bundled by the consumer's own build (esbuild here) against the installed package.
const PAGE_MJS = `import * as ort from 'onnxruntime-web';
import { FlowModel, MixtureLikelihood, fitLikelihood, parseEventsCsv } from '@flowscan/runtime';
ort.env.wasm.wasmPaths = new URL('ort/', location.href).href;
ort.env.wasm.numThreads = 1;
const source = (name) => ({
  location: name,
  async readBytes(file) {
    const response = await fetch('models/' + name + '/' + file);
    if (!response.ok) throw new Error(name + '/' + file + ': HTTP ' + response.status);
    return new Uint8Array(await response.arrayBuffer());
  },
});
try {
  const settings = { executionProviders: ['wasm'] };
  const signal = await FlowModel.load(source('toy-signal'), ort, settings);
  const background = await FlowModel.load(source('toy-background'), ort, settings);
  const events = parseEventsCsv(await (await fetch('events.csv')).text(), { source: 'events.csv', columns: ['x'] });
  const fraction = ${SIGNAL_FRACTION};
  const likelihood = new MixtureLikelihood({
    components: [{ name: 'signal', model: signal, fraction }, { name: 'background', model: background, fraction: 1 - fraction }],
    events: events.columns,
    yields: 'fixed-fractions',
  });
  const fit = await fitLikelihood(likelihood, { start: ${JSON.stringify(START)} });
  window.result = { nll: fit.nll, values: Object.fromEntries(fit.parameters.map((p) => [p.name, p.value])) };
} catch (error) {
  window.result = { error: String(error && error.stack || error) };
}
`;

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };

const browserTest = chromiumPath() === null && !process.env.CI ? test.skip : test;
browserTest('a browser page bundled against the installed package loads the models and fits as the sources do', async (t) => {
  const { build } = await import('esbuild');
  await writeFile(join(consumer, 'page.mjs'), PAGE_MJS);
  await build({ entryPoints: [join(consumer, 'page.mjs')], bundle: true, format: 'esm', platform: 'browser', target: 'es2022', conditions: ['onnxruntime-web-use-extern-wasm'],
    // jsroot (ROOT files) is an optional dependency, left out when its canvas dependency cannot build: the
    // runtime imports it only when a ROOT file is read, so a bundle without it marks it external (docs/packaging.md).
    external: ['jsroot', 'jsroot/*'],
    outfile: join(consumer, 'site', 'page.js'), logLevel: 'silent' });
  await writeFile(join(consumer, 'site', 'index.html'), '<!doctype html><meta charset="utf-8"><script type="module" src="page.js"></script>');
  const roots: [string, string][] = [
    ['/ort/', join(consumer, 'node_modules', 'onnxruntime-web', 'dist')],
    ['/models/', MODELS],
    ['/events.csv', eventsCsv],
    ['/', join(consumer, 'site')],
  ];
  const server = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname);
    const [prefix, root] = roots.find(([p]) => path.startsWith(p))!;
    const file = prefix.endsWith('/') ? resolve(root, path.slice(prefix.length) || 'index.html') : root;
    if (prefix.endsWith('/') && !file.startsWith(root + sep)) return void response.writeHead(404).end();
    stat(file).then(
      (info) => {
        if (!info.isFile()) return void response.writeHead(404).end();
        response.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' });
        createReadStream(file).pipe(response);
      },
      () => response.writeHead(404).end(),
    );
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const port = (server.address() as { port: number }).port;
  const browser = await chromium.launch({ executablePath: chromiumPath()!, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage();
    // The page's fit ends with window.result set; the limit only catches a hang.
    page.setDefaultTimeout(HANG_GUARD_MS);
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction(() => (window as unknown as { result?: unknown }).result !== undefined);
    const result = (await page.evaluate(() => (window as unknown as { result: unknown }).result)) as { nll: number; values: Record<string, number>; error?: string };
    t.is(result.error, undefined);
    const expected = await sourceFit();
    t.log(`browser (WASM) from the installed package: NLL ${result.nll}, sources (onnxruntime-node): ${expected.nll}`);
    // WASM and the CPU provider sum float32 log-densities in different orders: the NLL agrees to ~1e-9, and the
    // minimiser, stopping on a tolerance, lands within a few hundredths of an error of the same minimum.
    sameFit(t, result, expected, 1e-7, 0.05);
  } finally {
    await browser.close();
    server.close();
  }
});

test('flowscan web runs from the build with tsx and esbuild unresolvable (an install without dev dependencies)', async (t) => {
  // A resolve hook that refuses the dev-only packages, as if `npm ci --omit=dev` had left them out.
  const hooks = join(work, 'no-dev-hooks.mjs');
  await writeFile(
    hooks,
    `export async function resolve(specifier, context, next) {
  if (/^(tsx|esbuild)($|\\/)/.test(specifier)) throw Object.assign(new Error('Cannot find package ' + specifier), { code: 'ERR_MODULE_NOT_FOUND' });
  return next(specifier, context);
}
`,
  );
  const register = join(work, 'register.mjs');
  await writeFile(register, `import { register } from 'node:module';\nregister(${JSON.stringify(new URL(`file://${hooks}`).href)});\n`);
  const child = spawn(process.execPath, ['--import', register, join(REPO, 'trainer', 'bin', 'flowscan.js'), 'web', '--port', '0'], { env: { ...process.env, FLOWSCAN_BUILT: '1' } });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk));
  try {
    // The server's URL line, or its exit with what it wrote.
    const url = await withinHangGuard(
      () => `flowscan web printed no page URL:\n${output}`,
      new Promise<string>((done, fail) => {
        child.stdout.on('data', () => {
          const found = /flowscan page: (\S+)/.exec(output);
          if (found) done(found[1]);
        });
        child.on('exit', (code) => fail(new Error(`flowscan web exited (${code}):\n${output}`)));
      }),
    );
    for (const path of ['', 'app.js', 'worker.js', 'models/toy-signal/manifest.json']) t.is((await fetch(new URL(path, url))).status, 200, path);
    // The prebuilt page is the one `npm run build` wrote.
    t.deepEqual(new Uint8Array(await (await fetch(new URL('worker.js', url))).arrayBuffer()), new Uint8Array(await readFile(join(REPO, 'runtime', 'dist', 'web', 'worker.js'))));
  } finally {
    child.kill('SIGTERM');
  }
});
