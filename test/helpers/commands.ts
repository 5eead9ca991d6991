// Child processes for tests: any command with its exit code and output (never throwing on a non-zero exit), and
// the flowscan command line.
import { execFile } from 'node:child_process';
import { join } from 'node:path';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export const FLOWSCAN_CLI = join(import.meta.dirname, '..', '..', 'trainer', 'bin', 'flowscan.js');

export function runCommand(file: string, args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CommandResult> {
  return new Promise((done) => {
    execFile(
      file,
      args,
      { maxBuffer: 1 << 26, env: { ...process.env, FORCE_COLOR: '0', ...options.env }, timeout: options.timeoutMs ?? 0 },
      (error, stdout, stderr) => {
        if (!error) done({ code: 0, stdout, stderr });
        // A number: the exit status; otherwise the command did not run (not found) or was killed (timeout).
        else if (typeof error.code === 'number') done({ code: error.code, stdout, stderr });
        else done({ code: -1, stdout, stderr: `${stderr}${error.message}` });
      },
    );
  });
}

export function flowscan(args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CommandResult> {
  return runCommand(process.execPath, [FLOWSCAN_CLI, ...args], options);
}
