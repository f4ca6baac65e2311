// Runs the CLI in-process with captured output, or as a real process (tsx, source condition).

import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Io } from '../../src/cli/io.js';
import { run } from '../../src/cli/main.js';
import { ROOT } from '../support/control-plane.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function cli(argv: string[], env: Record<string, string | undefined> = {}, opts: { isTTY?: boolean; onSleep?: () => Promise<void>; live?: { stdout: string }; sleeps?: number[] } = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const io: Io = {
    out: (t) => {
      stdout += t;
      if (opts.live) opts.live.stdout = stdout; // what a test may wait for while the command runs
    },
    err: (t) => (stderr += t),
    env: { WORKFORCE_API_URL: undefined, WORKFORCE_API_KEY: undefined, ...env },
    isTTY: opts.isTTY ?? false,
    sleep: async (ms) => {
      opts.sleeps?.push(ms); // the waits asked for (a retry's Retry-After), though each is cut to 100 ms
      await opts.onSleep?.();
      await new Promise((r) => setTimeout(r, Math.min(ms, 100)));
    },
    now: () => Date.now(),
  };
  const code = await run(argv, io);
  return { code, stdout, stderr };
}

/** The CLI as a user runs it: a process, its exit code and streams. */
export function cliProcess(argv: string[], env: Record<string, string> = {}, onStdout?: (all: string, child: ChildProcess) => void): Promise<CliResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=source', path.join(ROOT, 'src', 'cli', 'cli.ts'), ...argv], {
    cwd: ROOT,
    env: { ...process.env, WORKFORCE_API_URL: '', WORKFORCE_API_KEY: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    onStdout?.(stdout, child);
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code: code ?? -1, stdout, stderr })));
}
