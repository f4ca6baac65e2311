import { describe, expect, it } from 'vitest';
import { coalesceReports, type AgentReport } from '@workforce/worker-agent/contract';
import {
  allMessagesSettled, applyReport, applyReports, countNodes, foreignReport, MAX_ANOMALIES, MAX_WORKERS_PER_NODE, newProgress, NODE_MARGIN, unfinishedNodes,
} from '../../src/domain/drain-progress.js';

let clock = 0;
function report(nodeId: string, messageId: string, state: AgentReport['state'], extra: Partial<AgentReport> = {}): AgentReport {
  clock += 1_000;
  return {
    drainId: 'd1', messageId, nodeId, topic: 't', state, at: new Date(Date.UTC(2026, 10, 25) + clock).toISOString(),
    workers: [{ workerId: 'w0', pid: 100 }], ...extra,
  };
}

describe('drain progress', () => {
  it('moves each node forward to drained and completes at the requested count', () => {
    const p = newProgress('d1', 't', 'graceful-downscale', 2);
    for (const r of [
      report('a', 'd1/1', 'accepted'), report('a', 'd1/1', 'signalled'),
      report('b', 'd1/2', 'accepted'), report('a', 'd1/1', 'worker-exited', { workers: [{ workerId: 'w0', pid: 100, exitCode: 0 }] }),
      report('a', 'd1/1', 'drained', { workers: [{ workerId: 'w0', pid: 100, exitCode: 0 }] }),
    ]) expect(applyReport(p, r)).toBe(true);

    expect(p.nodes.a).toMatchObject({ state: 'drained', workers: [{ workerId: 'w0', pid: 100, exitCode: 0, exited: true }] });
    expect(countNodes(p)).toMatchObject({ accepted: 2, drained: 1, done: 1, shortfall: 1 });
    expect(unfinishedNodes(p).map((n) => n.nodeId)).toEqual(['b']);
    expect(allMessagesSettled(p)).toBe(false);

    applyReport(p, report('b', 'd1/2', 'drained'));
    expect(countNodes(p)).toMatchObject({ done: 2, shortfall: 0 });
    expect(allMessagesSettled(p)).toBe(true);
  });

  it('ignores duplicates and late, lower-ranked reports', () => {
    const p = newProgress('d1', 't', 'graceful-downscale', 1);
    const drained = report('a', 'd1/1', 'drained');
    expect(applyReport(p, drained)).toBe(true);
    expect(applyReport(p, drained)).toBe(false);
    expect(applyReport(p, report('a', 'd1/1', 'accepted'))).toBe(false);
    expect(p.nodes.a!.state).toBe('drained');
    expect(p.nodes.a!.since).toBe(drained.at);
  });

  it('counts intake stops for do-not-accept-new-tasks', () => {
    const p = newProgress('d1', 't', 'do-not-accept-new-tasks', 1);
    applyReport(p, report('a', 'd1/1', 'accepted'));
    expect(countNodes(p).done).toBe(0);
    applyReport(p, report('a', 'd1/1', 'intake-stopped'));
    expect(countNodes(p)).toMatchObject({ intakeStopped: 1, done: 1, shortfall: 0 });
  });

  it('records escalation and expiry with reasons', () => {
    const p = newProgress('d1', 't', 'graceful-downscale', 2);
    applyReport(p, report('a', 'd1/1', 'escalated'));
    applyReport(p, report('b', 'd1/2', 'expired', { reason: 'notAfter passed', workers: [] }));
    expect(countNodes(p)).toMatchObject({ escalated: 1, draining: 1, expired: 1, accepted: 1, shortfall: 2 });
    expect(p.nodes.b!.reason).toBe('notAfter passed');
  });

  it('counts the workers SIGKILLed at the deadline once, however often the escalation is reported', () => {
    const p = newProgress('d1', 't', 'graceful-downscale', 1);
    const killed = { workers: [{ workerId: 'w0', pid: 100, signal: 'SIGKILL' }, { workerId: 'w1', pid: 101, signal: 'SIGKILL' }] };
    applyReport(p, report('a', 'd1/1', 'escalated', killed));
    applyReport(p, report('a', 'd1/1', 'escalated', killed));
    applyReport(p, report('a', 'd1/1', 'drained', killed));
    expect(countNodes(p)).toMatchObject({ escalated: 1, killed: 2, drained: 1 });
  });

  it('counts as untaken the messages no node holds, including those every taker rejected', () => {
    const p = newProgress('d1', 't', 'graceful-downscale', 4);
    expect(countNodes(p).untaken).toBe(4);
    applyReport(p, report('a', 'd1/1', 'accepted'));
    applyReport(p, report('b', 'd1/2', 'expired', { workers: [] }));
    applyReport(p, report('c', 'd1/3', 'rejected', { workers: [] }));
    // d1/3 went back on the subscription: untaken until another node takes it.
    expect(countNodes(p).untaken).toBe(2);
    applyReport(p, report('d', 'd1/3', 'accepted'));
    expect(countNodes(p).untaken).toBe(1);
  });

  it('flags a message that acted on two nodes, and a node that acted twice', () => {
    const p = newProgress('d1', 't', 'graceful-downscale', 2);
    applyReport(p, report('a', 'd1/1', 'accepted'));
    applyReport(p, report('b', 'd1/1', 'accepted'));
    expect(applyReport(p, report('a', 'd1/2', 'accepted'))).toBe(false);
    expect(p.anomalies).toEqual([
      'message d1/1 acted on a and b',
      'node a reported accepted for d1/2 after acting on d1/1',
    ]);
  });

  it('lets a message rejected by one node be taken by another without an anomaly', () => {
    const p = newProgress('d1', 't', 'graceful-downscale', 1);
    applyReport(p, report('a', 'd1/1', 'rejected', { reason: 'no workers' }));
    applyReport(p, report('b', 'd1/1', 'drained'));
    expect(p.anomalies).toEqual([]);
    expect(allMessagesSettled(p)).toBe(true);
  });

  it('takes a resumed node out of the count of intake stops', () => {
    const p = newProgress('d1', 't', 'do-not-accept-new-tasks', 1);
    applyReport(p, report('a', 'd1/1', 'intake-stopped'));
    expect(countNodes(p).done).toBe(1);
    applyReport(p, report('a', 'd1/1', 'resumed'));
    expect(p.nodes.a!.state).toBe('resumed');
    expect(countNodes(p)).toMatchObject({ done: 0, shortfall: 1, accepted: 0 });
  });

  it('ignores reports of other drains', () => {
    const p = newProgress('d1', 't', 'graceful-downscale', 1);
    expect(applyReport(p, report('a', 'd2/1', 'accepted', { drainId: 'd2' }))).toBe(false);
    expect(p.nodes).toEqual({});
  });

  it('ignores a report about a message that is not one of the drain\'s, or on another topic', () => {
    const p = newProgress('d1', 't', 'graceful-downscale', 2);
    for (const [r, why] of [
      [report('a', 'd1/3', 'drained'), "d1/3 is not one of the drain's 2 message(s)"],
      [report('a', 'd1/0', 'drained'), "d1/0 is not one of the drain's 2 message(s)"],
      [report('a', 'd2/1', 'drained'), "d2/1 is not one of the drain's 2 message(s)"],
      [report('a', 'd1/01', 'drained'), "d1/01 is not one of the drain's 2 message(s)"],
      [report('a', 'd1/1', 'drained', { topic: 'other' }), "topic other is not the drain's topic t"],
      [report('a', 'd1/1', 'drained', { drainId: undefined }), 'it names drain (none), not d1'],
    ] as const) {
      expect(foreignReport(p, r)).toBe(why);
      expect(applyReport(p, r)).toBe(false);
    }
    expect(p.nodes).toEqual({});
    expect(p.anomalies).toEqual([]);
    // Service Bus names are case-insensitive: the same topic spelled otherwise is the drain's.
    expect(applyReport(p, report('a', 'd1/1', 'accepted', { topic: 'T' }))).toBe(true);
  });

  it('keeps at most count + NODE_MARGIN nodes, MAX_WORKERS_PER_NODE workers a node and MAX_ANOMALIES anomalies', () => {
    const p = newProgress('d1', 't', 'graceful-downscale', 1);
    // Every node rejecting the one message is legitimate, up to the margin.
    for (let i = 0; i < 1 + NODE_MARGIN; i++) expect(applyReport(p, report(`n${i}`, 'd1/1', 'rejected'))).toBe(true);
    expect(applyReport(p, report('one-too-many', 'd1/1', 'drained'))).toBe(false);
    expect(Object.keys(p.nodes)).toHaveLength(1 + NODE_MARGIN);
    expect(p.anomalies).toEqual([`more than ${1 + NODE_MARGIN} nodes reported; reports of further nodes were not kept`]);

    const q = newProgress('d1', 't', 'graceful-downscale', 1);
    const workers = Array.from({ length: MAX_WORKERS_PER_NODE + 50 }, (_, i) => ({ workerId: `w${i}`, pid: 1000 + i }));
    applyReport(q, report('a', 'd1/1', 'accepted', { workers }));
    expect(q.nodes.a!.workers).toHaveLength(MAX_WORKERS_PER_NODE);
    expect(q.anomalies).toEqual([`node a reported more than ${MAX_WORKERS_PER_NODE} workers; the rest were not kept`]);

    // One node claiming other messages of the drain, again and again: anomalies stay bounded.
    const r = newProgress('d1', 't', 'graceful-downscale', 500);
    applyReport(r, report('a', 'd1/1', 'accepted'));
    for (let n = 2; n <= 500; n++) applyReport(r, report('a', `d1/${n}`, 'accepted'));
    expect(r.anomalies).toHaveLength(MAX_ANOMALIES);
    expect(r.anomalies.at(-1)).toBe(`more than ${MAX_ANOMALIES - 1} anomalies; the rest were not kept`);
  });

  it('keeps a node whose id is __proto__ as a node', () => {
    const p = newProgress('d1', 't', 'graceful-downscale', 1);
    expect(applyReport(p, report('__proto__', 'd1/1', 'drained'))).toBe(true);
    expect(Object.keys(p.nodes)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(p.nodes)).toBe(Object.prototype);
    expect(countNodes(JSON.parse(JSON.stringify(p)))).toMatchObject({ drained: 1, done: 1 });
  });
});

