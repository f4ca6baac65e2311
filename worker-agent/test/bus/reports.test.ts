// Where reports go and how long they wait, against the emulator: a control message cannot send
// an agent's reports to a queue of its choosing, and reports that cannot be delivered (a missing
// reports queue) neither stay in the outbox for ever nor pile up without bound.
import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import { waitFor } from '../helpers.js';
import { useClusters } from './cluster.js';

const clusters = useClusters();

it('sends reports to the configured queue only: a replyTo naming another queue is ignored and logged', async () => {
  const cluster = await clusters.start();
  const elsewhere = `elsewhere-${randomUUID().slice(0, 8)}`;
  cluster.emulator.catalogue.putQueue(elsewhere);
  const node = await cluster.addNode(['node']);

  await cluster.publish([{ body: { operation: 'graceful-downscale', drainId: 'r', replyTo: elsewhere }, messageId: 'r/0' }]);
  await waitFor(() => cluster.drainedNodes().length === 1, 20_000, () => `a drained report on ${cluster.reportsQueue}; got ${JSON.stringify(cluster.reports.map((r) => r.state))}`);
  const ignored = await node.agent.waitForEvent('reply-to-ignored');
  expect(ignored).toMatchObject({ messageId: 'r/0', replyTo: elsewhere, reportsQueue: cluster.reportsQueue });
  expect(cluster.reportsOf('accepted').map((r) => r.messageId)).toEqual(['r/0']);

  const receiver = cluster.client.createReceiver(elsewhere);
  try {
    expect(await receiver.peekMessages(10)).toEqual([]);
  } finally {
    await receiver.close();
  }
});

it('bounds the outbox when the reports queue does not exist: the oldest go past the cap, all after their TTL', async () => {
  const cluster = await clusters.start();
  const node = await cluster.addNode([], {
    env: { WORKFORCE_REPORTS_QUEUE_NAME: `missing-${randomUUID().slice(0, 8)}`, WORKFORCE_OUTBOX_MAX: '3', WORKFORCE_OUTBOX_TTL_MS: '4000' },
  });
  // Each invalid message leaves a `rejected` report that the missing queue never takes.
  await cluster.publish([0, 1, 2, 3, 4].map((n) => ({ body: 'not json', messageId: `bad/${n}` })));
  await waitFor(() => node.agent.events().filter((e) => e['event'] === 'message-invalid').length === 5, 20_000);
  // Until the fifth report went in, the outbox held three others: wait for the second drop.
  const dropped = () => node.agent.events().filter((e) => e['event'] === 'reports-dropped' && e['why'] === 'outbox-full').flatMap((e) => e['reports'] as string[]);
  await waitFor(() => dropped().length === 2, 20_000);
  // The three newest stay (until their TTL, which may already have taken some on a slow machine).
  await waitFor(() => (node.state()?.outbox.length ?? 4) <= 3);
  const kept = node.state()?.outbox.map((i) => i.report.messageId) ?? [];
  expect(['bad/2', 'bad/3', 'bad/4'].slice(3 - kept.length)).toEqual(kept);
  const full = node.agent.events().filter((e) => e['event'] === 'reports-dropped' && e['why'] === 'outbox-full');
  expect(full.flatMap((e) => e['reports'] as string[]).map((r) => r.split(':')[0])).toEqual(['bad/0', 'bad/1']);
  expect(node.agent.events().some((e) => e['event'] === 'reports-not-sent')).toBe(true);

  await waitFor(() => node.state()?.outbox.length === 0, 30_000, () => `an empty outbox; got ${JSON.stringify(node.state()?.outbox.map((i) => i.report.messageId))}`);
  const expired = node.agent.events().filter((e) => e['event'] === 'reports-dropped' && e['why'] === 'expired');
  expect(expired.flatMap((e) => e['reports'] as string[]).map((r) => r.split(':')[0]).sort()).toEqual(['bad/2', 'bad/3', 'bad/4']);
  expect(node.agent.child.exitCode).toBeNull();
});

it('sends the states of a message that wait together as one message: accepted and signalled travel coalesced', async () => {
  const cluster = await clusters.start();
  await cluster.addNode(['node']);
  await cluster.publish([{ body: { operation: 'graceful-downscale', drainId: 'c' }, messageId: 'c/1' }]);
  await waitFor(() => cluster.drainedNodes().length === 1, 20_000, () => `a drained report; got ${JSON.stringify(cluster.reports.map((r) => r.state))}`);
  // Entered in one step of the protocol (commit), flushed together: one message, states in order.
  const first = cluster.messages.find((m) => m.messageId === 'c/1');
  expect([...(first?.earlier ?? []).map((s) => s.state), first?.state].slice(0, 2)).toEqual(['accepted', 'signalled']);
  expect(cluster.reports.filter((r) => r.messageId === 'c/1').map((r) => r.state).slice(0, 2)).toEqual(['accepted', 'signalled']);
});

