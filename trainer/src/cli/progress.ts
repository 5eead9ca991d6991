// Progress display for long work: a cli-progress bar on a terminal, one line per step otherwise (logs, CI).
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number, fields?: Record<string, string | number>): void;
  log(line: string): void;
  stop(): void;
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
          const text = fields ? Object.entries(fields).map(([k, v]) => `${k} ${v}`).join('  ') : '';
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
      const fieldsText = fields ? Object.entries(fields).map(([k, v]) => `${k} ${v}`).join(' | ') : '';
      bar.update(done, { fieldsText });
    },
    log(line) {
      bar.stop();
      process.stderr.write(`${line}\n`);
      bar.start(total, 0, { fieldsText: '' });
    },
    stop: () => bar.stop(),
  };
}
