// The Node worker library writes a PID file the agent accepts, wherever the worker was started.
import { readFileSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { parsePidFile } from '../../src/pid-files/format.js';
import { registerWorker } from '../../src/worker/index.js';
import { removeTempDirs, tempDir } from '../helpers.js';

afterEach(removeTempDirs);

it('makes a relative PID directory absolute, so the file it writes parses for an agent started elsewhere', async () => {
  const dir = tempDir('wf-worker-lib-');
  const worker = registerWorker({ topic: 'eu-west', workerId: 'w1', pidDir: relative(process.cwd(), join(dir, 'pids')), handleSignals: false, env: {} });
  try {
    expect(isAbsolute(worker.intakeFlag)).toBe(true);
    const parsed = parsePidFile(readFileSync(join(dir, 'pids', 'w1.pid'), 'utf8'));
    expect(parsed.ok).toBe(true);
    expect(parsed.ok && parsed.value.format === 'json' && parsed.value.record.intakeFile).toBe(join(dir, 'intake', 'eu-west.intake-stopped'));
  } finally {
    await worker.close();
  }
});

it('declares a resume signal in the PID file and calls onResume when it arrives', async () => {
  const dir = tempDir('wf-worker-lib-');
  const worker = registerWorker({ topic: 'eu-west', workerId: 'w2', pidDir: join(dir, 'pids'), signals: { 'do-not-accept-new-tasks': 'SIGUSR1', resume: 'SIGUSR2' }, env: {} });
  try {
    const parsed = parsePidFile(readFileSync(join(dir, 'pids', 'w2.pid'), 'utf8'));
    expect(parsed.ok && parsed.value.format === 'json' && parsed.value.record.signals).toEqual({ 'graceful-downscale': 'SIGTERM', 'do-not-accept-new-tasks': 'SIGUSR1', resume: 'SIGUSR2' });
    const seen: string[] = [];
    worker.onResume(({ signal }) => seen.push(signal));
    process.kill(process.pid, 'SIGUSR2');
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).toEqual(['SIGUSR2']);
    expect(worker.signal.aborted).toBe(false);
  } finally {
    await worker.close();
  }
  expect(() => registerWorker({ topic: 't', pidDir: join(dir, 'pids'), signals: { 'do-not-accept-new-tasks': 'SIGUSR1', resume: 'SIGUSR1' }, env: {} })).toThrow(/SIGUSR1 cannot mean resume/);
});
