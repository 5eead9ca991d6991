// The fit page in real Chromium (onnxruntime-web, WASM threads): the server's isolation headers and bundle,
// the page's best fit, ΔNLL map and pseudo-data against the Node runtime (onnxruntime-node CPU) on the same
// events and models, Cancel, and specific errors for a tampered model, an unloadable graph, a manifest
// that breaks the schema and bad CSV files, after which the page keeps working; .npy and Parquet event files.
import test, { type ExecutionContext } from 'ava';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { get } from 'node:http';
import { cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, type Page, chromium } from 'playwright-core';
import { type FitResult, type FlowModel, MixtureLikelihood, Rng, fitLikelihood, formatEventsCsv, parseEventsCsv } from '@flowscan/runtime';
import { loadModel, openEventWriter, readEventFile } from '@flowscan/runtime/node';
import { ISOLATION_HEADERS, type WebServer, buildWebApp, startWebServer } from '../runtime/src/node/web-server.ts';
import type { PageResult } from '../runtime/src/web/page.ts';
import * as toy from '../trainer/src/data/toy.ts';
import { HANG_GUARD_MS } from './helpers/hang-guard.ts';

const REPO = fileURLToPath(new URL('../', import.meta.url));
/** The shipped toy models; FLOWSCAN_TEST_MODELS points elsewhere (a folder with toy-signal/ and toy-background/). */
const MODELS = process.env.FLOWSCAN_TEST_MODELS ?? join(REPO, 'models');
const SCREENSHOT = join(REPO, 'out', 'browser', 'fit.png');
const SCREENSHOT_NARROW = join(REPO, 'out', 'browser', 'fit-390px.png');

