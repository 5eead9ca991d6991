// The list of subcommands. Each module exports `register(program)` adding one subcommand with its --help.
import type { Command } from 'commander';

export function registerCommands(program: Command): void {
  void program;
}
