// `flowscan simulate <toy|lhco>`: write simulated training events or pseudo-data as CSV (features + θ columns,
// or features + is_signal), or compare the LHCO-like simulator with the real LHCO R&D events (--calibrate).
import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { Rng } from '@flowscan/runtime';
import { writeEventsCsvFile } from '@flowscan/runtime/node';
import { calibrateLhco, formatLhcoCalibration } from '../data/calibrate.ts';
import {
  LHCO_BACKGROUND_MJJ_RANGE,
  LHCO_BENCHMARK_POINT,
  LHCO_FEATURES,
  LHCO_GRID,
  LHCO_M_ZPRIME_VALUES,
  LHCO_PARAMETERS,
  LHCO_TRAINING_BACKGROUND_EVENTS,
  LHCO_TRAINING_EVENTS_PER_POINT,
  type LhcoPoint,
  lhcoPseudoData,
  simulateLhcoBackground,
  simulateLhcoSignal,
  simulateLhcoSignalTraining,
} from '../data/lhco.ts';
import {
  TOY_BACKGROUND_PARAMETERS,
  TOY_FEATURES,
  TOY_M_POLE_RANGE,
  TOY_SIGNAL_PARAMETERS,
  TOY_TRAINING_EVENTS,
  TOY_TRUTH,
  pseudoData,
  simulateBackgroundTraining,
  simulateSignalTraining,
} from '../data/toy.ts';
import { choiceOption, integerOption } from './options.ts';
import { withLighterJetMass } from '../study/lhco-data.ts';
import { type Progress, progressBar } from './progress.ts';

const STUDIES = ['toy', 'lhco'] as const;
/** A column order with mj2 after dmj (see withMj2Column). */
const withMj2After = (order: readonly string[]): string[] => order.flatMap((name) => (name === 'dmj' ? ['dmj', 'mj2'] : [name]));
const LHCO_FILE_COLUMNS = withMj2After(LHCO_FEATURES);
export type Study = (typeof STUDIES)[number];
const PROCESSES = ['signal', 'background', 'pseudo-data'] as const;
export type SimProcess = (typeof PROCESSES)[number];

/** Runs with at least this many events show a progress bar. */
const PROGRESS_THRESHOLD = 100_000;
/** Events simulated per step of the progress bar (the sequence is the same as in one call). */
const CHUNK = 50_000;

export interface SimulateOptions {
  process: SimProcess;
  events?: number;
  signalEvents?: number;
  backgroundEvents?: number;
  seed: number;
  excludeMpole?: [number, number];
  excludeMzprime?: number[];
  point?: LhcoPoint;
  truth?: [number, number, number];
  mjjRange?: [number, number];
  out?: string;
  calibrate?: boolean;
  dataDir?: string;
  quiet?: boolean;
}

/** Comma-separated numbers, exactly `count` of them when given. */
function numbersOption(name: string, count?: number, example = '') {
  return (value: string): number[] => {
    const items = value.split(',').map((s) => s.trim());
    const numbers = items.map(Number);
    if (items.some((s) => s === '') || numbers.some((n) => !Number.isFinite(n)) || (count !== undefined && numbers.length !== count)) {
      const what = count === undefined ? 'comma-separated numbers' : `${count} comma-separated numbers`;
      throw new InvalidArgumentError(`${name} needs ${what}${example ? ` (e.g. ${example})` : ''}, got "${value}".`);
    }
    return numbers;
  };
}

