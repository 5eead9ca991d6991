// Progress display for long work, for a person watching a terminal and for one reading a log afterwards.
// On a terminal: a cli-progress bar (progressBar) or one line per fit iteration (fitProgress). When stderr is not a
// terminal (batch jobs, CI, `2> log`): plain lines, one per finished unit of work (epoch, toy, design point) or per
// decile for fine-grained totals, and a heartbeat line whenever HEARTBEAT_MS passed without one, so that a log never
// goes quiet for minutes while the work goes on.
import cliProgress from 'cli-progress';
import type { MinimizeProgress } from '@flowscan/runtime';

export interface Progress {
  update(done: number, fields?: Record<string, string | number>): void;
  log(line: string): void;
  stop(): void;
}

/** Where progress goes and how often; the defaults are stderr and the intervals below (tests pass their own). */
export interface ProgressOptions {
  stream?: { write(text: string): unknown; isTTY?: boolean };
  /** A line at least this often while work runs (default HEARTBEAT_MS). */
  heartbeatMs?: number;
  /** Iteration lines of a fit at most this often (default: every iteration on a terminal, ITERATION_LOG_MS otherwise). */
  iterationMs?: number;
}

/** The longest a log stays without a progress line while work runs. */
export const HEARTBEAT_MS = 10_000;
/** Fit iterations in a log: at most one line per second (a fit's iterations take from 0.1 s to minutes). */
const ITERATION_LOG_MS = 1000;
/**
 * Totals up to this many units print a line per unit (epochs, toys, design points); larger totals (events) a line
 * per decile.
 */
const MAX_UNIT_LINES = 1000;

function fieldsText(fields: Record<string, string | number> | undefined, separator: string): string {
  return fields ? Object.entries(fields).map(([k, v]) => `${k} ${v}`).join(separator) : '';
}

/** Seconds as "42 s", "3 min 20 s" or "2 h 05 min". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${String(Math.round(seconds % 60)).padStart(2, '0')} s`;
  return `${Math.floor(seconds / 3600)} h ${String(Math.round((seconds % 3600) / 60)).padStart(2, '0')} min`;
}

/** A timer that calls `beat` when `intervalMs` passed since the last `touch`; it never keeps the process alive. */
function heartbeat(intervalMs: number, beat: () => void): { touch(): void; stop(): void } {
  let last = performance.now();
  const timer = setInterval(() => {
    if (performance.now() - last >= intervalMs) {
      last = performance.now();
      beat();
    }
  }, Math.max(10, Math.min(1000, intervalMs / 4)));
  timer.unref();
  return { touch: () => (last = performance.now()), stop: () => clearInterval(timer) };
}

