// Agents (the bundle, run from outside the repository) with real workers against the embedded
// Service Bus emulator: N of M nodes drain for N messages, intake stop and resume, invalid and
// expired messages, duplicates.
import { describe, expect, it } from 'vitest';
import { existsSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writePidFile } from '../../src/pid-files/store.js';
import { bootId, readProcStat } from '../../src/common/proc.js';
import { sleep, startProcess, waitFor } from '../helpers.js';
import { useClusters } from './cluster.js';

const clusters = useClusters();

describe('graceful-downscale across a fleet', () => {
  it('drains exactly N of M nodes for N seed-format messages; tasks in flight finish first', async () => {
    const cluster = await clusters.start();
    const layouts = [['node'], ['python', 'node'], ['legacy', 'python', 'node'], ['node', 'node', 'python', 'python']] as const;
    for (const workers of layouts) await cluster.addNode([...workers], { tasks: 12, taskMs: 800 });
    await waitFor(() => cluster.nodes.every((n) => n.workerIds.every((id) => n.queue.events().some((e) => e.event === 'started' && e.workerId === id))));

    // Exactly what ai4s-jobq's documentation publishes: a JSON string as bytes, nothing else.
    await cluster.publish([{ body: '{"operation": "graceful-downscale"}' }, { body: '{"operation": "graceful-downscale"}' }]);
    await waitFor(() => cluster.drainedNodes().length === 2, 20_000);
    await sleep(1500); // time for a wrong third drain to show

    expect(cluster.drainedNodes()).toHaveLength(2);
    const inFlightFinished = cluster.nodes.flatMap((n) => n.workerIds.filter((id) => {
      const events = n.queue.events().filter((e) => e.workerId === id).map((e) => e.event);
      return events.indexOf('finished', events.indexOf('drain-requested')) > events.indexOf('drain-requested') && events.includes('drain-requested');
    }));
    expect(inFlightFinished.length).toBeGreaterThan(0);
    const accepted = cluster.reportsOf('accepted');
    expect(accepted).toHaveLength(2);
    expect(new Set(accepted.map((r) => r.messageId)).size).toBe(2); // two messages, two nodes
    for (const node of cluster.nodes) {
      const drained = cluster.drainedNodes().includes(node.id);
      expect(node.state()?.state).toBe(drained ? 'drained' : 'active');
      if (drained) {
        // Every worker was asked to drain, finished the task it had (or, between tasks, saw
        // the intake flag first and took none), and exited.
        expect(node.drainRequested().sort()).toEqual([...node.workerIds].sort());
        for (const id of node.workerIds) {
          const events = node.queue.events().filter((e) => e.workerId === id);
          expect(events.at(-1)?.event).toBe('exiting');
          const started = events.filter((e) => e.event === 'started').map((e) => e.taskId);
          const finished = events.filter((e) => e.event === 'finished').map((e) => e.taskId);
          expect(finished).toEqual(started);
          const drainAt = events.findIndex((e) => e.event === 'drain-requested');
          expect(events.slice(drainAt).map((e) => e.event)).not.toContain('started');
        }
        expect(node.queue.running()).toEqual([]);
        for (const w of node.workers) expect((await w.exited).code).toBe(0);
      } else {
        expect(node.drainRequested()).toEqual([]);
        for (const w of node.workers) expect(w.child.exitCode).toBeNull();
      }
    }
    expect(await cluster.remaining()).toEqual([]);
    expect(await cluster.deadLetters()).toEqual([]);
  });

  it('acts once on a duplicate: the agent dedupes what reaches it, duplicate detection what does not', async () => {
    const cluster = await clusters.start({ requiresDuplicateDetection: true });
    const a = await cluster.addNode(['node']);
    const b = await cluster.addNode(['python']);
    await cluster.publish([
      { body: { operation: 'graceful-downscale', drainId: 'dup' }, messageId: 'dup/0' },
      { body: { operation: 'graceful-downscale', drainId: 'dup' }, messageId: 'dup/0' },
    ]);
    await waitFor(() => cluster.drainedNodes().length === 1, 15_000);
    await sleep(1500);
    expect(cluster.drainedNodes()).toHaveLength(1);
    expect([a.state()?.state, b.state()?.state].sort()).toEqual(['active', 'drained']);

    // Without duplicate detection on the topic, the agent's own dedupe: one node gets both.
    const c = await clusters.start();
    const only = await c.addNode(['node']);
    await c.publish([
      { body: { operation: 'do-not-accept-new-tasks' }, messageId: 'i/0' },
      { body: { operation: 'do-not-accept-new-tasks' }, messageId: 'i/0' },
    ]);
    await waitFor(() => only.agent.events().some((e) => e['event'] === 'message-duplicate'), 10_000);
    expect(c.reportsOf('accepted')).toHaveLength(1);
    expect(await c.remaining()).toEqual([]);
  });
});

