// `flowscan classify train|score`: a binary classifier of signal against background events in event files,
// exported to ONNX (docs/classifier.md), and the scores of any events under an exported one.
import { join } from 'node:path';
import type { Command } from 'commander';
import { EVENT_FORMATS, type ClassifierEpoch, type ClassifierScores, type EventFormat, type EventSourceOptions, aucWithError, maxSic, plots, rocCurve } from '@flowscan/runtime';
import { loadClassifier, writeEventsCsvFile, writeFileAtomic } from '@flowscan/runtime/node';
import { CLASSIFIER_ACTIVATIONS, type ClassifierActivation } from '../classifier/network.ts';
import { type ClassEvents, type ClassifierOptions, DEFAULT_CLASSIFIER_OPTIONS, trainClassifier } from '../classifier/train.ts';
import { saveClassifier } from '../classifier/export.ts';
import { kFoldScores } from '../classifier/kfold.ts';
import { DEFAULT_BOOSTED_TREES_OPTIONS, trainBoostedTrees } from '../classifier/boosted-trees.ts';
import { saveBoostedTrees } from '../classifier/boosted-trees-export.ts';
import { MAX_BINS } from '../classifier/binning.ts';
import { CLASSIFIER_KINDS, type ClassifierKind, trainingLength } from '../classifier/kinds.ts';
import { writeScoreReport } from '../report/scores.ts';
import { type ReportFigure, type ReportSection, buildReport } from '../report/html.ts';
import { writeFigure } from '../report/render.ts';
import { choiceOption, integerOption, listOption, numberOption, pairsOption } from './options.ts';
import { type Progress, progressBar } from './progress.ts';
import { readColumns } from './train.ts';

/** Where the events are in files whose extension or layout does not say it (docs/data-formats.md). */
interface EventSourceCliOptions {
  dataFormat?: EventFormat;
  dataKey?: string;
  dataNames?: string[];
}

interface ClassifyTrainCliOptions extends EventSourceCliOptions {
  signal: string[];
  background: string[];
  features: string[];
  units: Record<string, string>;
  weights?: string;
  classifier: ClassifierKind;
  hidden: number[];
  activation: ClassifierActivation;
  epochs: number;
  batchSize: number;
  lr?: number;
  iterations: number;
  leaves: number;
  minLeaf: number;
  l2: number;
  bins: number;
  validation: number;
  patience: number;
  ensemble: number;
  balance: boolean;
  folds?: number;
  seed: number;
  threads: number;
  name: string;
  out: string;
  minBackground: number;
  skipBadRows?: boolean;
  report?: string;
}

interface ClassifyScoreCliOptions extends EventSourceCliOptions {
  model: string;
  data: string[];
  truth?: string;
  out?: string;
  minBackground: number;
  skipBadRows?: boolean;
  report?: string;
}

/** Hidden-layer widths, e.g. "64,64,64". */
function widthsOption(value: string): number[] {
  return listOption(value).map((item) => integerOption('--hidden', 1, 4096)(item));
}

/**
 * Events of the named feature columns of event files (CSV, .npy/.npz, Parquet, HDF5, ROOT), row-major, and one more
 * column if named (`weights`: checked as event weights; `label`: read as it is).
 */
async function readEvents(
  files: string[],
  features: string[],
  extra: { weights: string } | { label: string } | null,
  o: EventSourceCliOptions & { skipBadRows?: boolean },
): Promise<{ x: Float64Array; count: number; extra?: Float64Array }> {
  const column = extra === null ? undefined : 'weights' in extra ? extra.weights : extra.label;
  const source: EventSourceOptions = { format: o.dataFormat, key: o.dataKey, names: o.dataNames };
  const columns = column !== undefined && !features.includes(column) ? [...features, column] : features;
  const table = await readColumns(files, columns, o.skipBadRows ?? false, extra && 'weights' in extra ? extra.weights : undefined, source);
  const count = table[features[0]].length;
  const x = new Float64Array(count * features.length);
  features.forEach((f, d) => table[f].forEach((v, i) => (x[i * features.length + d] = v)));
  return column !== undefined ? { x, count, extra: table[column] } : { x, count };
}

