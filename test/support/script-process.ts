/**
 * Runs one of the project's scripts (`npm run admin`, `import`, `smoke`) as a user would: the same entry in its own
 * Node process. It resolves on 'close', not 'exit': Node may emit 'exit' while the child's stdout and stderr still hold
 * output, and on a slow machine a test reading them at 'exit' would see the output cut short.
 */
import { spawn } from 'node:child_process';

export interface ScriptRun {
  /** null when the process was ended by a signal. */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface ScriptOptions {
  readonly env?: Record<string, string>;
  /** Sees stderr as it grows, with a way to SIGKILL the script (an interrupted import). */
  readonly onStderr?: (text: string, kill: (signal?: NodeJS.Signals) => void) => void;
  /** Sees stdout as it grows, with a way to signal the script (Ctrl-C is SIGINT). */
  readonly onStdout?: (text: string, kill: (signal?: NodeJS.Signals) => void) => void;
}

export function runScript(entry: string, args: readonly string[], options: ScriptOptions = {}): Promise<ScriptRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], {
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      options.onStdout?.(stdout, (signal = 'SIGKILL') => child.kill(signal));
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      options.onStderr?.(stderr, (signal = 'SIGKILL') => child.kill(signal));
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
