// `flowscan train`: fit a conditional flow to events in CSV files and save it (optionally export it too).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { EVENT_FORMATS, eventFormatOf, type EventFormat, type EventSourceOptions } from '@flowscan/runtime';
import { readEventFile, readEventsCsvFile } from '@flowscan/runtime/node';
import { ACTIVATIONS, FLOW_KINDS, type FlowKind, flowConfig } from '../flows/config.ts';
import { exportModel } from '../export/export.ts';
import { BACKEND_CHOICES, type BackendChoice } from '../train/backend.ts';
import { ENGINE_CHOICES, type EngineChoice } from '../train/engine.ts';
import { trainingDataFromColumns } from '../train/dataset.ts';
import { runTraining } from '../train/run.ts';
import { SCHEDULES, type Schedule } from '../train/train.ts';
import { choiceOption, integerOption, intervalsOption, listOption, numberOption, numberPairsOption, pairsOption } from './options.ts';

interface TrainCliOptions {
  data: string[];
  dataFormat?: EventFormat;
  dataKey?: string;
  dataNames?: string[];
  features: string[];
  params: string[];
  logParams: string[];
  units: Record<string, string>;
  support: Record<string, [number, number]>;
  margin: Record<string, number>;
  quantile: string[];
  scaleBy: Record<string, string>;
  linearTheta?: boolean;
  weights?: string;
  flow: FlowKind;
  blocks?: number;
  hidden?: number;
  depth?: number;
  activation?: (typeof ACTIVATIONS)[number];
  bins?: number;
  tailBound?: number;
  base: 'normal' | 'student-t';
  nu: number;
  epochs: number;
  batchSize: number;
  lr: number;
  validation: number;
  patience: number;
  schedule: Schedule;
  clipNorm: number;
  thetaDecay: number;
  seed: number;
  backend: BackendChoice;
  engine: EngineChoice;
  threads?: number;
  out: string;
  resume?: boolean;
  force?: boolean;
  skipBadRows?: boolean;
  export?: string;
}

/**
 * Reads and concatenates the named columns of several event files (CSV, .npy/.npz, Parquet, HDF5, ROOT; `source`
 * says the format, table and column names where the extension and file do not); `weights` names the per-event weight column among
 * them (refused, by file and line, when negative or all 0).
 */
export async function readColumns(
  files: string[],
  columns: string[],
  skipBadRows: boolean,
  weights?: string,
  source: EventSourceOptions = {},
): Promise<Record<string, Float64Array>> {
  const parts: Record<string, Float64Array>[] = [];
  for (const file of files) {
    const csv = eventFormatOf(file, source.format) === 'csv';
    const parsed = csv
      ? await readEventsCsvFile(file, { columns, skipBadRows, ...(weights !== undefined ? { weights } : {}) })
      : await readEventFile(file, { columns, skipBadRows, ...source });
    if (parsed.skippedCount > 0) {
      process.stderr.write(`${file}: skipped ${parsed.skippedCount} bad rows, e.g. ${csv ? 'line' : 'row'} ${parsed.skipped[0].line}: ${parsed.skipped[0].reason}\n`);
    }
    parts.push(parsed.columns);
  }
  return Object.fromEntries(
    columns.map((c) => {
      const total = parts.reduce((s, p) => s + p[c].length, 0);
      const out = new Float64Array(total);
      let at = 0;
      for (const p of parts) {
        out.set(p[c], at);
        at += p[c].length;
      }
      return [c, out];
    }),
  );
}

/** A finished model in `out` is the result of hours of training: a new run must not replace it by accident. */
async function refuseFinishedModel(out: string): Promise<void> {
  const path = join(out, 'model.json');
  const text = await readFile(path, 'utf8').catch(() => null);
  if (text === null) return;
  let trained = '';
  try {
    const { provenance } = JSON.parse(text) as { provenance?: { date?: string; dataFiles?: string[] } };
    if (provenance?.date) trained = ` (trained ${provenance.date} on ${provenance.dataFiles?.join(', ') ?? 'unrecorded data'})`;
  } catch {
    // Unreadable: still somebody's file, still refused.
  }
  throw new Error(
    `--out ${out} already holds a trained model, ${path}${trained}: pass --force to train anew and overwrite it, ` +
      '--resume to continue its run from the checkpoint, or choose another --out',
  );
}