/** The options that say where events are in a file, shared by both subcommands. */
function eventSourceOptions(command: Command): Command {
  return command
    .option('--data-format <format>', `format of the event files when their extension does not say it: ${EVENT_FORMATS.join(' | ')}`, choiceOption('--data-format', EVENT_FORMATS))
    .option('--data-key <key>', 'table inside the event files: ROOT tree(s) (comma-separated), HDF5 dataset or pandas key, .npz array')
    .option('--data-names <names>', 'names of the columns of an unlabelled 2-D array (.npy, .npz, HDF5 matrix), in order', listOption)
    .option('--skip-bad-rows', 'skip (and report) rows with bad values instead of failing');
}

/** The AUC with its error and the max SIC of scores of signal and background events, as one line. */
function separationLine(signal: ArrayLike<number>, background: ArrayLike<number>, minBackground: number): string {
  const area = aucWithError({ scores: signal }, { scores: background });
  const best = maxSic(rocCurve({ scores: signal }, { scores: background }), minBackground);
  const sic = best ? `max SIC ${best.sic.toFixed(2)} at ε_S = ${best.signalEfficiency.toFixed(3)}, ε_B = ${best.backgroundEfficiency.toExponential(2)}` : `no threshold leaves ${minBackground} background events`;
  return `AUC ${area.auc.toFixed(4)} ± ${area.standardError.toFixed(4)}, ${sic} (≥ ${minBackground} background events)`;
}

function epochBar(label: string, epochs: number): { bar: Progress; onEpoch: (r: ClassifierEpoch) => void } {
  const bar = progressBar(label, epochs);
  return { bar, onEpoch: (r) => bar.update(r.epoch, { epoch: r.epoch, loss: r.trainLoss.toFixed(4), 'val loss': r.validationLoss.toFixed(4) }) };
}

const minBackgroundOption = (command: Command): Command =>
  command.option('--min-background <n>', 'max SIC only where at least n background events pass (25: a 20 % error on ε_B)', integerOption('--min-background', 1), 25);

