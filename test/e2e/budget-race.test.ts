import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { presenceReport, sendPresence } from '../support/presence-reports.js';
import { startControlPlane, waitFor, type ControlPlane } from '../support/control-plane.js';

/**
 * Drains asked at the same moment: each admission writes its reservation into the topic's
 * ledger with If-Match on the row it judged from, so of five concurrent requests for one node
 * each, under `maxUnavailable: 2`, exactly two start, as concurrent evictions against a
 * PodDisruptionBudget do.
 */
describe('the budget under concurrent drains', () => {
  const topic = 'race-1';
  let cp: ControlPlane;
  beforeAll(async () => {
    cp = await startControlPlane();
    expect((await cp.api('PUT', `topics/${topic}`)).status).toBe(201);
    const fleet = ['r-1', 'r-2', 'r-3', 'r-4', 'r-5', 'r-6'];
    await sendPresence(cp.sb, fleet.map((id) => presenceReport(topic, id, { heartbeatSeconds: 3_600 })));
    await waitFor(async () => (await cp.api('GET', `topics/${topic}/nodes`)).body?.nodes?.length === fleet.length, 'six nodes in the inventory');
    expect((await cp.api('PUT', `topics/${topic}/policy`, { maxUnavailable: 2 })).status).toBe(200);
  }, 120_000);
  afterAll(async () => {
    await cp?.close();
  });

  it('admits exactly two of five concurrent drains of one node; the three others see them', async () => {
    const ids = ['race-a', 'race-b', 'race-c', 'race-d', 'race-e'];
    const answers = await Promise.all(ids.map((drainId) => cp.api('POST', `topics/${topic}/drains`, { count: 1, drainId })));
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses, JSON.stringify(answers.map((a) => a.body))).toEqual([202, 202, 409, 409, 409]);
    for (const refused of answers.filter((a) => a.status === 409)) {
      expect(refused.body).toMatchObject({ code: 'BudgetExceeded', online: 6, unavailable: 2, requested: 1, allowed: 2 });
      // The two admitted drains, each counted once: in flight once it shows counts, reserved before.
      expect(refused.body.inFlight + refused.body.reserved).toBe(2);
    }
    const started = answers.filter((a) => a.status === 202).map((a) => a.body.drainId as string);
    const running = await waitFor(async () => {
      const drains = (await cp.api('GET', `drains?topic=${topic}`)).body.drains as Array<{ drainId: string; counts?: unknown }>;
      return drains.length === 2 && drains.every((d) => d.counts) && drains;
    }, 'the two admitted drains running');
    expect(running.map((d) => d.drainId).sort()).toEqual(started.sort());
    // Once both show counts they count as in flight, not as reserved: the figures add up to two.
    expect((await cp.api('GET', `topics/${topic}/policy`)).body.budget).toMatchObject({ online: 6, unavailable: 2, inFlight: 2, reserved: 0, allowed: 2 });
  });
});
