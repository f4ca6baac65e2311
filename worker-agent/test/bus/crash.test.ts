// kill -9 of agents at each step of handling a message (WORKFORCE_AGENT_CRASH_AT, a test hook
// read at start-up), restarted by a "supervisor" before or after the message lock expires:
// still exactly N nodes drained, each message acted on by one node, nothing lost.
import { describe, expect, it } from 'vitest';
import { CRASH_POINTS } from '../../src/agent/crash-points.js';
import { sleep, waitFor } from '../helpers.js';
import { type TestNode, supervise, useClusters } from './cluster.js';

const clusters = useClusters();

const LOCK_MS = 1500;
/** Restart delays per node: before the lock expires, after it, in between. */
const RESTART_AFTER_MS = [0, LOCK_MS + 700, LOCK_MS / 3];

describe.each(CRASH_POINTS)('kill -9 at %s', (point) => {
  it('leaves exactly N of M nodes drained', async () => {
    const cluster = await clusters.start({ lockDurationMs: LOCK_MS });
    const nodes = [
      await cluster.addNode(['node'], { env: { WORKFORCE_AGENT_CRASH_AT: point } }),
      await cluster.addNode(['python'], { env: { WORKFORCE_AGENT_CRASH_AT: point } }),
      await cluster.addNode(['node'], { env: { WORKFORCE_AGENT_CRASH_AT: point } }),
    ];
    const crashes: string[] = [];
    const stops = nodes.map((n, i) => supervise(n, crashes, RESTART_AFTER_MS[i] ?? 0));
    try {
      await cluster.publish([
        { body: { operation: 'graceful-downscale', drainId: 'c' }, messageId: 'c/0' },
        { body: { operation: 'graceful-downscale', drainId: 'c' }, messageId: 'c/1' },
      ]);
      await waitFor(() => nodes.filter((n) => n.state()?.state === 'drained').length >= 2, 30_000, () => `2 drained nodes; crashes ${crashes.join(',')}`);
      await waitFor(async () => (await cluster.remaining()).length === 0, 15_000, () => 'an empty subscription');
      await sleep(LOCK_MS + 1000); // long enough for any wrongly released message to act again
      expect(crashes.length).toBeGreaterThan(0); // the hook did fire

      const drained = nodes.filter((n) => n.state()?.state === 'drained');
      expect(drained).toHaveLength(2);
      const idle = nodes.find((n) => !drained.includes(n))!;
      expect(idle.state()?.state ?? 'active').toBe('active');
      expect(idle.state()?.pending).toBeUndefined();
      expect(idle.drainRequested()).toEqual([]);
      expect(idle.workers[0]?.child.exitCode).toBeNull();
      // Each message acted on one node, each drained node on one message.
      const actedOn = drained.map((n) => n.state()?.drain?.messageId).sort();
      expect(actedOn).toEqual(['c/0', 'c/1']);
      await waitFor(() => cluster.drainedNodes().length === 2, 10_000, () => 'drained reports');
      const accepted = new Map<string, Set<string>>();
      for (const r of cluster.reportsOf('accepted')) accepted.set(r.messageId, (accepted.get(r.messageId) ?? new Set()).add(r.nodeId));
      expect([...accepted.values()].map((s) => s.size)).toEqual([1, 1]);
      expect(await cluster.deadLetters()).toEqual([]);
    } finally {
      for (const stop of stops) stop();
    }
  });
});

it('an ai4s-jobq worker gets its SIGUSR2 once even when the agent dies right after signalling (a second one is its hard stop)', async () => {
  const cluster = await clusters.start({ lockDurationMs: LOCK_MS });
  const node = await cluster.addNode(['legacy'], { env: { WORKFORCE_AGENT_CRASH_AT: 'after-signal' }, tasks: 1, taskMs: 1500 });
  const crashes: string[] = [];
  const stop = supervise(node, crashes);
  try {
    await waitFor(() => node.queue.events().some((e) => e.event === 'started'));
    await cluster.publish([{ body: { operation: 'graceful-downscale', drainId: 'l' }, messageId: 'l/0' }]);
    await waitFor(() => crashes.length > 0, 15_000, () => 'the agent to die after signalling');
    await waitFor(() => node.state()?.state === 'drained', 30_000, () => `the node to drain; state ${JSON.stringify(node.state()?.state)}`);
    const worker = node.workers[0]!;
    expect(await worker.exited).toEqual({ code: 0, signal: null }); // finished its task, then exited
    expect(node.queue.events().filter((e) => e.event === 'drain-requested')).toHaveLength(1);
    expect(node.queue.events().some((e) => e.event === 'hard-stop')).toBe(false);
    expect(node.queue.events().filter((e) => e.event === 'finished')).toHaveLength(1);
    // Recorded before its signal; the agent died before it could note the time it was sent.
    expect(node.state()?.drain?.workers).toMatchObject([{ signal: 'SIGUSR2' }]);
  } finally {
    stop();
  }
});

it('a node restarted long after its crash finds its message taken by another node and acts on nothing', async () => {
  const cluster = await clusters.start({ lockDurationMs: LOCK_MS });
  const victim = await cluster.addNode(['node'], { env: { WORKFORCE_AGENT_CRASH_AT: 'after-state-write' } });
  await cluster.publish([{ body: { operation: 'graceful-downscale' }, messageId: 'late/0' }]);
  await victim.agent.exited; // persisted `accepting`, then died holding the lock
  expect(victim.state()?.pending).toMatchObject({ messageId: 'late/0', phase: 'accepting' });
  const other = await cluster.addNode(['python']);
  await waitFor(() => other.state()?.state === 'drained', 15_000); // after the lock expired
  await victim.startAgent({ WORKFORCE_AGENT_CRASH_AT: '' });
  await victim.agent.waitForEvent('recover-rollback');
  await sleep(500);
  expect(victim.state()).toMatchObject({ state: 'active' });
  expect(victim.state()?.pending).toBeUndefined();
  expect(victim.drainRequested()).toEqual([]);
});

it('an intake stop still reports intake-stopped when the agent of a node with only an ai4s-jobq worker dies right after signalling it', async () => {
  // The worker's record is written before its SIGUSR1 (signalled once): the restarted agent has
  // nothing new to signal, and must still send the report that the intake stop took effect,
  // or the drain waits for it until notAfter (chaos seed 14002).
  const cluster = await clusters.start({ lockDurationMs: LOCK_MS });
  const node = await cluster.addNode(['legacy'], { env: { WORKFORCE_AGENT_CRASH_AT: 'after-signal' } });
  const crashes: string[] = [];
  const stop = supervise(node, crashes);
  try {
    await cluster.publish([{ body: { operation: 'do-not-accept-new-tasks', drainId: 'li' }, messageId: 'li/0' }]);
    await waitFor(() => crashes.length > 0, 15_000, () => 'the agent to die after signalling');
    await waitFor(() => node.state()?.state === 'intake-stopped' && node.state()?.pending === undefined, 30_000, () => `the node to settle; state ${JSON.stringify(node.state())}`);
    await waitFor(() => cluster.reportsOf('intake-stopped').some((r) => r.messageId === 'li/0'), 10_000, () => `an intake-stopped report; reports: ${JSON.stringify(cluster.reportsOf('accepted'))}`);
    expect(node.queue.events().filter((e) => e.event === 'intake-signal')).toHaveLength(1);
  } finally {
    stop();
  }
});
