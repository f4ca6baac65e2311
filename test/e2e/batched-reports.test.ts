import { coalesceReports, type AgentReport } from '@workforce/worker-agent/contract';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPORTS_QUEUE } from '../../src/config.js';
import { REPORT_EVENT, type DrainOutput } from '../../src/domain/drain-protocol.js';
import { EventType } from '../../local/functions-host/src/durable/history.js';
import { peek, report, sendRaw, sendReports, takeControlMessages } from '../support/agents.js';
import { startControlPlane, waitFor, type ControlPlane } from '../support/control-plane.js';

/**
 * Reports in batches through the local host and the emulator: the trigger takes a batch, raises
 * one event per drain, and the orchestration folds it in one episode. Duplicates, malformed
 * reports, other drains' reports and a host restart in the middle of a batch change nothing.
 */
describe('reports in batches', () => {
  let cp: ControlPlane;
  beforeAll(async () => {
    cp = await startControlPlane();
  });
  afterAll(async () => {
    await cp?.close();
  });

  const output = async (drainId: string): Promise<DrainOutput & { batchesFolded: number; episodes: number }> =>
    waitFor(async () => {
      const d = (await cp.api('GET', `drains/${drainId}`)).body;
      if (d.status === 'running') return undefined;
      return JSON.parse(cp.host.durable.store.getInstance(drainId)!.output!);
    }, `drain ${drainId} to end`, 120_000);
  const raisedEvents = (drainId: string) => cp.host.durable.store.getHistory(drainId).filter((e) => e.EventType === EventType.EventRaised && e.Name === REPORT_EVENT).length;
  /** A node's reports as an agent sends them: accepted and signalled coalesced, then drained. */
  const nodeReports = (drainId: string, n: number, nodeId: string, topic: string): AgentReport[] => [
    ...coalesceReports([report(drainId, n, nodeId, 'accepted', topic), report(drainId, n, nodeId, 'signalled', topic)]),
    report(drainId, n, nodeId, 'drained', topic),
  ];

  it('completes a drain of 2,000 simulated nodes with every node in its right state, in few events and episodes', async () => {
    const NODES = 2_000;
    await cp.api('PUT', 'topics/big-1');
    const { drainId } = (await cp.api('POST', 'topics/big-1/drains', { count: NODES, ackTimeout: '30m' })).body;
    const taken = await takeControlMessages(cp.sb, 'big-1', NODES, 120_000);
    expect(taken).toHaveLength(NODES);
    const all = taken.flatMap((m, i) => nodeReports(drainId, Number(String(m.messageId).split('/')[1]), `node-${i}`, 'big-1'));
    await sendReports(cp.sb, all);

    const out = await output(drainId);
    expect(out.summary).toMatchObject({ status: 'completed', counts: { requested: NODES, accepted: NODES, drained: NODES, shortfall: 0, untaken: 0 } });
    const nodes = Object.values(out.progress.nodes);
    expect(nodes).toHaveLength(NODES);
    for (const node of nodes) {
      expect(node).toMatchObject({ state: 'drained', escalated: false, workers: [{ workerId: `${node.nodeId}-w`, exited: true }] });
      expect(node.acceptedAt).toBeDefined();
    }
    expect(out.progress.anomalies).toEqual([]);
    // Three states per node, folded from far fewer events (one per drain per trigger batch) and episodes.
    expect(out.eventsFolded).toBe(3 * NODES);
    expect(out.batchesFolded).toBeLessThan(NODES / 10);
    expect(out.episodes).toBeLessThanOrEqual(20 * (out.eventsFolded / 1000));
  });

  it('folds a batch that mixes two drains, a malformed report and a duplicate: each drain gets its own, once', async () => {
    await cp.api('PUT', 'topics/mix-1');
    const a = (await cp.api('POST', 'topics/mix-1/drains', { count: 2, ackTimeout: '30m' })).body.drainId as string;
    const b = (await cp.api('POST', 'topics/mix-1/drains', { count: 1, ackTimeout: '30m' })).body.drainId as string;
    await takeControlMessages(cp.sb, 'mix-1', 3);
    const batch = [
      ...nodeReports(a, 1, 'a1', 'mix-1'),
      { messageId: 'malformed', body: { nodeId: 'mallory', state: 'sleeping' } },
      ...nodeReports(b, 1, 'b1', 'mix-1'),
      report(a, 2, 'a2', 'accepted', 'mix-1'),
      report(a, 1, 'a1', 'drained', 'mix-1'), // a duplicate
      report(a, 2, 'a2', 'drained', 'mix-1'),
    ];
    // One send: the trigger takes it as one batch (or a few), never one invocation per report.
    await sendRaw(cp.sb, REPORTS_QUEUE, batch.map((r, i) => ('body' in r ? r : { body: r, contentType: 'application/json', messageId: `mix-${i}` })));

    const [outA, outB] = [await output(a), await output(b)];
    expect(outA.summary).toMatchObject({ status: 'completed', counts: { drained: 2, shortfall: 0 } });
    expect(outB.summary).toMatchObject({ status: 'completed', counts: { drained: 1, shortfall: 0 } });
    expect(Object.keys(outA.progress.nodes).sort()).toEqual(['a1', 'a2']);
    expect(Object.keys(outB.progress.nodes)).toEqual(['b1']);
    expect(outA.progress.nodes.a1!.workers).toEqual([{ workerId: 'a1-w', pid: 1001, exited: true }]);
    expect([outA.progress.anomalies, outB.progress.anomalies]).toEqual([[], []]);
    // Fewer events than reports: reports travel to their drain grouped.
    expect(outA.batchesFolded).toBeLessThan(6);
    expect(raisedEvents(a) + raisedEvents(b)).toBeLessThan(9);
    // The malformed report was completed (logged), not retried into the dead-letter queue with the good ones.
    await waitFor(async () => (await peek(cp.sb, REPORTS_QUEUE)).length === 0, 'the reports queue to empty');
    expect(await peek(cp.sb, REPORTS_QUEUE, { deadLetter: true })).toEqual([]);
  });

  // Restarts the host: keep it last.
  it('loses and doubles nothing when the host restarts in the middle of a batch', async () => {
    const DRAINS = 12;
    const NODES = 50;
    await cp.api('PUT', 'topics/rst-1');
    const ids: string[] = [];
    for (let i = 0; i < DRAINS; i++) ids.push((await cp.api('POST', 'topics/rst-1/drains', { count: NODES, ackTimeout: '30m' })).body.drainId);
    const taken = await takeControlMessages(cp.sb, 'rst-1', DRAINS * NODES, 120_000);
    expect(taken).toHaveLength(DRAINS * NODES);
    const reports = taken.flatMap((m, i) => {
      const [drainId, n] = String(m.messageId).split('/');
      return nodeReports(drainId!, Number(n), `node-${i}`, 'rst-1');
    });
    await sendReports(cp.sb, reports);
    // As soon as the first drain moved, some of the batch was raised and the rest was not settled.
    await waitFor(async () => {
      for (const id of ids) if ((await cp.api('GET', `drains/${id}`)).body.counts?.accepted > 0) return true;
      return false;
    }, 'a drain to fold its first reports', 60_000);
    // The reports the stopped host held locked come back when their lock expires (the reports
    // queue's lockDuration, 1 minute), as they would in Azure: hence this test's longer timeout.
    await cp.restart();

    for (const id of ids) {
      const out = await output(id);
      expect(out.summary, id).toMatchObject({ status: 'completed', counts: { accepted: NODES, drained: NODES, shortfall: 0 } });
      const nodes = Object.values(out.progress.nodes);
      expect(nodes).toHaveLength(NODES);
      for (const node of nodes) expect(node.workers, `${id} ${node.nodeId}`).toEqual([{ workerId: `${node.nodeId}-w`, pid: node.workers[0]!.pid, exited: true }]);
      expect(out.progress.anomalies).toEqual([]);
    }
  }, 240_000);
});
