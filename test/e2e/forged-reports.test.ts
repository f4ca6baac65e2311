import type { AgentReport } from '@workforce/worker-agent/contract';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPORTS_QUEUE } from '../../src/config.js';
import { EventType } from '../../local/functions-host/src/durable/history.js';
import { peek, report, sendReports } from '../support/agents.js';
import { betweenGenerations, drainWithoutTimes, inventoryOf, startControlPlane, waitFor, type ControlPlane } from '../support/control-plane.js';

/**
 * Anyone who can send to the reports queue sends reports crafted to reach another drain, through
 * the local host and the emulator. The victim drain keeps running and its status does not change.
 */
describe('forged reports on the reports queue', () => {
  let cp: ControlPlane;
  beforeAll(async () => {
    cp = await startControlPlane();
  });
  afterAll(async () => {
    await cp?.close();
  });

  const view = (id: string) => drainWithoutTimes(cp, id);
  /** What the running generation carries: report states folded and `report` events taken. */
  const folded = (id: string) => {
    const input = JSON.parse(cp.host.durable.store.getInstance(id)!.input!) as { eventsFolded: number; batchesFolded: number };
    return { states: input.eventsFolded, events: input.batchesFolded };
  };
  const pendingEvents = (id: string) => cp.host.durable.store.messages(id).filter((m) => m.event.EventType === EventType.EventRaised).length;
  /** Every report sent so far was taken off the queue (completed). */
  const queueSettled = async () => (await peek(cp.sb, REPORTS_QUEUE)).length === 0;
  const deadLettered = async () => (await peek(cp.sb, REPORTS_QUEUE, { deadLetter: true })).map((m) => (m.body as AgentReport).drainId);

  it('cannot terminate, complete or otherwise change another drain', async () => {
    await cp.api('PUT', 'topics/victim-topic');
    const post = await cp.api('POST', 'topics/victim-topic/drains', { drainId: 'victim', count: 2, ackTimeout: '10m' });
    expect(post.status).toBe(202);
    // One honest report, so the status has something to lose.
    await sendReports(cp.sb, [report('victim', 1, 'node-a', 'accepted', 'victim-topic')]);
    await waitFor(async () => (await view('victim')).counts?.accepted === 1 && !betweenGenerations(cp, 'victim'), 'the honest report to fold');
    const before = await view('victim');
    const foldedBefore = folded('victim');
    expect(before).toMatchObject({ status: 'running', runtimeStatus: 'Running' });

    const forged = (over: Partial<AgentReport>): AgentReport => ({ ...report('victim', 2, 'mallory', 'drained', 'victim-topic'), ...over });
    await sendReports(cp.sb, [
      // Pasted into a Durable URL as it is, this id would turn raising an event into a terminate.
      forged({ drainId: 'victim/terminate?reason=x&', messageId: 'victim/terminate?reason=x&/1' }),
      // Messages the drain never published, or another drain's: they would count as drained nodes.
      forged({ nodeId: 'm1', messageId: 'victim/3' }),
      forged({ nodeId: 'm2', messageId: 'victim/0' }),
      forged({ nodeId: 'm3', messageId: 'other/2' }),
      // One of the drain's messages, reported from another topic.
      forged({ nodeId: 'm4', topic: 'elsewhere' }),
    ]);

    // Every report was taken off the queue, whatever reached the orchestration was taken by an
    // episode, and the generation that episode ended has handed over to the next.
    await waitFor(
      async () => (await queueSettled()) && folded('victim').events > foldedBefore.events && pendingEvents('victim') === 0 && !betweenGenerations(cp, 'victim'),
      'the forged reports to be handled',
      40_000,
    );

    expect(cp.host.durable.store.getInstance('victim')?.status).toBe('Running');
    expect(await view('victim')).toEqual(before);
    // The bad id was a malformed report: completed without effect and kept in the rejected
    // reports; the orchestration got the two that named one of its messages' shape (victim/3,
    // and victim/2 from elsewhere) in a report event and folded neither.
    const rejected = await waitFor(async () => (await inventoryOf(cp).listRejected()).find((r) => r.messageId.startsWith('victim/terminate')), 'the bad id in the rejected reports');
    expect(rejected).toMatchObject({ field: 'drainId' });
    expect(await deadLettered()).toEqual([]);
    expect(folded('victim').states).toBe(foldedBefore.states);
  });
});
