import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, stopFleet, type FleetNode } from '../demo/fleet.js';
import { ROOT, tempDir, waitFor } from './support/control-plane.js';
import { groupAlive } from './support/process-group.js';

/**
 * The README's quick start, from a clean checkout: the committed tree (`git archive HEAD`) in a
 * temporary directory, with this checkout's installed node_modules linked in (a real `npm ci`
 * would take minutes). There: `npm start` as the README says → wait for its printed URL and key
 * → `workforce topic ensure` → a small fleet of real agents and workers → `workforce
 * drain … --wait` exits 0 → Ctrl-C (SIGINT to the process group, as a terminal sends it) → a
 * clean exit. Ports are 0 (PORT=0 etc.), so it runs beside a developer's own `npm start`.
 */
describe('README quick start', () => {
  let dir: string;
  let start: ChildProcess;
  let out = '';
  let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  let nodes: FleetNode[] = [];

  beforeAll(() => {
    dir = tempDir('workforce-checkout-');
    execFileSync('sh', ['-c', `git -C "${ROOT}" archive --format=tar HEAD | tar -x -C "${dir}"`]);
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  });
  afterAll(async () => {
    await stopFleet(nodes).catch(() => {});
    if (start?.pid !== undefined && groupAlive(start.pid)) process.kill(-start.pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  const workforce = (args: string[], env: Record<string, string>) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      // bin/workforce.js is what `npx workforce` runs (the root package's bin; usage.test.ts runs
      // it through npx in this checkout, whose node_modules npm installed).
      const child = spawn(process.execPath, [path.join(dir, 'bin', 'workforce.js'), ...args], { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.once('exit', (code) => resolve({ code, stdout, stderr }));
    });

  it('npm start → workforce topic ensure → workforce drain --wait → Ctrl-C', async () => {
    start = spawn('npm', ['start'], {
      cwd: dir,
      detached: true, // its own process group, so SIGINT reaches it as Ctrl-C does
      env: { ...process.env, PORT: '0', SERVICEBUS_PORT: '0', SERVICEBUS_AMQPS_PORT: '0', SERVICEBUS_ARM_PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    start.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    start.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    exited = new Promise((resolve) => start.once('exit', (code, signal) => resolve({ code, signal })));

    const banner = await waitFor(() => /Workforce control plane is running[\s\S]*Ctrl-C stops/.test(out) && out, '`npm start` to print its URLs', 90_000);
    const api = /API\s+(http:\/\/\S+)\/api\s+\(header x-functions-key: (\S+)\)/.exec(banner);
    const connectionString = /Service Bus\s+(Endpoint=\S+)/.exec(banner)?.[1];
    expect(api, banner).not.toBeNull();
    expect(connectionString).toBeDefined();
    const env = { WORKFORCE_API_URL: api![1]!, WORKFORCE_API_KEY: api![2]! };

    const ensure = await workforce(['topic', 'ensure', 'quickstart'], env);
    expect(ensure.stderr).toBe('');
    expect(ensure.code).toBe(0);
    expect(ensure.stdout).toContain('topic quickstart is ready');

    nodes = await startFleet({
      dir: path.join(dir, '.data', 'fleet'), connectionString: connectionString!, topics: ['quickstart'], nodesPerTopic: 2, tasks: 100, taskMs: [300, 800], python: false,
    });
    const drain = await workforce(['drain', 'quickstart', '--count', '1', '--deadline', '5m', '--reason', 'quick start', '--wait'], env);
    expect(drain.stderr).toBe('');
    expect(drain.stdout).toMatch(/completed · 1\/1 drained/);
    expect(drain.code).toBe(0);
    // The drained node's workers exited; the other node still works.
    const workersRunning = nodes.map((n) => n.processes.find((p) => p.name === 'node-worker')!.child.exitCode === null);
    expect(workersRunning.sort()).toEqual([false, true]);

    await stopFleet(nodes);
    process.kill(-start.pid!, 'SIGINT');
    // npm re-raises the SIGINT its script got, or reports it as 128 + SIGINT (130) as a shell
    // does; what matters is that the script itself (emulator + host) closed and left nothing
    // running in the group.
    const end = await exited;
    expect(end.signal === 'SIGINT' || end.code === 0 || end.code === 130, JSON.stringify(end)).toBe(true);
    await waitFor(() => !groupAlive(start.pid!), 'every process of `npm start` to exit', 15_000);
    expect(out).not.toMatch(/closing the (host|emulator):/);
    await expect(fetch(`${api![1]}/api/drains`)).rejects.toThrow();
  }, 180_000);
});
