// `flowscan export`: turn a trained model into ONNX graphs + manifest.json.
import type { Command } from 'commander';
import { exportModel } from '../export/export.ts';
import { loadTrainedModel } from '../train/saved-model.ts';

export function register(program: Command): void {
  program
    .command('export')
    .description('Export a trained model as ONNX graphs (log-density, batched log-density, θ-gradient, sampler) and a manifest.')
    .argument('<model>', 'folder written by `flowscan train --out`')
    .requiredOption('--out <dir>', 'folder for manifest.json and the .onnx files (e.g. models/NAME)')
    .option('--name <name>', 'model name in the manifest (default: the folder name of --out)')
    .option('--description <text>', 'one line describing the model')
    .addHelpText('after', '\nExample:\n  flowscan export runs/toy-signal --out models/toy-signal --description "toy Breit-Wigner signal"')
    .action(async (modelDir: string, o: { out: string; name?: string; description?: string }) => {
      const model = await loadTrainedModel(modelDir);
      const name = o.name ?? o.out.replace(/\/+$/, '').split('/').pop()!;
      const manifest = await exportModel(model, o.out, { name, ...(o.description ? { description: o.description } : {}) });
      for (const g of Object.values(manifest.graphs)) process.stdout.write(`${o.out}/${g.file}  ${g.bytes} bytes  sha256 ${g.sha256.slice(0, 16)}…\n`);
      process.stdout.write(`${o.out}/manifest.json\n`);
    });
}
