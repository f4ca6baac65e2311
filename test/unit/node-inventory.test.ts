import type { AgentReport, PresenceReport } from '@workforce/worker-agent/contract';
import { describe, expect, it } from 'vitest';
import { foldNode, groupByNode, MAX_WORKERS_JSON, nodeRowKey, type ReceivedReport } from '../../src/domain/node-inventory.js';

const T0 = Date.parse('2026-12-07T05:00:00.000Z');
const iso = (s: number) => new Date(T0 + s * 1000).toISOString();

function presence(s: number, over: Partial<PresenceReport> = {}): ReceivedReport {
  const report: PresenceReport = {
    kind: 'presence',
    presence: 'heartbeat',
    nodeId: 'node-1',
    topic: 'EU-West',
    nodeState: 'active',
    since: iso(0),
    workers: [{ workerId: 'w1', pid: 10, signals: { 'graceful-downscale': 'SIGTERM' }, alive: true }],
    workerCount: 1,
    agentVersion: '0.1.0',
    hostName: 'h1',
    startedAt: iso(0),
    sentAt: iso(s),
    heartbeatSeconds: 5,
    ...over,
  };
  return { report, receivedAt: new Date(T0 + s * 1000 + 50) };
}

function drainReport(s: number, state: AgentReport['state'], over: Partial<AgentReport> = {}): ReceivedReport {
  const report: AgentReport = { drainId: 'd1', messageId: 'd1/1', nodeId: 'node-1', topic: 'eu-west', state, workers: [], at: iso(s), ...over };
  return { report, receivedAt: new Date(T0 + s * 1000 + 50) };
}

describe('groupByNode', () => {
  it('groups a batch by topic (case-insensitive) and node, oldest report first', () => {
    const { nodes, rejected } = groupByNode([presence(30), drainReport(10, 'signalled'), presence(20, { nodeId: 'node-2' }), presence(5)]);
    expect(rejected).toEqual([]);
    expect(nodes.map((n) => [n.partitionKey, n.rowKey, n.reports.map((r) => Date.parse('kind' in r.report ? r.report.sentAt : r.report.at))])).toEqual([
      ['eu-west', 'node-1', [T0 + 5000, T0 + 10_000, T0 + 30_000]],
      ['eu-west', 'node-2', [T0 + 20_000]],
    ]);
  });

  it('refuses what the inventory cannot take, naming the field: a topic that is no topic name, a report from the future, a key too long', () => {
    const { nodes, rejected } = groupByNode([
      presence(1, { topic: '~topics' }),
      { ...presence(1), receivedAt: new Date(T0 - 10 * 60_000) },
      presence(1, { nodeId: '/'.repeat(300) }),
      presence(2),
    ]);
    expect(rejected.map((r) => [r.index, r.field])).toEqual([[0, 'topic'], [1, 'sentAt'], [2, 'nodeId']]);
    expect(nodes.map((n) => n.reports.length)).toEqual([1]);
  });
});

describe('nodeRowKey', () => {
  it('escapes what a Table key forbids, and % itself, so distinct ids stay distinct', () => {
    expect(nodeRowKey('rack/1\\a#b?c%d\u0001\u007f')).toBe('rack%2F1%5Ca%23b%3Fc%25d%01%7F');
    expect(nodeRowKey('a%2Fb')).not.toBe(nodeRowKey('a/b'));
    expect(nodeRowKey('node-1.eu')).toBe('node-1.eu');
  });
});

describe('foldNode', () => {
  const one = (...reports: ReceivedReport[]) => groupByNode(reports).nodes[0]!;

  it('writes a node once per batch: the newest presence wins, lastSeen is when the bus took the newest', () => {
    const update = foldNode(one(presence(3, { presence: 'online' }), presence(1), presence(2, { hostName: 'older' })), undefined);
    expect(update).toMatchObject({ partitionKey: 'eu-west', rowKey: 'node-1', topic: 'EU-West', presence: 'online', hostName: 'h1', lastReportAt: iso(3), lastSeen: new Date(T0 + 3050).toISOString(), heartbeatSeconds: 5, workerCount: 1, drain: '' });
    expect(JSON.parse(update!.workers!)).toEqual([{ workerId: 'w1', pid: 10, signals: { 'graceful-downscale': 'SIGTERM' }, alive: true }]);
  });

  it('drops reports no newer than the stored row: an older report never overwrites a newer row', () => {
    expect(foldNode(one(presence(1), presence(2)), { lastReportAt: iso(2) })).toBeUndefined();
    const update = foldNode(one(presence(1, { hostName: 'old' }), presence(3, { presence: 'offline' })), { lastReportAt: iso(2) });
    expect(update).toMatchObject({ presence: 'offline', hostName: 'h1', lastReportAt: iso(3) });
  });

  it('moves the node with drain reports: intake stop, draining, drained, resumed; setting its drain', () => {
    const stopped = foldNode(one(presence(1), drainReport(2, 'accepted', { messageId: 'd1/1' }), drainReport(3, 'intake-stopped')), { lastReportAt: iso(0) });
    expect(stopped).toMatchObject({ state: 'intake-stopped', since: iso(3), drain: JSON.stringify({ drainId: 'd1', messageId: 'd1/1' }) });
    const drained = foldNode(one(drainReport(4, 'signalled'), drainReport(5, 'worker-exited'), drainReport(6, 'drained')), { lastReportAt: iso(3) });
    expect(drained).toMatchObject({ state: 'drained', since: iso(6), lastReportAt: iso(6) });
    // A drain report carries no presence: what the heartbeats said stays.
    expect(drained).not.toHaveProperty('presence');
    expect(drained).not.toHaveProperty('workers');
    // worker-exited while draining does not restart the state's clock.
    expect(foldNode(one(drainReport(7, 'worker-exited')), { lastReportAt: iso(6) })).not.toHaveProperty('since');
    const resumed = foldNode(one(drainReport(8, 'resumed')), { lastReportAt: iso(7) });
    expect(resumed).toMatchObject({ state: 'active', since: iso(8), drain: '' });
    // expired and rejected leave the state as it is.
    expect(foldNode(one(drainReport(9, 'rejected')), { lastReportAt: iso(8) })).not.toHaveProperty('state');
  });

  it('leaves a node that refused a command as it was: its state and the drain it is in', () => {
    const refused = foldNode(one(drainReport(9, 'refused', { drainId: 'd2', messageId: 'd2/1' })), { lastReportAt: iso(8) });
    expect(refused).toMatchObject({ lastReportAt: iso(9) });
    expect(refused).not.toHaveProperty('state');
    expect(refused).not.toHaveProperty('drain');
  });

  it('gives a new row every column the read side filters on, also from a drain report alone', () => {
    expect(foldNode(one(drainReport(2, 'accepted')), undefined)).toMatchObject({ state: 'active', since: iso(2), presence: '', lastReportAt: iso(2) });
    expect(foldNode(one(drainReport(2, 'worker-exited')), undefined)).toMatchObject({ state: 'draining', since: iso(2), presence: '' });
  });

  it('bounds the workers column, keeping the count of all', () => {
    const workers = Array.from({ length: 256 }, (_, i) => ({ workerId: `w${i}-${'x'.repeat(1000)}`, pid: i + 1, signals: {}, alive: true }));
    const update = foldNode(one(presence(1, { workers, workerCount: 300 })), undefined)!;
    expect(update.workers!.length).toBeLessThanOrEqual(MAX_WORKERS_JSON);
    expect(JSON.parse(update.workers!).length).toBeGreaterThan(0);
    expect(update.workerCount).toBe(300);
  });
});