describe('intake stop, resume, invalid and expired messages', () => {
  it('stops intake (workers alive and idle), resumes with `workforce-agent resume`, and reports both', async () => {
    const cluster = await clusters.start();
    const node = await cluster.addNode(['node', 'python']);
    await cluster.publish([{ body: { operation: 'do-not-accept-new-tasks', drainId: 'maint', reason: 'kernel update' }, messageId: 'maint/0' }]);
    await waitFor(() => node.state()?.state === 'intake-stopped');
    await waitFor(() => node.queue.events().filter((e) => e.event === 'idle').length === 2);
    node.queue.enqueue('while-stopped', 10);
    await sleep(300);
    expect(node.queue.pending()).toEqual(['while-stopped']);
    for (const w of node.workers) expect(w.child.exitCode).toBeNull();

    const status = await node.cli(['status']);
    expect(status.output).toMatch(/state\s+intake-stopped/);
    expect(status.output).toMatch(/intake\s+message maint\/0 \(drain maint\)/);
    expect(status.output).toMatch(new RegExp(`${node.id}-node-0 .* verified`));

    const resumed = await node.cli(['resume']);
    expect(resumed).toMatchObject({ code: 0 });
    expect(resumed.output).toMatch(/resumed: node node-0 is active/);
    await waitFor(() => node.queue.done().includes('while-stopped'));
    await waitFor(() => cluster.reportsOf('resumed').length === 1);
    expect(cluster.reports.map((r) => r.state)).toEqual(['accepted', 'intake-stopped', 'resumed']);
    expect(cluster.reports[0]).toMatchObject({ drainId: 'maint', messageId: 'maint/0', nodeId: node.id, reason: 'kernel update' });
    expect((await node.cli(['resume'])).code).toBe(1); // nothing left to resume
  });

  it('dead-letters malformed and unknown messages with a reason, completes expired ones, and keeps serving', async () => {
    const cluster = await clusters.start();
    const node = await cluster.addNode(['node']);
    await cluster.publish([
      { body: 'this is not json', messageId: 'bad/0' },
      { body: { operation: 'self-destruct', drainId: 'bad' }, messageId: 'bad/1' },
      { body: { drainId: 'bad' }, messageId: 'bad/2' },
      { body: { operation: 'graceful-downscale', drainId: 'old', notAfter: new Date(Date.now() - 1000).toISOString() }, messageId: 'old/0' },
      { body: { operation: 'graceful-downscale', drainId: 'good' }, messageId: 'good/0' },
    ]);
    await waitFor(() => node.state()?.state === 'drained', 15_000);
    const dlq = await cluster.deadLetters();
    expect(dlq.map((m) => [m.messageId, m.deadLetterReason])).toEqual([
      ['bad/0', 'InvalidControlMessage'],
      ['bad/1', 'InvalidControlMessage'],
      ['bad/2', 'InvalidControlMessage'],
    ]);
    expect(dlq.map((m) => m.deadLetterErrorDescription)).toEqual([
      expect.stringMatching(/not JSON/),
      expect.stringMatching(/unknown operation "self-destruct"/),
      'operation is required',
    ]);
    await waitFor(() => cluster.reportsOf('drained').length === 1);
    expect(cluster.reports.map((r) => `${r.messageId}:${r.state}`)).toEqual([
      'bad/0:rejected',
      'bad/1:rejected',
      'bad/2:rejected',
      'old/0:expired',
      'good/0:accepted',
      'good/0:signalled',
      `good/0:worker-exited`,
      'good/0:drained',
    ]);
    expect(await cluster.remaining()).toEqual([]);
  });
});

