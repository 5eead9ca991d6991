// `flowscan scan --report`: the report files, what its figures show (checked against the exact toy densities and
// independent counts), the profile points kept in the result, yields given as expected event counts, and the
// progress lines of a scan whose stderr is not a terminal. FLOWSCAN_REPORT_DIR=/some/dir keeps the report for a look.
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type FlowModel, Rng, type ScanRequest, type ScanResultFile, applyEventCounts, runScan, validateScanRequest } from '@flowscan/runtime';
import { loadModel } from '@flowscan/runtime/node';
import { withEventCounts } from '../trainer/src/cli/scan.ts';
import * as toy from '../trainer/src/data/toy.ts';
import { writeScanReport } from '../trainer/src/report/scan.ts';
import { REPO_ROOT } from '../trainer/src/study/toy.ts';
import { flowscan } from './helpers/commands.ts';

let dir = '';
const folder = (): string => dir;
const N_SIGNAL = 300;
const N_BACKGROUND = 2700;
const N = N_SIGNAL + N_BACKGROUND;
const TRUTH = { m_pole: 91.2, gamma: 2.5, tau: 0.01 };
const SIGNAL_MODEL = join(REPO_ROOT, 'models', 'toy-signal');
const BACKGROUND_MODEL = join(REPO_ROOT, 'models', 'toy-background');

/** Toy pseudo-data at the paper's point, drawn with the exact samplers. */
function pseudoData(): Float64Array {
  const rng = new Rng(11);
  const x = new Float64Array(N);
  toy.signalSample(rng, TRUTH.m_pole, TRUTH.gamma, x.subarray(0, N_SIGNAL));
  toy.backgroundSample(rng, TRUTH.tau, x.subarray(N_SIGNAL));
  return x;
}

/** A cheap fit: one start at the truth's neighbourhood, no global search. */
function request(components: ScanRequest['components'], extra: Partial<ScanRequest> = {}): ScanRequest {
  return validateScanRequest(
    { events: { file: 'events.csv' }, components, globalSearch: false, starts: 1, start: { m_pole: 91, gamma: 2.4, tau: 0.011 }, ...extra },
    'test request',
  );
}

const x = pseudoData();
let models: Record<string, FlowModel>;

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flowscan-report-'));
  await writeFile(join(folder(), 'events.csv'), `x\n${Array.from(x).join('\n')}\n`);
  models = {
    signal: await loadModel(SIGNAL_MODEL, { ep: 'cpu', threads: 1 }),
    background: await loadModel(BACKGROUND_MODEL, { ep: 'cpu', threads: 1 }),
  };
});