export function register(program: Command): void {
  const classify = program.command('classify').description('Binary classifiers (MLP or boosted decision trees) of signal against background events, exported to ONNX.');

  const train = classify
    .command('train')
    .description('Train a classifier of --signal (label 1) against --background (label 0) events and export it to ONNX.')
    .requiredOption('--signal <files...>', 'event files of label-1 events: CSV with a header, .npy/.npz, .parquet, .h5, .root (docs/data-formats.md)')
    .requiredOption('--background <files...>', 'event files of label-0 events')
    .requiredOption('--features <names>', 'feature columns, comma-separated (the exported graph reads them in this order)', listOption)
    .option('--units <pairs>', 'units, e.g. "mjj=TeV,mj1=TeV"', pairsOption, {})
    .option('--weights <column>', 'per-event weight column (both files)')
    .option('--classifier <kind>', `mlp: a multilayer perceptron; bdt: gradient-boosted decision trees (docs/classifier.md)`, choiceOption('--classifier', CLASSIFIER_KINDS), 'mlp')
    .option('--hidden <widths>', 'hidden layer widths, comma-separated', widthsOption, DEFAULT_CLASSIFIER_OPTIONS.hidden)
    .option('--activation <name>', `activation: ${CLASSIFIER_ACTIVATIONS.join(' | ')}`, choiceOption('--activation', CLASSIFIER_ACTIVATIONS), DEFAULT_CLASSIFIER_OPTIONS.activation)
    .option('--epochs <n>', 'maximum epochs', integerOption('--epochs', 1, 100000), DEFAULT_CLASSIFIER_OPTIONS.maxEpochs)
    .option('--batch-size <n>', 'events per mini-batch', integerOption('--batch-size', 1, 1 << 20), DEFAULT_CLASSIFIER_OPTIONS.batchSize)
    .option('--lr <rate>', `learning rate: Adam's (mlp, default ${DEFAULT_CLASSIFIER_OPTIONS.learningRate}) or the boosting shrinkage (bdt, default ${DEFAULT_BOOSTED_TREES_OPTIONS.learningRate})`, numberOption('--lr', (n) => n > 0 && n < 1, 'in (0, 1)'))
    .option('--iterations <n>', 'bdt: boosting iterations at most (one tree each)', integerOption('--iterations', 1, 100000), DEFAULT_BOOSTED_TREES_OPTIONS.maxIterations)
    .option('--leaves <n>', 'bdt: leaves per tree at most (grown leaf-wise)', integerOption('--leaves', 2, 4096), DEFAULT_BOOSTED_TREES_OPTIONS.maxLeafNodes)
    .option('--min-leaf <n>', 'bdt: training events per leaf at least', integerOption('--min-leaf', 1), DEFAULT_BOOSTED_TREES_OPTIONS.minSamplesLeaf)
    .option('--l2 <lambda>', 'bdt: L2 penalty on leaf values', numberOption('--l2', (n) => n >= 0, '≥ 0'), DEFAULT_BOOSTED_TREES_OPTIONS.l2)
    .option('--bins <n>', `bdt: quantile bins per feature (≤ ${MAX_BINS})`, integerOption('--bins', 2, MAX_BINS), DEFAULT_BOOSTED_TREES_OPTIONS.maxBins)
    .option('--validation <fraction>', 'held-out fraction of each class', numberOption('--validation', (n) => n > 0 && n < 0.9, 'in (0, 0.9)'), DEFAULT_CLASSIFIER_OPTIONS.validationFraction)
    .option('--patience <epochs>', 'early-stopping patience', integerOption('--patience', 1), DEFAULT_CLASSIFIER_OPTIONS.patience)
    .option('--ensemble <n>', 'mlp: average the networks of the n epochs with the lowest validation loss (CATHODE: 10); bdt: average n boosted models, each on its own training/validation split', integerOption('--ensemble', 1), DEFAULT_CLASSIFIER_OPTIONS.ensemble)
    .option('--no-balance', 'keep the classes\u2019 own total weights (default: scale them to equal totals)')
    .option('--folds <k>', 'k-fold: train k classifiers, score every event with the one that left it out (scores.csv)', integerOption('--folds', 2, 255))
    .option('--seed <n>', 'random seed', integerOption('--seed', 0), DEFAULT_CLASSIFIER_OPTIONS.seed)
    .option('--threads <n>', 'onnxruntime intra-op threads', integerOption('--threads', 1, 1024), DEFAULT_CLASSIFIER_OPTIONS.threads)
    .option('--name <name>', 'model name in the manifest', 'classifier')
    .requiredOption('--out <dir>', 'folder for manifest.json and classifier.onnx (with --folds: fold-<j>/ and scores.csv)')
    .option('--report <dir>', 'also write the loss curves and, with --folds, the held-out ROC, SIC, score histograms and calibration (SVG and PNG) and report.html into DIR');
  minBackgroundOption(eventSourceOptions(train))
    .addHelpText(
      'after',
      `
Examples:
  flowscan classify train --signal sig.csv --background bkg.csv --features mj1,dmj,tau21_1,tau21_2 --out runs/clf
  flowscan classify train --signal data.csv --background samples.csv --features mj1,dmj,tau21_1,tau21_2 \\
    --ensemble 10 --folds 5 --out runs/cathode        # held-out scores of every event in runs/cathode/scores.csv
  flowscan classify train --classifier bdt --ensemble 10 --signal sig.csv --background bkg.csv --features mj1,dmj,tau21_1,tau21_2 --out runs/bdt`,
    )
    .action(async (o: ClassifyTrainCliOptions, command: Command) => {
      checkKindOptions(o.classifier, command);
      const columns = [...o.features, ...(o.weights ? [o.weights] : [])];
      const duplicate = columns.find((c, i) => columns.indexOf(c) !== i);
      if (duplicate) throw new Error(`column "${duplicate}" is named twice in --features/--weights`);
      for (const name of Object.keys(o.units)) if (!o.features.includes(name)) throw new Error(`--units names "${name}", which is not in --features (${o.features.join(', ')})`);
      const [background, signal] = await Promise.all([o.background, o.signal].map(async (files): Promise<ClassEvents & { count: number }> => {
        const { x, count, extra } = await readEvents(files, o.features, o.weights ? { weights: o.weights } : null, o);
        return extra ? { x, count, weights: extra } : { x, count };
      }));
      const options: Partial<ClassifierOptions> & Pick<ClassifierOptions, 'features'> = {
        features: o.features.map((name) => ({ name, unit: o.units[name] ?? '' })),
        hidden: o.hidden,
        activation: o.activation,
        maxEpochs: o.epochs,
        batchSize: o.batchSize,
        learningRate: o.lr ?? DEFAULT_CLASSIFIER_OPTIONS.learningRate,
        validationFraction: o.validation,
        patience: o.patience,
        ensemble: o.ensemble,
        balance: o.balance,
        seed: o.seed,
        threads: o.threads,
        dataFiles: [...o.background, ...o.signal],
      };
      if (o.classifier === 'bdt') {
        const bar = progressBar('boost', o.iterations * o.ensemble);
        const model = trainBoostedTrees(background, signal, {
          ...options,
          learningRate: o.lr ?? DEFAULT_BOOSTED_TREES_OPTIONS.learningRate,
          maxIterations: o.iterations,
          maxLeafNodes: o.leaves,
          minSamplesLeaf: o.minLeaf,
          l2: o.l2,
          maxBins: o.bins,
          onIteration: (k, r) => bar.update(k * o.iterations + r.epoch, { model: k + 1, loss: r.trainLoss.toFixed(4), 'val loss': r.validationLoss.toFixed(4) }),
        });
        bar.stop();
        await saveBoostedTrees(model, o.out, o.name);
        const mean = model.members.reduce((a, m) => a + m.validationLoss, 0) / model.members.length;
        process.stdout.write(`${trainingLength(model)}: mean validation cross-entropy ${mean.toFixed(4)} nats/event\nexported ${join(o.out, 'manifest.json')}\n`);
        if (o.report) process.stdout.write(`wrote ${await writeTrainingReport(o.report, [model.members[0].history], o)}\n`);
        return;
      }
      if (o.folds === undefined) {
        const { bar, onEpoch } = epochBar('classify', o.epochs);
        const { model, history } = await trainClassifier(background, signal, { ...options, onEpoch });
        bar.stop();
        await saveClassifier(model, o.out, o.name);
        const p = model.provenance;
        process.stdout.write(
          `${p.epochs} epochs (${p.stoppedBy}), best epoch ${p.bestEpoch}; ensemble of epochs ${model.members.map((m) => m.epoch).join(', ')}: ` +
            `validation cross-entropy ${model.ensembleValidationLoss.toFixed(4)} nats/event\nexported ${join(o.out, 'manifest.json')}\n`,
        );
        if (o.report) process.stdout.write(`wrote ${await writeTrainingReport(o.report, [history], o)}\n`);
        return;
      }
      const folds = o.folds;
      let fold = epochBar(`fold 1/${folds}`, o.epochs);
      const histories: ClassifierEpoch[][] = [[]];
      const result = await kFoldScores(background, signal, folds, { ...options, onEpoch: (r) => {
        fold.onEpoch(r);
        histories.at(-1)!.push(r);
      } }, (j) => {
        if (j + 1 < folds) histories.push([]);
        fold.bar.stop();
        if (j + 1 < folds) fold = epochBar(`fold ${j + 2}/${folds}`, o.epochs);
      });
      for (const [j, { model }] of result.folds.entries()) await saveClassifier(model, join(o.out, `fold-${j}`), `${o.name}-fold-${j}`);
      const scoresPath = join(o.out, 'scores.csv');
      await writeScores(scoresPath, result.scores, result.fold, [background.count, signal.count]);
      process.stdout.write(`held-out scores of ${background.count + signal.count} events: ${separationLine(result.scores[1].logit, result.scores[0].logit, o.minBackground)}\nwrote ${scoresPath}\n`);
      if (o.report) {
        const lossSection = await lossCurvesSection(o.report, histories);
        const probability = Float64Array.from([...result.scores[0].probability, ...result.scores[1].probability]);
        const label = Uint8Array.from({ length: probability.length }, (_, i) => (i < background.count ? 0 : 1));
        const { reportPath } = await writeScoreReport(o.report, {
          title: 'flowscan classify train',
          subtitle: `held-out scores of ${folds} folds: ${o.signal.join(', ')} (signal) against ${o.background.join(', ')} (background)`,
          scoreName: 'p(signal | x)',
          score: probability,
          label,
          minBackground: o.minBackground,
          calibration: { probability, prior: o.balance ? [1, 1] : [background.count, signal.count] },
          sections: [lossSection],
        });
        process.stdout.write(`wrote ${reportPath}\n`);
      }
    });

  const score = classify
    .command('score')
    .description('Score events in event files with an exported classifier; with --truth, also the AUC and max SIC.')
    .requiredOption('--model <dir>', 'folder of an exported classifier (manifest.json, classifier.onnx)')
    .requiredOption('--data <files...>', 'event files with the model\u2019s feature columns')
    .option('--truth <column>', 'a 0/1 label column (1 = signal): report the AUC with its error and the max SIC')
    .option('--out <file>', 'CSV of the features, the probability and the logit per event')
    .option('--report <dir>', 'with --truth: also write the ROC, SIC, score histograms and calibration (SVG and PNG) and report.html into DIR');
  minBackgroundOption(eventSourceOptions(score)).action(async (o: ClassifyScoreCliOptions) => {
    if (o.report && !o.truth) throw new Error('--report needs --truth <column>: its figures compare the scores of signal and background events');
    const classifier = await loadClassifier(o.model);
    try {
      const features = classifier.featureNames;
      const events = await readEvents(o.data, features, o.truth ? { label: o.truth } : null, o);
      const scores = await classifier.score(events.x, events.count);
      process.stdout.write(`scored ${events.count} events with ${classifier.manifest.name}\n`);
      if (o.truth && events.extra) {
        const labels = events.extra;
        const bad = Array.from(labels).findIndex((v) => v !== 0 && v !== 1);
        if (bad >= 0) throw new Error(`--truth column "${o.truth}" must hold 0 or 1, event ${bad + 1} has ${labels[bad]}`);
        const pick = (label: number): number[] => Array.from(scores.logit).filter((_, i) => labels[i] === label);
        process.stdout.write(`${separationLine(pick(1), pick(0), o.minBackground)}\n`);
        if (o.report) {
          // The probability estimates P(signal | x) for the class totals the training weighted to (equal when balanced).
          const { classWeights, events: trained } = classifier.manifest.provenance;
          const { reportPath } = await writeScoreReport(o.report, {
            title: 'flowscan classify score',
            subtitle: `${classifier.manifest.name} on ${o.data.join(', ')} (truth column "${o.truth}")`,
            scoreName: 'p(signal | x)',
            score: scores.probability,
            label: Uint8Array.from(labels),
            minBackground: o.minBackground,
            calibration: { probability: scores.probability, prior: [classWeights[0] * trained[0], classWeights[1] * trained[1]] },
          });
          process.stdout.write(`wrote ${reportPath}\n`);
        }
      }
      if (o.out) {
        const table: Record<string, ArrayLike<number>> = { probability: scores.probability, logit: scores.logit };
        features.forEach((f, d) => (table[f] = Float64Array.from({ length: events.count }, (_, i) => events.x[i * features.length + d])));
        await writeEventsCsvFile(o.out, table, [...features, 'probability', 'logit']);
        process.stdout.write(`wrote ${o.out}\n`);
      }
    } finally {
      await classifier.release();
    }
  });
}

