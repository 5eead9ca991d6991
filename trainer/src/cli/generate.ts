// `flowscan generate`: events sampled from exported flows — one model or a mixture with yields — at fixed θ, over a
// grid or per event from a table, with optional selection cuts, streamed in chunks into CSV, .npy or Parquet and/or
// histograms filled on the fly (issue 14 item 1; MC amplification).
import { basename, extname, resolve } from 'node:path';
import type { Command } from 'commander';
import { type FlowModel } from '@flowscan/runtime';
import {
  EVENT_FILE_FORMATS,
  EXECUTION_PROVIDERS,
  type EventFileFormat,
  type EventWriter,
  type ExecutionProviderChoice,
  loadModel,
  openEventWriter,
  writeFileAtomic,
} from '@flowscan/runtime/node';
import { parseSelection } from '../generate/cuts.ts';
import { type GenerateComponent, checkThetaInRange, generateEvents, splitEvents } from '../generate/generate.ts';
import { HistogramSet, parseBinnings } from '../generate/histograms.ts';
import { featureBinnings, writeGenerateReport } from '../report/generate.ts';
import { type ThetaSource, fixedTheta, gridTheta, parseGrid, tableTheta } from '../generate/theta.ts';
import { choiceOption, integerOption, numberPairsOption } from './options.ts';
import { progressBar } from './progress.ts';
import { readColumns } from './train.ts';

interface GenerateCliOptions {
  model: string[];
  events?: number;
  theta: Record<string, number>;
  grid?: string;
  thetaFile?: string;
  seed: number;
  chunk: number;
  cut?: string;
  out?: string;
  format?: EventFileFormat;
  hist?: string;
  histOut?: string;
  summary?: string;
  report?: string;
  ep: ExecutionProviderChoice;
  threads?: number;
}

export interface ModelSpec {
  name: string;
  dir: string;
  yield: number | null;
}

