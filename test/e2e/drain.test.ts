import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPORT_GRACE_MS } from '../../src/domain/drain-end.js';
import { EXPIRY_MARGIN_MS } from '@workforce/worker-agent/contract';
import { report, sendReports, takeControlMessages } from '../support/agents.js';
import { startControlPlane, waitFor, type ControlPlane } from '../support/control-plane.js';

/** Over real HTTP: the app in the local host, Service Bus in the emulator, reports sent as agents send them. */
describe('drains end to end', () => {
  let cp: ControlPlane;
  beforeAll(async () => {
    cp = await startControlPlane();
  });
  afterAll(async () => {
    await cp?.close();
  });
  const drain = (id: string) => cp.api('GET', `drains/${id}`);
  const ended = (id: string) =>
    waitFor(async () => {
      const d = await drain(id);
      return d.body.status !== 'running' && d.body;
    }, `drain ${id} to end`);

  it('provisions a topic idempotently, saying what existed and what it created', async () => {
    const first = await cp.api('PUT', 'topics/prov-1');
    expect(first.status).toBe(201);
    expect(first.body.entities).toEqual([
      { kind: 'topic', name: 'prov-1', outcome: 'created' },
      { kind: 'subscription', name: 'prov-1/shutdown', outcome: 'created' },
      { kind: 'queue', name: 'prov-1-commands', outcome: 'created' },
      expect.objectContaining({ kind: 'queue', name: 'workforce-reports', outcome: 'existed' }),
    ]);
    const topic = cp.bus.emulator.catalogue.getTopic('prov-1');
    expect(topic?.properties.requiresDuplicateDetection).toBe(true);
    const sub = cp.bus.emulator.catalogue.getSubscription('prov-1', 'shutdown');
    expect(sub?.properties).toMatchObject({ maxDeliveryCount: 10, deadLetteringOnMessageExpiration: true, lockDurationMs: 60_000 });

    const again = await cp.api('PUT', 'topics/prov-1');
    expect(again.status).toBe(200);
    expect(again.body.entities.map((e: { outcome: string }) => e.outcome)).toEqual(['existed', 'existed', 'existed', 'existed']);
  });

  it('publishes a drain as messages <drainId>/<n> with a TTL, folds reports into status and completes', async () => {
    await cp.api('PUT', 'topics/eu-west');
    const post = await cp.api('POST', 'topics/eu-west/drains', { count: 2, reason: 'nightly', requestedBy: 'ops@example.com', ackTimeout: '10m' });
    expect(post.status).toBe(202);
    const { drainId, statusUri } = post.body;
    expect(statusUri).toBe(`${cp.host.url}/api/drains/${drainId}`);

    const messages = await takeControlMessages(cp.sb, 'eu-west', 2);
    expect(messages.map((m) => m.messageId).sort()).toEqual([`${drainId}/1`, `${drainId}/2`]);
    for (const m of messages) {
      expect(m.subject).toBe('graceful-downscale');
      expect(m.contentType).toBe('application/json');
      expect(m.body).toMatchObject({ operation: 'graceful-downscale', drainId, reason: 'nightly', requestedBy: 'ops@example.com', replyTo: 'workforce-reports' });
      // TTL runs to notAfter (+ the margin for deferred messages) from the orchestration's clock (the host's manual clock, a little behind the wall clock here).
      expect(m.timeToLive).toBeGreaterThan(9 * 60_000 + EXPIRY_MARGIN_MS);
      expect(m.timeToLive).toBeLessThanOrEqual(Date.parse(m.body.notAfter) - cp.clockStart + EXPIRY_MARGIN_MS);
    }

    await sendReports(cp.sb, [report(drainId, 1, 'node-a', 'accepted', 'eu-west'), report(drainId, 2, 'node-b', 'accepted', 'eu-west'), report(drainId, 1, 'node-a', 'signalled', 'eu-west')]);
    const running = await waitFor(async () => {
      const d = await drain(drainId);
      return d.body.counts?.accepted === 2 && d.body.counts?.draining === 1 && d.body;
    }, 'reports to fold');
    expect(running).toMatchObject({ status: 'running', topic: 'eu-west', requestedBy: 'ops@example.com', reason: 'nightly', unfinished: ['node-a', 'node-b'] });
    expect(running.nodes.map((n: { nodeId: string; state: string }) => [n.nodeId, n.state]).sort()).toEqual([['node-a', 'draining'], ['node-b', 'accepted']]);

    // Duplicates (sent at least once) change nothing.
    await sendReports(cp.sb, [report(drainId, 1, 'node-a', 'drained', 'eu-west'), report(drainId, 1, 'node-a', 'drained', 'eu-west'), report(drainId, 2, 'node-b', 'drained', 'eu-west')]);
    const done = await ended(drainId);
    expect(done).toMatchObject({ status: 'completed', runtimeStatus: 'Completed', counts: { drained: 2, shortfall: 0, done: 2 }, unfinished: [] });
    expect(Object.keys(done.progress.nodes).sort()).toEqual(['node-a', 'node-b']);
    expect(done.progress.nodes['node-a'].workers).toEqual([{ workerId: 'node-a-w', pid: 1001, exited: true }]);

    const listed = await cp.api('GET', 'drains?topic=eu-west&status=completed');
    expect(listed.body.drains.map((d: { drainId: string }) => d.drainId)).toContain(drainId);
    expect((await cp.api('GET', 'drains?topic=nowhere')).body.drains).toEqual([]);
  });

  it('cancels: withdraws the messages no node took and ends as cancelled', async () => {
    await cp.api('PUT', 'topics/cx-1');
    const { drainId } = (await cp.api('POST', 'topics/cx-1/drains', { count: 3, mode: 'do-not-accept-new-tasks' })).body;
    const [taken] = await takeControlMessages(cp.sb, 'cx-1', 1);
    await sendReports(cp.sb, [report(drainId, Number(taken!.messageId!.toString().split('/')[1]), 'n1', 'intake-stopped', 'cx-1')]);
    await waitFor(async () => (await drain(drainId)).body.counts?.done === 1, 'the report to fold');
    const cancel = await cp.api('POST', `drains/${drainId}/cancel`, { reason: 'wrong region', requestedBy: 'alice' });
    expect(cancel.status).toBe(202);
    const done = await ended(drainId);
    expect(done).toMatchObject({ status: 'cancelled', withdrawn: 2, cancelledBy: 'alice', counts: { done: 1 } });
    expect(await takeControlMessages(cp.sb, 'cx-1', 1, 1_500)).toEqual([]);
    expect((await cp.api('POST', `drains/${drainId}/cancel`)).status).toBe(409);
  });

  // Moves the manual clock half an hour ahead of the wall clock: keep it last.
  it('times out at the deadline with the shortfall and the nodes that never finished', async () => {
    await cp.api('PUT', 'topics/to-1');
    const post = await cp.api('POST', 'topics/to-1/drains', { count: 3, gracePeriod: '30m', ackTimeout: '5m' });
    const { drainId } = post.body;
    await takeControlMessages(cp.sb, 'to-1', 3);
    await sendReports(cp.sb, [report(drainId, 1, 'n1', 'accepted', 'to-1'), report(drainId, 1, 'n1', 'drained', 'to-1'), report(drainId, 2, 'n2', 'accepted', 'to-1')]);
    await waitFor(async () => (await drain(drainId)).body.counts?.accepted === 2, 'reports to fold');
    await cp.clock.set(Date.parse(post.body.spec.deadline) + REPORT_GRACE_MS);
    const done = await ended(drainId);
    expect(done).toMatchObject({ status: 'timed-out', counts: { requested: 3, done: 1, shortfall: 2 }, unfinished: ['n2'] });
    expect(done.outcome).toContain('deadline');
    expect((await cp.api('GET', 'drains?status=timed-out')).body.drains.map((d: { drainId: string }) => d.drainId)).toContain(drainId);
  });
});