describe('PID reuse', () => {
  it('never signals a process that got a PID by reuse (start-time mismatch; legacy file older than the process)', async () => {
    const cluster = await clusters.start();
    const node = await cluster.addNode(['node']);
    const canary = startProcess(process.execPath, ['-e', "for (const s of ['SIGTERM','SIGUSR1','SIGUSR2']) process.on(s, () => console.log('got ' + s)); console.log('ready'); setInterval(() => {}, 1000)"]);
    await waitFor(() => canary.output().includes('ready'));
    const stat = readProcStat(canary.pid)!;
    writePidFile(node.pidDir, { pid: canary.pid, startTime: stat.startTime + 7, bootId: bootId(), topic: cluster.topic, workerId: 'reused-json', signals: {} });
    const legacy = join(node.pidDir, 'reused-legacy.pid');
    writeFileSync(legacy, String(canary.pid));
    const anHourAgo = new Date(Date.now() - 3600_000);
    utimesSync(legacy, anHourAgo, anHourAgo);

    await cluster.publish([{ body: '{"operation": "graceful-downscale"}' }]);
    await waitFor(() => node.state()?.state === 'drained', 15_000);
    await sleep(200);
    expect(canary.output()).not.toContain('got');
    expect(canary.child.exitCode).toBeNull();
    expect(existsSync(join(node.pidDir, 'reused-json.pid'))).toBe(false);
    expect(existsSync(legacy)).toBe(false);
    expect(node.agent.events().filter((e) => e['event'] === 'pid-file-stale').map((e) => e['status'])).toEqual(['stale', 'stale']);
    expect(node.drainRequested()).toEqual(node.workerIds); // the real worker did get it
  });
});

describe('deadline and the agent\'s own SIGTERM', () => {
  it('keeps the drain recorded across a SIGTERM of the agent, then SIGKILLs what is left at the deadline', async () => {
    const cluster = await clusters.start();
    const node = await cluster.addNode(['stubborn', 'node'], { tasks: 1, taskMs: 60_000 });
    await waitFor(() => node.queue.events().some((e) => e.event === 'started'));
    const deadline = new Date(Date.now() + 2500).toISOString();
    await cluster.publish([{ body: { operation: 'graceful-downscale', drainId: 'dl', deadline }, messageId: 'dl/0' }]);
    await waitFor(() => node.state()?.state === 'draining' && node.state()?.pending === undefined);

    node.agent.kill('SIGTERM');
    expect(await node.agent.exited).toEqual({ code: 0, signal: null });
    expect(node.agent.events().some((e) => e['event'] === 'closed')).toBe(true);
    expect(node.state()).toMatchObject({ state: 'draining', drain: { messageId: 'dl/0', message: { deadline } } });

    await node.startAgent();
    await waitFor(() => node.state()?.state === 'drained', 15_000);
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(deadline));
    for (const w of node.workers) expect((await w.exited).signal ?? 'killed').toMatch(/SIGKILL|killed/);
    await waitFor(() => cluster.reportsOf('drained').length === 1);
    const escalated = cluster.reportsOf('escalated');
    expect(escalated).toHaveLength(1);
    expect(escalated[0]?.workers.map((w) => w.signal)).toEqual(['SIGKILL', 'SIGKILL']);
    expect(node.queue.done()).toEqual([]); // the 60 s task was cut short by the deadline, as asked
  });
});