/** "[name=]dir[:yield]", e.g. "models/toy-signal", "sig=models/toy-signal:1000". */
export function parseModelSpec(text: string): ModelSpec {
  const at = text.indexOf('=');
  const name = at > 0 ? text.slice(0, at).trim() : null;
  let dir = at > 0 ? text.slice(at + 1) : text;
  let yieldValue: number | null = null;
  const colon = dir.lastIndexOf(':');
  if (colon > 0) {
    const tail = dir.slice(colon + 1);
    yieldValue = Number(tail);
    if (tail.trim() === '' || !Number.isFinite(yieldValue) || yieldValue < 0) {
      throw new Error(`--model ${text}: the yield after ":" must be a number ≥ 0 (expected events), got "${tail}"`);
    }
    dir = dir.slice(0, colon);
  }
  if (dir.trim() === '') throw new Error(`--model ${text}: expected [name=]model-folder[:yield], e.g. sig=models/toy-signal:1000`);
  if (name !== null && !/^[A-Za-z_][A-Za-z0-9_-]*$/.test(name)) throw new Error(`--model ${text}: component name "${name}" must be a word (letters, digits, _ and -)`);
  return { name: name ?? basename(resolve(dir)), dir, yield: yieldValue };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/** A mixture needs a yield for every component; a single model may have one. */
function checkYields(specs: ModelSpec[]): void {
  const withYield = specs.filter((s) => s.yield !== null).length;
  if (withYield !== 0 && withYield !== specs.length) throw new Error('give a yield to every --model of a mixture (name=dir:yield) or to none');
  if (withYield === 0 && specs.length > 1) throw new Error('a mixture of several models needs a yield for each: --model sig=DIR:1000 --model bkg=DIR:100000');
}

/** Events per component and their weights from the models' yields and the total asked for. */
function componentCounts(specs: ModelSpec[], total: number | null): { counts: number[]; weights: number[] } {
  if (specs[0].yield === null) {
    if (total === null) throw new Error('give the number of events with --events (or a yield: --model DIR:YIELD)');
    return { counts: [total], weights: [1] };
  }
  const yields = specs.map((s) => s.yield!);
  const counts = splitEvents(total ?? Math.round(yields.reduce((s, y) => s + y, 0)), yields);
  // Each event carries yield/events, so weighted sums estimate the expected yields however many are generated.
  return { counts, weights: counts.map((n, k) => (n > 0 ? yields[k] / n : 0)) };
}

export function register(program: Command): void {
  program
    .command('generate')
    .description('Sample events from exported flows (one model or a mixture with yields) into CSV/.npy/Parquet and/or histograms, streamed in chunks.')
    .requiredOption('--model <[name=]dir[:yield]>', 'an exported model folder; repeat for a mixture, each with its yield (expected events)', collect, [])
    .option('--events <n>', 'events to generate (with --grid: per grid point; default with yields: their sum)', integerOption('--events', 1))
    .option('--theta <pairs>', 'fixed parameter values, e.g. "m_pole=91.2,gamma=2.5,tau=0.01"', numberPairsOption, {})
    .option('--grid <spec>', 'a grid of θ, e.g. "m_pole=60:120:7,gamma=1:4:4" (ends included); --events per point', )
    .option('--theta-file <csv>', 'θ per event: row i of this CSV gives event i the values of its parameter columns')
    .option('--seed <n>', 'random seed (same seed, same events, whatever --chunk)', integerOption('--seed', 0), 1)
    .option('--chunk <n>', 'events per chunk (memory grows with it)', integerOption('--chunk', 1, 1 << 24), 1 << 16)
    .option('--cut <expr>', 'keep only events passing a selection over features and parameters, e.g. "x > 80 && x < 100"')
    .option('--out <file>', 'event file: .csv, .npy (structured float32) or .parquet')
    .option('--format <f>', `event file format when the extension does not say: ${EVENT_FILE_FORMATS.join(' | ')}`, choiceOption('--format', EVENT_FILE_FORMATS))
    .option('--hist <spec>', 'fill histograms on the fly, e.g. "x=40:140:100" (name=lo:hi:bins, comma-separated)')
    .option('--hist-out <file>', 'histogram output: .json or .csv (Σw, Σw², entries per bin)')
    .option('--summary <file>', 'also write the run summary (counts, rate, peak memory) as JSON')
    .option('--report <dir>', 'also write the histograms (the --hist ones, else every feature over the models\' training range in 50 bins) as figures (SVG and PNG) and report.html into DIR')
    .option('--ep <provider>', `execution provider: ${EXECUTION_PROVIDERS.join(' | ')}`, choiceOption('--ep', EXECUTION_PROVIDERS), 'auto')
    .option('--threads <n>', 'onnxruntime intra-op threads', integerOption('--threads', 1, 1024))
    .addHelpText(
      'after',
      `
A mixture gives every component its yield: events are split in proportion (exact counts) and interleaved at
random; each event carries weight = yield / events of its component (a "weight" column and weighted histograms),
so 100× more events than the yield make an amplified sample normalised to the same luminosity.
Columns written: the features, the parameters when θ changes per event (--grid, --theta-file), "component"
(0, 1, … in --model order) for mixtures and "weight" when yields are given. Cuts may use all of them and the
functions abs sqrt exp log log10 sin cos min max pow.

Examples:
  flowscan generate --model models/toy-signal --theta m_pole=91.2,gamma=2.5 --events 1000000 --out sig.npy
  flowscan generate --model sig=models/toy-signal:1000 --model bkg=models/toy-background:100000 \\
      --theta m_pole=91.2,gamma=2.5,tau=0.01 --events 10000000 --hist x=40:140:100 --hist-out h.json
  flowscan generate --model models/toy-signal --grid m_pole=60:120:7,gamma=1:4:4 --events 10000 --out grid.parquet
  flowscan generate --model models/toy-signal --theta-file points.csv --cut "x > 80 && x < 100" --out sel.csv`,
    )
    .action(async (o: GenerateCliOptions) => {
      if (!o.out && !o.hist && !o.report) throw new Error('nothing to write: give --out FILE (events), --hist SPEC --hist-out FILE (histograms) and/or --report DIR');
      if (o.hist && !o.histOut && !o.report) throw new Error('--hist needs --hist-out FILE.json|FILE.csv (or --report DIR)');
      if (o.histOut && !o.hist) throw new Error('--hist-out needs --hist name=lo:hi:bins');
      if (o.histOut && !['.json', '.csv'].includes(extname(o.histOut).toLowerCase())) throw new Error(`--hist-out must end in .json or .csv, got ${o.histOut}`);
      if (o.grid && o.thetaFile) throw new Error('give θ per event with --grid or with --theta-file, not both');
      const specs = o.model.map(parseModelSpec);
      const duplicate = specs.find((s, i) => specs.findIndex((t) => t.name === s.name) !== i);
      if (duplicate) throw new Error(`two components are named "${duplicate.name}"; name them: --model NAME=DIR[:YIELD]`);
      checkYields(specs);

      const models: FlowModel[] = [];
      for (const s of specs) models.push(await loadModel(s.dir, { ep: o.ep, ...(o.threads ? { threads: o.threads } : {}) }));
      const features = models[0].featureNames;
      models.forEach((m, k) => {
        if (m.featureNames.join(',') !== features.join(',')) {
          throw new Error(`the models of a mixture must share their features: ${specs[k].name} has ${m.featureNames.join(', ')}, ${specs[0].name} has ${features.join(', ')}`);
        }
      });
      const parameters = [...new Set(models.flatMap((m) => m.parameterNames))];
      const unknown = Object.keys(o.theta).find((n) => !parameters.includes(n));
      if (unknown !== undefined) throw new Error(`--theta sets ${unknown}, which no model takes (parameters: ${parameters.join(', ') || 'none'})`);

      let theta: ThetaSource;
      if (o.grid) {
        if (o.events === undefined) throw new Error('--grid needs --events (events per grid point)');
        const axes = parseGrid(o.grid);
        const stray = axes.find((a) => !parameters.includes(a.name));
        if (stray) throw new Error(`--grid scans ${stray.name}, which no model takes (parameters: ${parameters.join(', ')})`);
        theta = gridTheta(axes, o.events, o.theta);
      } else if (o.thetaFile) {
        const fromFile = parameters.filter((p) => !(p in o.theta));
        if (fromFile.length === 0) throw new Error(`--theta-file has nothing to give: --theta already fixes every parameter (${parameters.join(', ')})`);
        theta = tableTheta(await readColumns([o.thetaFile], fromFile, false), o.theta);
      } else {
        theta = fixedTheta(o.theta);
      }
      checkThetaInRange(models, theta.extent());

      const total = theta.events ?? o.events ?? null;
      if (theta.events !== null && o.events !== undefined && !o.grid && o.events !== theta.events) {
        throw new Error(`--theta-file has ${theta.events} rows (one per event) but --events is ${o.events}; drop --events`);
      }
      const { counts, weights } = componentCounts(specs, total);
      const components: GenerateComponent[] = specs.map((s, k) => ({ name: s.name, model: models[k], events: counts[k], weight: weights[k] }));
      const yields = specs.some((s) => s.yield !== null);
      const columns = [...features, ...(theta.perEvent ? parameters : []), ...(components.length > 1 ? ['component'] : []), ...(yields ? ['weight'] : [])];
      const selection = o.cut ? parseSelection(o.cut, [...features, ...parameters, 'component', 'weight'], '--cut') : null;
      const binnings = o.hist ? parseBinnings(o.hist) : o.report ? featureBinnings(models.map((m) => m.manifest)) : null;
      const histograms = binnings ? new HistogramSet(binnings, components.map((c) => c.name)) : null;
      for (const spec of histograms?.specs ?? []) {
        if (![...features, ...parameters].includes(spec.column)) throw new Error(`--hist bins "${spec.column}", which the events do not have (${[...features, ...parameters].join(', ')})`);
      }

      const writer: EventWriter | null = o.out ? openEventWriter(o.out, columns, o.format) : null;
      const totalEvents = counts.reduce((s, c) => s + c, 0);
      const bar = progressBar('generate', totalEvents);
      const started = performance.now();
      try {
        const summary = await generateEvents({
          components,
          theta,
          seed: o.seed,
          chunk: o.chunk,
          selection,
          columns,
          writer,
          histograms,
          onProgress: (done, accepted) => {
            const rate = done / ((performance.now() - started) / 1000);
            bar.update(done, { 'events/s': Math.round(rate), accepted, eta: formatDuration((totalEvents - done) / rate) });
          },
        });
        bar.stop();
        writer?.close();
        if (histograms && o.histOut) {
          await writeFileAtomic(o.histOut, extname(o.histOut).toLowerCase() === '.csv' ? histograms.toCsv() : `${JSON.stringify(histograms.toJSON())}\n`);
        }
        const report = { ...summary, seed: o.seed, chunk: o.chunk, ...(o.cut ? { cut: o.cut } : {}), ...(o.out ? { out: o.out } : {}), peakRssMiB: process.resourceUsage().maxRSS / 1024 };
        if (o.summary) await writeFileAtomic(o.summary, `${JSON.stringify(report, null, 2)}\n`);
        process.stdout.write(`${JSON.stringify(report)}\n`);
        if (o.report && histograms) {
          const units = Object.fromEntries(models.flatMap((m) => [...m.manifest.features, ...m.manifest.parameters]).map((v) => [v.name, v.unit]));
          const subtitle = `${specs.map((s) => `${s.name} (${s.dir}${s.yield !== null ? `, yield ${s.yield}` : ''})`).join(' + ')}, seed ${o.seed}${o.cut ? `, cut ${o.cut}` : ''}`;
          process.stdout.write(`wrote ${await writeGenerateReport(o.report, { histograms: histograms.toJSON(), summary, units, weighted: yields, subtitle })}\n`);
        }
      } catch (error) {
        bar.stop();
        writer?.abort();
        throw error;
      }
    });
}
