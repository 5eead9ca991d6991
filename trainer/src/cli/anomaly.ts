// `flowscan anomaly train|score|evaluate`: model-agnostic anomaly scores from density flows on any event table
// (docs/anomaly.md): −log p(x|data), the ratio p(x|data)/p(x|bkg) with a background sample, or Tan's bootstrap
// of the background density; scores exported as ONNX flows plus anomaly.json, and their ROC, AUC and SIC.
import { join } from 'node:path';
import type { Command } from 'commander';
import { EVENT_FORMATS, type EventFormat } from '@flowscan/runtime';
import { writeEventsCsvFile } from '@flowscan/runtime/node';
import { DEFAULT_BOOTSTRAP, bootstrapBackground } from '../anomaly/bootstrap.ts';
import { ensembleLogDensity, trainDensityEnsemble, weightedRefit } from '../anomaly/density.ts';
import { type AnomalyEvents, emptyEvents } from '../anomaly/events.ts';
import { MIN_BACKGROUND_COUNT, scoreMetrics } from '../anomaly/metrics.ts';
import { exportAnomalyScore, loadAnomalyScore } from '../anomaly/score-model.ts';
import { FLOW_KINDS, type FlowKind, flowConfig } from '../flows/config.ts';
import { writeScoreReport } from '../report/scores.ts';
import { choiceOption, integerOption, listOption, numberOption } from './options.ts';
import { readColumns } from './train.ts';

const TRAIN_METHODS = ['density', 'ratio', 'bootstrap'] as const;
type TrainMethod = (typeof TRAIN_METHODS)[number];

interface SourceCliOptions {
  dataFormat?: EventFormat;
  dataKey?: string;
  dataNames?: string[];
  skipBadRows?: boolean;
}

interface TrainCliOptions extends SourceCliOptions {
  data: string[];
  background?: string[];
  features: string[];
  condition?: string;
  method: TrainMethod;
  alpha: number;
  iterations: number;
  ensemble: number;
  flow: FlowKind;
  blocks: number;
  hidden: number;
  epochs: number;
  batchSize: number;
  lr: number;
  seed: number;
  threads: number;
  out: string;
}

interface ScoreCliOptions extends SourceCliOptions {
  model: string;
  data: string[];
  truth?: string;
  out: string;
  minBackground: number;
}

interface EvaluateCliOptions extends SourceCliOptions {
  scores: string[];
  score: string;
  truth: string;
  minBackground: number;
  report?: string;
}

function sourceOptions(command: Command): Command {
  return command
    .option('--data-format <format>', `format of the event files when their extension does not say it: ${EVENT_FORMATS.join(' | ')}`, choiceOption('--data-format', EVENT_FORMATS))
    .option('--data-key <key>', 'table inside the event files: ROOT tree(s), HDF5 dataset or pandas key, .npz array')
    .option('--data-names <names>', 'names of the columns of an unlabelled 2-D array (.npy, .npz, HDF5 matrix), in order', listOption)
    .option('--skip-bad-rows', 'skip (and report) rows with bad values instead of failing');
}

/** Events of the named columns (features, the optional condition and label columns) of event files. */
async function readTable(files: string[], features: string[], condition: string | undefined, label: string | undefined, o: SourceCliOptions): Promise<AnomalyEvents> {
  const columns = [...features, ...(condition ? [condition] : []), ...(label ? [label] : [])];
  const duplicate = columns.find((c, i) => columns.indexOf(c) !== i);
  if (duplicate) throw new Error(`column "${duplicate}" is named twice among the features, the condition and the truth column`);
  const table = await readColumns(files, columns, o.skipBadRows ?? false, undefined, { format: o.dataFormat, key: o.dataKey, names: o.dataNames });
  const count = table[features[0]].length;
  const events = emptyEvents(features, count);
  features.forEach((f, d) => table[f].forEach((v, i) => (events.x[i * features.length + d] = v)));
  if (condition) events.m.set(table[condition]);
  if (label) {
    table[label].forEach((v, i) => {
      if (v !== 0 && v !== 1) throw new Error(`${files.join(', ')}: truth column "${label}" has ${v} in row ${i + 1}; expected 0 (background) or 1 (signal)`);
      events.label[i] = v;
    });
  }
  return events;
}

const minBackgroundOption = (command: Command): Command =>
  command.option('--min-background <n>', 'max SIC only where at least n background events pass', integerOption('--min-background', 1), MIN_BACKGROUND_COUNT);

function metricsLine(score: Float64Array, label: Uint8Array, minBackground: number): string {
  const m = scoreMetrics(score, label, minBackground);
  const sic = m.maxSic ? `max SIC ${m.maxSic.sic.toFixed(2)} at ε_S = ${m.maxSic.signalEfficiency.toFixed(3)}, ε_B = ${m.maxSic.backgroundEfficiency.toExponential(2)}` : `no threshold leaves ${minBackground} background events`;
  return `${m.signalEvents} signal and ${m.backgroundEvents} background events: AUC ${m.auc.toFixed(4)} ± ${m.aucError.toFixed(4)}, ${sic} (≥ ${minBackground} background events)`;
}

