// `flowscan compare GENERATED REFERENCE`: validation of generated events against reference events (issue 14 item 2):
// per-feature KS, χ²/ndf, KL, Jensen–Shannon, Hellinger and histograms with ratio panels; optionally a classifier
// two-sample test. Writes compare.json and figures/ into --out and prints a table.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { readEventFile, writeFileAtomic } from '@flowscan/runtime/node';
import { type FeatureBinning, type Sample, compareSamples, comparisonTable, defaultBinning } from '../compare/compare.ts';
import { parseBinnings } from '../generate/histograms.ts';
import { writeCompareReport } from '../report/compare.ts';
import { writeFigure } from '../report/render.ts';
import { integerOption, listOption } from './options.ts';

interface CompareCliOptions {
  features: string[];
  bins?: string;
  defaultBins: number;
  generatedWeights?: string;
  referenceWeights?: string;
  out: string;
  c2st?: boolean;
  c2stEvents: number;
  folds: number;
  permutations: number;
  epochs: number;
  seed: number;
  report?: string;
}

async function readSample(path: string, label: string, features: string[], weights: string | undefined): Promise<Sample> {
  const parsed = await readEventFile(path, { columns: [...features, ...(weights ? [weights] : [])] });
  const columns = Object.fromEntries(features.map((f) => [f, parsed.columns[f]]));
  return { label, columns, weights: weights ? parsed.columns[weights] : null };
}

export function register(program: Command): void {
  program
    .command('compare')
    .description('Compare generated events with reference events: KS, χ²/ndf, KL, Jensen–Shannon, Hellinger per feature, ratio plots, and a classifier two-sample test.')
    .argument('<generated>', 'generated events (.csv, .npy, .parquet, …)')
    .argument('<reference>', 'reference events, e.g. the Monte Carlo the flow was trained on')
    .requiredOption('--features <list>', 'features to compare, comma-separated', listOption)
    .option('--bins <spec>', 'bins per feature, e.g. "x=40:140:50" (default: the samples\' range in --default-bins bins)')
    .option('--default-bins <n>', 'bins of a feature without --bins', integerOption('--default-bins', 2, 10000), 50)
    .option('--generated-weights <column>', 'per-event weights of the generated sample (e.g. "weight" from flowscan generate)')
    .option('--reference-weights <column>', 'per-event weights of the reference sample')
    .requiredOption('--out <dir>', 'folder for compare.json and figures/')
    .option('--report <dir>', 'also write the histograms with ratio panels (SVG and PNG) and report.html into DIR')
    .option('--c2st', 'also a classifier two-sample test (an MLP trained with k-fold held-out scores)')
    .option('--c2st-events <n>', 'events of each sample the classifier uses at most', integerOption('--c2st-events', 20, 10_000_000), 20000)
    .option('--folds <k>', 'folds of the classifier (every event scored by a model that did not see it)', integerOption('--folds', 2, 20), 2)
    .option('--permutations <n>', 'label permutations for the C2ST p-value', integerOption('--permutations', 1, 1_000_000), 200)
    .option('--epochs <n>', 'classifier epochs at most (early stopping on a validation split)', integerOption('--epochs', 1, 10000), 30)
    .option('--seed <n>', 'seed of the classifier and the permutations', integerOption('--seed', 0), 1)
    .addHelpText(
      'after',
      `
The histograms are compared by shape (the generated one scaled to the reference's total); χ² uses both samples'
errors sqrt(Σw²). KL(reference ‖ generated) leaves out bins where the generated histogram is empty and reports
the reference mass there (klSkippedMass). C2ST: AUC 0.5 means the classifier cannot tell the samples apart; its
error is DeLong's, its p-value from permuting the labels within each fold.

Example:
  flowscan generate --model models/toy-background --theta tau=0.01 --events 100000 --out gen.npy
  flowscan simulate toy --process background --events 100000 --out mc.csv
  flowscan compare gen.npy mc.csv --features x --bins x=40:140:50 --out out/compare --c2st`,
    )
    .action(async (generatedPath: string, referencePath: string, o: CompareCliOptions) => {
      const generated = await readSample(generatedPath, 'generated', o.features, o.generatedWeights);
      const reference = await readSample(referencePath, 'reference', o.features, o.referenceWeights);
      const explicit = o.bins ? parseBinnings(o.bins, '--bins') : [];
      const stray = explicit.find((b) => !o.features.includes(b.column));
      if (stray) throw new Error(`--bins gives bins for "${stray.column}", which is not among --features (${o.features.join(', ')})`);
      const binnings: Record<string, FeatureBinning> = Object.fromEntries(
        o.features.map((f) => {
          const given = explicit.find((b) => b.column === f);
          return [f, given ? { lo: given.lo, hi: given.hi, bins: given.bins } : defaultBinning(generated.columns[f], reference.columns[f], o.defaultBins)];
        }),
      );
      const result = await compareSamples(reference, generated, o.features, binnings, o.c2st ? {
        folds: o.folds,
        permutations: o.permutations,
        seed: o.seed,
        maxEvents: o.c2stEvents,
        classifier: { features: o.features.map((name) => ({ name, unit: '' })), maxEpochs: o.epochs },
      } : null);
      await mkdir(o.out, { recursive: true });
      for (const f of result.features) await writeFigure(join(o.out, 'figures'), `ratio-${f.feature.replace(/[^A-Za-z0-9._-]/g, '_')}`, f.figure);
      const json = { ...result, files: { generated: generatedPath, reference: referencePath }, features: result.features.map(({ figure: _figure, ...rest }) => rest) };
      await writeFileAtomic(join(o.out, 'compare.json'), `${JSON.stringify(json, null, 2)}\n`);
      process.stdout.write(comparisonTable(result));
      if (o.report) process.stdout.write(`wrote ${await writeCompareReport(o.report, result, { generated: generatedPath, reference: referencePath })}\n`);
    });
}
