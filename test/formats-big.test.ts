// Memory per event of a scan's data path (issue 15: a 10^7-row file scanned in < 1 GB). Two Parquet files of the
// toy's x (10^5 and 5·10^5 rows) go through test/bench/events-memory-probe.ts, each in a fresh process: read as
// `flowscan scan` reads them, the toy mixture built, one evaluation with gradients, then a full collection. The
// slope of the ArrayBuffers still held (typed arrays: every per-event array of the path) against rows is what each
// event costs; the fixed part cancels. Not peak RSS, nor the JS heap: peak RSS at these sizes is mostly the fixed
// part (≈ 400 MiB of onnxruntime sessions and arenas, Node, tsx) and, like the heap, moves by several MiB between
// runs (when freed blocks go back to the system, what tsx has compiled), i.e. ±8 B per event over 4·10^5 events.
//
// What the path needs is 40 B per event: the x column in float64 (8 B, shared by both components and not copied)
// and each component's resident preprocessed events, y and log_det in float64 (2 × 16 B). The bound, 48 B, leaves
// 8 B of slack; at 10^7 events it is 458 MiB, with the fixed part 860 MiB < 1 GB.
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
const MAX_BYTES_PER_EVENT = 48;

async function probe(dir: string, rows: number): Promise<{ live: number; peakRss: number }> {
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
  const result = JSON.parse(stdout) as { rows: number; maxRssMiB: number; liveMiB: number | null; nll: number };
  if (result.rows !== rows || !Number.isFinite(result.nll) || result.liveMiB === null) throw new Error(`the probe of ${rows} rows printed ${stdout}`);
  return { live: result.liveMiB * 2 ** 20, peakRss: result.maxRssMiB * 2 ** 20 };
}

test('a scan holds at most 48 bytes per event (10^7 events within 1 GB)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'flowscan-big-'));
  try {
    const small = await probe(dir, 100_000);
    const large = await probe(dir, 500_000);
    const bytesPerEvent = (large.live - small.live) / 400_000;
    const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
    t.log(`ArrayBuffers ${mib(small.live)} → ${mib(large.live)} MiB, peak RSS ${mib(small.peakRss)} → ${mib(large.peakRss)} MiB from 10^5 to 5·10^5 events: ${bytesPerEvent.toFixed(1)} B per event`);
    t.true(bytesPerEvent < MAX_BYTES_PER_EVENT, `${bytesPerEvent.toFixed(1)} B per event`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
