import { describe, expect, it } from 'vitest';
import { MAX_PRESENCE_WORKERS, type PresenceReport, isPresenceBody, parseAgentReport, parsePresenceReport } from '@workforce/worker-agent/contract';

const report: PresenceReport = {
  kind: 'presence',
  presence: 'heartbeat',
  nodeId: 'node-7',
  topic: 'eu-west',
  nodeState: 'drained',
  since: '2026-12-07T03:00:00.000Z',
  workers: [{ workerId: 'w1', pid: 42, signals: { 'graceful-downscale': 'SIGTERM', 'do-not-accept-new-tasks': null }, alive: false }],
  workerCount: 1,
  drain: { drainId: 'd-1', messageId: 'd-1/0' },
  agentVersion: '0.1.0',
  hostName: 'host-7',
  startedAt: '2026-12-07T02:59:00.000Z',
  sentAt: '2026-12-07T03:01:00.000Z',
  heartbeatSeconds: 0.5,
};

describe('parsePresenceReport', () => {
  it('accepts a presence report as bytes, text or object, and tells it from a drain report', () => {
    for (const body of [new TextEncoder().encode(JSON.stringify(report)), JSON.stringify(report), report]) {
      expect(isPresenceBody(body)).toBe(true);
      expect(parsePresenceReport(body)).toEqual({ ok: true, value: report });
    }
    const drain = { messageId: 'd-1/0', nodeId: 'n', topic: 't', state: 'accepted', workers: [], at: report.sentAt };
    expect(isPresenceBody(drain)).toBe(false);
    expect(parseAgentReport(drain).ok).toBe(true);
    // A presence report is not a drain report: it carries no control message.
    expect(parseAgentReport(report).ok).toBe(false);
  });

  it('rejects bad input, naming the field', () => {
    const bad = (patch: Record<string, unknown>, field: string) =>
      expect(parsePresenceReport({ ...report, ...patch })).toMatchObject({ ok: false, error: { code: 'InvalidReport', field } });
    bad({ presence: 'gone' }, 'presence');
    bad({ nodeState: 'stale' }, 'nodeState');
    bad({ nodeId: '' }, 'nodeId');
    bad({ nodeId: 'n'.repeat(1025) }, 'nodeId');
    bad({ hostName: 7 }, 'hostName');
    bad({ agentVersion: undefined }, 'agentVersion');
    bad({ since: 'yesterday' }, 'since');
    bad({ sentAt: '2026-12-07' }, 'sentAt');
    bad({ workers: {} }, 'workers');
    bad({ workers: Array.from({ length: MAX_PRESENCE_WORKERS + 1 }, (_, i) => ({ ...report.workers[0], workerId: `w${i}` })), workerCount: 300 }, 'workers');
    bad({ workerCount: 0 }, 'workerCount');
    bad({ workers: [{ ...report.workers[0], pid: 0 }] }, 'workers[0].pid');
    bad({ workers: [{ ...report.workers[0], alive: 'yes' }] }, 'workers[0].alive');
    bad({ workers: [{ ...report.workers[0], workerId: 'w'.repeat(1025) }] }, 'workers[0].workerId');
    bad({ workers: [{ ...report.workers[0], signals: { 'graceful-downscale': 'rm -rf /' } }] }, 'workers[0].signals.graceful-downscale');
    bad({ workers: [{ ...report.workers[0], signals: { other: 'SIGTERM' } }] }, 'workers[0].signals');
    bad({ workers: [{ ...report.workers[0], signals: { resume: 'nope' } }] }, 'workers[0].signals.resume');
    // A worker's declared resume signal (per-node commands) is a known operation.
    expect(parsePresenceReport({ ...report, workers: [{ ...report.workers[0], signals: { 'do-not-accept-new-tasks': 'SIGUSR1', resume: 'SIGUSR2' } }] })).toMatchObject({ ok: true });
    bad({ drain: { drainId: 'victim/terminate?x', messageId: 'm' } }, 'drain.drainId');
    bad({ drain: { messageId: 'm'.repeat(1025) } }, 'drain.messageId');
    bad({ drain: [] }, 'drain');
    for (const heartbeatSeconds of [0, -1, '30', Number.NaN, 86_401]) bad({ heartbeatSeconds }, 'heartbeatSeconds');
    expect(parsePresenceReport('{"kind": "presence"')).toMatchObject({ ok: false, error: { field: 'body' } });
    expect(parsePresenceReport([report])).toMatchObject({ ok: false, error: { field: 'body' } });
  });

  it('takes a report without heartbeatSeconds (an agent from before it)', () => {
    const { heartbeatSeconds: _h, ...older } = report;
    expect(parsePresenceReport(older)).toEqual({ ok: true, value: older });
  });

  it('accepts 256 workers, and more counted than listed', () => {
    const workers = Array.from({ length: MAX_PRESENCE_WORKERS }, (_, i) => ({ ...report.workers[0]!, workerId: `w${i}` }));
    expect(parsePresenceReport({ ...report, workers, workerCount: 1000 }).ok).toBe(true);
  });
});
