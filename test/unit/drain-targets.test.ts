import { describe, expect, it } from 'vitest';
import { parseDrainRequest } from '../../src/domain/drain-request.js';
import { checkTargets, intakeStopped, parseNodeList, rowsById } from '../../src/domain/drain-targets.js';
import { parseResumeRequest } from '../../src/domain/resume-request.js';
import type { NodeRow } from '../../src/domain/node-view.js';

const now = new Date('2026-11-25T12:00:00.000Z');
const field = (r: { ok: boolean; problem?: { field?: string } } | { ok: true }) => (r.ok ? undefined : (r as { problem: { field?: string } }).problem.field);

describe('named nodes', () => {
  it('refuses duplicates (case-insensitively), over 1,000 ids, ids too long or with control characters, naming the field', () => {
    expect(parseNodeList(['a', 'b'])).toEqual({ ok: true, value: ['a', 'b'] });
    expect(field(parseNodeList(['a', 'A']))).toBe('nodes');
    expect(field(parseNodeList(['a', 'a']))).toBe('nodes');
    expect(field(parseNodeList(Array.from({ length: 1001 }, (_, i) => `n${i}`)))).toBe('nodes');
    expect(field(parseNodeList([]))).toBe('nodes');
    expect(field(parseNodeList(['ok', 'x'.repeat(129)]))).toBe('nodes[1]');
    expect(field(parseNodeList(['bad\u0007id']))).toBe('nodes[0]');
    expect(field(parseNodeList([42]))).toBe('nodes[0]');
    expect(field(parseNodeList('a'))).toBe('nodes');
  });

  it('takes nodes instead of count in a drain request, never both, and keeps them', () => {
    const r = parseDrainRequest('t', { nodes: ['a', 'b'], mode: 'do-not-accept-new-tasks', force: true }, now);
    expect(r.ok && r.value).toMatchObject({ nodes: ['a', 'b'], count: 2, mode: 'do-not-accept-new-tasks', force: true });
    expect(field(parseDrainRequest('t', { nodes: ['a'], count: 1 }, now))).toBe('nodes');
    expect(field(parseDrainRequest('t', { count: 1, force: 'yes' }, now))).toBe('force');
    expect(field(parseDrainRequest('t', { count: 1, dryRun: 1 }, now))).toBe('dryRun');
  });

  it('takes a resume with nodes or all, one of the two', () => {
    const r = parseResumeRequest('t', { nodes: ['a'], reason: 'back', dryRun: true }, now);
    expect(r.ok && r.value).toMatchObject({ mode: 'resume', nodes: ['a'], count: 1, reason: 'back', dryRun: true });
    expect(parseResumeRequest('t', { all: true }, now)).toMatchObject({ ok: true, value: { all: true } });
    expect(field(parseResumeRequest('t', {}, now))).toBe('nodes');
    expect(field(parseResumeRequest('t', { nodes: ['a'], all: true }, now))).toBe('nodes');
    expect(field(parseResumeRequest('t', { nodes: ['a'], count: 1 }, now))).toBe('count');
    expect(field(parseResumeRequest('t', { nodes: ['a'], gracePeriod: '1h' }, now))).toBe('gracePeriod');
  });

  it('sorts named nodes into unknown, unreachable (offline, stale) and available', () => {
    const fresh = new Date(now.getTime() - 1_000).toISOString();
    const rows: NodeRow[] = [
      { nodeId: 'Active-1', topic: 't', lastSeen: fresh, state: 'active', presence: 'heartbeat' },
      { nodeId: 'stopped', topic: 't', lastSeen: fresh, state: 'intake-stopped', presence: 'heartbeat' },
      { nodeId: 'gone', topic: 't', lastSeen: fresh, since: fresh, state: 'active', presence: 'offline' },
      { nodeId: 'silent', topic: 't', lastSeen: '2026-11-25T11:00:00.000Z', state: 'active', presence: 'heartbeat' },
    ];
    const check = checkTargets(['active-1', 'stopped', 'gone', 'silent', 'typo'], rowsById(rows), now);
    expect(check.unknown).toEqual(['typo']);
    expect(check.available).toBe(1);
    expect(check.unreachable).toEqual([
      { nodeId: 'gone', why: expect.stringContaining('offline since') },
      { nodeId: 'silent', why: expect.stringContaining('stale: last seen') },
    ]);
    expect(intakeStopped(rows, now)).toEqual(['stopped']);
  });
});