function chromiumPath(): string | null {
  try {
    return execFileSync('which', ['chromium'], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}
const CHROMIUM = chromiumPath();
const SKIP_BROWSER = CHROMIUM === null && !process.env.CI;
const browserTest = SKIP_BROWSER ? test.serial.skip : test.serial;
if (SKIP_BROWSER) {
  console.log('browser.test.ts: `which chromium` finds nothing and CI is not set: the Chromium tests are skipped. Install it with `apt-get install -y chromium` (.ci/install-chromium.sh).');
}

// Pseudo-data of the toy study (truncated Breit–Wigner + exponential, exact samplers), with a larger signal
// fraction than the paper's so that both θ_sig parameters are well constrained in a few thousand events.
const N_SIGNAL = 300;
const N_BACKGROUND = 3000;
const SIGNAL_FRACTION = N_SIGNAL / (N_SIGNAL + N_BACKGROUND);
const START = { m_pole: 90, gamma: 2, tau: 0.012 };
const MAP_POINTS = 5;

let work = '';
let server: WebServer;
let browser: Browser | null = null;
/** One context for every page: they share the HTTP cache, so onnxruntime's .wasm is fetched and compiled once. */
let context: BrowserContext | null = null;
let eventsCsv = '';
/** The CSV's events written as generate writes them (float32), in two chunks: a structured .npy and Parquet with two row groups. */
let eventsNpy = '';
let eventsParquet = '';

async function copyModel(from: string, to: string, edit?: (manifest: Record<string, unknown>, dir: string) => Promise<void>): Promise<void> {
  await cp(join(MODELS, from), join(work, 'models', to), { recursive: true });
  if (!edit) return;
  const path = join(work, 'models', to, 'manifest.json');
  const manifest = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  await edit(manifest, join(work, 'models', to));
  await writeFile(path, JSON.stringify(manifest, null, 2));
}


test.before(async () => {
  for (const name of ['toy-signal', 'toy-background']) {
    const found = await stat(join(MODELS, name, 'manifest.json')).catch(() => null);
    if (!found) throw new Error(`${join(MODELS, name)} is missing: the browser tests use the shipped toy models (flowscan study toy --ship), or set FLOWSCAN_TEST_MODELS to a folder holding toy-signal/ and toy-background/.`);
  }
  work = await mkdtemp(join(tmpdir(), 'flowscan-browser-'));
  await copyModel('toy-signal', 'toy-signal');
  await copyModel('toy-background', 'toy-background');
  // Bytes changed after export: the manifest's sha256 no longer matches.
  await copyModel('toy-signal', 'tampered', async (_, dir) => {
    const bytes = await readFile(join(dir, 'log_prob.onnx'));
    bytes[bytes.length >> 1] ^= 0xff;
    await writeFile(join(dir, 'log_prob.onnx'), bytes);
  });
  // A graph that is not ONNX at all, with a manifest that vouches for it: onnxruntime itself must refuse it.
  await copyModel('toy-signal', 'broken-onnx', async (manifest, dir) => {
    const garbage = new TextEncoder().encode('this is not an ONNX protobuf '.repeat(40));
    await writeFile(join(dir, 'log_prob.onnx'), garbage);
    const graph = (manifest.graphs as Record<string, { bytes: number; sha256: string }>).log_prob;
    graph.bytes = garbage.byteLength;
    graph.sha256 = createHash('sha256').update(garbage).digest('hex');
  });
  await copyModel('toy-signal', 'bad-manifest', async (manifest) => {
    delete manifest.parameters;
  });

  const data = toy.pseudoData(new Rng(20240), { nSignal: N_SIGNAL, nBackground: N_BACKGROUND, mPole: 91.2, gamma: 2.5, tau: 0.01 });
  eventsCsv = join(work, 'events.csv');
  await writeFile(eventsCsv, formatEventsCsv({ x: data.x }, ['x']));
  await writeFile(join(work, 'wrong-columns.csv'), 'mass,weight\n91.0,1\n92.5,1\n');
  await writeFile(join(work, 'not-numbers.csv'), 'x\n91.0\nabc\n95.5\n');
  await writeFile(join(work, 'outside.csv'), 'x\n91.0\n200.0\n95.5\n');
  eventsNpy = join(work, 'events.npy');
  eventsParquet = join(work, 'events.parquet');
  for (const path of [eventsNpy, eventsParquet]) {
    const writer = openEventWriter(path, ['x']);
    const half = data.x.length >> 1;
    writer.write({ x: Float32Array.from(data.x.subarray(0, half)) }, half);
    writer.write({ x: Float32Array.from(data.x.subarray(half)) }, data.x.length - half);
    writer.close();
  }
  // np.save of a plain 1-D float64 array: its column has no name until the page is told one.
  const unnamed = Float64Array.of(91, 92.5, 95);
  const header = new TextEncoder().encode(`{'descr': '<f8', 'fortran_order': False, 'shape': (${unnamed.length},), }`.padEnd(53, ' ') + '\n');
  await writeFile(join(work, 'unnamed.npy'), Buffer.concat([Uint8Array.of(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length, 0), header, new Uint8Array(unnamed.buffer)]));

  server = await startWebServer({ port: 0, host: '127.0.0.1', modelsDir: join(work, 'models') });
  if (!SKIP_BROWSER) {
    if (!CHROMIUM) throw new Error('CI is set but `which chromium` finds nothing: .ci/install-chromium.sh should have installed it (apt-get install -y chromium).');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // --enable-unsafe-webgpu gives headless Chromium a software WebGPU adapter (SwiftShader): 'auto' still
      // runs on WASM (a fallback adapter is slower), and the WebGPU test chooses it explicitly.
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--enable-unsafe-webgpu'],
    });
    context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    // Every wait (for a page state, a message, a download) lasts until its event comes; the limit only catches a hang.
    context.setDefaultTimeout(HANG_GUARD_MS);
  }
});

test.after.always(async () => {
  await browser?.close();
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

// ---- server and bundle (no browser needed) ----

function rawStatus(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port: server.port, path }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    }).on('error', reject);
  });
}

test('the server sends COOP/COEP with every file, .wasm as application/wasm, and nothing outside its folders', async (t) => {
  for (const path of ['', 'app.js', 'style.css', 'ort/ort-wasm-simd-threaded.asyncify.mjs', 'ort/ort-wasm-simd-threaded.asyncify.wasm', 'models/index.json', 'models/toy-signal/manifest.json']) {
    const response = await fetch(new URL(path, server.url), { method: 'HEAD' });
    t.is(response.status, 200, path);
    for (const [name, value] of Object.entries(ISOLATION_HEADERS)) t.is(response.headers.get(name), value, `${name} of /${path}`);
  }
  const wasm = await fetch(new URL('ort/ort-wasm-simd-threaded.asyncify.wasm', server.url), { method: 'HEAD' });
  t.is(wasm.headers.get('content-type'), 'application/wasm');
  // Revalidation: the browser's copy of the 26 MB runtime is confirmed with a 304, isolation headers included.
  const again = await fetch(new URL('ort/ort-wasm-simd-threaded.asyncify.wasm', server.url), { headers: { 'If-None-Match': wasm.headers.get('etag')! } });
  t.is(again.status, 304);
  t.is(again.headers.get('cross-origin-embedder-policy'), 'require-corp');
  const listed = (await (await fetch(new URL('models/index.json', server.url))).json()) as { models: string[] };
  t.deepEqual(listed.models, ['bad-manifest', 'broken-onnx', 'tampered', 'toy-background', 'toy-signal']);
  // Raw request paths (fetch would normalise the dots away): the events file next to the models folder and
  // the repository's package.json must stay out of reach.
  for (const path of ['/models/../events.csv', '/models/%2e%2e/events.csv', '/models/..%2fevents.csv', '/models/toy-signal/..%5c..%5cevents.csv', '/package.json']) {
    t.is(await rawStatus(path), 404, path);
  }
  t.is((await fetch(server.url, { method: 'POST' })).status, 405);
  await t.throwsAsync(startWebServer({ host: '0.0.0.0', modelsDir: join(work, 'models') }), { message: /0\.0\.0\.0 is not a loopback address/ });
});

