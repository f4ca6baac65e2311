// A Service Bus outage in mid-run: the emulator (with a data directory) is closed while a node
// drains and started again on the same port. Every agent reconnects and carries on: nothing is
// lost (the reports of what happened during the outage arrive, and the control messages sent
// after it are acted on), nothing is acted on twice.
//
// Whether an agent notices a short outage at all is up to the @azure/service-bus SDK: its own
// retries can hide one. So the outage lasts until each agent has seen it fail (the draining
// node a report send, the others a receive), which makes the agent's own recovery paths (the
// reports outbox retry, the receive loop's back-off) run in every run; and what the test asserts
// afterwards is behaviour (messages acted on once each, reports arrived), not log lines alone.
import { expect, it } from 'vitest';
import { sleep, tempDir, waitFor } from '../helpers.js';
import { type TestNode, useClusters } from './cluster.js';

// WORKFORCE_TEST_DEBUG=1 prints each agent's log (what it saw of the outage).
const clusters = useClusters({
  beforeClose: (cluster) => {
    if (!process.env['WORKFORCE_TEST_DEBUG']) return;
    for (const n of cluster.nodes) console.log(n.id, n.agent.events().map((e) => `${String(e['at']).slice(14)} ${String(e['event'])} ${String(e['error'] ?? e['reports'] ?? '')}`).join('\n'));
  },
});

/** The agent's log events named `event`, logged at or after `since` (ISO time). */
function eventsOf(node: TestNode, event: string, since = ''): Array<Record<string, unknown>> {
  return node.agent.events().filter((e) => e['event'] === event && String(e['at']) >= since);
}

it('an emulator restart in mid-run loses nothing and acts on nothing twice', async () => {
  const cluster = await clusters.start({ dataDir: tempDir('wf-sb-data-'), lockDurationMs: 3000 });
  const nodes = [
    await cluster.addNode(['node'], { tasks: 1, taskMs: 2500 }),
    await cluster.addNode(['python'], { tasks: 1, taskMs: 2500 }),
    await cluster.addNode(['node', 'python'], { tasks: 2, taskMs: 2500 }),
  ];
  await waitFor(() => nodes.every((n) => n.queue.events().some((e) => e.event === 'started')));

  await cluster.publish([{ body: { operation: 'graceful-downscale', drainId: 'o' }, messageId: 'o/0' }]);
  await waitFor(() => nodes.some((n) => n.state()?.state === 'draining'));
  const first = nodes.find((n) => n.state()?.state === 'draining')!;
  const others = nodes.filter((n) => n !== first);

  // Down for 3 s, and until (a) the first node's workers have finished their tasks and exited,
  // so its `worker-exited` and `drained` reports wait in its outbox, (b) a send of its reports
  // failed, so only the outbox's own retry can deliver them, and (c) each other node's receive
  // loop failed. (b) and (c) come within the agent's watchdogs (15 s; a receive's wait + 15 s) even
  // if an SDK call hangs.
  const downAt = new Date().toISOString();
  const seenOutage = (n: TestNode) => eventsOf(n, n === first ? 'reports-not-sent' : 'bus-error', downAt).length > 0;
  await cluster.restartEmulator(3000, () => first.state()?.state === 'drained' && nodes.every(seenOutage));
  expect(first.state()?.state).toBe('drained');
  expect(first.state()?.outbox.map((i) => i.report.state)).toContain('drained');

  // After the outage, two new messages: each remaining node must take one (so both receive
  // loops came back), and no node may take a second one. A receive call that hung when the
  // connection dropped is cut only by its watchdog (a receive's wait + 15 s: 20 s for the first
  // one on a connection, which opens the link), so a node may stay deaf for up to 20 s after
  // the outage began.
  await cluster.publish([
    { body: { operation: 'graceful-downscale', drainId: 'o' }, messageId: 'o/1' },
    { body: { operation: 'graceful-downscale', drainId: 'o' }, messageId: 'o/2' },
  ]);
  const stateOf = () => nodes.map((n) => `${n.id}:${n.state()?.state}`).join(' ');
  await waitFor(() => nodes.every((n) => n.state()?.state === 'drained'), 75_000, () => `every node drained; got ${stateOf()}`);
  await waitFor(() => cluster.drainedNodes().length === 3, 30_000, () => `drained reports; got ${JSON.stringify(cluster.reports.map((r) => `${r.nodeId}:${r.state}`))}`);
  await sleep(1500); // time for a duplicate to show

  for (const n of nodes) expect(n.agent.child.exitCode, `${n.id} survived the outage`).toBeNull();
  // Each message acted on by exactly one node, each node acted on exactly one message.
  const accepted = [...new Set(cluster.reportsOf('accepted').map((r) => `${r.messageId}@${r.nodeId}`))].sort();
  expect(accepted.map((a) => a.split('@')[0])).toEqual(['o/0', 'o/1', 'o/2']);
  expect(new Set(accepted.map((a) => a.split('@')[1])).size).toBe(3);
  expect(accepted).toContain(`o/0@${first.id}`);
  for (const n of nodes) {
    expect(n.state()?.drain?.messageId, n.id).toBe(accepted.find((a) => a.endsWith(`@${n.id}`))?.split('@')[0]);
    // Every worker asked to drain once, and nothing lost: every report of every node arrived.
    expect(n.drainRequested().sort(), n.id).toEqual([...n.workerIds].sort());
    const states = new Set(cluster.reports.filter((r) => r.nodeId === n.id).map((r) => r.state));
    expect([...states].sort(), n.id).toEqual(['accepted', 'drained', 'signalled', 'worker-exited']);
    expect(n.state()?.outbox, n.id).toEqual([]);
  }
  // The others' receive loops failed in the outage and recovered: a message received after it
  // is logged as a reconnection.
  for (const n of others) expect(eventsOf(n, 'bus-reconnected', downAt).length, n.id).toBeGreaterThan(0);
  // A completion in flight when the emulator went down may hang in the SDK until the agent's
  // watchdog (15 s) replaces the connection; then the retry completes it.
  await waitFor(async () => (await cluster.remaining()).length === 0, 40_000, () => 'the deferred messages to be completed');
}, 180_000);