/** A bar over `total` units; `fields` appear after it (e.g. loss, events/s). */
export function progressBar(label: string, total: number, format = '{fieldsText}', options: ProgressOptions = {}): Progress {
  const stream = options.stream ?? process.stderr;
  if (!stream.isTTY) return logLines(label, total, stream, options.heartbeatMs ?? HEARTBEAT_MS);
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {percentage}% | ETA {eta_formatted} | ${format}`, hideCursor: true, stream: process.stderr },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { fieldsText: '' });
  return {
    update(done, fields) {
      bar.update(done, { fieldsText: fieldsText(fields, ' | ') });
    },
    log(line) {
      bar.stop();
      process.stderr.write(`${line}\n`);
      bar.start(total, 0, { fieldsText: '' });
    },
    stop: () => bar.stop(),
  };
}

/**
 * Progress as log lines: "label: done/total (pct%), elapsed, ETA, fields". Work counted in whole units gets a line
 * per update; work reported within units gets a unit's line when the work moves past it, with the last fields given
 * for it (a training's epoch line then carries the epoch's validation loss, which arrives after its last batch).
 */
function logLines(label: string, total: number, stream: NonNullable<ProgressOptions['stream']>, heartbeatMs: number): Progress {
  const t0 = performance.now();
  const perUnit = total <= MAX_UNIT_LINES;
  let latest: { done: number; fields: Record<string, string | number> | undefined } = { done: 0, fields: undefined };
  let printedUnit = 0;
  let printedDecile = 0;
  let fractional = false;
  let stopped = false;
  const write = (state: typeof latest): void => {
    const seconds = (performance.now() - t0) / 1000;
    const rate = state.done / seconds;
    const eta = state.done > 0 && state.done < total ? `, ETA ${formatDuration((total - state.done) / rate)}` : '';
    const count = Number.isInteger(state.done) ? String(state.done) : state.done.toFixed(1);
    const percent = ((100 * state.done) / Math.max(total, 1)).toFixed(0);
    const text = fieldsText(state.fields, '  ');
    stream.write(`${label}: ${count}/${total} (${percent}%), ${formatDuration(seconds)}${eta}${text ? `  ${text}` : ''}\n`);
    beat.touch();
  };
  const beat = heartbeat(heartbeatMs, () => write(latest));
  return {
    update(done, fields) {
      if (stopped) return;
      const previous = latest;
      latest = { done, fields };
      if (perUnit) {
        fractional ||= !Number.isInteger(done);
        if (!fractional) {
          // Whole units only (toys, design points): each update ends one.
          if (done > printedUnit) {
            printedUnit = done;
            write(latest);
          }
        } else {
          // Work reported within units (a training's batches): the previous update ended a unit that no line has shown
          // yet, and this one moved on from it; the unit's last fields (its validation loss) came with that update.
          const unit = Math.floor(previous.done);
          if (unit > printedUnit && done > previous.done) {
            printedUnit = unit;
            write(previous);
          }
        }
      } else {
        const decile = Math.floor((10 * done) / Math.max(total, 1));
        if (decile > printedDecile) {
          printedDecile = decile;
          write(latest);
        }
      }
    },
    log(line) {
      stream.write(`${line}\n`);
      beat.touch();
    },
    stop() {
      if (stopped) return;
      stopped = true;
      beat.stop();
      if (perUnit && Math.floor(latest.done) > printedUnit) write(latest);
    },
  };
}

/** Bars for work running side by side (parallel trainings): one cli-progress MultiBar on a terminal. */
export function multiProgress(): { bar(label: string, total: number): Progress; stop(): void } {
  if (!process.stderr.isTTY) return { bar: (label, total) => progressBar(label, total), stop: () => undefined };
  const multi = new cliProgress.MultiBar(
    { format: '{label} [{bar}] {percentage}% | ETA {eta_formatted} | {fieldsText}', hideCursor: true, stream: process.stderr, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  return {
    bar(label, total) {
      const bar = multi.create(total, 0, { label, fieldsText: '' });
      return {
        update: (done, fields) => bar.update(done, { fieldsText: fieldsText(fields, ' | ') }),
        log: (line) => multi.log(`${line}\n`),
        stop: () => bar.stop(),
      };
    },
    stop: () => multi.stop(),
  };
}

/** What a fit's progress lines need to know of the fit. */
export interface FitProgressSettings {
  /** Events in the likelihood (for the event-evaluation rate). */
  events: number;
  /** Evaluations each start may spend in the gradient stage: bounds the stage's remaining time. */
  maxEvaluations: number;
  /** Convergence threshold of the gradient norm, shown beside it. */
  gtol: number;
}

export interface FitProgress {
  /** A minimiser iteration (FitOptions.onProgress). */
  iteration(stage: string, p: MinimizeProgress): void;
  /** A stage ended (FitOptions.onStage). */
  stage(stage: string, calls: number, seconds: number): void;
  /** Rows of a ΔNLL map or other counted work after the fit. */
  rows(what: string, done: number, total: number): void;
  stop(): void;
}

/**
 * Lines a person can follow through a fit: per iteration the stage, step, lowest NLL, the projected-gradient norm at
 * it against gtol (the fit converges below it), the event evaluations per second and an upper bound on the stage's
 * remaining time from its evaluation budget; a line when each stage ends; rows of maps with an ETA. On a terminal
 * every iteration prints; in a log at most one per second, and a heartbeat every 10 s in any case.
 */
export function fitProgress(label: string, settings: FitProgressSettings, options: ProgressOptions = {}): FitProgress {
  const stream = options.stream ?? process.stderr;
  const iterationMs = options.iterationMs ?? (stream.isTTY ? 0 : ITERATION_LOG_MS);
  const t0 = performance.now();
  let lastLine = -Infinity;
  // The last line about the work itself, repeated by the heartbeat.
  let lastNews = 'starting';
  const write = (text: string): void => {
    lastLine = performance.now();
    stream.write(`${label}: ${text}\n`);
    beat.touch();
  };
  const news = (text: string): void => {
    lastNews = text;
    write(text);
  };
  const beat = heartbeat(options.heartbeatMs ?? HEARTBEAT_MS, () => write(`still working, ${formatDuration((performance.now() - t0) / 1000)} in; last: ${lastNews}`));
  let stageName = '';
  // Per kind of rows: when and at which row the first report came, for the rate behind the ETA.
  const rowClocks = new Map<string, { t: number; done: number }>();
  return {
    iteration(stage, p) {
      const first = stage !== stageName;
      stageName = stage;
      if (!first && performance.now() - lastLine < iterationMs) return;
      const seconds = p.wallMs / 1000;
      const perStep = p.step > 0 ? seconds / p.step : NaN;
      const rate = (p.points * settings.events) / Math.max(seconds, 1e-9);
      const left = Math.max(0, settings.maxEvaluations - p.step) * perStep;
      news(
        `${stage}, step ${p.step}: NLL ${p.lowestValue.toFixed(3)}, |proj. grad| ${Number.isFinite(p.gradientNorm) ? p.gradientNorm.toPrecision(2) : '—'} ` +
          `(converged < ${settings.gtol}), ${p.activeStarts} start${p.activeStarts === 1 ? '' : 's'} running, ` +
          `${rate.toExponential(1)} event evaluations/s, ${formatDuration(seconds)} in stage, ETA ≤ ${formatDuration(left)}`,
      );
    },
    stage(stage, calls, seconds) {
      news(`${stage} done: ${calls} evaluation call${calls === 1 ? '' : 's'} in ${formatDuration(seconds)} (total ${formatDuration((performance.now() - t0) / 1000)})`);
    },
    rows(what, done, total) {
      const now = performance.now();
      const clock = rowClocks.get(what) ?? { t: now, done };
      rowClocks.set(what, clock);
      if (done < total && now - lastLine < iterationMs) return;
      const perRow = (now - clock.t) / 1000 / (done - clock.done);
      const eta = done < total && done > clock.done ? `, ETA ${formatDuration((total - done) * perRow)}` : '';
      news(`${what}: row ${done}/${total}${eta} (total ${formatDuration((now - t0) / 1000)})`);
    },
    stop: () => beat.stop(),
  };
}