export function register(program: Command): void {
  const anomaly = program.command('anomaly').description('Model-agnostic anomaly scores from density flows: −log p, p_data/p_bkg, Tan\u2019s bootstrap (docs/anomaly.md).');

  const train = anomaly
    .command('train')
    .description('Train the density flows of an anomaly score on event files and export them (ONNX flows and anomaly.json).')
    .requiredOption('--data <files...>', 'the data events (CSV with a header, .npy/.npz, .parquet, .h5, .root)')
    .requiredOption('--features <names>', 'feature columns, comma-separated', listOption)
    .option('--method <name>', `density: −log p(x|data); ratio: log p(x|data) − log p(x|bkg) with --background; bootstrap: the background density bootstrapped from the data (Tan 2020)`, choiceOption('--method', TRAIN_METHODS), 'density')
    .option('--background <files...>', 'background events for --method ratio (a control sample, simulation, or sideband events)')
    .option('--condition <column>', `a localising variable m (e.g. m_jj): both densities become p(x | m) (ANODE)`)
    .option('--alpha <rate>', 'bootstrap: the type-I error rate α of the removal cut (eq. 5)', numberOption('--alpha', (n) => n > 0 && n < 1, 'in (0, 1)'), DEFAULT_BOOTSTRAP.alpha)
    .option('--iterations <n>', 'bootstrap: the most re-fits of the background density', integerOption('--iterations', 1, 100), DEFAULT_BOOTSTRAP.maxIterations)
    .option('--ensemble <n>', 'flows per density (seeds seed … seed + n − 1), log p their mean: less training noise in the ratio', integerOption('--ensemble', 1, 100), 1)
    .option('--flow <kind>', `flow: ${FLOW_KINDS.join(' | ')}`, choiceOption('--flow', FLOW_KINDS), 'maf')
    .option('--blocks <n>', 'flow blocks', integerOption('--blocks', 1, 64), 5)
    .option('--hidden <n>', 'hidden units per layer', integerOption('--hidden', 1, 4096), 64)
    .option('--epochs <n>', 'maximum epochs per density', integerOption('--epochs', 1, 100000), 20)
    .option('--batch-size <n>', 'events per mini-batch', integerOption('--batch-size', 1, 1 << 20), 256)
    .option('--lr <rate>', 'Adam learning rate', numberOption('--lr', (n) => n > 0 && n < 1, 'in (0, 1)'), 1e-3)
    .option('--seed <n>', 'random seed', integerOption('--seed', 0), 1)
    .option('--threads <n>', 'onnxruntime intra-op threads', integerOption('--threads', 1, 1024), 1)
    .requiredOption('--out <dir>', 'folder for anomaly.json, data/ and background/ (exported flows)');
  sourceOptions(train)
    .addHelpText(
      'after',
      `
Examples:
  flowscan anomaly train --data sr.csv --features mj_min,delta_mj,tau21_min,tau21_max --method bootstrap --out runs/boot
  flowscan anomaly train --data sr.csv --background sb-model-samples.csv --features mj_min,delta_mj,tau21_min,tau21_max \\
    --method ratio --condition mjj --out runs/anode`,
    )
    .action(async (o: TrainCliOptions) => {
      if (o.method === 'ratio' && !o.background) throw new Error('--method ratio needs --background <files> (the background events)');
      if (o.method !== 'ratio' && o.background) throw new Error(`--background is for --method ratio; --method ${o.method} does not read it`);
      const data = await readTable(o.data, o.features, o.condition, undefined, o);
      const flow = flowConfig(o.flow, { blocks: o.blocks, hidden: o.hidden });
      const settings = (seed: number, files: string[]) => ({
        flow,
        conditioning: o.condition ? ('m' as const) : ('none' as const),
        train: { maxEpochs: o.epochs, batchSize: o.batchSize, learningRate: o.lr, seed, threads: o.threads },
        dataFiles: files,
      });
      const say = (line: string): void => void process.stderr.write(`${line}\n`);
      say(`p(x|data) on ${data.count} events (${o.ensemble} flow${o.ensemble > 1 ? 's' : ''})`);
      const dataModels = await trainDensityEnsemble(data, settings(o.seed, o.data), o.ensemble);
      for (const m of dataModels) say(`  ${m.provenance.epochs} epochs, validation NLL ${m.provenance.validationLoss.toFixed(4)} nats/event`);
      const description = `features ${o.features.join(', ')}${o.condition ? ` given ${o.condition}` : ''}, ${o.flow} ${o.blocks} × ${o.hidden}`;
      const common = { data: dataModels, description, ...(o.condition ? { condition: o.condition } : {}) };
      let manifest;
      if (o.method === 'density') {
        manifest = await exportAnomalyScore(o.out, common);
      } else if (o.method === 'ratio') {
        const background = await readTable(o.background!, o.features, o.condition, undefined, o);
        say(`p(x|bkg) on ${background.count} background events`);
        // The data density's seeds: member k of both starts from the same weights, so part of their training
        // error is shared and cancels in the ratio.
        const models = await trainDensityEnsemble(background, settings(o.seed, o.background!), o.ensemble);
        manifest = await exportAnomalyScore(o.out, { ...common, background: models, backgroundSource: 'given' });
      } else {
        const logPData = await ensembleLogDensity(dataModels, data, o.threads);
        const boot = await bootstrapBackground(
          data,
          logPData,
          // The removed events at weight 0, with the first data member's seed and preprocessing (density.ts).
          async (kept, iteration, keep) => {
            say(`bootstrap iteration ${iteration}: p(x|bkg) on ${kept.count} events`);
            return weightedRefit(data, settings(o.seed, o.data), o.threads)(kept, iteration, keep);
          },
          { alpha: o.alpha, maxIterations: o.iterations, tolerance: DEFAULT_BOOTSTRAP.tolerance, onIteration: (it) => say(`  ε = ${it.epsilon.toPrecision(4)}: ${it.removed} events with λ ≤ ε, ${(100 * it.changed).toFixed(1)} % of them new`) },
        );
        say(boot.converged ? `bootstrap converged after ${boot.iterations.length} iterations` : `bootstrap NOT converged after ${boot.iterations.length} iterations (more --iterations, or a larger --alpha)`);
        manifest = await exportAnomalyScore(o.out, {
          ...common,
          background: [boot.background],
          backgroundSource: 'bootstrap',
          bootstrap: { alpha: o.alpha, iterations: boot.iterations, converged: boot.converged },
        });
      }
      process.stdout.write(`${manifest.combination}\nwrote ${join(o.out, 'anomaly.json')}\n`);
    });

  const score = anomaly
    .command('score')
    .description('Score events with an exported anomaly score (high: anomalous); with --truth, also the AUC and max SIC.')
    .requiredOption('--model <dir>', 'folder written by flowscan anomaly train')
    .requiredOption('--data <files...>', 'event files with the score\u2019s feature (and condition) columns')
    .option('--truth <column>', 'a 0/1 label column (1 = signal): report the AUC and the max SIC')
    .requiredOption('--out <file>', 'CSV of the features, log p(x|data), log p(x|bkg) (ratio scores) and the score per event');
  minBackgroundOption(sourceOptions(score)).action(async (o: ScoreCliOptions) => {
    const model = await loadAnomalyScore(o.model);
    try {
      const { features, condition } = model.manifest;
      const events = await readTable(o.data, features, condition, o.truth, o);
      const result = await model.score(events.x, condition ? events.m : null);
      const columns: Record<string, ArrayLike<number>> = {};
      features.forEach((f, d) => (columns[f] = Float64Array.from({ length: events.count }, (_, i) => events.x[i * features.length + d])));
      if (condition) columns[condition] = events.m;
      if (o.truth) columns[o.truth] = events.label;
      columns.log_p_data = result.logPData;
      if (result.logPBackground) columns.log_p_background = result.logPBackground;
      columns.score = result.score;
      await writeEventsCsvFile(o.out, columns, Object.keys(columns));
      process.stdout.write(`scored ${events.count} events (${model.manifest.combination})\nwrote ${o.out}\n`);
      if (o.truth) process.stdout.write(`${metricsLine(result.score, events.label, o.minBackground)}\n`);
    } finally {
      await model.release();
    }
  });

  const evaluate = anomaly
    .command('evaluate')
    .description('ROC, AUC and max SIC of a score column against a 0/1 truth column (any event file, e.g. the output of anomaly score).')
    .requiredOption('--scores <files...>', 'event files with the score and truth columns')
    .option('--score <column>', 'the score column (high: signal-like)', 'score')
    .requiredOption('--truth <column>', 'the 0/1 label column (1 = signal)')
    .option('--report <dir>', 'also write the ROC, SIC and score histograms of signal and background (SVG and PNG) and report.html into DIR');
  minBackgroundOption(sourceOptions(evaluate)).action(async (o: EvaluateCliOptions) => {
    const events = await readTable(o.scores, [o.score], undefined, o.truth, o);
    process.stdout.write(`${metricsLine(events.x, events.label, o.minBackground)}\n`);
    if (o.report) {
      const { reportPath } = await writeScoreReport(o.report, {
        title: 'flowscan anomaly evaluate',
        subtitle: `column "${o.score}" against the truth column "${o.truth}" of ${o.scores.join(', ')}`,
        scoreName: o.score,
        score: events.x,
        label: events.label,
        minBackground: o.minBackground,
      });
      process.stdout.write(`wrote ${reportPath}\n`);
    }
  });
}
