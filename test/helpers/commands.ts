// Child processes for tests: any command with its exit code and output (never throwing on a non-zero exit), and
// the flowscan command line, started from the build when it is fresh (test/helpers/build.ts).
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { buildIsFresh } from './build.ts';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export const FLOWSCAN_CLI = join(import.meta.dirname, '..', '..', 'trainer', 'bin', 'flowscan.js');

export function runCommand(file: string, args: string[], options: { env?: NodeJS.ProcessEnv } = {}): Promise<CommandResult> {
  return new Promise((done) => {
    execFile(
      file,
      args,
      { maxBuffer: 1 << 26, env: { ...process.env, FORCE_COLOR: '0', ...options.env } },
      (error, stdout, stderr) => {
        if (!error) done({ code: 0, stdout, stderr });
        // A number: the exit status; otherwise the command did not run (not found) or was killed by a signal.
        else if (typeof error.code === 'number') done({ code: error.code, stdout, stderr });
        else done({ code: -1, stdout, stderr: `${stderr}${error.message}` });
      },
    );
  });
}

let cliEnvironment: Promise<{ FLOWSCAN_BUILT: '0' | '1' }> | null = null;

/**
 * The environment in which FLOWSCAN_CLI runs the build (trainer/dist) when it is newer than the sources, and the
 * sources through tsx otherwise (also when the caller's environment asks for the build); decided once per test
 * file, as its first command starts.
 */
export function flowscanEnvironment(): Promise<{ FLOWSCAN_BUILT: '0' | '1' }> {
  cliEnvironment ??= buildIsFresh().then((fresh) => ({ FLOWSCAN_BUILT: fresh ? '1' : '0' }));
  return cliEnvironment;
}

export async function flowscan(args: string[], options: { env?: NodeJS.ProcessEnv } = {}): Promise<CommandResult> {
  return runCommand(process.execPath, [FLOWSCAN_CLI, ...args], { env: { ...(await flowscanEnvironment()), ...options.env } });
}
