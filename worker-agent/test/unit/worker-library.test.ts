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
