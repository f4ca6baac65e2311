// The state directory fails under a running agent: full (ENOSPC) or read-only (EROFS), for real,
// on a small tmpfs this test mounts. A drain the agent has committed to goes on from memory (the
// deadline's SIGKILL, the reports) without a crash, the failed write is logged once and retried
// until it succeeds; a message it cannot record first is not taken at all.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type NodeState, NodeStateStore } from '../../src/agent/node-state.js';
import { writePidFile } from '../../src/pid-files/store.js';
import { bootId } from '../../src/common/proc.js';
import { startProcess, tempDir, waitFor } from '../helpers.js';
import { TestNode, useClusters } from './cluster.js';

const clusters = useClusters();

const mounts: string[] = [];
afterEach(() => {
  for (const dir of mounts.splice(0)) execFileSync('umount', ['-l', dir]);
});

/** A 1 MiB tmpfs of its own: its state directory and the means to break and mend it. */
function smallDisk() {
  const dir = tempDir('wf-disk-');
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0755', 'tmpfs', dir]);
  mounts.push(dir);
  const stateDir = join(dir, 'state');
  const filler = join(dir, 'filler');
  return {
    stateDir,
    state: (): NodeState | undefined => new NodeStateStore(stateDir).read(),
    breakIt(how: 'full' | 'read-only'): void {
      if (how === 'read-only') {
        execFileSync('mount', ['-o', 'remount,ro', dir]);
        return;
      }
      const fd = openSync(filler, 'w');
      const block = Buffer.alloc(64 * 1024);
      try {
        for (;;) writeSync(fd, block);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      } finally {
        closeSync(fd);
      }
    },
    mend(how: 'full' | 'read-only'): void {
      if (how === 'read-only') execFileSync('mount', ['-o', 'remount,rw', dir]);
      else rmSync(filler);
    },
  };
}

const eventsNamed = (events: Array<Record<string, unknown>>, name: string) => events.filter((e) => e['event'] === name);

// Mounting a tmpfs needs root; CI runs as root, as the agent does in production.
describe.runIf(process.getuid?.() === 0).each(['full', 'read-only'] as const)('a %s state directory', (how) => {
  it('does not stop a committed drain: SIGKILL at the deadline, reports sent, the state written once the disk is back', async () => {
    const cluster = await clusters.start();
    const disk = smallDisk();
    const node = await cluster.addNode(['stubborn'], { env: { WORKFORCE_STATE_DIR: disk.stateDir } });
    const deadline = new Date(Date.now() + 6000).toISOString();
    await cluster.publish([{ body: { operation: 'graceful-downscale', drainId: 'disk', deadline }, messageId: 'disk/0' }]);
    await waitFor(() => disk.state()?.state === 'draining' && disk.state()?.pending === undefined);

    // Broken well before the deadline (6 s after the publish), so the escalation's own write fails.
    disk.breakIt(how);
    await node.agent.waitForEvent('drain-escalated', undefined, 20_000);
    await waitFor(() => cluster.reportsOf('drained').length === 1, 20_000, () => `a drained report; got ${cluster.reports.map((r) => r.state).join(',')}`);
    expect(cluster.reportsOf('escalated')[0]?.workers.map((w) => w.signal)).toEqual(['SIGKILL']);
    expect((await node.workers[0]!.exited).signal ?? 'killed').toMatch(/SIGKILL|killed/);
    expect(node.agent.child.exitCode).toBeNull();
    expect(disk.state()?.state).toBe('draining'); // what the disk still says: nothing written since
    const failures = eventsNamed(node.agent.events(), 'state-not-saved');
    expect(failures).toHaveLength(1); // once per episode, though every change since tried to write
    expect(String(failures[0]?.['error'])).toMatch(how === 'full' ? /ENOSPC/ : /EROFS/);

    disk.mend(how);
    await waitFor(() => disk.state()?.state === 'drained', 20_000);
    expect(disk.state()).toMatchObject({ drain: { messageId: 'disk/0', escalatedAt: expect.any(String) as string }, outbox: [] });
    await node.agent.waitForEvent('state-saved');
    expect(eventsNamed(node.agent.events(), 'state-not-saved')).toHaveLength(1);
    expect(node.agent.child.exitCode).toBeNull();
  });

  it('does not take a message it cannot record: released untouched, taken once the disk is back', async () => {
    const cluster = await clusters.start();
    const disk = smallDisk();
    const node = await cluster.addNode(['node'], { env: { WORKFORCE_STATE_DIR: disk.stateDir } });
    disk.breakIt(how);
    await cluster.publish([{ body: { operation: 'graceful-downscale', drainId: 'rec' }, messageId: 'rec/0' }]);
    await node.agent.waitForEvent('message-not-accepted');
    await node.agent.waitForEvent('message-received', (e) => e['messageId'] === 'rec/0' && eventsNamed(node.agent.events(), 'message-not-accepted').length >= 2);
    expect(node.drainRequested()).toEqual([]);
    expect(cluster.reports).toEqual([]);
    expect(node.agent.child.exitCode).toBeNull();

    disk.mend(how);
    await waitFor(() => disk.state()?.state === 'drained', 20_000);
    expect(node.drainRequested()).toEqual(node.workerIds);
    await waitFor(() => cluster.reportsOf('drained').length === 1);
  });
});

describe.runIf(process.getuid?.() === 0)('an agent started on a full state directory', () => {
  it('exits 1 naming the directory (it cannot take its lock, nor record a message)', async () => {
    const cluster = await clusters.start();
    const disk = smallDisk();
    disk.breakIt('full');
    const node = new TestNode(cluster, 'full', { WORKFORCE_STATE_DIR: disk.stateDir });
    const agent = startProcess(process.execPath, [cluster.built.agent, 'listen'], node.agentEnv());
    expect((await agent.exited).code).toBe(1);
    expect(agent.output()).toContain(`workforce-agent: cannot write the state directory ${disk.stateDir}: ENOSPC`);
  });
});

describe.runIf(process.getuid?.() === 0)('a read-only PID directory', () => {
  it('does not stop a drain: a stale PID file that cannot be removed is logged and left', async () => {
    const cluster = await clusters.start();
    const node = new TestNode(cluster, 'ro-pids', {});
    cluster.nodes.push(node);
    mkdirSync(node.pidDir, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0755', 'tmpfs', node.pidDir]);
    mounts.push(node.pidDir);
    node.startWorker('node', 'w0');
    await node.waitRegistered();
    const gone = startProcess('true', []);
    await gone.exited;
    writePidFile(node.pidDir, { pid: gone.pid, startTime: 1, bootId: bootId(), topic: cluster.topic, workerId: 'gone', signals: {} });
    await node.startAgent();
    execFileSync('mount', ['-o', 'remount,ro', node.pidDir]);

    await cluster.publish([{ body: { operation: 'graceful-downscale', drainId: 'ro' }, messageId: 'ro/0' }]);
    await waitFor(() => node.state()?.state === 'drained', 20_000);
    expect(node.drainRequested()).toEqual(['w0']);
    const notRemoved = await node.agent.waitForEvent('pid-file-not-removed');
    expect(String(notRemoved['error'])).toMatch(/EROFS/);
    await waitFor(() => cluster.reportsOf('drained').length === 1);
    expect(node.agent.child.exitCode).toBeNull();
  });
});
