// `flowscan export`: turn a trained model into ONNX graphs + manifest.json.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { exportModel } from '../export/export.ts';
import { loadExportedModel } from '../export/reexport.ts';
import { loadTrainedModel } from '../train/saved-model.ts';

export function register(program: Command): void {
  program
    .command('export')
    .description('Export a trained model as ONNX graphs (log-density, batched log-density, θ-gradient, sampler) and a manifest.')
    .argument('<model>', 'folder written by `flowscan train --out`, or an exported model folder (manifest.json) to export again with this version')
    .requiredOption('--out <dir>', 'folder for manifest.json and the .onnx files (e.g. models/NAME)')
    .option('--name <name>', 'model name in the manifest (default: the folder name of --out)')
    .option('--description <text>', 'one line describing the model')
    .addHelpText(
      'after',
      '\nExamples:\n  flowscan export runs/toy-signal --out models/toy-signal --description "toy Breit-Wigner signal"\n' +
        '  flowscan export old-models/toy-signal --out models/toy-signal   # an older export, with the current graphs',
    )
    .action(async (modelDir: string, o: { out: string; name?: string; description?: string }) => {
      // An exported folder is read back from its manifest and graphs (older exports gain the graphs added since),
      // keeping its name and description unless they are given.
      const source = existsSync(join(modelDir, 'manifest.json'))
        ? await loadExportedModel(modelDir)
        : { model: await loadTrainedModel(modelDir), name: undefined, description: undefined };
      const name = o.name ?? source.name ?? o.out.replace(/\/+$/, '').split('/').pop()!;
      const description = o.description ?? source.description;
      const manifest = await exportModel(source.model, o.out, { name, ...(description ? { description } : {}) });
      for (const g of Object.values(manifest.graphs)) process.stdout.write(`${o.out}/${g.file}  ${g.bytes} bytes  sha256 ${g.sha256.slice(0, 16)}…\n`);
      process.stdout.write(`${o.out}/manifest.json\n`);
    });
}
