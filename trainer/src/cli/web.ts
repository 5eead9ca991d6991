// `flowscan web`: the fit page in a browser (onnxruntime-web, WebGPU or WASM), served on this computer;
// `flowscan web build`: the same page as static files for any web server.
import type { Command } from 'commander';
import { DEFAULT_MODELS_DIR, buildWebApp, startWebServer } from '@flowscan/runtime/node';
import { integerOption } from './options.ts';

const HEADERS_NOTE = `The page needs cross-origin isolation for WASM threads: its server must send
  Cross-Origin-Opener-Policy: same-origin
  Cross-Origin-Embedder-Policy: require-corp
with every file (\`flowscan web\` does; for \`flowscan web build\` configure your server, see README.txt
in the built folder). Without them the page still works, on one WASM thread, and says so.`;

export function register(program: Command): void {
  const web = program
    .command('web')
    .description('Serve the fit page (signal + background flows, CSV or generated pseudo-data, ΔNLL map) on this computer.')
    .option('--port <n>', 'port to listen on (0: any free port)', integerOption('--port', 0, 65535), 8080)
    .option('--host <address>', 'loopback address to listen on (127.0.0.1, ::1 or localhost)', '127.0.0.1')
    .option('--models <dir>', 'folder of exported model folders to offer (and to copy, for `web build`)', DEFAULT_MODELS_DIR)
    .addHelpText(
      'after',
      `
${HEADERS_NOTE}

Examples:
  flowscan web                         # http://127.0.0.1:8080/ with the shipped models/
  flowscan web --port 9000 --models runs/exported
  flowscan web build --out site/       # static files to deploy`,
    )
    .action(async (o: { port: number; host: string; models: string }) => {
      const server = await startWebServer({ port: o.port, host: o.host, modelsDir: o.models });
      process.stdout.write(`flowscan page: ${server.url}  (models from ${server.modelsDir}; Ctrl+C to stop)\n`);
      await new Promise<void>((done) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          void server.close().then(done);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });

  web
    .command('build')
    .description('Write the fit page as static files: bundle, onnxruntime-web runtime, models and deployment notes.')
    .requiredOption('--out <dir>', 'folder to write (created if missing; files of the same name are replaced)')
    .addHelpText(
      'after',
      `\nThe models copied in come from \`flowscan web --models DIR\` (default: the shipped models/).\n\n${HEADERS_NOTE}\n\n` +
        'Examples:\n  flowscan web build --out site/\n  flowscan web build --out site/ --models runs/exported',
    )
    // --models belongs to `web` (commander gives options to the parent command wherever they appear).
    .action(async (o: { out: string }, command: Command) => {
      const { models } = command.parent!.opts<{ models: string }>();
      const result = await buildWebApp(o.out, { modelsDir: models });
      process.stdout.write(
        `wrote ${result.files.length} files to ${result.outDir} (models: ${result.models.join(', ') || 'none'}); ` +
          'serve it with COOP/COEP headers (README.txt there says how).\n',
      );
    });
}
