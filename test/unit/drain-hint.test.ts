import { describe, expect, it } from 'vitest';
import { clockTime, drainHint } from '../../src/domain/drain-hint.js';
import type { NodeCounts } from '../../src/domain/node-view.js';

const now = new Date('2030-01-01T10:00:00.000Z');
const counts = (c: Partial<NodeCounts>): NodeCounts => {
  const all = { active: 0, 'intake-stopped': 0, draining: 0, drained: 0, stale: 0, offline: 0, ...c };
  return { ...all, total: Object.values(all).reduce((a, b) => a + b, 0) };
};
const base = { topic: 'eu-west', untaken: 2, untakenExpireAt: '2030-01-01T10:15:30.000Z', now } as const;

describe('drainHint', () => {
  it('says the untaken messages expire and that no node can take them, with what the nodes are instead', () => {
    expect(drainHint({ ...base, mode: 'do-not-accept-new-tasks', nodes: counts({ drained: 3, 'intake-stopped': 1 }) })).toBe(
      '2 messages untaken, they expire at 10:15:30Z; eu-west has 0 active nodes online: 1 intake-stopped, 3 drained (a drained node takes no control message until `workforce-agent reset`)',
    );
  });

  it('counts intake-stopped nodes as takers of a graceful-downscale (they can still drain)', () => {
    expect(drainHint({ ...base, mode: 'graceful-downscale', untaken: 1, nodes: counts({ 'intake-stopped': 1, stale: 2, offline: 1 }) })).toBe(
      '1 message untaken, it expires at 10:15:30Z; eu-west has 1 active or intake-stopped node online: 2 stale, 1 offline',
    );
  });

  it('names a topic no agent has reported on, and how agents listen on it', () => {
    expect(drainHint({ ...base, mode: 'graceful-downscale', nodes: counts({}) })).toBe(
      '2 messages untaken, they expire at 10:15:30Z; eu-west has no node in the inventory: no agent has reported on this topic (agents listen with WORKFORCE_CONTROL_TOPIC_NAME=eu-west)',
    );
  });

  it('has nothing to say when every message was taken', () => {
    expect(drainHint({ ...base, untaken: 0, mode: 'graceful-downscale', nodes: counts({ drained: 3 }) })).toBeUndefined();
  });

  it('dates an expiry that is not today', () => {
    expect(clockTime('2030-01-02T00:05:00.000Z', now)).toBe('2030-01-02 00:05:00Z');
    expect(clockTime('2030-01-01T23:59:59.000Z', now)).toBe('23:59:59Z');
  });
});
