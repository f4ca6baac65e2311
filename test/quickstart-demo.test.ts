import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir, waitFor } from './support/control-plane.js';
import { groupAlive } from './support/process-group.js';

/**
 * The README's tour: `npm run demo` (a smaller fleet, ports 0, its own data directory) prints
 * the commands to type; the printed `workforce drain … --wait` drains two nodes and exits 0, the
 * demo shows their workers exit; Ctrl-C (SIGINT to the group) leaves no process behind.
 */
describe('README tour: npm run demo', () => {
  const data = tempDir('workforce-demo-');
  let demo: ChildProcess | undefined;
  afterAll(() => {
    if (demo?.pid !== undefined && groupAlive(demo.pid)) process.kill(-demo.pid, 'SIGKILL');
    rmSync(data, { recursive: true, force: true });
  });

  it('runs a fleet, the printed drain command completes, Ctrl-C stops everything', async () => {
    let out = '';
    demo = spawn('npm', ['run', 'demo'], {
      cwd: ROOT,
      detached: true,
      env: { ...process.env, PORT: '0', SERVICEBUS_PORT: '0', SERVICEBUS_AMQPS_PORT: '0', SERVICEBUS_ARM_PORT: '0', DEMO_DATA_DIR: data, DEMO_TOPICS: 'tour-a,tour-b', DEMO_NODES_PER_TOPIC: '3' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    demo.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    demo.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => demo!.once('exit', (code, signal) => resolve({ code, signal })));

    await waitFor(() => out.includes('Ctrl-C stops the fleet'), 'the demo to be ready', 120_000);
    expect(out).toMatch(/Fleet\s+6 nodes on tour-a, tour-b/);
    const key = /export WORKFORCE_API_KEY=(\S+)/.exec(out)![1]!;
    const drainLine = /^\s+(npx workforce drain tour-a .* --wait)$/m.exec(out)![1]!;
    const dashboard = /Dashboard\s+(\S+)/.exec(out)![1]!;
    expect((await fetch(dashboard)).status).toBe(200);

    const drain = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const child = spawn('sh', ['-c', drainLine], { cwd: ROOT, env: { ...process.env, WORKFORCE_API_KEY: key, WORKFORCE_API_URL: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stdout += d.toString()));
      child.once('exit', (code) => resolve({ code, stdout }));
    });
    expect(drain.stdout).toMatch(/completed · 2\/2 drained/);
    expect(drain.code).toBe(0);
    // The demo shows the two drained nodes' workers exiting after their task.
    await waitFor(() => (out.match(/tour-a-node-\d-(node|py)\s+⏹ exited cleanly/g) ?? []).length >= 2, 'the demo to show workers exiting', 30_000);
    // in UTC, as the CLI prints times
    expect(out).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z {2}tour-a-node-\d-(node|py)\s+⏹ exited cleanly/m);

    process.kill(-demo.pid!, 'SIGINT');
    const end = await exited;
    expect(end.signal === 'SIGINT' || end.code === 0 || end.code === 130, JSON.stringify(end)).toBe(true);
    await waitFor(() => !groupAlive(demo!.pid!), 'every process of the demo to exit', 15_000);
    expect(out).not.toMatch(/stopping the fleet:|closing the (host|emulator):/);
  }, 240_000);
});
