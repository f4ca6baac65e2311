import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BudgetStore } from '../../src/adapters/budget-table.js';
import { topicPartition } from '../../src/domain/node-inventory.js';
import { MAX_RESERVATIONS, withReservation } from '../../src/domain/reservations.js';
import { presenceReport, sendPresence } from '../support/presence-reports.js';
import { FUNCTION_KEY, startControlPlane, waitFor, type ControlPlane } from '../support/control-plane.js';

/** The app's budget storage in the control plane's storage account (Azurite). */
const ledgerOf = (cp: ControlPlane) => new BudgetStore({ kind: 'connectionString', setting: 'AzureWebJobsStorage', connectionString: cp.storage });

/** Reserves `nodes` for a drain that does not exist, as an admission whose start never happened leaves it. */
async function reserve(cp: ControlPlane, topic: string, drainId: string, nodes: number): Promise<void> {
  const store = ledgerOf(cp);
  const ledger = (await store.ledger(topicPartition(topic)))!;
  expect(await store.writeReservations(topicPartition(topic), ledger.etag, withReservation(ledger.reservations, drainId, nodes, new Date())!)).toBe(true);
}

/**
 * Drains asked at the same moment: each admission writes its reservation into the topic's
 * ledger with If-Match on the row it judged from, so of five concurrent requests for one node
 * each, under `maxUnavailable: 2`, exactly two start, as concurrent evictions against a
 * PodDisruptionBudget do.
 */
describe('the admission ledger', () => {
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

  it('counts a reservation whose drain shows no counts yet, and a retried request of that drain neither against itself nor twice', async () => {
    const held = 'race-2';
    expect((await cp.api('PUT', `topics/${held}`)).status).toBe(201);
    await sendPresence(cp.sb, ['h-1', 'h-2', 'h-3'].map((id) => presenceReport(held, id, { heartbeatSeconds: 3_600 })));
    await waitFor(async () => (await cp.api('GET', `topics/${held}/nodes`)).body?.nodes?.length === 3, 'three nodes in the inventory');
    expect((await cp.api('PUT', `topics/${held}/policy`, { maxUnavailable: 1 })).status).toBe(200);
    // Admitted, not started yet: no drain shows it, the ledger does.
    await reserve(cp, held, 'held-1', 1);
    expect((await cp.api('GET', `topics/${held}/policy`)).body.budget).toMatchObject({ online: 3, unavailable: 1, inFlight: 0, reserved: 1, allowed: 1 });
    const refused = await cp.api('POST', `topics/${held}/drains`, { count: 1, drainId: 'other-1' });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ code: 'BudgetExceeded', unavailable: 1, inFlight: 0, reserved: 1, requested: 1, allowed: 1 });
    expect(refused.body.detail).toContain('unavailable 1 (1 reserved)');
    const targeted = await cp.api('POST', `topics/${held}/drains`, { nodes: ['h-2'], drainId: 'other-2' });
    expect(targeted.body).toMatchObject({ status: 409, code: 'BudgetExceeded', reserved: 1, requested: 1 });
    const listed = (await cp.api('GET', 'topics')).body.topics.find((t: { name: string }) => t.name === held);
    expect(listed.budget).toEqual({ online: 3, unavailable: 1, inFlight: 0, reserved: 1, allowed: 1 });

    // The reserved drain's own (retried) request is not judged against its reservation, and keeps one.
    expect((await cp.api('POST', `topics/${held}/drains`, { count: 1, drainId: 'held-1' })).status).toBe(202);
    const reservations = (await ledgerOf(cp).ledger(topicPartition(held)))!.reservations;
    expect(reservations.map((r) => r.drainId)).toEqual(['held-1']);
    // Once it shows counts it is counted in flight, its reservation no more: once, not twice.
    await waitFor(async () => (await cp.api('GET', 'drains/held-1')).body.counts, 'held-1 showing counts');
    expect((await cp.api('GET', `topics/${held}/policy`)).body.budget).toMatchObject({ unavailable: 1, inFlight: 1, reserved: 0 });
    // Asked again, it exists: 409 DrainExists, not judged against its own messages.
    expect((await cp.api('POST', `topics/${held}/drains`, { count: 1, drainId: 'held-1' })).body).toMatchObject({ status: 409, code: 'DrainExists' });
  });

  it('a dry run judges with the reservations but reserves nothing; force is not refused but reserves', async () => {
    const topic3 = 'race-3';
    expect((await cp.api('PUT', `topics/${topic3}`)).status).toBe(201);
    await sendPresence(cp.sb, ['f-1', 'f-2'].map((id) => presenceReport(topic3, id, { heartbeatSeconds: 3_600 })));
    await waitFor(async () => (await cp.api('GET', `topics/${topic3}/nodes`)).body?.nodes?.length === 2, 'two nodes in the inventory');
    expect((await cp.api('PUT', `topics/${topic3}/policy`, { maxUnavailable: 0 })).status).toBe(200);
    const dry = await cp.api('POST', `topics/${topic3}/drains`, { count: 1, dryRun: true, force: true, drainId: 'dry-3' });
    expect(dry.body.budget).toMatchObject({ exceeded: true, reserved: 0 });
    expect((await ledgerOf(cp).ledger(topicPartition(topic3)))!.reservations).toEqual([]);
    const forced = await cp.api('POST', `topics/${topic3}/drains`, { count: 1, force: true, drainId: 'forced-3' });
    expect(forced.status).toBe(202);
    expect((await ledgerOf(cp).ledger(topicPartition(topic3)))!.reservations.map((r) => r.drainId)).toEqual(['forced-3']);
  });

  it('answers 503 Unavailable with Retry-After when the ledger cannot take one more reservation', async () => {
    const topic4 = 'race-4';
    expect((await cp.api('PUT', `topics/${topic4}`)).status).toBe(201);
    await sendPresence(cp.sb, [presenceReport(topic4, 'g-1', { heartbeatSeconds: 3_600 })]);
    await waitFor(async () => (await cp.api('GET', `topics/${topic4}/nodes`)).body?.nodes?.length === 1, 'the node in the inventory');
    expect((await cp.api('PUT', `topics/${topic4}/policy`, { maxUnavailable: 1_000 })).status).toBe(200);
    const store = ledgerOf(cp);
    const ledger = (await store.ledger(topicPartition(topic4)))!;
    const until = new Date(Date.now() + 60_000).toISOString();
    const full = Array.from({ length: MAX_RESERVATIONS }, (_, i) => ({ drainId: `starting-${i}`, nodes: 1, until }));
    expect(await store.writeReservations(topicPartition(topic4), ledger.etag, full)).toBe(true);
    const res = await fetch(`${cp.host.url}/api/topics/${topic4}/drains`, { method: 'POST', headers: { 'x-functions-key': FUNCTION_KEY }, body: JSON.stringify({ count: 1, drainId: 'one-too-many' }) });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(await res.json()).toMatchObject({ code: 'Unavailable', detail: expect.stringContaining(`${MAX_RESERVATIONS} drains admitted`) });
    expect((await cp.api('GET', 'drains/one-too-many')).status).toBe(404);
  });
});