export function register(program: Command): void {
  program
    .command('train')
    .description('Train a conditional normalizing flow p(x|θ) on events from CSV files and save it.')
    .requiredOption('--data <files...>', 'event files, rows are events (features + the θ they were generated at): CSV with a header, .npy/.npz, .parquet, .h5 (pandas or h5py), .root (see docs/data-formats.md)')
    .option('--data-format <format>', `format of the --data files when their extension does not say it: ${EVENT_FORMATS.join(' | ')}`, choiceOption('--data-format', EVENT_FORMATS))
    .option('--data-key <key>', 'table inside the --data files: ROOT tree(s) (comma-separated), HDF5 dataset or pandas key, .npz array')
    .option('--data-names <names>', 'names of the columns of an unlabelled 2-D array (.npy, .npz, HDF5 matrix), in order', listOption)
    .requiredOption('--features <names>', 'feature columns x, comma-separated', listOption)
    .option('--params <names>', 'parameter columns θ, comma-separated (none: an unconditional flow)', listOption, [])
    .option('--log-params <names>', 'parameters that span decades and enter the networks as log10', listOption, [])
    .option('--units <pairs>', 'units, e.g. "x=GeV,tau=1/GeV"', pairsOption, {})
    .option(
      '--support <intervals>',
      'known windows of features, e.g. "x=40:140": modelled up to their edges (default: the training range plus a margin)',
      intervalsOption,
      {},
    )
    .option(
      '--margin <fractions>',
      'support margins of features without a declared window, as fractions of their training range, e.g. "mjj=0.5" (default 0.02)',
      numberPairsOption,
      {},
    )
    .option(
      '--quantile <names>',
      'features to preprocess by Gauss-rank: the training sample\'s piecewise-linear empirical CDF, then Φ⁻¹, inside the exported graphs (log p stays in physical units)',
      listOption,
      [],
    )
    .option(
      '--scale-by <pairs>',
      'features measured in units of a parameter, e.g. "mjj=m_zprime": the flow models mjj/m_zprime (a mass peak near 1 at every θ) and log p gains −log m_zprime',
      pairsOption,
      {},
    )
    .option('--weights <column>', 'per-event weight column')
    .option('--flow <kind>', `flow: ${FLOW_KINDS.join(' | ')}`, choiceOption('--flow', FLOW_KINDS), 'nsf')
    .option('--blocks <n>', 'transform blocks (default per flow)', integerOption('--blocks', 1, 64))
    .option('--hidden <n>', 'hidden units per layer', integerOption('--hidden', 1, 4096))
    .option('--depth <n>', 'hidden layers per conditioner', integerOption('--depth', 1, 16))
    .option('--activation <name>', `activation: ${ACTIVATIONS.join(' | ')}`, choiceOption('--activation', ACTIVATIONS))
    .option('--bins <n>', 'spline bins (nsf, nsf-coupling)', integerOption('--bins', 2, 256))
    .option('--tail-bound <B>', 'splines act on [−B, B]', numberOption('--tail-bound', (n) => n > 0, 'a number > 0'))
    .option('--linear-theta', 'add a linear path from θ to the transform parameters (better interpolation between θ grid points)')
    .option('--base <dist>', 'base distribution: normal | student-t', choiceOption('--base', ['normal', 'student-t'] as const), 'normal')
    .option('--nu <ν>', 'Student-t degrees of freedom', numberOption('--nu', (n) => n > 0, 'a number > 0'), 1)
    .option('--epochs <n>', 'maximum epochs', integerOption('--epochs', 1, 100000), 50)
    .option('--batch-size <n>', 'events per mini-batch', integerOption('--batch-size', 1, 1 << 22), 512)
    .option('--lr <rate>', 'Adam learning rate', numberOption('--lr', (n) => n > 0 && n < 1, 'in (0, 1)'), 2e-3)
    .option('--validation <fraction>', 'held-out fraction', numberOption('--validation', (n) => n > 0 && n < 0.9, 'in (0, 0.9)'), 0.1)
    .option('--patience <epochs>', 'early-stopping patience', integerOption('--patience', 1), 6)
    .option('--schedule <name>', `learning-rate schedule: ${SCHEDULES.join(' | ')}`, choiceOption('--schedule', SCHEDULES), 'plateau')
    .option(
      '--theta-decay <λ>',
      'L2 penalty on the weights that carry θ into the networks: smoother interpolation between θ grid points (e.g. 1e-3 with --linear-theta)',
      numberOption('--theta-decay', (n) => n >= 0, 'a number ≥ 0'),
      0,
    )
    .option('--clip-norm <value>', 'global gradient-norm clip (0: off)', numberOption('--clip-norm', (n) => n >= 0, '≥ 0'), 5)
    .option('--seed <n>', 'random seed (repeatable on one backend)', integerOption('--seed', 0), 1)
    .option(
      '--engine <name>',
      `training engine: ${ENGINE_CHOICES.join(' | ')} (auto: tfjs with native TensorFlow.js or a named --backend, else onnxruntime on the CPU)`,
      choiceOption('--engine', ENGINE_CHOICES),
      'auto',
    )
    .option('--threads <n>', 'onnxruntime intra-op threads (default: one per core)', integerOption('--threads', 1, 1024))
    .option('--backend <name>', `TensorFlow.js backend of the tfjs engine: ${BACKEND_CHOICES.join(' | ')}`, choiceOption('--backend', BACKEND_CHOICES), 'auto')
    .requiredOption('--out <dir>', 'folder for the trained model and its per-epoch checkpoints')
    .option('--resume', 'continue an interrupted run from the checkpoint in --out (on the same data only)')
    .option('--force', 'overwrite a trained model already in --out (otherwise refused)')
    .option('--skip-bad-rows', 'skip (and report) rows with bad values instead of failing')
    .option('--export <name>', 'also export the ONNX graphs and manifest to <out>/onnx under this model name')
    .addHelpText(
      'after',
      `
Example (the toy signal of the paper, §3.1):
  flowscan simulate toy --process signal --events 200000 --out signal.csv
  flowscan train --data signal.csv --features x --params m_pole,gamma --units x=GeV,m_pole=GeV,gamma=GeV \\
    --support x=40:140 --flow nsf --out runs/toy-signal --export toy-signal`,
    )
    .action(async (o: TrainCliOptions) => {
      if (!o.resume && !o.force) await refuseFinishedModel(o.out);
      for (const p of o.logParams) if (!o.params.includes(p)) throw new Error(`--log-params names "${p}", which is not in --params (${o.params.join(', ') || 'none'})`);
      for (const [option, named] of [['--support', Object.keys(o.support)], ['--margin', Object.keys(o.margin)], ['--quantile', o.quantile], ['--scale-by', Object.keys(o.scaleBy)]] as const) {
        for (const f of named) if (!o.features.includes(f)) throw new Error(`${option} names "${f}", which is not in --features (${o.features.join(', ')})`);
      }
      for (const [f, p] of Object.entries(o.scaleBy)) if (!o.params.includes(p)) throw new Error(`--scale-by ${f}=${p}: "${p}" is not in --params (${o.params.join(', ') || 'none'})`);
      const columns = [...o.features, ...o.params, ...(o.weights ? [o.weights] : [])];
      const duplicate = columns.find((c, i) => columns.indexOf(c) !== i);
      if (duplicate) throw new Error(`column "${duplicate}" is named twice in --features/--params/--weights`);
      const source = { format: o.dataFormat, key: o.dataKey, names: o.dataNames };
      const table = await readColumns(o.data, columns, o.skipBadRows ?? false, o.weights, source);
      const data = trainingDataFromColumns(table, o.features, o.params, o.weights);
      const flow = flowConfig(o.flow, {
        blocks: o.blocks,
        hidden: o.hidden,
        depth: o.depth,
        activation: o.activation,
        bins: o.bins,
        tailBound: o.tailBound,
        base: o.base === 'normal' ? { kind: 'normal' } : { kind: 'student-t', nu: o.nu },
        linearTheta: o.linearTheta ?? false,
      });
      const model = await runTraining({
        label: 'train',
        data,
        dataFiles: o.data,
        features: o.features.map((name) => ({
          name,
          unit: o.units[name] ?? '',
          ...(o.support[name] ? { support: o.support[name] } : {}),
          ...(o.margin[name] !== undefined ? { margin: o.margin[name] } : {}),
          ...(o.quantile.includes(name) ? { quantile: true } : {}),
          ...(o.scaleBy[name] !== undefined ? { scaledBy: o.scaleBy[name] } : {}),
        })),
        params: o.params.map((name) => ({ name, unit: o.units[name] ?? '', logScale: o.logParams.includes(name) })),
        flow,
        backend: o.backend,
        engine: o.engine,
        ...(o.threads !== undefined ? { threads: o.threads } : {}),
        out: o.out,
        train: {
          maxEpochs: o.epochs,
          batchSize: o.batchSize,
          learningRate: o.lr,
          validationFraction: o.validation,
          patience: o.patience,
          schedule: o.schedule,
          clipNorm: o.clipNorm,
          thetaWeightDecay: o.thetaDecay,
          seed: o.seed,
          resume: o.resume ?? false,
        },
      });
      process.stdout.write(`saved ${o.out}/model.json (validation NLL ${model.provenance.validationLoss.toFixed(4)} nats/event)\n`);
      if (o.export) {
        const dir = `${o.out}/onnx`;
        await exportModel(model, dir, { name: o.export });
        process.stdout.write(`exported ${dir}/manifest.json\n`);
      }
    });
}
