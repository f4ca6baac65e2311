import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { takeControlMessages } from '../support/agents.js';
import { presenceReport, sendPresence } from '../support/presence-reports.js';
import { startControlPlane, waitFor, type ControlPlane } from '../support/control-plane.js';

const NIGHTLY = { name: 'nightly-bud', schedule: '0 0 22 * * *', topic: 'bud-1', count: 2, gracePeriod: '1h', reason: 'nightly scale-down' };

/** A scheduled occurrence that would take its topic past the budget starts no drain and leaves a record. */
describe('scheduled drains obey the budget', () => {
  let cp: ControlPlane;
  beforeAll(async () => {
    cp = await startControlPlane({ schedules: [NIGHTLY] });
    expect((await cp.api('PUT', 'topics/bud-1')).status).toBe(201);
    await sendPresence(cp.sb, ['b-1', 'b-2', 'b-3'].map((id) => presenceReport('bud-1', id, { heartbeatSeconds: 3_600 })));
    await waitFor(async () => (await cp.api('GET', 'topics/bud-1/nodes')).body?.nodes?.length === 3, 'three nodes in the inventory');
    expect((await cp.api('PUT', 'topics/bud-1/policy', { maxUnavailable: '33%' })).status).toBe(200);
  }, 120_000);
  afterAll(async () => {
    await cp?.close();
  });

  it('skips the occurrence, starts no drain, and GET /api/topics shows why with the figures', async () => {
    const now = new Date(cp.clock.now());
    const at22 = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), 22));
    if (at22.getTime() <= now.getTime()) at22.setUTCDate(at22.getUTCDate() + 1);
    const drainId = `nightly-bud-${at22.toISOString().slice(0, 13).replace(/-/g, '')}00Z`;

    await cp.clock.set(at22);
    const topic = await waitFor(async () => {
      const t = (await cp.api('GET', 'topics')).body.topics?.find((x: { name: string }) => x.name === 'bud-1');
      return t?.skippedRuns?.length > 0 && t;
    }, 'the skipped run recorded');
    expect(topic.skippedRuns).toEqual([{
      at: at22.toISOString(), schedule: 'nightly-bud', drainId, why: expect.stringContaining('past its budget'),
      online: 3, unavailable: 0, inFlight: 0, reserved: 0, requested: 2, allowed: 1, maxUnavailable: '33%',
    }]);
    expect((await cp.api('GET', `drains/${drainId}`)).status).toBe(404);
    expect((await cp.api('GET', 'drains?topic=bud-1')).body.drains).toEqual([]);
    expect(await takeControlMessages(cp.sb, 'bud-1', 2, 1_000)).toEqual([]);
  });
});