describe('a batch of reports', () => {
  it('folds coalesced reports exactly as their single states, and a batch delivered twice changes nothing', () => {
    const singles = [
      report('a', 'd1/1', 'accepted'), report('a', 'd1/1', 'signalled', { workers: [{ workerId: 'w0', pid: 100, signal: 'SIGTERM' }] }),
      report('b', 'd1/2', 'accepted'), report('b', 'd1/2', 'escalated', { reason: 'deadline passed' }),
      report('a', 'd1/1', 'worker-exited', { workers: [{ workerId: 'w0', pid: 100, exitCode: 0 }] }), report('a', 'd1/1', 'drained'),
    ];
    const one = newProgress('d1', 't', 'graceful-downscale', 2);
    singles.forEach((r) => applyReport(one, r));
    const batched = newProgress('d1', 't', 'graceful-downscale', 2);
    const wire = coalesceReports(singles);
    expect(wire.length).toBeLessThan(singles.length);
    expect(applyReports(batched, JSON.parse(JSON.stringify(wire)))).toBe(singles.length);
    expect(batched).toEqual(one);
    expect(batched.nodes.a).toMatchObject({ state: 'drained', acceptedAt: singles[0]!.at, workers: [{ exited: true, exitCode: 0 }] });
    expect(batched.nodes.b).toMatchObject({ escalated: true, killed: 1 });
    applyReports(batched, wire);
    expect(batched).toEqual(one);
  });
});


