// kill -9 of the addressed agent at each step of handling a per-node command
// (WORKFORCE_AGENT_CRASH_AT), restarted at once by a "supervisor": the command is acted on
// exactly once, by its node, and nothing is left in the queue. The restarted agent must accept
// its session again before it can peek its deferred command: the emulator releases a session
// when its holder's connection closes (as Service Bus does); the queue's session lock is kept
// short (3 s) so that a lock that outlived its holder would also end within the test.
import { describe, expect, it } from 'vitest';
import { CRASH_POINTS } from '../../src/agent/crash-points.js';
import { sleep, waitFor } from '../helpers.js';
import { type Cluster, type TestNode, supervise, useClusters } from './cluster.js';

const clusters = useClusters();
const LOCK_MS = 3000;

async function sendCommand(cluster: Cluster, nodeId: string, operation: string, drainId: string): Promise<string> {
  const messageId = `${drainId}/1`;
  await cluster.sendCommands([{ sessionId: nodeId, messageId, body: { operation, nodeId, drainId, notAfter: new Date(Date.now() + 120_000).toISOString() } }]);
  return messageId;
}

function statesOf(cluster: Cluster, messageId: string): Set<string> {
  return new Set(cluster.reports.filter((r) => r.messageId === messageId).map((r) => r.state));
}

describe.each(CRASH_POINTS)('kill -9 at %s of a command', (point) => {
  it('drains the addressed node exactly once, and no other', async () => {
    const cluster = await clusters.start({ commands: { lockDurationMs: LOCK_MS } });
    const target = await cluster.addNode(['node', 'python'], { env: { WORKFORCE_AGENT_CRASH_AT: point } });
    const other = await cluster.addNode(['node'], { env: { WORKFORCE_AGENT_CRASH_AT: point } });
    await Promise.all([target, other].map((n) => n.agent.waitForEvent('commands-session-accepted')));
    const crashes: string[] = [];
    const stop = supervise(target, crashes);
    try {
      const id = await sendCommand(cluster, 'node-0', 'graceful-downscale', 'k');
      await waitFor(() => target.state()?.state === 'drained', 40_000, () => `node-0 drained; state ${target.state()?.state}; crashes ${crashes.join(',')}`);
      await waitFor(async () => (await cluster.commandsRemaining()).length === 0, 20_000, () => 'an empty commands queue');
      await waitFor(() => statesOf(cluster, id).has('drained'), 15_000, () => 'the drained report');
      await sleep(1000); // long enough for a wrongly released command to come back
      expect(crashes).toEqual(['node-0']); // the hook fired, once
      expect(target.state()?.drain?.messageId).toBe(id);
      expect(target.state()?.pending).toBeUndefined();
      // Acted on once: a second delivery would have been refused (already draining) or duplicate.
      expect(statesOf(cluster, id)).not.toContain('refused');
      expect(new Set(cluster.reports.filter((r) => r.messageId === id).map((r) => r.nodeId))).toEqual(new Set(['node-0']));
      expect(target.drainRequested().sort()).toEqual(['node-0-node-0', 'node-0-python-1']);
      expect(other.state()?.state ?? 'active').toBe('active');
      expect(other.drainRequested()).toEqual([]);
      expect(other.agents).toHaveLength(1); // never crashed: it handled nothing
      expect(await cluster.commandDeadLetters()).toEqual([]);
    } finally {
      stop();
    }
  });

  it('resumes an intake-stopped node exactly once', async () => {
    const cluster = await clusters.start({ commands: { lockDurationMs: LOCK_MS } });
    const node = await cluster.addNode(['node'], { workerArgs: ['--intake-signal', 'SIGUSR1', '--resume-signal', 'SIGUSR2'] });
    await node.agent.waitForEvent('commands-session-accepted');
    const stopId = await sendCommand(cluster, 'node-0', 'do-not-accept-new-tasks', 's');
    await waitFor(() => statesOf(cluster, stopId).has('intake-stopped'), 15_000, () => 'the intake stop');
    // The next agent of this node crashes at `point` while handling the resume.
    node.agent.kill('SIGTERM');
    await node.agent.exited;
    await node.startAgent({ WORKFORCE_AGENT_CRASH_AT: point });
    const crashes: string[] = [];
    const stop = supervise(node, crashes);
    try {
      const id = await sendCommand(cluster, 'node-0', 'resume', 'r');
      await waitFor(() => node.state()?.state === 'active' && node.state()?.pending === undefined, 40_000, () => `node-0 active; state ${node.state()?.state}; crashes ${crashes.join(',')}`);
      await waitFor(async () => (await cluster.commandsRemaining()).length === 0, 20_000, () => 'an empty commands queue');
      await waitFor(() => statesOf(cluster, id).has('resumed'), 15_000, () => 'the resumed report');
      await sleep(1000);
      expect(crashes).toEqual(['node-0']);
      expect(node.state()?.resumed?.messageId).toBe(id);
      expect([...statesOf(cluster, id)].sort()).toEqual(['accepted', 'resumed']);
      expect(cluster.reports.filter((r) => r.messageId === id && r.state === 'resumed').every((r) => r.reason === 'intake resumed')).toBe(true);
      // The worker got its resume signal (at least once: a crash right after signalling sends it again).
      expect(node.queue.events().filter((e) => e.event === 'resume-signal').length).toBeGreaterThanOrEqual(1);
      node.queue.enqueue('after', 50);
      await waitFor(() => node.queue.events().some((e) => e.event === 'finished'), 15_000, () => 'a task taken after the resume');
    } finally {
      stop();
    }
  });
});