test.after.always(async () => {
  for (const m of Object.values(models ?? {})) await m.release();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function scan(r: ScanRequest): Promise<ScanResultFile> {
  return runScan({ request: r, models, events: { x }, executionProvider: 'cpu', flowscanVersion: 'test' });
}

function parameterValues(result: ScanResultFile): Record<string, number> {
  return Object.fromEntries(result.fit.parameters.map((p) => [p.name, p.value]));
}

/** Where a polyline (x, y) crosses `level`, by linear interpolation (independent of the plots' levelCrossings). */
function crossings(xs: number[], ys: number[], level: number): number[] {
  const out: number[] = [];
  for (let i = 1; i < xs.length; i++) {
    const [a, b] = [ys[i - 1] - level, ys[i] - level];
    if (a === 0) out.push(xs[i - 1]);
    else if (a * b < 0) out.push(xs[i - 1] + ((xs[i] - xs[i - 1]) * a) / (a - b));
  }
  return out;
}

test('the scan report: files, the data figure against the exact toy densities, the ΔNLL map and the profile curves', async (t) => {
  const reportDir = process.env.FLOWSCAN_REPORT_DIR ?? join(folder(), 'report');
  const r = request([{ name: 'signal', model: SIGNAL_MODEL, fraction: 0.1 }, { name: 'background', model: BACKGROUND_MODEL, fraction: 0.9 }], {
    signal: 'signal',
    profile: true,
    maps: [{ x: 'm_pole', y: 'gamma', nx: 7, ny: 5 }],
  });
  const result = await scan(r);
  const { reportPath, figures } = await writeScanReport(reportDir, { result, models, events: { x }, truth: TRUTH });
  const html = readFileSync(reportPath, 'utf8');
  const names = ['data-x', 'map-m_pole-gamma', 'profile-m_pole', 'profile-gamma', 'profile-tau'];
  t.deepEqual(figures.map((f) => f.name), names);
  for (const name of names) {
    t.true(existsSync(join(reportDir, 'figures', `${name}.svg`)), `${name}.svg`);
    t.is(readFileSync(join(reportDir, 'figures', `${name}.png`)).subarray(1, 4).toString(), 'PNG', `${name}.png`);
    t.true(html.includes(`<figure id="${name}">`), `${name} in report.html`);
  }
  for (const p of result.fit.parameters) t.true(html.includes(`<td>${p.name} [${p.unit}]</td>`), `table row of ${p.name}`);
  t.regex(html, /local significance of &quot;signal&quot;: Z = /);

  // The profile points are kept, sorted, with the best fit at ΔNLL 0, and cross ½ at the interval's ends.
  for (const p of result.fit.parameters) {
    const profile = p.profile!;
    t.true(profile.values.length >= 5, `${p.name}: ${profile.values.length} profile points`);
    t.true(profile.values.every((v, i) => i === 0 || v > profile.values[i - 1]), `${p.name}: sorted`);
    t.is(profile.deltaNll[profile.values.indexOf(p.value)], 0);
    const interval = p.intervals!.find((i) => i.level === 0.5)!;
    const at = crossings(profile.values, profile.deltaNll, 0.5);
    const width = interval.upper - interval.lower;
    t.true(Math.abs(at[0] - interval.lower) < 0.01 * width, `${p.name}: profile crosses ½ at ${at[0]}, the interval starts at ${interval.lower}`);
    t.true(Math.abs(at[at.length - 1] - interval.upper) < 0.01 * width, `${p.name}: profile crosses ½ at ${at.at(-1)}, the interval ends at ${interval.upper}`);
    const curve = (figures.find((f) => f.name === `profile-${p.name}`)!.spec.datasets as Record<string, { x: number }[]>).curve;
    t.deepEqual(curve.map((c) => c.x), profile.values);
  }

  // The data figure: the data rows count the events; the fit's total follows N·[f_s ∫p_sig + f_b ∫p_bkg] of the
  // exact toy densities at the fitted point, within the flow samples' noise and the flows' own error.
  const fitted = parameterValues(result);
  type Row = { role: string; series: string; lo: number; hi: number; y: number; yHi: number };
  const rows = (figures[0].spec.datasets as Record<string, Row[]>).histogram.filter((row) => row.role === 'bin');
  t.is(rows.filter((row) => row.series === 'data').reduce((s, row) => s + row.y, 0), N);
  const total = rows.filter((row) => row.series === 'fit: total');
  const signalIn = (row: Row) => toy.signalCdf(row.hi, fitted.m_pole, fitted.gamma) - toy.signalCdf(row.lo, fitted.m_pole, fitted.gamma);
  const backgroundIn = (row: Row) => toy.backgroundCdf(row.hi, fitted.tau) - toy.backgroundCdf(row.lo, fitted.tau);
  // Per bin within 3 errors of the flow samples (√Σw²) and 10% for the flows' own wiggles (the shipped background flow
  // is off by up to ~7% in single 4 GeV bins); wrong weights, yields or parameter order would miss by factors.
  for (const row of total) {
    const exact = N * (0.1 * signalIn(row) + 0.9 * backgroundIn(row));
    t.true(Math.abs(row.y - exact) <= 3 * (row.yHi - row.y) + 0.1 * exact + 1, `bin [${row.lo}, ${row.hi}]: fit total ${row.y.toFixed(1)}, exact ${exact.toFixed(1)}`);
  }
  t.true(Math.abs(total.reduce((s, row) => s + row.y, 0) - N) < 0.01 * N, 'the fit total holds the events');
  const signalRows = rows.filter((row) => row.series === 'fit: signal');
  t.true(Math.abs(signalRows.reduce((s, row) => s + row.y, 0) - 0.1 * N) < 0.02 * 0.1 * N, 'the signal component holds f_s·N events');

  // The map: one cell per grid node, arrows along −∇NLL, the best fit and the truth marked.
  const map = figures[1].spec.datasets as Record<string, Record<string, number | string>[]>;
  t.is(map.cells.length, 7 * 5);
  t.true(map.arrows.length > 0);
  t.deepEqual(map.markers.map(({ marker, x: mx, y: my }) => ({ marker, x: mx, y: my })), [
    { marker: 'truth', x: TRUTH.m_pole, y: TRUTH.gamma },
    { marker: 'best fit', x: fitted.m_pole, y: fitted.gamma },
  ]);
});

test('expected counts give the same fit as the equivalent fractions (fixed fractions), and yield starts (extended)', async (t) => {
  const byFraction = await scan(request([{ name: 'signal', model: SIGNAL_MODEL, fraction: N_SIGNAL / N }, { name: 'background', model: BACKGROUND_MODEL, fraction: N_BACKGROUND / N }]));
  const signalOnly = await scan(request([{ name: 'signal', model: SIGNAL_MODEL, events: N_SIGNAL }, { name: 'background', model: BACKGROUND_MODEL }]));
  const both = await scan(request([{ name: 'signal', model: SIGNAL_MODEL, events: 2 * N_SIGNAL }, { name: 'background', model: BACKGROUND_MODEL, events: 2 * N_BACKGROUND }]));
  for (const result of [signalOnly, both]) {
    t.deepEqual(result.request.components.map((c) => [c.name, c.fraction, c.events]), [['signal', N_SIGNAL / N, undefined], ['background', N_BACKGROUND / N, undefined]]);
    t.is(result.fit.nll, byFraction.fit.nll);
    t.deepEqual(parameterValues(result), parameterValues(byFraction));
  }
  const extended = applyEventCounts(request([{ name: 'signal', model: SIGNAL_MODEL, events: 250 }, { name: 'background', model: BACKGROUND_MODEL }], { yields: 'extended' }), N);
  t.deepEqual(extended.start, { m_pole: 91, gamma: 2.4, tau: 0.011, n_signal: 250 });
});

test('counts that cannot describe the sample are refused, naming the components', (t) => {
  const two = (s: object, b: object) => request([{ name: 'signal', model: SIGNAL_MODEL, ...s }, { name: 'background', model: BACKGROUND_MODEL, ...b }]);
  t.throws(() => applyEventCounts(two({ events: 4000 }, {}), N), { message: /counts \(signal 4000\) and fractions take 1\.33333 of the 3000 events.*nothing is left for "background"/ });
  t.throws(() => applyEventCounts(two({ events: 10, fraction: 0.1 }, {}), N), { message: /component "signal" gives both fraction 0\.1 and events 10/ });
  const three = request([{ name: 'signal', model: SIGNAL_MODEL, events: 10 }, { name: 'background', model: BACKGROUND_MODEL }, { name: 'other', model: BACKGROUND_MODEL }]);
  t.throws(() => applyEventCounts(three, N), { message: /components "background", "other" have neither events nor a fraction/ });
  // The command line's counts replace the request's fractions.
  t.deepEqual(withEventCounts(two({ fraction: 0.2 }, { fraction: 0.8 }), 300).components.map((c) => [c.name, c.fraction, c.events]), [['signal', undefined, 300], ['background', undefined, undefined]]);
  t.throws(() => withEventCounts(two({}, {}), undefined, { signl: 3 }), { message: /--component-events names "signl", which is not a component \(signal, background\)/ });
});

test('flowscan scan --signal-events --report: the fit of the fractions, the report, and progress lines in a log', async (t) => {
  const requestPath = join(folder(), 'request.json');
  await writeFile(
    requestPath,
    JSON.stringify({ events: { file: 'events.csv' }, components: [{ name: 'signal', model: SIGNAL_MODEL, fraction: 0.5 }, { name: 'background', model: BACKGROUND_MODEL, fraction: 0.5 }], globalSearch: false, starts: 1, start: { m_pole: 91, gamma: 2.4, tau: 0.011 } }),
  );
  const out = join(folder(), 'cli-result.json');
  const reportDir = join(folder(), 'cli-report');
  const run = await flowscan(['scan', '--request', requestPath, '--signal-events', String(N_SIGNAL), '--report', reportDir, '--out', out, '--ep', 'cpu', '--threads', '1']);
  t.is(run.code, 0, run.stderr);
  const result = JSON.parse(readFileSync(out, 'utf8')) as ScanResultFile;
  t.deepEqual(result.request.components.map((c) => c.fraction), [N_SIGNAL / N, N_BACKGROUND / N]);
  const byFraction = await scan(request([{ name: 'signal', model: SIGNAL_MODEL, fraction: N_SIGNAL / N }, { name: 'background', model: BACKGROUND_MODEL, fraction: N_BACKGROUND / N }]));
  t.is(result.fit.nll, byFraction.fit.nll);
  t.true(existsSync(join(reportDir, 'report.html')));
  t.true(existsSync(join(reportDir, 'figures', 'data-x.png')));
  // stderr is a pipe here: per-iteration lines with the NLL, the gradient norm and an ETA, and the stages' ends.
  t.regex(run.stderr, /^scan: fit, step \d+: NLL -?\d+\.\d{3}, \|proj\. grad\| [\d.e+-]+ \(converged < 0\.02\), .*event evaluations\/s, .*ETA ≤ /m);
  t.regex(run.stderr, /^scan: hessian done: \d+ evaluation calls? in /m);
});

test('extended yields: the data figure scales each component to its fitted n_<component>', async (t) => {
  const r = request([{ name: 'signal', model: SIGNAL_MODEL, events: 250 }, { name: 'background', model: BACKGROUND_MODEL }], { yields: 'extended' });
  const result = await scan(r);
  t.is(result.request.start!.n_signal, 250);
  const fitted = parameterValues(result);
  const { figures } = await writeScanReport(join(folder(), 'report-extended'), { result, models, events: { x } });
  type Row = { role: string; series: string; y: number };
  const rows = (figures[0].spec.datasets as Record<string, Row[]>).histogram.filter((row) => row.role === 'bin');
  // Every flow sample lies inside the support, which is the histogram's range: each component's bins hold its yield.
  for (const c of ['signal', 'background']) {
    const sum = rows.filter((row) => row.series === `fit: ${c}`).reduce((s, row) => s + row.y, 0);
    t.true(Math.abs(sum - fitted[`n_${c}`]) < 1e-6 * fitted[`n_${c}`], `${c}: ${sum} in the figure, n_${c} = ${fitted[`n_${c}`]}`);
  }
  t.true(Math.abs(fitted.n_signal + fitted.n_background - N) < 1, 'the extended fit holds the events');
});