/** Checks the combination of options; returns the message of the first problem, or null. */
function conflicts(study: Study, o: SimulateOptions, given: (name: keyof SimulateOptions) => boolean): string | null {
  const only = (name: keyof SimulateOptions, flag: string, ok: boolean, when: string): string | null =>
    given(name) && !ok ? `${flag} applies only ${when}; remove it or change the study/process.` : null;
  if (o.calibrate) {
    if (study !== 'lhco') return '--calibrate compares the LHCO-like simulator with real events; use it with `flowscan simulate lhco --calibrate`.';
    const extra: string[] = (['out', 'events', 'signalEvents', 'backgroundEvents', 'excludeMzprime', 'point', 'mjjRange'] as const).filter(given);
    if (o.process !== 'signal') extra.push('process');
    if (extra.length > 0) return `--calibrate writes no events, so it takes only --seed and --data-dir; remove ${extra.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')}.`;
    return null;
  }
  return (
    only('dataDir', '--data-dir', false, 'with --calibrate') ??
    only('excludeMpole', '--exclude-mpole', study === 'toy' && o.process === 'signal', 'to `simulate toy --process signal`') ??
    only('truth', '--truth', study === 'toy' && o.process === 'pseudo-data', 'to `simulate toy --process pseudo-data`') ??
    only('excludeMzprime', '--exclude-mzprime', study === 'lhco' && o.process === 'signal' && !given('point'), 'to `simulate lhco --process signal` over the whole grid (not with --point)') ??
    only('point', '--point', study === 'lhco' && o.process !== 'background', 'to `simulate lhco` signal or pseudo-data') ??
    only('mjjRange', '--mjj-range', study === 'lhco' && o.process !== 'signal', 'to `simulate lhco` background or pseudo-data') ??
    only('events', '--events', o.process !== 'pseudo-data', 'to signal or background; pseudo-data takes --signal-events and --background-events') ??
    only('signalEvents', '--signal-events', o.process === 'pseudo-data', 'to --process pseudo-data (use --events otherwise)') ??
    only('backgroundEvents', '--background-events', o.process === 'pseudo-data', 'to --process pseudo-data (use --events otherwise)') ??
    (o.out === undefined ? 'no output file: pass --out FILE.csv (or --calibrate to compare the LHCO simulator with real events).' : null) ??
    (!o.out!.toLowerCase().endsWith('.csv') ? `--out ${o.out}: events are written as CSV; name the file *.csv.` : null)
  );
}

/** Simulates `total` events in chunks through `step(rng, n)`, concatenating columns (same sequence as one call). */
function chunked<K extends string>(total: number, names: readonly K[], step: (n: number) => Record<K, Float64Array>, bar: Progress | null): Record<K, Float64Array> {
  const out = {} as Record<K, Float64Array>;
  for (const name of names) out[name] = new Float64Array(total);
  for (let done = 0; done < total; ) {
    const n = Math.min(CHUNK, total - done);
    const part = step(n);
    for (const name of names) out[name].set(part[name], done);
    done += n;
    bar?.update(done);
  }
  return out;
}

interface Simulated {
  columns: Record<string, Float64Array>;
  order: string[];
  what: string;
}

/**
 * LHCO files also carry m_J2 = m_J1 − Δm_J after Δm_J: the study's signal flow models m_J2 and its background flow
 * Δm_J (docs/lhco-simulator.md), so a scan or validate request over both reads one file.
 */
function withMj2Column(simulated: Simulated): Simulated {
  const { mj1, dmj } = simulated.columns;
  return { ...simulated, columns: withLighterJetMass({ ...simulated.columns, mj1, dmj }), order: withMj2After(simulated.order) };
}

