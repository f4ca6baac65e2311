import { describe, expect, it } from 'vitest';
import { addToCounts, emptyCounts, isContinuationToken, nodeView, parseNodeQuery, standing, type NodeRow } from '../../src/domain/node-view.js';

const now = new Date('2026-12-07T05:00:00.000Z');
const ago = (s: number) => new Date(now.getTime() - s * 1000).toISOString();
const row = (over: Partial<NodeRow> = {}): NodeRow => ({ nodeId: 'n1', topic: 'eu-west', lastSeen: ago(1), state: 'draining', presence: 'heartbeat', heartbeatSeconds: 10, ...over });
const params = (q: string) => new URLSearchParams(q);

describe('standing and stale', () => {
  it('is stale once the last report is older than three of the node\'s own intervals (30 s when it says none)', () => {
    expect(standing(row({ lastSeen: ago(30) }), now)).toBe('draining');
    expect(standing(row({ lastSeen: ago(31) }), now)).toBe('stale');
    expect(standing(row({ lastSeen: ago(90), heartbeatSeconds: undefined }), now)).toBe('draining');
    expect(standing(row({ lastSeen: ago(91), heartbeatSeconds: undefined }), now)).toBe('stale');
  });

  it('offline is explicit, and wins over stale', () => {
    expect(standing(row({ presence: 'offline', lastSeen: ago(3600) }), now)).toBe('offline');
    expect(nodeView(row({ presence: 'offline', lastSeen: ago(3600) }), now).stale).toBe(false);
  });

  it('counts a stale node as stale and an offline one as offline, not as their last state', () => {
    const counts = [row(), row({ lastSeen: ago(100) }), row({ presence: 'offline' }), row({ state: 'drained' })].reduce((c, r) => addToCounts(c, r, now), emptyCounts());
    expect(counts).toEqual({ active: 0, 'intake-stopped': 0, draining: 1, drained: 1, stale: 1, offline: 1, total: 4 });
  });
});

describe('nodeView', () => {
  it('shows the stored row, its JSON columns parsed, and defaults for a node known only from drain reports', () => {
    const view = nodeView(row({ since: ago(5), workers: '[{"workerId":"w","pid":1,"signals":{},"alive":true}]', workerCount: 3, drain: '{"drainId":"d","messageId":"d/1"}', agentVersion: '1', hostName: 'h', startedAt: ago(60) }), now);
    expect(view).toEqual({ nodeId: 'n1', state: 'draining', since: ago(5), lastSeen: ago(1), stale: false, presence: 'heartbeat', workers: [{ workerId: 'w', pid: 1, signals: {}, alive: true }], workerCount: 3, drain: { drainId: 'd', messageId: 'd/1' }, agentVersion: '1', hostName: 'h', startedAt: ago(60), heartbeatSeconds: 10 });
    expect(nodeView({ nodeId: 'n2', topic: 't', lastSeen: ago(1), presence: '', state: 'active', drain: '' }, now)).toEqual({ nodeId: 'n2', state: 'active', since: ago(1), lastSeen: ago(1), stale: false, workers: [], workerCount: 0, heartbeatSeconds: 30 });
  });
});

describe('parseNodeQuery', () => {
  it('defaults to 500 a page and takes a state, a limit up to 1000 and a token', () => {
    expect(parseNodeQuery(params(''))).toEqual({ ok: true, value: { limit: 500 } });
    const token = btoa(JSON.stringify({ nextPartitionKey: '1!8!ZXUtd2VzdA--', nextRowKey: '1!8!bm9kZS0x' }));
    expect(parseNodeQuery(params(`state=stale&limit=1000&continuationToken=${encodeURIComponent(token)}`))).toEqual({ ok: true, value: { standing: 'stale', limit: 1000, continuationToken: token } });
  });

  it('names the bad parameter', () => {
    for (const [q, field] of [['state=gone', 'state'], ['limit=0', 'limit'], ['limit=1001', 'limit'], ['limit=1e3', 'limit'], ['limit=', 'limit'], ['continuationToken=', 'continuationToken'], ['continuationToken=abc!', 'continuationToken']]) {
      expect(parseNodeQuery(params(q!)), q).toMatchObject({ ok: false, problem: { code: 'InvalidField', status: 400, field } });
    }
  });

  it('takes only tokens shaped as the table client gives them out', () => {
    expect(isContinuationToken(btoa('{"nextPartitionKey":"a"}'))).toBe(true);
    expect(isContinuationToken(btoa('{"nextPartitionKey":7}'))).toBe(false);
    expect(isContinuationToken(btoa('{"nextPartitionKey":"a","extra":1}'))).toBe(false);
    expect(isContinuationToken(btoa('[]'))).toBe(false);
    expect(isContinuationToken('x'.repeat(5000))).toBe(false);
  });
});
