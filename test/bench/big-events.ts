// Not part of `npm test`: writes a 10^7-row Parquet file of the toy's x (the paper's pseudo-data mixture at
// (91.2, 2.5, 0.01): 1 % signal), then runs `flowscan scan` on it with the shipped toy models in a process of
// its own under /usr/bin/time -v and reports that process's peak resident memory (acceptance of issue 15: < 1 GB).
// The fit is capped (no global search, 3 evaluations per start) — the question is the memory of reading and
// evaluating 10^7 events, not the fit's length.
//   nice -n 10 npx tsx test/bench/big-events.ts [rows] [out-dir]
import { spawnSync } from 'node:child_process';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parquetWriteFile } from 'hyparquet-writer';
import { Rng } from '@flowscan/runtime';
import { pseudoData } from '../../trainer/src/data/toy.ts';
import { REPO_ROOT, toyRequest } from '../../trainer/src/study/toy.ts';

const rows = Number(process.argv[2] ?? 1e7);
const outDir = resolve(process.argv[3] ?? join(REPO_ROOT, 'out', 'big-events'));
mkdirSync(outDir, { recursive: true });
const file = join(outDir, 'events.parquet');

const t0 = performance.now();
const nSignal = Math.round(rows / 100);
const { x } = pseudoData(new Rng(15), { nSignal, nBackground: rows - nSignal });
parquetWriteFile({ filename: file, columnData: [{ name: 'x', data: x, type: 'DOUBLE' }], rowGroupSize: 1_000_000, codec: 'UNCOMPRESSED' });
const writeSeconds = (performance.now() - t0) / 1000;

const request = toyRequest(join(REPO_ROOT, 'models', 'toy-signal'), join(REPO_ROOT, 'models', 'toy-background'), 0, false);
request.events = { file };
request.globalSearch = false;
const requestPath = join(outDir, 'request.json');
writeFileSync(requestPath, JSON.stringify(request, null, 2));

const t1 = performance.now();
const flowscan = join(REPO_ROOT, 'trainer', 'bin', 'flowscan.js');
const scanArgs = ['-v', 'node', flowscan, 'scan', '--request', requestPath, '--out', join(outDir, 'result.json'), '--max-evaluations', '3'];
// A fit capped at 3 evaluations may end "not converged"; /usr/bin/time reports the memory either way.
const run = spawnSync('/usr/bin/time', scanArgs, { encoding: 'utf8', maxBuffer: 1 << 26 });
const scanSeconds = (performance.now() - t1) / 1000;
const stderr = run.stderr;
const maxRssKiB = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(stderr)?.[1] ?? NaN);
process.stdout.write(
  `${JSON.stringify({ rows, fileMiB: statSync(file).size / 2 ** 20, writeSeconds, scanSeconds, scanMaxRssMiB: maxRssKiB / 1024, exit: run.status })}\n`,
);
if (run.status !== 0) process.stderr.write(stderr.slice(-3000)
);
