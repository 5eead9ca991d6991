// The `flowscan` command line. Each subcommand lives in its own module and registers itself here.
import { Command } from 'commander';
import { registerCommands } from './commands.ts';

const program = new Command('flowscan')
  .description('Conditional normalizing flows for likelihood scans over signal-model parameters.')
  .showHelpAfterError()
  .configureOutput({ outputError: (text, write) => write(text) });

registerCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`flowscan: ${message}\n`);
  process.exitCode = 1;
}
