import { describe, expect, it } from 'vitest';
import type { AgentReport } from '@workforce/worker-agent/contract';
import {
  allMessagesSettled, applyReport, countNodes, newProgress, unfinishedNodes,
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
      report('a', 'd1/0', 'accepted'), report('a', 'd1/0', 'signalled'),
      report('b', 'd1/1', 'accepted'), report('a', 'd1/0', 'worker-exited', { workers: [{ workerId: 'w0', pid: 100, exitCode: 0 }] }),
      report('a', 'd1/0', 'drained', { workers: [{ workerId: 'w0', pid: 100, exitCode: 0 }] }),
    ]) expect(applyReport(p, r)).toBe(true);

    expect(p.nodes.a).toMatchObject({ state: 'drained', workers: [{ workerId: 'w0', pid: 100, exitCode: 0, exited: true }] });
    expect(countNodes(p)).toMatchObject({ accepted: 2, drained: 1, done: 1, shortfall: 1 });
    expect(unfinishedNodes(p).map((n) => n.nodeId)).toEqual(['b']);
    expect(allMessagesSettled(p)).toBe(false);

    applyReport(p, report('b', 'd1/1', 'drained'));
    expect(countNodes(p)).toMatchObject({ done: 2, shortfall: 0 });
    expect(allMessagesSettled(p)).toBe(true);
  });

  it('ignores duplicates and late, lower-ranked reports', () => {
    const p = newProgress('d1', 't', 'graceful-downscale', 1);
    const drained = report('a', 'd1/0', 'drained');
    expect(applyReport(p, drained)).toBe(true);
    expect(applyReport(p, drained)).toBe(false);
    expect(applyReport(p, report('a', 'd1/0', 'accepted'))).toBe(false);
    expect(p.nodes.a!.state).toBe('drained');
    expect(p.nodes.a!.since).toBe(drained.at);
  });

  it('counts intake stops for do-not-accept-new-tasks', () => {
    const p = newProgress('d1', 't', 'do-not-accept-new-tasks', 1);
    applyReport(p, report('a', 'd1/0', 'accepted'));
    expect(countNodes(p).done).toBe(0);
    applyReport(p, report('a', 'd1/0', 'intake-stopped'));
    expect(countNodes(p)).toMatchObject({ intakeStopped: 1, done: 1, shortfall: 0 });
  });

  it('records escalation and expiry with reasons', () => {
    const p = newProgress('d1', 't', 'graceful-downscale', 2);
    applyReport(p, report('a', 'd1/0', 'escalated'));
    applyReport(p, report('b', 'd1/1', 'expired', { reason: 'notAfter passed', workers: [] }));
    expect(countNodes(p)).toMatchObject({ escalated: 1, draining: 1, expired: 1, accepted: 1, shortfall: 2 });
    expect(p.nodes.b!.reason).toBe('notAfter passed');
  });

  it('flags a message that acted on two nodes, and a node that acted twice', () => {
    const p = newProgress('d1', 't', 'graceful-downscale', 2);
    applyReport(p, report('a', 'd1/0', 'accepted'));
    applyReport(p, report('b', 'd1/0', 'accepted'));
    expect(applyReport(p, report('a', 'd1/1', 'accepted'))).toBe(false);
    expect(p.anomalies).toEqual([
      'message d1/0 acted on a and b',
      'node a reported accepted for d1/1 after acting on d1/0',
    ]);
  });

  it('lets a message rejected by one node be taken by another without an anomaly', () => {
    const p = newProgress('d1', 't', 'graceful-downscale', 1);
    applyReport(p, report('a', 'd1/0', 'rejected', { reason: 'no workers' }));
    applyReport(p, report('b', 'd1/0', 'drained'));
    expect(p.anomalies).toEqual([]);
    expect(allMessagesSettled(p)).toBe(true);
  });

  it('takes a resumed node out of the count of intake stops', () => {
    const p = newProgress('d1', 't', 'do-not-accept-new-tasks', 1);
    applyReport(p, report('a', 'd1/0', 'intake-stopped'));
    expect(countNodes(p).done).toBe(1);
    applyReport(p, report('a', 'd1/0', 'resumed'));
    expect(p.nodes.a!.state).toBe('resumed');
    expect(countNodes(p)).toMatchObject({ done: 0, shortfall: 1, accepted: 0 });
  });

  it('ignores reports of other drains', () => {
    const p = newProgress('d1', 't', 'graceful-downscale', 1);
    expect(applyReport(p, report('a', 'd2/0', 'accepted', { drainId: 'd2' }))).toBe(false);
    expect(p.nodes).toEqual({});
  });
});
