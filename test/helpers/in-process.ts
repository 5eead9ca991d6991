// The flowscan command line run inside the test's process: the subcommands of trainer/src/cli/main.ts registered
// on a commander program whose exits become exceptions and whose output is captured. For checks that need no
// process of their own (help texts, refused arguments): each `flowscan` process spends ~2 s of CPU starting (tsx,
// then every module of every subcommand) before it reads its first argument.
import { Command } from 'commander';
import { registerCommands } from '../../trainer/src/cli/commands.ts';

export interface InProcessResult {
  /** What the command ended with: commander's CommanderError (help shown, argument refused) or the command's own; null when it finished. */
  error: (Error & { exitCode?: number }) | null;
  /** What commander wrote (help, its error messages). */
  output: string;
}

/** The flowscan program with every subcommand (nested ones included) throwing instead of exiting and writing to `write`. */
export function flowscanProgram(write: (text: string) => void): Command {
  const program = new Command('flowscan');
  const capture = (command: Command): void => {
    command.exitOverride().configureOutput({ writeOut: write, writeErr: write });
    command.commands.forEach(capture);
  };
  registerCommands(program);
  capture(program);
  return program;
}

/** `flowscan …args` in this process. */
export async function flowscanInProcess(args: string[]): Promise<InProcessResult> {
  let output = '';
  const program = flowscanProgram((text) => (output += text));
  try {
    await program.parseAsync(args, { from: 'user' });
    return { error: null, output };
  } catch (error) {
    return { error: error as InProcessResult['error'], output };
  }
}

/** The message `flowscan …args` is refused with in this process; '' (which no expected message matches) when it ran to the end. */
export async function flowscanRefusal(args: string[]): Promise<string> {
  return (await flowscanInProcess(args)).error?.message ?? '';
}
