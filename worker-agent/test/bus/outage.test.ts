// A Service Bus outage in mid-run: the emulator (with a data directory) is closed while a node
// drains and started again on the same port. The agents reconnect; nothing is lost (the reports
// of what happened during the outage arrive), nothing is acted on twice.
import { expect, it } from 'vitest';
import { sleep, tempDir, waitFor } from '../helpers.js';
import { useClusters } from './cluster.js';

// WORKFORCE_TEST_DEBUG=1 prints each agent's log (what it saw of the outage).
const clusters = useClusters({
  beforeClose: (cluster) => {
    if (!process.env['WORKFORCE_TEST_DEBUG']) return;
    for (const n of cluster.nodes) console.log(n.id, n.agent.events().map((e) => `${String(e['at']).slice(14)} ${String(e['event'])} ${String(e['error'] ?? e['reports'] ?? '')}`).join('\n'));
  },
});

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

  // Down for 3 s and until the first node's workers have finished their tasks and exited, so
  // its `worker-exited` and `drained` reports wait in its outbox.
  await cluster.restartEmulator(3000, () => first.state()?.state === 'drained');
  expect(first.state()?.state).toBe('drained');
  expect(first.state()?.outbox.map((i) => i.report.state)).toContain('drained');

  await cluster.publish([{ body: { operation: 'graceful-downscale', drainId: 'o' }, messageId: 'o/1' }]);
  await waitFor(() => nodes.filter((n) => n.state()?.state === 'drained').length === 2, 30_000);
  await waitFor(() => cluster.drainedNodes().length === 2, 30_000, () => `drained reports; got ${JSON.stringify(cluster.reports.map((r) => `${r.nodeId}:${r.state}`))}`);
  await sleep(1500);

  for (const n of nodes) expect(n.agent.child.exitCode).toBeNull(); // survived the outage
  expect(nodes.filter((n) => n.state()?.state === 'drained')).toHaveLength(2);
  const byNode = (id: string) => new Set(cluster.reports.filter((r) => r.nodeId === id).map((r) => r.state));
  expect([...byNode(first.id)].sort()).toEqual(['accepted', 'drained', 'signalled', 'worker-exited']);
  expect(first.state()?.outbox).toEqual([]);
  expect(first.agent.events().some((e) => e['event'] === 'bus-reconnected' || e['event'] === 'reports-not-sent')).toBe(true);
  const accepted = cluster.reportsOf('accepted').map((r) => `${r.messageId}@${r.nodeId}`);
  expect(new Set(accepted.map((a) => a.split('@')[0])).size).toBe(accepted.length > 0 ? new Set(accepted).size : 0);
  expect(new Set(cluster.reportsOf('accepted').map((r) => r.messageId))).toEqual(new Set(['o/0', 'o/1']));
  // A completion in flight when the emulator went down may hang in the SDK until the agent's
  // watchdog (15 s) replaces the connection; then the retry completes it.
  await waitFor(async () => (await cluster.remaining()).length === 0, 40_000, () => 'the deferred messages to be completed');
}, 90_000);
