import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseArgs } from '../src/args.js';
import { removeDir, SAMPLE_APP, tempDir, waitFor } from './helpers.js';

const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url));

/** Runs the CLI from its sources (through tsx), as a black box. */
function run(args: string[]): { done: Promise<{ code: number | null; stdout: string; stderr: string }>; kill(): void; stdout(): string } {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('exit', (code) => resolve({ code, stdout, stderr })),
  );
  return { done, kill: () => child.kill('SIGTERM'), stdout: () => stdout };
}

describe('functions-host CLI', () => {
  it('parses its arguments', () => {
    expect(parseArgs([])).toEqual({ app: '.' });
    expect(parseArgs(['--app', 'x', '--port=8080', '--data-dir', 'd'])).toEqual({ app: 'x', port: 8080, dataDir: 'd' });
    expect(parseArgs(['--help'])).toBe('help');
    expect(() => parseArgs(['--port', '99999'])).toThrow(/--port must be a number from 0 to 65535/);
    expect(() => parseArgs(['--app'])).toThrow(/--app needs a value/);
    expect(() => parseArgs(['--bogus'])).toThrow(/Unknown argument "--bogus"/);
  });

  it('exits 2 with the usage on bad arguments, and 1 when the app cannot load', async () => {
    const bad = await run(['--port', 'seven']).done;
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--port must be a number');
    expect(bad.stderr).toContain('Usage: functions-host');
    const missing = await run(['--app', '/nonexistent/app']).done;
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('No host.json in /nonexistent/app');
  });

  it('serves the app, prints its functions and stops cleanly on SIGTERM', async () => {
    const dataDir = tempDir();
    const proc = run(['--app', SAMPLE_APP, '--port', '0', '--data-dir', dataDir]);
    try {
      const url = await waitFor(() => /listening on (http:\/\/[\d.:]+)/.exec(proc.stdout())?.[1], { what: 'the CLI to listen', timeoutMs: 30_000 });
      await waitFor(() => proc.stdout().includes('Master key:'), { what: 'the function list' });
      expect(proc.stdout()).toMatch(/hello: \[httpTrigger\] GET http:\/\/127\.0\.0\.1:\d+\/api\/hello\/\{name\?\} \(anonymous\)/);
      expect(await (await fetch(`${url}/api/hello/cli`)).text()).toBe('Hello, cli!');
      proc.kill();
      const { code, stdout } = await proc.done;
      expect(code).toBe(0);
      expect(stdout).toContain('SIGTERM: stopping the host');
    } finally {
      proc.kill();
      removeDir(dataDir);
    }
  });
});
