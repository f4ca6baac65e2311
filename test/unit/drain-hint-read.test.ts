import { describe, expect, it } from 'vitest';
import type { NodeCounts } from '../../src/domain/node-view.js';
import { HINT_READ_MS, withHint } from '../../src/http/drain-hint.js';
import type { DrainView } from '../../src/http/drain-view.js';

const now = new Date('2030-01-01T10:00:00.000Z');
const view = {
  drainId: 'd-1', status: 'running', runtimeStatus: 'Running', topic: 'eu-west', mode: 'graceful-downscale',
  counts: { requested: 2, untaken: 2 }, untakenExpireAt: '2030-01-01T10:15:30.000Z',
} as unknown as DrainView;
const drained: NodeCounts = { active: 0, 'intake-stopped': 0, draining: 0, drained: 3, stale: 0, offline: 0, total: 3 };

describe('withHint', () => {
  it('adds the hint from the topic counts the inventory reads', async () => {
    const topics: string[] = [];
    const got = await withHint(view, async (t) => (topics.push(t), drained), now, () => {});
    expect(topics).toEqual(['eu-west']);
    expect(got.hint).toBe('2 messages untaken, they expire at 10:15:30Z; eu-west has 0 active or intake-stopped nodes online: 3 drained (a drained node takes no control message until `workforce-agent reset`)');
  });

  it('reads nothing for a drain that ended or has no untaken message', async () => {
    const read = async () => {
      throw new Error('must not be read');
    };
    expect(await withHint({ ...view, status: 'completed' } as DrainView, read, now, () => {})).not.toHaveProperty('hint');
    expect(await withHint({ ...view, counts: { ...view.counts!, untaken: 0 } } as DrainView, read, now, () => {})).not.toHaveProperty('hint');
  });

  it('shows the drain without a hint, and warns, when the inventory fails, hangs or is not configured', async () => {
    const warnings: string[] = [];
    const failing = await withHint(view, async () => Promise.reject(new Error('ECONNREFUSED 127.0.0.1:10002')), now, (w) => warnings.push(w));
    expect(failing).toEqual(view);
    const hanging = await withHint(view, () => new Promise(() => {}), now, (w) => warnings.push(w));
    expect(hanging).toEqual(view);
    expect(warnings).toEqual([
      'drain d-1: no hint, the fleet inventory could not be read: ECONNREFUSED 127.0.0.1:10002',
      `drain d-1: no hint, the fleet inventory did not answer within ${HINT_READ_MS} ms`,
    ]);
    expect(await withHint(view, undefined, now, () => {})).toEqual(view);
    expect(await withHint(view, async () => undefined, now, () => {})).toEqual(view);
  });
});
