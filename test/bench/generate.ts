// The `generate` section of `npm run bench`: events/s and peak resident memory of `flowscan generate` with the
// shipped toy signal flow at the paper's point, written to a .npy file and histogrammed on the fly, each size in a
// fresh process (so its peak memory is its own). Sizes 10^6 and 10^7 by default; `--generate-max 8` adds 10^8
// (about 10–30 min on a 2-core machine, ~400 MB of disk in the scratch folder).
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../trainer/src/study/toy.ts';

const execFileAsync = promisify(execFile);

interface GenerateReport {
  events: number;
  seconds: number;
  eventsPerSecond: number;
  peakRssMiB: number;
}

export async function generateThroughput(scratch: string, row: (what: string, value: string, note?: string) => void, maxExponent: number): Promise<void> {
  const cli = join(REPO_ROOT, 'trainer', 'bin', 'flowscan.js');
  for (let exponent = 6; exponent <= maxExponent; exponent++) {
    const out = join(scratch, `generate-1e${exponent}.npy`);
    const { stdout } = await execFileAsync(
      process.execPath,
      [cli, 'generate', '--model', join(REPO_ROOT, 'models', 'toy-signal'), '--theta', 'm_pole=91.2,gamma=2.5', '--events', String(10 ** exponent), '--out', out, '--hist', 'x=40:140:100', '--hist-out', join(scratch, 'generate-hist.json'), '--ep', 'cpu'],
      { cwd: REPO_ROOT, maxBuffer: 1 << 20 },
    );
    const r = JSON.parse(stdout.trim().split('\n').at(-1)!) as GenerateReport;
    row(
      `flowscan generate, toy signal nsf, 10^${exponent} events → .npy + histogram`,
      `${(r.eventsPerSecond / 1000).toFixed(0)}k events/s`,
      `${r.seconds.toFixed(0)} s, peak RSS ${r.peakRssMiB.toFixed(0)} MiB (goal < 500 MiB at 10^8); chunks of 65 536`,
    );
  }
}