/** Options of one classifier kind given on the command line for the other are refused, not ignored. */
const KIND_OPTIONS: Record<ClassifierKind, string[]> = {
  mlp: ['hidden', 'activation', 'epochs', 'batchSize', 'threads', 'folds'],
  bdt: ['iterations', 'leaves', 'minLeaf', 'l2', 'bins'],
};

function checkKindOptions(kind: ClassifierKind, command: Command): void {
  const other: ClassifierKind = kind === 'mlp' ? 'bdt' : 'mlp';
  for (const key of KIND_OPTIONS[other]) {
    if (command.getOptionValueSource(key) === 'cli') {
      const flag = `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
      throw new Error(`${flag} is an option of --classifier ${other}${key === 'folds' ? ' (k-fold scoring trains networks)' : ''}; --classifier ${kind} does not read it`);
    }
  }
}

/** One row per event: its label (0 background, 1 signal), index within its class, fold and held-out scores. */
async function writeScores(path: string, scores: [ClassifierScores, ClassifierScores], fold: [Uint8Array, Uint8Array], counts: [number, number]): Promise<void> {
  const total = counts[0] + counts[1];
  const column = (of: (c: number, i: number) => number): Float64Array => Float64Array.from({ length: total }, (_, k) => (k < counts[0] ? of(0, k) : of(1, k - counts[0])));
  await writeEventsCsvFile(
    path,
    { label: column((c) => c), index: column((_, i) => i), fold: column((c, i) => fold[c][i]), probability: column((c, i) => scores[c].probability[i]), logit: column((c, i) => scores[c].logit[i]) },
    ['label', 'index', 'fold', 'probability', 'logit'],
  );
}

/** The training and validation loss per epoch of each trained network (one per fold). */
async function lossCurvesSection(dir: string, histories: ClassifierEpoch[][]): Promise<ReportSection> {
  const figures: ReportFigure[] = [];
  for (const [j, history] of histories.entries()) {
    const name = histories.length > 1 ? `loss-fold-${j}` : 'loss';
    const spec = plots.lossCurve({
      title: histories.length > 1 ? `Training of fold ${j + 1}/${histories.length}` : 'Training',
      epochs: history.map((r) => r.epoch),
      train: history.map((r) => r.trainLoss),
      validation: history.map((r) => r.validationLoss),
      yTitle: 'Binary cross-entropy [nats/event]',
    });
    figures.push({ name, caption: `Weighted binary cross-entropy per epoch on the training batches and on the validation split${histories.length > 1 ? ` of fold ${j + 1}` : ''}; the circle marks the lowest validation loss.`, ...(await writeFigure(join(dir, 'figures'), name, spec)) });
  }
  return { heading: 'Training', figures };
}

/** report.html with the loss curves of a training without held-out scores. */
async function writeTrainingReport(dir: string, histories: ClassifierEpoch[][], o: ClassifyTrainCliOptions): Promise<string> {
  const reportPath = join(dir, 'report.html');
  const section = await lossCurvesSection(dir, histories);
  section.text = 'Without --folds there are no held-out scores of every event: score a labelled sample with flowscan classify score --truth COLUMN --report DIR for the ROC, SIC and calibration.';
  await writeFileAtomic(reportPath, buildReport({ title: 'flowscan classify train', subtitle: `${o.signal.join(', ')} (signal) against ${o.background.join(', ')} (background)`, sections: [section] }));
  return reportPath;
}
