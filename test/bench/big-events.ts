// Not part of `npm test`: for each row count, writes a Parquet file of the toy's x (the paper's pseudo-data
// mixture at (91.2, 2.5, 0.01): 1 % signal), then runs `flowscan scan` on it with the shipped toy models in a
// process of its own under /usr/bin/time -v, and reports that process's peak resident memory (acceptance of
// issue 15: < 1 GB at 10^7 rows) with the sampled peaks of its JS heap and ArrayBuffers (memory-peaks.mjs).
// With several row counts it fits peak RSS = fixed + bytes per event × rows through them (least squares).
// The fit is capped (no global search, 3 evaluations per start) — the question is the memory of reading and
// evaluating the events, not the fit's length. --full runs the fit as `flowscan scan --demo` does (global search,
// default budgets; the event-evaluation limit raised to what 10^7 rows plan). --probe runs events-memory-probe.ts
// instead of the scan: the same reading and likelihood, one evaluation.
//   nice -n 10 npx tsx test/bench/big-events.ts [--out DIR] [--full | --probe] [rows ...]      (default: 10^7 rows)
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parquetWriteFile } from 'hyparquet-writer';
import { Rng } from '@flowscan/runtime';
import { pseudoData } from '../../trainer/src/data/toy.ts';
import { REPO_ROOT, toyRequest } from '../../trainer/src/study/toy.ts';

const args = process.argv.slice(2);
const outAt = args.indexOf('--out');
const outDir = resolve(outAt >= 0 ? args.splice(outAt, 2)[1] : join(REPO_ROOT, 'out', 'big-events'));
const probeAt = args.indexOf('--probe');
const probe = probeAt >= 0 && args.splice(probeAt, 1).length > 0;
const fullAt = args.indexOf('--full');
const full = fullAt >= 0 && args.splice(fullAt, 1).length > 0;
if (probe && full) throw new Error('--probe and --full exclude each other: the probe evaluates once, --full runs the whole fit');
const rowCounts = (args.length > 0 ? args : ['1e7']).map((text) => {
  const rows = Number(text);
  if (!(Number.isInteger(rows) && rows >= 1000)) throw new Error(`row count "${text}" must be an integer ≥ 1000`);
  return rows;
});
mkdirSync(outDir, { recursive: true });

/** Likelihood points a full fit may plan (the demo's fit plans ~130: the global search and one start's budget). */
const FULL_FIT_POINTS = 1000;

interface Measured {
  rows: number;
  fileMiB: number;
  writeSeconds: number;
  /** Seconds of the measured process (the scan, or the probe). */
  seconds: number;
  maxRssMiB: number;
  sampled: Record<string, number>;
  /** What the probe printed (--probe). */
  probe?: Record<string, number>;
  exit: number | null;
}

function measure(rows: number): Measured {
  const file = join(outDir, `events-${rows}.parquet`);
  const t0 = performance.now();
  const nSignal = Math.round(rows / 100);
  const { x } = pseudoData(new Rng(15), { nSignal, nBackground: rows - nSignal });
  parquetWriteFile({ filename: file, columnData: [{ name: 'x', data: x, type: 'DOUBLE' }], rowGroupSize: 1_000_000, codec: 'UNCOMPRESSED' });
  const writeSeconds = (performance.now() - t0) / 1000;

  const request = toyRequest(join(REPO_ROOT, 'models', 'toy-signal'), join(REPO_ROOT, 'models', 'toy-background'), 0, false);
  request.events = { file };
  if (!full) request.globalSearch = false;
  const requestPath = join(outDir, `request-${rows}.json`);
  writeFileSync(requestPath, JSON.stringify(request, null, 2));

  const peaksPath = join(outDir, `memory-${rows}.json`);
  const sampler = join(REPO_ROOT, 'test', 'bench', 'memory-peaks.mjs');
  const command = probe
    ? ['--import', 'tsx', '--conditions=flowscan-source', join(REPO_ROOT, 'test', 'bench', 'events-memory-probe.ts'), requestPath]
    : [join(REPO_ROOT, 'trainer', 'bin', 'flowscan.js'), 'scan', '--request', requestPath, '--out', join(outDir, `result-${rows}.json`), ...(full ? ['--max-event-evaluations', String(FULL_FIT_POINTS * rows)] : ['--max-evaluations', '3'])];
  const t1 = performance.now();
  // A fit capped at 3 evaluations may end "not converged"; /usr/bin/time reports the memory either way.
  const run = spawnSync('/usr/bin/time', ['-v', 'node', '--import', sampler, ...command], { encoding: 'utf8', maxBuffer: 1 << 26, env: { ...process.env, MEMORY_PEAKS_FILE: peaksPath } });
  const seconds = (performance.now() - t1) / 1000;
  const maxRssKiB = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(run.stderr)?.[1] ?? NaN);
  if (run.status !== 0) process.stderr.write(run.stderr.slice(-3000));
  const sampled = JSON.parse(readFileSync(peaksPath, 'utf8')) as Record<string, number>;
  return { rows, fileMiB: statSync(file).size / 2 ** 20, writeSeconds, seconds, maxRssMiB: maxRssKiB / 1024, sampled, ...(probe && run.status === 0 ? { probe: JSON.parse(run.stdout) as Record<string, number> } : {}), exit: run.status };
}

const results: Measured[] = [];
for (const rows of rowCounts) {
  const m = measure(rows);
  results.push(m);
  process.stdout.write(`${JSON.stringify(m)}\n`);
}
if (results.length >= 2) {
  // Least squares of peak RSS against rows: the slope is the memory each event costs, the intercept the fixed part.
  const n = results.length;
  const meanRows = results.reduce((s, m) => s + m.rows, 0) / n;
  const meanRss = results.reduce((s, m) => s + m.maxRssMiB, 0) / n;
  const slope = results.reduce((s, m) => s + (m.rows - meanRows) * (m.maxRssMiB - meanRss), 0) / results.reduce((s, m) => s + (m.rows - meanRows) ** 2, 0);
  process.stdout.write(`${JSON.stringify({ bytesPerEvent: slope * 2 ** 20, fixedMiB: meanRss - slope * meanRows })}\n`);
}
