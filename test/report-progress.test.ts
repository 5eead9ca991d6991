// Progress that a log can show: when stderr is not a terminal, a line per finished unit (a training's epoch with
// its validation loss), a heartbeat when the work goes quiet, and a fit's iteration lines with NLL, gradient norm
// and ETA.
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { type MinimizeProgress, minimize } from '../runtime/src/fit/index.ts';
import { fitProgress, formatDuration, progressBar } from '../trainer/src/cli/progress.ts';
import { quadratic, recordingObjective } from './fit-helpers.ts';

interface LogStream {
  write(text: string): void;
  isTTY: false;
  lines(): string[];
  /**
   * Resolves once the log has `count` lines: heartbeats are awaited as they come, however late a loaded machine
   * fires timers. The progress timers do not keep the process alive (unref), so a timer of the test's does meanwhile.
   */
  linesReached(count: number): Promise<void>;
}

function logStream(): LogStream {
  let text = '';
  const lines = () => text.split('\n').filter((l) => l !== '');
  let waiting: { count: number; resolve: () => void } | null = null;
  return {
    write: (chunk: string) => {
      text += chunk;
      if (waiting && lines().length >= waiting.count) waiting.resolve();
    },
    isTTY: false,
    lines,
    linesReached: async (count) => {
      if (lines().length >= count) return;
      const keepAlive = setInterval(() => undefined, 1000);
      await new Promise<void>((resolve) => (waiting = { count, resolve }));
      waiting = null;
      clearInterval(keepAlive);
    },
  };
}

/** Resolves after `ticks` ticks of a `periodMs` interval: a timer of that period started earlier would have fired as often. */
async function intervalTicks(periodMs: number, ticks: number): Promise<void> {
  for (let k = 0; k < ticks; k++) await sleep(periodMs);
}

test('a training in a log: one line per epoch, with the validation loss that arrives after its last batch', (t) => {
  const stream = logStream();
  const bar = progressBar('train', 3, '{fieldsText}', { stream });
  for (let epoch = 1; epoch <= 3; epoch++) {
    for (let b = 1; b <= 4; b++) bar.update(epoch - 1 + b / 4, { epoch, loss: (1 / epoch + b / 100).toFixed(4) });
    bar.update(epoch, { epoch, loss: (1 / epoch).toFixed(4), 'val loss': (1.1 / epoch).toFixed(4) });
  }
  bar.stop();
  const lines = stream.lines();
  t.is(lines.length, 3, lines.join('\n'));
  lines.forEach((line, k) => {
    t.regex(line, new RegExp(`^train: ${k + 1}/3 \\(${Math.round((100 * (k + 1)) / 3)}%\\), `));
    t.true(line.includes(`epoch ${k + 1}`) && line.includes(`val loss ${(1.1 / (k + 1)).toFixed(4)}`), line);
  });
  t.regex(lines[0], /ETA /);
  t.notRegex(lines[2], /ETA /, 'no ETA once done');
});

test('fine-grained totals print per decile; a quiet log gets a heartbeat', async (t) => {
  const stream = logStream();
  const bar = progressBar('generate', 1_000_000, '{fieldsText}', { stream, heartbeatMs: 40 });
  for (let done = 50_000; done <= 1_000_000; done += 50_000) bar.update(done);
  t.is(stream.lines().length, 10);
  await stream.linesReached(12);
  bar.stop();
  const beats = stream.lines().slice(10);
  for (const line of beats) t.regex(line, /^generate: 1000000\/1000000 \(100%\)/);
  const after = stream.lines().length;
  await intervalTicks(40, 3);
  t.is(stream.lines().length, after, 'no heartbeat after stop');
});

test('a fit in a log: iteration lines with NLL, gradient norm, rate and ETA; stage lines; heartbeat while an evaluation runs', async (t) => {
  const stream = logStream();
  const fit = fitProgress('scan', { events: 1000, maxEvaluations: 30, gtol: 0.02 }, { stream, iterationMs: 0, heartbeatMs: 40 });
  fit.iteration('fit', { step: 10, activeStarts: 4, calls: 10, points: 40, lowestValue: 1234.5678, gradientNorm: 0.5, wallMs: 2000 });
  fit.stage('fit', 25, 5);
  await stream.linesReached(4);
  fit.rows('map 1/1 (m_pole × gamma)', 1, 5);
  fit.rows('map 1/1 (m_pole × gamma)', 5, 5);
  fit.stop();
  const lines = stream.lines();
  // 40 points × 1000 events in 2 s = 2e4 evaluations/s; 20 of 30 evaluations left at 0.2 s each: 4 s.
  t.is(lines[0], 'scan: fit, step 10: NLL 1234.568, |proj. grad| 0.50 (converged < 0.02), 4 starts running, 2.0e+4 event evaluations/s, 2.0 s in stage, ETA ≤ 4.0 s');
  t.regex(lines[1], /^scan: fit done: 25 evaluation calls in 5\.0 s \(total [\d.]+ s\)$/);
  t.true(lines.slice(2, -2).length >= 2, lines.join('\n'));
  for (const line of lines.slice(2, -2)) t.regex(line, /^scan: still working, [\d.]+ s in; last: fit done: 25 evaluation calls/);
  t.regex(lines.at(-1)!, /^scan: map 1\/1 \(m_pole × gamma\): row 5\/5 \(total/);
});

test('durations read as seconds, minutes or hours', (t) => {
  t.is(formatDuration(4.25), '4.3 s');
  t.is(formatDuration(42), '42 s');
  t.is(formatDuration(200), '3 min 20 s');
  t.is(formatDuration(7500), '2 h 05 min');
  t.is(formatDuration(Infinity), '?');
});

test('the minimiser reports the projected-gradient norm at its lowest point: the start\'s, then below gtol', async (t) => {
  const a = [
    [4, 1, 0],
    [1, 3, 0.5],
    [0, 0.5, 2],
  ];
  const mean = [1, -2, 0.5];
  const start = [3, 0, -1];
  const progress: MinimizeProgress[] = [];
  const scales = [0.5, 2, 1];
  await minimize(recordingObjective(3, quadratic(mean, a)), { method: 'lbfgsb', starts: Float64Array.from(start), scales: Float64Array.from(scales), gtol: 1e-8, ftolAbs: 0, ftolRel: 0, onProgress: (p) => progress.push(p) });
  // Step 1 evaluated the start alone: no bounds, so the norm is max_i |∂f/∂x_i · scale_i| of A(x − μ).
  const gradient = a.map((row) => row.reduce((s, aij, j) => s + aij * (start[j] - mean[j]), 0));
  const expected = Math.max(...gradient.map((g, i) => Math.abs(g * scales[i])));
  t.true(Math.abs(progress[0].gradientNorm - expected) < 1e-12, `${progress[0].gradientNorm} vs ${expected}`);
  t.true(progress.at(-1)!.gradientNorm <= 1e-8, `final norm ${progress.at(-1)!.gradientNorm}`);
});

test('whole units (toys, design points) print as each one ends, not when the next one does', (t) => {
  const stream = logStream();
  const bar = progressBar('toys', 4, '{fieldsText}', { stream });
  bar.update(1, { NLL: '12.5' });
  t.deepEqual(stream.lines().length, 1);
  t.regex(stream.lines()[0], /^toys: 1\/4 \(25%\), .*ETA .*NLL 12\.5$/);
  bar.update(2);
  bar.stop();
  t.is(stream.lines().length, 2, 'stop adds no line for a unit already shown');
});
