import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir, waitFor } from './support/control-plane.js';
import { groupAlive } from './support/process-group.js';

/**
 * The README's quick start, from a clean checkout: the committed tree (`git archive HEAD`) in a
 * temporary directory, with this checkout's installed node_modules linked in and built as
 * `npm install` builds it (a real `npm ci` would take minutes). There: `npm start` as the README says → the five commands it prints, run
 * as printed (the CLI's key and topic, an agent with its own directories, the example worker,
 * its tasks, `workforce drain … --wait`) → the worker finishes its task and exits, the drain
 * exits 0 → Ctrl-C (SIGINT to the process group, as a terminal sends it) → a clean exit. Ports
 * are 0 (PORT=0 etc.), so it runs beside a developer's own `npm start`.
 */
/** A shell running one printed command, in its own process group (killed at the end). */
function shell(command: string, cwd: string): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn('sh', ['-c', command], { cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return { child, output: () => out, exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
}

/** The exit code of a printed command, or a failure that shows what it printed if it runs too long. */
async function exitCode(sh: { output: () => string; exited: Promise<number | null> }, what: string, timeoutMs = 90_000, more: () => string = () => ''): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} still running after ${timeoutMs} ms; it printed:\n${sh.output().slice(-3000)}${more()}`)), timeoutMs);
  });
  try {
    return await Promise.race([sh.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Step n of the banner's "A real worker, drained" list: the command as printed. */
function step(banner: string, n: number): string {
  const line = new RegExp(`^ {2}${n}\\. [a-zA-Z ]+? {2,}(.+?)(?: {2,}\\(in the CLI's terminal\\))?$`, 'm').exec(banner);
  expect(line, `step ${n} in:\n${banner}`).not.toBeNull();
  return line![1]!;
}

describe('README quick start', () => {
  let dir: string;
  let start: ChildProcess;
  let out = '';
  let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  const shells: ChildProcess[] = [];

  beforeAll(() => {
    dir = tempDir('workforce-checkout-');
    execFileSync('sh', ['-c', `git -C "${ROOT}" archive --format=tar HEAD | tar -x -C "${dir}"`]);
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    execFileSync('npm', ['run', 'build'], { cwd: dir, stdio: 'ignore' }); // as `npm install` does (prepare)
  }, 180_000);
  afterAll(async () => {
    for (const c of shells) if (c.pid !== undefined && groupAlive(c.pid)) process.kill(-c.pid, 'SIGKILL');
    if (start?.pid !== undefined && groupAlive(start.pid)) process.kill(-start.pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('npm start → the printed agent, worker, tasks and drain → the worker finishes its task and exits → Ctrl-C', async () => {
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
    expect(api, banner).not.toBeNull();
    // the dashboard, with its key
    expect(banner).toContain(`Dashboard      ${api![1]}/api/dashboard?code=${api![2]}`);
    expect((await fetch(`${api![1]}/api/dashboard?code=${api![2]}`)).status).toBe(200);

    // 1. the CLI's key (and URL: ports are 0 here) and the topic
    const cliEnv = step(banner, 1).split('; ')[0]!;
    const ensure = shell(step(banner, 1), dir);
    expect(await exitCode(ensure, 'workforce topic ensure'), ensure.output()).toBe(0);
    expect(ensure.output()).toContain('topic eu-west is ready');
    // 2. an agent with its own state and PID directories, 3. a worker, 4. its tasks
    const agent = shell(step(banner, 2), dir);
    const worker = shell(step(banner, 3), dir);
    shells.push(agent.child, worker.child);
    const tasks = shell(step(banner, 4), dir);
    expect(await exitCode(tasks, 'the tasks command'), tasks.output()).toBe(0);
    const queue = path.join(dir, '.data', 'node-1', 'queue');
    await waitFor(() => agent.output().includes('"listening"'), 'the agent to listen', 60_000);
    await waitFor(() => readdirSync(path.join(queue, 'running')).length === 1, 'the worker to take a task', 60_000);

    // 5. drain it, in the CLI's terminal
    const drain = shell(`${cliEnv}; ${step(banner, 5)}`, dir);
    expect(await exitCode(drain, 'workforce drain --wait', 120_000, () => `\nagent:\n${agent.output().slice(-1500)}\nworker:\n${worker.output().slice(-800)}`), drain.output()).toBe(0);
    expect(drain.output()).toMatch(/completed · 1\/1 drained/);
    // The worker finished the task in flight and exited; the rest stay queued.
    expect(await exitCode(worker, 'the drained worker'), worker.output()).toBe(0);
    expect(readdirSync(path.join(queue, 'done')).length).toBeGreaterThanOrEqual(1);
    expect(readdirSync(path.join(queue, 'running'))).toEqual([]);
    expect(readdirSync(path.join(queue, 'pending')).length).toBeGreaterThanOrEqual(1);

    process.kill(-agent.child.pid!, 'SIGTERM');
    await agent.exited;
    process.kill(-start.pid!, 'SIGINT');
    // npm re-raises the SIGINT its script got, or reports it as 128 + SIGINT (130) as a shell
    // does; what matters is that the script itself (emulator + host) closed and left nothing
    // running in the group.
    const end = await exited;
    expect(end.signal === 'SIGINT' || end.code === 0 || end.code === 130, JSON.stringify(end)).toBe(true);
    await waitFor(() => !groupAlive(start.pid!), 'every process of `npm start` to exit', 15_000);
    expect(out).not.toMatch(/closing the (host|emulator):/);
    await expect(fetch(`${api![1]}/api/drains`)).rejects.toThrow();
  }, 240_000);
});