function simulate(study: Study, o: SimulateOptions, rng: Rng, bar: (total: number) => Progress | null): Simulated {
  if (study === 'toy') {
    if (o.process === 'signal') {
      const n = o.events ?? TOY_TRAINING_EVENTS;
      const exclude = o.excludeMpole;
      const order = [...TOY_FEATURES, ...TOY_SIGNAL_PARAMETERS];
      const columns = chunked(n, order, (k) => simulateSignalTraining(rng, k, { excludeMPole: exclude }), bar(n));
      return { columns, order, what: `${n} toy signal events${exclude ? ` (M_pole in [${exclude.join(', ')}] GeV excluded)` : ''}` };
    }
    if (o.process === 'background') {
      const n = o.events ?? TOY_TRAINING_EVENTS;
      const order = [...TOY_FEATURES, ...TOY_BACKGROUND_PARAMETERS];
      const columns = chunked(n, order, (k) => simulateBackgroundTraining(rng, k), bar(n));
      return { columns, order, what: `${n} toy background events` };
    }
    const [mPole, gamma, tau] = o.truth ?? [TOY_TRUTH.mPole, TOY_TRUTH.gamma, TOY_TRUTH.tau];
    const d = pseudoData(rng, { nSignal: o.signalEvents ?? 1000, nBackground: o.backgroundEvents ?? 100_000, mPole, gamma, tau });
    return {
      columns: { x: d.x, is_signal: d.isSignal },
      order: ['x', 'is_signal'],
      what: `${d.x.length} toy pseudo-data events (${o.signalEvents ?? 1000} signal at M_pole = ${mPole}, Γ = ${gamma}; background τ = ${tau})`,
    };
  }
  if (o.process === 'signal') {
    if (o.point !== undefined) {
      const point = o.point;
      const n = o.events ?? LHCO_TRAINING_EVENTS_PER_POINT;
      const features = chunked(n, LHCO_FEATURES, (k) => simulateLhcoSignal(rng, k, point), bar(n));
      const columns: Record<string, Float64Array> = { ...features, m_zprime: new Float64Array(n).fill(point.mZprime), m_x: new Float64Array(n).fill(point.mX), m_y: new Float64Array(n).fill(point.mY) };
      const onGrid = LHCO_GRID.some((p) => p.mZprime === point.mZprime && p.mX === point.mX && p.mY === point.mY);
      return { columns, order: [...LHCO_FEATURES, ...LHCO_PARAMETERS], what: `${n} LHCO signal events at (${point.mZprime}, ${point.mX}, ${point.mY}) GeV${onGrid ? '' : ' (off the training grid)'}` };
    }
    const excluded = o.excludeMzprime ?? [];
    for (const m of excluded) {
      if (!LHCO_M_ZPRIME_VALUES.includes(m)) throw new Error(`--exclude-mzprime ${m}: not a grid value of m_Z′; choose among ${LHCO_M_ZPRIME_VALUES.join(', ')} GeV.`);
    }
    const points = LHCO_GRID.filter((p) => !excluded.includes(p.mZprime)).length;
    if (points === 0) throw new Error(`--exclude-mzprime ${excluded.join(',')} leaves no grid point; exclude fewer m_Z′ values.`);
    const n = o.events ?? LHCO_TRAINING_EVENTS_PER_POINT * points;
    if (n % points !== 0) {
      const below = Math.max(points, Math.floor(n / points) * points);
      throw new Error(`--events ${n} cannot be split evenly over ${points} grid points; use a multiple of ${points}, e.g. ${below} or ${below + points}.`);
    }
    const progress = bar(n);
    const columns = simulateLhcoSignalTraining(rng, n / points, { excludeMZprime: excluded, onProgress: (done) => progress?.update(done * (n / points)) });
    return {
      columns,
      order: [...LHCO_FEATURES, ...LHCO_PARAMETERS],
      what: `${n} LHCO signal events (${n / points} at each of ${points} grid points${excluded.length ? `; m_Z′ = ${excluded.join(', ')} GeV excluded` : ''})`,
    };
  }
  const mjjRange = o.mjjRange ?? LHCO_BACKGROUND_MJJ_RANGE;
  if (o.process === 'background') {
    const n = o.events ?? LHCO_TRAINING_BACKGROUND_EVENTS;
    const columns = chunked(n, LHCO_FEATURES, (k) => simulateLhcoBackground(rng, k, { mjjRange }), bar(n));
    return { columns, order: [...LHCO_FEATURES], what: `${n} LHCO QCD background events with ${mjjRange[0]} < m_JJ < ${mjjRange[1]} GeV` };
  }
  const point = o.point ?? LHCO_BENCHMARK_POINT;
  const nSignal = o.signalEvents ?? 10_000;
  const d = lhcoPseudoData(rng, { nSignal, nBackground: o.backgroundEvents ?? 100_000, point, mjjRange });
  const { isSignal, ...features } = d;
  return {
    columns: { ...features, is_signal: isSignal },
    order: [...LHCO_FEATURES, 'is_signal'],
    what: `${d.mjj.length} LHCO pseudo-data events (${nSignal} signal at (${point.mZprime}, ${point.mX}, ${point.mY}) GeV)`,
  };
}

/**
 * Creates `dir` and its missing parents one level at a time (fs.mkdir's recursive mode can spin forever on
 * pseudo file systems such as /proc).
 */