describe('targeted drains', () => {
  const targets = ['node-a', 'node-b'];

  it('ignores a report for <drainId>/<n> from a node other than nodes[n-1], compared case-insensitively', () => {
    const p = newProgress('d1', 't', 'graceful-downscale', 2);
    const forged = report('node-b', 'd1/1', 'drained');
    expect(foreignReport(p, forged, targets)).toContain('addressed to node node-a');
    expect(applyReport(p, forged, targets)).toBe(false);
    expect(countNodes(p).done).toBe(0);
    expect(applyReport(p, report('NODE-A', 'd1/1', 'drained'), targets)).toBe(true);
    expect(countNodes(p).done).toBe(1);
  });

  it('takes refused and expired as final answers: the drain is settled short of its target', () => {
    const p = newProgress('d1', 't', 'graceful-downscale', 2);
    applyReports(p, [report('node-a', 'd1/1', 'refused', { reason: 'already draining for drain d0' }), report('node-b', 'd1/2', 'expired')], targets);
    expect(countNodes(p)).toMatchObject({ refused: 1, expired: 1, done: 0, untaken: 0 });
    expect(p.nodes['node-a']).toMatchObject({ state: 'refused', reason: 'already draining for drain d0' });
    expect(allMessagesSettled(p)).toBe(true);
    expect(unfinishedNodes(p)).toEqual([]);
  });

  it('has resumed as the target of a resume', () => {
    const p = newProgress('d1', 't', 'resume', 1);
    applyReports(p, [report('node-a', 'd1/1', 'accepted'), report('node-a', 'd1/1', 'resumed', { reason: 're-armed' })], targets);
    expect(countNodes(p)).toMatchObject({ done: 1, shortfall: 0, accepted: 1 });
    expect(p.nodes['node-a']?.reason).toBe('re-armed');
  });
});
