// Progress display for long work: a cli-progress bar on a terminal, one line per step otherwise (logs, CI).
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number, fields?: Record<string, string | number>): void;
  log(line: string): void;
  stop(): void;
}

function fieldsText(fields: Record<string, string | number> | undefined, separator: string): string {
  return fields ? Object.entries(fields).map(([k, v]) => `${k} ${v}`).join(separator) : '';
}

/** A bar over `total` units; `fields` appear after it (e.g. loss, events/s). */
export function progressBar(label: string, total: number, format = '{fieldsText}'): Progress {
  if (!process.stderr.isTTY) {
    let lastPrinted = -1;
    return {
      update(done, fields) {
        const decile = Math.floor((10 * done) / Math.max(total, 1));
        if (decile !== lastPrinted) {
          lastPrinted = decile;
          const text = fieldsText(fields, '  ');
          process.stderr.write(`${label}: ${Number.isInteger(done) ? done : done.toFixed(1)}/${total} ${text}\n`);
        }
      },
      log: (line) => process.stderr.write(`${line}\n`),
      stop: () => undefined,
    };
  }
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