async function ensureFolder(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let d = resolve(dir); ; d = dirname(d)) {
    try {
      if (!(await stat(d)).isDirectory()) throw new Error(`cannot write into ${d}: it is a file, not a folder; choose another --out path.`);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      missing.push(d);
      if (dirname(d) === d) break;
    }
  }
  for (const d of missing.reverse()) {
    try {
      await mkdir(d);
    } catch (error) {
      throw new Error(`cannot create folder ${d} for --out: ${(error as Error).message}; choose a writable folder.`);
    }
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/**
 * Runs `flowscan simulate` with parsed options; returns the summary line. `given(name)` says whether an option
 * was set explicitly (defaults do not conflict).
 */
export async function runSimulate(study: Study, o: SimulateOptions, given: (name: keyof SimulateOptions) => boolean = (n) => o[n] !== undefined): Promise<string> {
  const problem = conflicts(study, o, given);
  if (problem !== null) throw new Error(problem);
  if (o.calibrate) {
    const calibration = await calibrateLhco({ seed: o.seed, dataDir: o.dataDir });
    return `${formatLhcoCalibration(calibration)}\n\nKS distances of the LHCO-like simulator to the real LHCO R&D signal-region events (seed ${o.seed}).`;
  }
  const out = o.out!;
  const rng = new Rng(o.seed);
  const bars: Progress[] = [];
  const bar = (label: string) => (total: number): Progress | null => {
    if (o.quiet || total < PROGRESS_THRESHOLD) return null;
    const b = progressBar(label, total, '{fieldsText}');
    bars.push(b);
    return b;
  };
  const t0 = performance.now();
  let simulated: Simulated;
  try {
    simulated = simulate(study, o, rng, bar('simulate'));
    if (study === 'lhco') simulated = withMj2Column(simulated);
  } finally {
    for (const b of bars.splice(0)) b.stop();
  }
  const t1 = performance.now();
  await ensureFolder(dirname(out));
  const rows = simulated.columns[simulated.order[0]].length;
  const writeBar = bar('write')(rows);
  try {
    await writeEventsCsvFile(out, simulated.columns, simulated.order, (done) => writeBar?.update(done));
  } finally {
    writeBar?.stop();
  }
  const size = (await stat(out)).size;
  return (
    `simulated ${simulated.what} with seed ${o.seed} in ${seconds(t1 - t0)}; ` +
    `wrote columns ${simulated.order.join(',')} to ${out} (${(size / 1e6).toFixed(1)} MB) in ${seconds(performance.now() - t1)}`
  );
}

export function register(program: Command): void {
  program
    .command('simulate')
    .description('Simulate training events or pseudo-data for the two studies of the paper and write them as CSV.')
    .argument('<study>', 'toy (bump hunt: Breit–Wigner on exponential, §3.1) | lhco (LHCO-like Z′ → XY resonance, §3.2)', choiceOption('study', STUDIES))
    .option('--process <kind>', `what to simulate: ${PROCESSES.join(' | ')}`, choiceOption('--process', PROCESSES), 'signal')
    .option(
      '--events <n>',
      `events for signal/background (toy: ${TOY_TRAINING_EVENTS} each; lhco: ${LHCO_TRAINING_EVENTS_PER_POINT} per grid point = ${LHCO_TRAINING_EVENTS_PER_POINT * LHCO_GRID.length} signal, ${LHCO_TRAINING_BACKGROUND_EVENTS} background)`,
      integerOption('--events', 1),
    )
    .option('--signal-events <n>', 'pseudo-data signal events (toy 1000, lhco 10000)', integerOption('--signal-events', 0))
    .option('--background-events <n>', 'pseudo-data background events (100000)', integerOption('--background-events', 0))
    .option('--seed <n>', 'random seed: the same seed gives the same events', integerOption('--seed', 0), 1)
    .option('--exclude-mpole <a,b>', `toy signal: leave out M_pole in [a, b] GeV (inside [${TOY_M_POLE_RANGE.join(', ')}]), e.g. 85,95`, (v: string) => {
      const [a, b] = numbersOption('--exclude-mpole', 2, '85,95')(v);
      if (!(a < b)) throw new InvalidArgumentError(`--exclude-mpole needs low < high, got "${v}".`);
      return [a, b];
    })
    .option('--exclude-mzprime <list>', `lhco signal: leave out grid points with these m_Z′ (GeV), from ${LHCO_M_ZPRIME_VALUES.join(', ')}`, numbersOption('--exclude-mzprime', undefined, '3500,4000'))
    .option('--point <mZ,mX,mY>', 'lhco: signal at one point instead of the whole grid; pseudo-data signal point (default 3500,500,100)', (v: string) => {
      const [mZprime, mX, mY] = numbersOption('--point', 3, '3500,500,100')(v);
      if (!(mX > 0 && mY > 0 && mX + mY < mZprime)) throw new InvalidArgumentError(`--point ${v}: needs m_X, m_Y > 0 and m_X + m_Y < m_Z′ (GeV).`);
      return { mZprime, mX, mY };
    })
    .option('--truth <mPole,gamma,tau>', `toy pseudo-data truth (default ${TOY_TRUTH.mPole},${TOY_TRUTH.gamma},${TOY_TRUTH.tau})`, (v: string) => {
      const t = numbersOption('--truth', 3, '91.2,2.5,0.01')(v);
      if (!(t[1] > 0 && t[2] > 0)) throw new InvalidArgumentError(`--truth ${v}: Γ and τ must be > 0.`);
      return t;
    })
    .option('--mjj-range <lo,hi>', `lhco background: m_JJ window in GeV (default ${LHCO_BACKGROUND_MJJ_RANGE.join(',')})`, (v: string) => {
      const [lo, hi] = numbersOption('--mjj-range', 2, '3300,3700')(v);
      if (!(lo > 0 && hi > lo && hi < 13000)) throw new InvalidArgumentError(`--mjj-range ${v}: needs 0 < low < high < 13000 GeV.`);
      return [lo, hi];
    })
    .option('--out <file.csv>', 'output CSV file (folders are created; an existing file is replaced atomically)')
    .option('--calibrate', 'lhco only: print per-feature KS distances of the simulator to the real LHCO R&D events instead of writing events')
    .option('--data-dir <dir>', 'with --calibrate: folder of the real LHCO R&D .npy files (default ../shared/data/lhco-sr next to the repository)')
    .option('--quiet', 'no progress bar')
    .addHelpText(
      'after',
      `
Columns written:
  toy signal       x, m_pole, gamma          (θ uniform on [60,120] × [0.5,5] GeV)
  toy background   x, tau                    (log10 τ uniform on [−3, −1])
  toy pseudo-data  x, is_signal
  lhco signal      ${LHCO_FILE_COLUMNS.join(', ')}, ${LHCO_PARAMETERS.join(', ')}
  lhco background  ${LHCO_FILE_COLUMNS.join(', ')}   (QCD has no parameters)
  lhco pseudo-data ${LHCO_FILE_COLUMNS.join(', ')}, is_signal
  (mj2 = mj1 − dmj, the lighter jet's mass, for flows in that coordinate)
Masses in GeV. The simulator's formulas and calibration: docs/lhco-simulator.md.

Examples:
  flowscan simulate toy --out data/toy-signal.csv
  flowscan simulate toy --process background --events 200000 --seed 2 --out data/toy-background.csv
  flowscan simulate toy --exclude-mpole 85,95 --out data/toy-signal-gap.csv
  flowscan simulate toy --process pseudo-data --truth 91.2,2.5,0.01 --out data/toy-data.csv
  flowscan simulate lhco --out data/lhco-signal.csv                  # 580k events on the 80-point grid
  flowscan simulate lhco --exclude-mzprime 3500 --events 435000 --out data/lhco-signal-no3500.csv
  flowscan simulate lhco --point 3750,500,100 --events 20000 --out data/lhco-3750.csv
  flowscan simulate lhco --process background --out data/lhco-background.csv
  flowscan simulate lhco --process pseudo-data --out data/lhco-data.csv
  flowscan simulate lhco --calibrate`,
    )
    .action(async (study: Study, options: SimulateOptions, command: Command) => {
      const source = (name: string): string | undefined => command.getOptionValueSource(name);
      const summary = await runSimulate(study, options, (name) => source(name) === 'cli' || source(name) === 'env');
      process.stdout.write(`${summary}\n`);
    });
}