test('the bundle holds onnxruntime-web (WebGPU build) and the fits in the worker only, and no Node-only module', (t) => {
  const { app, worker } = server.bundleInputs;
  t.true(worker.some((p) => p.endsWith('onnxruntime-web/dist/ort.webgpu.min.mjs')));
  t.true(worker.some((p) => p.endsWith('runtime/src/likelihood/fit.ts')));
  // The page's main thread cannot run a fit or a graph: its script holds neither onnxruntime nor the minimisers.
  t.deepEqual(
    app.filter((p) => /onnxruntime|runtime\/src\/fit\/|runtime\/src\/likelihood\/fit/.test(p)),
    [],
  );
  const nodeOnly = [...app, ...worker].filter((p) => /runtime\/src\/node\/|onnxruntime-node|^node:|trainer\//.test(p));
  t.deepEqual(nodeOnly, []);
});

test('flowscan web build writes the page, the onnxruntime-web files, the models and the header notes', async (t) => {
  const out = join(work, 'site');
  const result = await buildWebApp(out, { modelsDir: join(work, 'models') });
  t.true(result.models.includes('toy-signal'));
  for (const file of ['index.html', 'app.js', 'style.css', 'ort/ort-wasm-simd-threaded.asyncify.wasm', 'models/index.json', 'models/toy-signal/log_prob_grad.onnx']) {
    t.true(result.files.includes(file), file);
    t.truthy(await stat(join(out, file)).catch(() => null), file);
  }
  t.deepEqual(await readFile(join(out, 'models/toy-signal/sample.onnx')), await readFile(join(MODELS, 'toy-signal/sample.onnx')));
  const notes = await readFile(join(out, 'README.txt'), 'utf8');
  t.regex(notes, /Cross-Origin-Opener-Policy: same-origin/);
  t.regex(notes, /Cross-Origin-Embedder-Policy: require-corp/);
});

// ---- the page in Chromium ----

async function openPage(t: ExecutionContext): Promise<Page> {
  const started = Date.now();
  const page = await context!.newPage();
  await page.goto(server.url);
  await waitForState(page, ['ready', 'error']);
  t.log(`page ready (onnxruntime-web started, default models loaded) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return page;
}

async function waitForState(page: Page, states: string[]): Promise<string> {
  await page.waitForFunction((wanted) => wanted.includes(document.body.dataset.state ?? ''), states, { polling: 100 });
  return (await page.evaluate(() => document.body.dataset.state)) as string;
}

async function errorText(page: Page): Promise<string | null> {
  return page.evaluate(() => (document.getElementById('error')!.hidden ? null : document.getElementById('error-message')!.textContent));
}

async function loadModels(page: Page, signal: string, background = 'toy-background'): Promise<string> {
  await page.selectOption('#signal-model', `served:${signal}`);
  await page.selectOption('#background-model', `served:${background}`);
  await page.click('#load-models');
  return waitForState(page, ['ready', 'error']);
}

/** The Node reference runs the same float32 graphs as the page (WASM and WebGPU have no float64). */
async function nodeModels(): Promise<{ signal: FlowModel; background: FlowModel }> {
  const options = { ep: 'cpu', precision: 'float32' } as const;
  return { signal: await loadModel(join(MODELS, 'toy-signal'), options), background: await loadModel(join(MODELS, 'toy-background'), options) };
}

function relative(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), 1e-300);
}

/** Pseudo-data sampled in the page (signal at (91.2, 2.5), background at τ = 0.01), read back through its CSV download. */
async function generateInPage(page: Page, seed: number, nSignal: number, nBackground: number): Promise<Float64Array> {
  await page.check('input[name="data-kind"][value="generate"]');
  await page.fill('#n-signal', String(nSignal));
  await page.fill('#n-background', String(nBackground));
  await page.fill('#data-seed', String(seed));
  await page.click('#generate');
  const state = await waitForState(page, ['ready', 'error']);
  if (state !== 'ready') throw new Error(`generating pseudo-data failed: ${await errorText(page)}`);
  const download = page.waitForEvent('download');
  await page.click('#download-events');
  const csv = await readFile((await (await download).path())!, 'utf8');
  return parseEventsCsv(csv, { source: 'pseudo-data.csv', columns: ['x'] }).columns.x;
}

/** The same draws through the Node sampler: stream 1 of Rng(seed) for the signal, stream 2 for the background. */
async function nodePseudoData(models: { signal: FlowModel; background: FlowModel }, seed: number, nSignal: number, nBackground: number): Promise<number[]> {
  const rng = new Rng(seed);
  const zs = new Float32Array(nSignal);
  rng.fork(1).fillNormal(zs);
  const zb = new Float32Array(nBackground);
  rng.fork(2).fillNormal(zb);
  return [...(await models.signal.sample(zs, Float32Array.of(91.2, 2.5))), ...(await models.background.sample(zb, Float32Array.of(0.01)))];
}

function maxRelativeDifference(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, relative(actual[i], expected[i]));
  return worst;
}

function nodeLikelihood(models: { signal: FlowModel; background: FlowModel }, x: Float64Array, signalFraction: number): MixtureLikelihood {
  return new MixtureLikelihood({
    components: [
      { name: 'signal', model: models.signal, fraction: signalFraction },
      { name: 'background', model: models.background, fraction: 1 - signalFraction },
    ],
    events: { x },
    yields: 'fixed-fractions',
  });
}

/** Page and Node fits agree: NLL to 1e-6, values to 1e-3 and Hessian errors to 2e-2, relative. */
function compareFits(t: ExecutionContext, fit: FitResult, expected: FitResult): void {
  t.log(`fit: page ${(fit.wallMs / 1000).toFixed(1)} s (${fit.evaluations.calls} evaluations), node ${(expected.wallMs / 1000).toFixed(1)} s (${expected.evaluations.calls})`);
  t.true(fit.converged && expected.converged, `${fit.reason} / ${expected.reason}`);
  t.true(relative(fit.nll, expected.nll) < 1e-6, `NLL ${fit.nll} vs ${expected.nll}`);
  for (const p of expected.parameters) {
    const q = fit.parameters.find((r) => r.name === p.name)!;
    t.log(`${p.name}: page ${q.value} ± ${q.error}, node ${p.value} ± ${p.error}`);
    t.true(relative(q.value, p.value) < 1e-3, `${p.name}: page ${q.value}, node ${p.value}`);
    t.true(relative(q.error!, p.error!) < 2e-2, `${p.name} error: page ${q.error}, node ${p.error}`);
  }
}

browserTest('a fit in Chromium (WASM threads, cross-origin isolated) equals the Node fit on the same events and models', async (t) => {
  const page = await openPage(t);
  t.is(await page.evaluate(() => crossOriginIsolated), true);
  t.regex((await page.textContent('#models-info')) ?? '', /signal: toy-signal[\s\S]*background: toy-background/);

  await page.setInputFiles('#events-file', eventsCsv);
  await page.waitForFunction(() => /events from events\.csv/.test(document.getElementById('data-info')!.textContent ?? ''));
  // The loaded file stays shown in its input, and the paper's signal fraction does not stay for the user's events.
  t.is(await page.$eval('#events-file', (input) => (input as HTMLInputElement).files?.[0]?.name), 'events.csv');
  t.is(await page.inputValue('#signal-fraction'), '');
  await page.click('#run-fit');
  t.is(await waitForState(page, ['error', 'fitted']), 'error');
  t.regex((await errorText(page)) ?? '', /“Signal fraction” \(3\. Fit\) must be entered for these events/);
  await page.fill('#signal-fraction', String(SIGNAL_FRACTION));
  for (const [name, value] of Object.entries(START)) await page.fill(`#start-${name}`, String(value));
  await page.fill('#starts', '1');
  await page.fill('#fit-seed', '1');
  await page.fill('#map-points', String(MAP_POINTS));
  await page.selectOption('#map-x', 'm_pole');
  await page.selectOption('#map-y', 'gamma');
  await page.click('#run-fit');
  // The expected duration is announced before the minimiser's first evaluation is reported.
  await page.waitForFunction(() => /Expected time: at most about \d+ s/.test(document.getElementById('fit-expected')!.textContent ?? ''));
  t.notRegex((await page.textContent('#fit-status')) ?? '', /evaluations/);
  t.is(await waitForState(page, ['fitted', 'error']), 'fitted', (await errorText(page)) ?? '');
  const result = (await page.evaluate(() => window.__flowscanResult)) as PageResult;
  t.log(`expected ${result.expectedSeconds.toFixed(1)} s, took ${result.elapsedSeconds.toFixed(1)} s`);
  // An upper-side estimate (every start's whole budget): not far below what the fit took, nor an order of magnitude above.
  t.true(result.expectedSeconds > result.elapsedSeconds / 3 && result.expectedSeconds < result.elapsedSeconds * 8, `expected ${result.expectedSeconds} s, took ${result.elapsedSeconds} s`);

  // Threads: onnxruntime lowers env.wasm.numThreads to 1 when SharedArrayBuffer is missing; it did not, and
  // its thread pool shows up as workers of the page.
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  t.log(`provider ${result.providers.signal}/${result.providers.background}, ${result.wasmThreads} WASM threads, ${cores} logical cores, ${page.workers().length} workers`);
  t.true(result.crossOriginIsolated);
  t.true(cores > 1, `navigator.hardwareConcurrency = ${cores}`);
  t.true(result.wasmThreads > 1, `ort.env.wasm.numThreads = ${result.wasmThreads}`);
  t.true(page.workers().length >= 1, 'onnxruntime-web started no thread workers');
  t.deepEqual(result.providers, { signal: 'wasm', background: 'wasm' }, 'headless Chromium with --disable-gpu has no WebGPU adapter: the page must fall back to WASM');

  // The same fit in Node: onnxruntime-node CPU, the CSV parsed by the runtime, the same options.
  const models = await nodeModels();
  const parsed = parseEventsCsv(await readFile(eventsCsv, 'utf8'), { source: eventsCsv, columns: ['x'] });
  const likelihood = nodeLikelihood(models, parsed.columns.x, SIGNAL_FRACTION);
  const fit = result.fit;
  t.is(fit.data.events, N_SIGNAL + N_BACKGROUND);
  compareFits(t, fit, await fitLikelihood(likelihood, { method: 'lbfgsb', start: START, starts: 1, seed: 1 }));

  // The ΔNLL map and its arrows: Node evaluates the likelihood and its gradient at the page's grid nodes.
  const map = result.map!;
  t.is(map.xs.length, MAP_POINTS);
  const free = likelihood.freeNames;
  const best = Float64Array.from(free, (n) => fit.parameters.find((p) => p.name === n)!.value);
  const points = new Float64Array(MAP_POINTS * MAP_POINTS * free.length);
  map.ys.forEach((y, r) =>
    map.xs.forEach((x, c) => {
      const k = r * MAP_POINTS + c;
      points.set(best, k * free.length);
      points[k * free.length + free.indexOf('m_pole')] = x;
      points[k * free.length + free.indexOf('gamma')] = y;
    }),
  );
  const node = await likelihood.evaluate(points, MAP_POINTS * MAP_POINTS, true);
  const nodeDelta = map.deltaNll.map((row, r) => row.map((_, c) => node.values[r * MAP_POINTS + c] - fit.nll));
  const nodeGradient = (name: string) => map.deltaNll.map((row, r) => row.map((_, c) => node.gradients![(r * MAP_POINTS + c) * free.length + free.indexOf(name)]));
  // ΔNLL: absolute (NLL ≈ 1.5e4 is a float64 sum of float32 log-densities). Arrows: relative to the largest
  // arrow of the map, the scale on which they are drawn.
  const worstValue = Math.max(...map.deltaNll.flat().map((v, i) => Math.abs(v - nodeDelta.flat()[i])));
  const arrowError = (page: number[][], expected: number[][]): number => {
    const scale = Math.max(...expected.flat().map(Math.abs));
    return Math.max(...page.flat().map((g, i) => Math.abs(g - expected.flat()[i]))) / scale;
  };
  const worstArrow = Math.max(arrowError(map.gradX, nodeGradient('m_pole')), arrowError(map.gradY, nodeGradient('gamma')));
  t.log(`map: largest |ΔNLL page − node| ${worstValue.toExponential(2)}; largest gradient difference ${worstArrow.toExponential(2)} of the largest gradient`);
  t.true(worstValue < 1e-2);
  t.true(worstArrow < 1e-3);
  t.true(Math.min(...map.deltaNll.flat()) > -1e-3, 'the best fit is the lowest point of the map');

  // Both figures are drawn, and the table shows the fitted values.
  t.is(await page.locator('#map-figure svg').count(), 1);
  t.is(await page.locator('#hist-figure svg').count(), 1);
  t.regex((await page.textContent('#fit-table tr[data-parameter="m_pole"]')) ?? '', /m_pole \[GeV\]/);
  t.regex((await page.textContent('#fit-summary')) ?? '', /WASM, \d+ threads/);
  await mkdir(join(REPO, 'out', 'browser'), { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });

  // A phone-sized viewport: the results (table, map, histogram) fit without scrolling sideways.
  await page.setViewportSize({ width: 390, height: 844 });
  const widths = await page.evaluate(() => ({ page: document.documentElement.scrollWidth, body: document.body.scrollWidth, viewport: window.innerWidth }));
  t.log(`390 px viewport: document ${widths.page} px wide, body ${widths.body} px`);
  t.true(widths.page <= widths.viewport && widths.body <= widths.viewport, JSON.stringify(widths));
  await page.screenshot({ path: SCREENSHOT_NARROW, fullPage: true });
  await page.close();
  for (const m of Object.values(models)) await m.release();
});

browserTest('the page reads .npy and Parquet event files (a block or row group at a time) and fits them as Node does', async (t) => {
  const page = await openPage(t);
  // The Node reference reads the same files with the same readers; the .npy and Parquet hold the same float32 values.
  const fromNpy = (await readEventFile(eventsNpy, { columns: ['x'] })).columns.x;
  t.deepEqual((await readEventFile(eventsParquet, { columns: ['x'] })).columns.x, fromNpy);
  const models = await nodeModels();
  const expected = await fitLikelihood(nodeLikelihood(models, fromNpy, SIGNAL_FRACTION), { method: 'lbfgsb', start: START, starts: 1, seed: 1 });
  for (const m of Object.values(models)) await m.release();

  for (const [file, name] of [[eventsNpy, 'events.npy'], [eventsParquet, 'events.parquet']]) {
    await page.setInputFiles('#events-file', file);
    await page.waitForFunction((shown) => (document.getElementById('data-info')!.textContent ?? '').startsWith(shown), `${N_SIGNAL + N_BACKGROUND} events from ${name}`);
    await page.fill('#signal-fraction', String(SIGNAL_FRACTION));
    for (const [parameter, value] of Object.entries(START)) await page.fill(`#start-${parameter}`, String(value));
    await page.fill('#starts', '1');
    await page.fill('#fit-seed', '1');
    await page.uncheck('#map-enabled');
    await page.click('#run-fit');
    t.is(await waitForState(page, ['fitted', 'error']), 'fitted', (await errorText(page)) ?? '');
    const result = (await page.evaluate(() => window.__flowscanResult)) as PageResult;
    t.is(result.events.source, name);
    t.is(result.fit.data.events, N_SIGNAL + N_BACKGROUND);
    compareFits(t, result.fit, expected);
  }

  // A plain array has no column names: the message says to type them, in the page's words; typed, the file reads.
  await page.setInputFiles('#events-file', join(work, 'unnamed.npy'));
  await page.waitForFunction(() => !document.getElementById('error')!.hidden);
  t.regex((await errorText(page)) ?? '', /unnamed\.npy: no column "x"; it has "0"\. Its columns are unnamed \(numbered by position\): type them into “Array column names” \(2\. Observed events\), in order\./);
  await page.fill('#array-names', 'x');
  await page.setInputFiles('#events-file', join(work, 'unnamed.npy'));
  await page.waitForFunction(() => /^3 events from unnamed\.npy/.test(document.getElementById('data-info')!.textContent ?? ''));
  // Formats the page does not read are refused by name, with what it reads and where the others are read.
  await page.setInputFiles('#events-file', join(REPO, 'test', 'fixtures', 'formats', 'lhco-rnd.h5'));
  await page.waitForFunction(() => /lhco-rnd\.h5/.test(document.getElementById('error-message')!.textContent ?? ''));
  t.regex((await errorText(page)) ?? '', /^lhco-rnd\.h5: HDF5 files cannot be read here; the page reads CSV, NumPy \(\.npy, \.npz\) and Parquet files: .*flowscan scan/);
  t.regex((await page.textContent('#data-info')) ?? '', /^3 events from unnamed\.npy/, 'a refused file leaves the events read before');
  await page.close();
});

browserTest('bad models and bad CSV files give specific errors; Cancel stops a fit; the page keeps working', async (t) => {
  const page = await openPage(t);
  t.is(await loadModels(page, 'tampered'), 'error');
  t.regex((await errorText(page)) ?? '', /tampered\/log_prob\.onnx fails its sha256 check .*modified after export/);
  t.regex((await page.textContent('#models-info')) ?? '', /Still using the models loaded before/);
  t.is(await page.inputValue('#signal-model'), 'served:toy-signal', 'the list shows the model still loaded, not the one that failed');

  // Model folders picked from disk: picking the parent folder offers every model inside; the toy models
  // go into the lists by name, and a tampered one fails the same way as when served.
  await page.setInputFiles('#model-folder', join(work, 'models'));
  await waitForState(page, ['ready', 'error']);
  const chosen = (id: string) => page.$eval(id, (select) => (select as HTMLSelectElement).selectedOptions[0]?.textContent);
  t.is(await chosen('#signal-model'), 'models/toy-signal (from disk)');
  t.is(await chosen('#background-model'), 'models/toy-background (from disk)');
  await page.click('#load-models');
  t.is(await waitForState(page, ['ready', 'error']), 'ready', (await errorText(page)) ?? '');
  t.regex((await page.textContent('#models-info')) ?? '', /signal: toy-signal from models\/toy-signal — .*Provider: WASM[\s\S]*background: toy-background from models\/toy-background —/);
  await page.selectOption('#signal-model', { label: 'models/tampered (from disk)' });
  await page.click('#load-models');
  t.is(await waitForState(page, ['ready', 'error']), 'error');
  t.regex((await errorText(page)) ?? '', /^models\/tampered\/log_prob\.onnx fails its sha256 check/);

  t.is(await loadModels(page, 'broken-onnx'), 'error');
  t.regex((await errorText(page)) ?? '', /broken-onnx\/log_prob\.onnx cannot be loaded by onnxruntime \(wasm\)/);

  t.is(await loadModels(page, 'bad-manifest'), 'error');
  t.regex((await errorText(page)) ?? '', /bad-manifest\/manifest\.json does not follow the model manifest schema: .*parameters/);

  await page.setInputFiles('#events-file', join(work, 'wrong-columns.csv'));
  await page.waitForFunction(() => !document.getElementById('error')!.hidden);
  t.regex((await errorText(page)) ?? '', /wrong-columns\.csv: missing column "x"; the header \(line 1\) has "mass", "weight"/);

  await page.setInputFiles('#events-file', join(work, 'not-numbers.csv'));
  await page.waitForFunction(() => /not-numbers/.test(document.getElementById('error-message')!.textContent ?? ''));
  t.regex((await errorText(page)) ?? '', /not-numbers\.csv, line 3: column "x": "abc" is not a finite decimal number/);
  t.regex((await errorText(page)) ?? '', /tick “Skip rows that cannot be read”/, 'the message names the page\'s control, not the request key');
  t.notRegex((await errorText(page)) ?? '', /skipBadRows/);
  // The message offers skipping bad rows; the page has that switch and reports what it skipped.
  await page.check('#skip-bad-rows');
  await page.setInputFiles('#events-file', join(work, 'not-numbers.csv'));
  await page.waitForFunction(() => /Skipped 1 row/.test(document.getElementById('data-info')!.textContent ?? ''));
  t.regex((await page.textContent('#data-info')) ?? '', /^2 events from not-numbers\.csv\.\nSkipped 1 row that could not be read:\nline 3: column "x": "abc"/);

  // An error inside the fit (an event outside the flows' support): the status does not stay on the stage that
  // failed, and the message names the page's control for the policy.
  await page.setInputFiles('#events-file', join(work, 'outside.csv'));
  await page.waitForFunction(() => /events from outside\.csv/.test(document.getElementById('data-info')!.textContent ?? ''));
  await page.fill('#signal-fraction', '0.1');
  await page.click('#run-fit');
  t.is(await waitForState(page, ['fitted', 'error']), 'error');
  t.regex((await errorText(page)) ?? '', /1 of 3 events lie outside .*choose “drop them and report how many” for “Events outside the models' support” \(3\. Fit\)/);
  t.is(await page.textContent('#fit-status'), 'The fit failed: see the message at the top.');

  // Still working: the good models load again and pseudo-data are sampled in the page.
  t.is(await loadModels(page, 'toy-signal'), 'ready', (await errorText(page)) ?? '');
  t.is(await errorText(page), null);
  const sampled = await generateInPage(page, 7, 40, 400);
  t.is(sampled.length, 440);

  const models = await nodeModels();
  const worst = maxRelativeDifference(sampled, await nodePseudoData(models, 7, 40, 400));
  t.log(`pseudo-data (WASM): largest relative difference page vs node sampler ${worst.toExponential(2)}`);
  t.true(worst < 1e-4);
  for (const m of Object.values(models)) await m.release();

  // Cancel on a long fit (3·10^4 events, 16 starts, a big map; each graph run takes longer than the grace
  // period). Proved by what happens, not by how many milliseconds it takes (which grow with the machine's load):
  // the page ends in 'cancelled' with no result, not 'fitted', and the next fit runs in the worker that replaced the
  // cancelled one. The main thread's longest timer gap during the fit is logged, not checked: under a loaded CI run it
  // reached 724–796 ms against 757–862 ms per likelihood point (26 ms idle), while a fit on the main thread would
  // block it for about 1.5 points per graph run — too close to tell the two apart under load. The bundle test above
  // shows instead that the main thread's script cannot run a fit.
  await generateInPage(page, 8, 1000, 30_000);
  await page.fill('#starts', '16');
  await page.fill('#map-points', '41');
  await page.evaluate(() => {
    const w = window as unknown as { longestGap: number };
    w.longestGap = 0;
    let last = performance.now();
    setInterval(() => {
      const now = performance.now();
      w.longestGap = Math.max(w.longestGap, now - last);
      last = now;
    }, 20);
  });
  await page.click('#run-fit');
  // Announced after the worker timed the likelihood, before the minimiser starts.
  await page.waitForFunction(() => /ms per likelihood point/.test(document.getElementById('fit-expected')!.textContent ?? ''));
  const expected = (await page.textContent('#fit-expected')) ?? '';
  const msPerPoint = Number(/\((\d+) ms per likelihood point/.exec(expected)?.[1]);
  // The gap counts from here, while the minimiser runs, until the worker's next progress message.
  const statusBefore = await page.textContent('#fit-status');
  await page.evaluate(() => ((window as unknown as { longestGap: number }).longestGap = 0));
  await page.waitForFunction((before) => document.getElementById('fit-status')!.textContent !== before, statusBefore);
  const cancelled = await page.evaluate(async () => {
    const gap = (window as unknown as { longestGap: number }).longestGap;
    const clicked = performance.now();
    document.getElementById('cancel-fit')!.click();
    while (document.body.dataset.state === 'fitting') await new Promise((resolve) => setTimeout(resolve, 5));
    return { state: document.body.dataset.state, ms: performance.now() - clicked, gap };
  });
  t.log(`cancelled ${cancelled.ms.toFixed(0)} ms after the click; longest main-thread gap during the fit ${cancelled.gap.toFixed(0)} ms (${expected})`);
  t.is(cancelled.state, 'cancelled');
  t.is(await page.evaluate(() => window.__flowscanResult), undefined, 'the cancelled fit published no result');
  t.true(msPerPoint > 0, expected);
  t.is(await page.textContent('#fit-status'), 'Cancelled.');
  t.false(await page.isDisabled('#run-fit'));
  // The worker (replaced when it did not stop by itself) fits again: small pseudo-data, one start, no map.
  await generateInPage(page, 9, 100, 1000);
  await page.fill('#starts', '1');
  await page.uncheck('#map-enabled');
  await page.click('#run-fit');
  t.is(await waitForState(page, ['fitted', 'error']), 'fitted', (await errorText(page)) ?? '');
  await page.close();
});

// A software adapter (SwiftShader) takes seconds per graph run, so only the sampler graph is compared here; a
// whole fit on it agreed with Node to 1e-5 relative but took 77 s (see the issue-6 report).
browserTest('the WebGPU provider (software adapter) runs the exported graphs: pseudo-data equal the Node sampler', async (t) => {
  const page = await openPage(t);
  t.regex((await page.textContent('#runtime-info')) ?? '', /WebGPU adapter: .*software fallback adapter; “auto” runs on WASM/);
  await page.selectOption('#provider', 'webgpu');
  t.is(await loadModels(page, 'toy-signal'), 'ready', (await errorText(page)) ?? '');
  t.regex((await page.textContent('#models-info')) ?? '', /signal: toy-signal .*Provider: WebGPU[^\n]*\nbackground: toy-background .*Provider: WebGPU/);

  const sampled = await generateInPage(page, 11, 60, 600);
  const models = await nodeModels();
  const worst = maxRelativeDifference(sampled, await nodePseudoData(models, 11, 60, 600));
  t.log(`pseudo-data (WebGPU): largest relative difference page vs node sampler ${worst.toExponential(2)}`);
  t.true(worst < 1e-4);
  t.is(await page.inputValue('#signal-fraction'), String(60 / 660), 'generating pseudo-data sets the signal fraction to the generated one');
  for (const m of Object.values(models)) await m.release();
  await page.close();
});
