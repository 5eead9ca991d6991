// Memory per event of a scan's data path (issue 15: a 10^7-row file scanned in < 1 GB). Two Parquet files of the
// toy's x (5·10^4 and 2.5·10^5 rows) go through test/bench/events-memory-probe.ts, each in a fresh process: read as
// `flowscan scan` reads them, the toy mixture built, one evaluation with gradients, then a full collection. The
// slope of what is still held — ArrayBuffers (typed arrays) plus the JS heap (JavaScript arrays, e.g. a number[]
// of row indices) — against rows is what each event costs; the fixed part cancels. Not peak RSS: at these sizes it
// is mostly the fixed part (≈ 400 MiB of onnxruntime sessions and arenas, Node, tsx) and moves by several MiB
// between runs (when freed blocks go back to the system), i.e. ±16 B per event over 2·10^5 events.
//
// The oracle is what the path must hold, from the models' dimensions: each feature column once in float64 (8 B,
// shared by the components and not copied) and each component's resident preprocessed events, y and log_det in
// float64 (8 B × (D + 1)): 8 + 2 × 16 = 40 B for the toy. The test asks for that within ±2 B, so one more float64
// (8 B) or Uint32 (4 B) per event fails it, on the heap or off it — the bound of an earlier version (< 48 B, typed
// arrays only) let an index array or a JavaScript array per event through — and so does measuring too little (the
// likelihood collected before the measurement). At 10^7 events 40 B is 381 MiB, with the fixed part < 1 GB.
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parquetWriteFile } from 'hyparquet-writer';
import { Rng } from '@flowscan/runtime';
import { pseudoData } from '../trainer/src/data/toy.ts';
import { REPO_ROOT, toyRequest } from '../trainer/src/study/toy.ts';

const execFileAsync = promisify(execFile);
/** One feature column shared by the two one-feature components, and each component's resident y and log_det. */
const EXPECTED_BYTES_PER_EVENT = 8 + 2 * 8 * (1 + 1);
/** What the heap holds after the collection differs by ~0.1 MB between the two processes: < 1 B per event over 2·10^5. */
const TOLERANCE_BYTES_PER_EVENT = 2;

interface Held {
  arrayBuffers: number;
  heap: number;
  peakRss: number;
}

async function probe(dir: string, rows: number): Promise<Held> {
  const file = join(dir, `events-${rows}.parquet`);
  const nSignal = Math.round(rows / 100);
  const { x } = pseudoData(new Rng(15), { nSignal, nBackground: rows - nSignal });
  parquetWriteFile({ filename: file, columnData: [{ name: 'x', data: x, type: 'DOUBLE' }], rowGroupSize: 100_000, codec: 'UNCOMPRESSED' });
  const request = toyRequest(join(REPO_ROOT, 'models', 'toy-signal'), join(REPO_ROOT, 'models', 'toy-background'), 0, false);
  request.events = { file };
  const requestPath = join(dir, `request-${rows}.json`);
  writeFileSync(requestPath, JSON.stringify(request));
  const script = join(REPO_ROOT, 'test', 'bench', 'events-memory-probe.ts');
  const { stdout } = await execFileAsync(process.execPath, ['--expose-gc', '--import', 'tsx', '--conditions=flowscan-source', script, requestPath], { cwd: REPO_ROOT, maxBuffer: 1 << 20 });
  const result = JSON.parse(stdout) as { rows: number; maxRssMiB: number; liveMiB: number | null; heapMiB: number | null; nll: number };
  if (result.rows !== rows || !Number.isFinite(result.nll) || result.liveMiB === null || result.heapMiB === null) throw new Error(`the probe of ${rows} rows printed ${stdout}`);
  return { arrayBuffers: result.liveMiB * 2 ** 20, heap: result.heapMiB * 2 ** 20, peakRss: result.maxRssMiB * 2 ** 20 };
}

test(`a scan holds ${EXPECTED_BYTES_PER_EVENT} bytes per event of the toy, typed arrays and JS heap together (10^7 events within 1 GB)`, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'flowscan-big-'));
  try {
    const small = await probe(dir, 50_000);
    const large = await probe(dir, 250_000);
    const perEvent = (key: keyof Held) => (large[key] - small[key]) / 200_000;
    const bytesPerEvent = perEvent('arrayBuffers') + perEvent('heap');
    const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
    t.log(`from 5·10^4 to 2.5·10^5 events: ArrayBuffers ${mib(small.arrayBuffers)} → ${mib(large.arrayBuffers)} MiB (${perEvent('arrayBuffers').toFixed(2)} B per event), heap ${mib(small.heap)} → ${mib(large.heap)} MiB (${perEvent('heap').toFixed(2)} B), peak RSS ${mib(small.peakRss)} → ${mib(large.peakRss)} MiB`);
    t.true(Math.abs(bytesPerEvent - EXPECTED_BYTES_PER_EVENT) < TOLERANCE_BYTES_PER_EVENT, `${bytesPerEvent.toFixed(2)} B per event held, expected ${EXPECTED_BYTES_PER_EVENT} ± ${TOLERANCE_BYTES_PER_EVENT}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
