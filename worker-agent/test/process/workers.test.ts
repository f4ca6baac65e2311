// The worker libraries through the example workers (Node and Python): real processes, real signals.
import { existsSync, mkdirSync, readdirSync, writeFileSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LocalQueue } from '../../examples/local-queue.js';
import { tasksCommand } from '../../examples/tasks.js';
import { type Artifacts, PACKAGE_ROOT, buildArtifacts, killAll, removeTempDirs, startExampleWorker, startProcess, tempDir, waitFor } from '../helpers.js';

let built: Artifacts;
beforeAll(async () => {
  built = await buildArtifacts();
});
afterEach(killAll);
afterAll(removeTempDirs);

type Kind = 'node' | 'python';
function startWorker(kind: Kind, queueDir: string, pidDir: string, workerId: string) {
  return startExampleWorker(built, kind, { queueDir, pidDir, topic: 'eu', workerId });
}

describe.each<Kind>(['node', 'python'])('%s example worker', (kind) => {
  it('finishes the task in flight after SIGTERM, then exits and removes its PID file', async () => {
    const queue = new LocalQueue(tempDir());
    const pidDir = tempDir();
    for (let i = 0; i < 3; i++) queue.enqueue(`t${i}`, 400);
    const worker = startWorker(kind, queue.dir, pidDir, 'w1');
    await waitFor(() => queue.events().some((e) => e.event === 'started'), 15_000, () => worker.output());
    expect(existsSync(join(pidDir, 'w1.pid'))).toBe(true);
    worker.kill('SIGTERM');
    expect(await worker.exited).toEqual({ code: 0, signal: null });
    const events = queue.events().map((e) => `${e.event}${e.taskId ? `:${e.taskId}` : ''}`);
    expect(events).toEqual(['registered', 'started:t0', 'drain-requested', 'finished:t0', 'exiting']);
    expect(queue.done()).toEqual(['t0']);
    expect(queue.pending().sort()).toEqual(['t1', 't2']);
    expect(readdirSync(pidDir).filter((n) => n.endsWith('.pid'))).toEqual([]);
    // Each step is also one line on the terminal.
    const said = worker.output().trim().split('\n').map((l) => l.replace(/^\d\d:\d\d:\d\d /, ''));
    expect(said).toEqual([
      expect.stringMatching(/^w1: registered \(pid \d+, topic eu\), taking tasks from /),
      'w1: started t0 (400 ms)',
      'w1: drain requested (SIGTERM): finishing the task in flight, then exiting',
      'w1: finished t0',
      'w1: exiting',
    ]);
  });

  it('stays alive and idle while the intake flag is up, and takes tasks again once it is gone', async () => {
    const queue = new LocalQueue(tempDir());
    const pidDir = join(tempDir(), 'pids');
    const flag = join(pidDir, '..', 'intake', 'eu.intake-stopped'); // the agent's convention
    mkdirSync(dirname(flag), { recursive: true });
    writeFileSync(flag, '{}');
    queue.enqueue('t0', 10);
    const worker = startWorker(kind, queue.dir, pidDir, 'w2');
    await waitFor(() => queue.events().some((e) => e.event === 'idle'), 15_000, () => worker.output());
    await new Promise((r) => setTimeout(r, 200));
    expect(queue.pending()).toEqual(['t0']);
    expect(worker.child.exitCode).toBeNull();
    unlinkSync(flag);
    // The worker moves the task to done, then records `finished`: wait for the record.
    await waitFor(() => queue.events().some((e) => e.event === 'finished'));
    expect(queue.done()).toContain('t0');
    expect(queue.events().map((e) => e.event)).toEqual(['registered', 'idle', 'resumed', 'started', 'finished']);
  });
});

it.each<Kind>(['node', 'python'])('the %s example exits quietly on Ctrl-C (SIGINT), removing its PID file', async (kind) => {
  const queue = new LocalQueue(tempDir());
  const pidDir = tempDir();
  queue.enqueue('t0', 30_000);
  const worker = startWorker(kind, queue.dir, pidDir, 'w3');
  await waitFor(() => queue.events().some((e) => e.event === 'started'), 15_000, () => worker.output());
  worker.kill('SIGINT');
  expect(await worker.exited).toEqual({ code: 130, signal: null });
  expect(worker.output()).not.toContain('Traceback');
  expect(worker.output()).toMatch(/interrupted\n$/);
  expect(readdirSync(pidDir).filter((n) => n.endsWith('.pid'))).toEqual([]);
});

describe('tasks command (examples/tasks.ts)', () => {
  it('queues N tasks of a duration, in a queue given relative to where it was typed', () => {
    const cwd = tempDir();
    expect(tasksCommand(['add', '3', '--ms', '250', '--queue', 'q'], cwd)).toMatchObject({ code: 0, text: expect.stringContaining(`queued 3 task(s) of 250 ms in ${join(cwd, 'q')}`) });
    const queue = new LocalQueue(join(cwd, 'q'));
    expect(queue.pending()).toHaveLength(3);
    expect(queue.claim()).toMatchObject({ durationMs: 250 });
    expect(tasksCommand(['list', '--queue', 'q'], cwd).text).toBe(`${join(cwd, 'q')}: 2 pending, 1 running, 0 done`);
  });

  it('names what is wrong with its arguments', () => {
    const cwd = tempDir();
    expect(tasksCommand(['add', '-1', '--queue', 'q'], cwd)).toMatchObject({ code: 2, text: expect.stringContaining('-1 is negative: add takes a count, an integer ≥ 1') });
    expect(tasksCommand(['add', 'five', '--queue', 'q'], cwd)).toMatchObject({ code: 2, text: expect.stringContaining('add takes a count, an integer ≥ 1 (got "five")') });
    expect(tasksCommand(['add', '2', '--ms', 'soon', '--queue', 'q'], cwd)).toMatchObject({ code: 2, text: expect.stringContaining('--ms is a task\'s duration in ms') });
    expect(tasksCommand(['remove', '--queue', 'q'], cwd)).toMatchObject({ code: 2, text: expect.stringContaining('unknown command "remove"') });
  });
});

describe('python library', () => {
  it('passes its own unit tests (python3 -m unittest)', async () => {
    const proc = startProcess('python3', ['-m', 'unittest', 'discover', '-s', join(PACKAGE_ROOT, 'python'), '-v']);
    const exit = await proc.exited;
    expect(proc.output()).toMatch(/\nOK\n/);
    expect(exit.code).toBe(0);
  });
});
