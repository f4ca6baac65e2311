import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BudgetStore } from '../../src/adapters/budget-table.js';
import { topicPartition } from '../../src/domain/node-inventory.js';
import { withReservation } from '../../src/domain/reservations.js';
import { scheduledDrainId } from '../../src/domain/schedule.js';
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

/** The next `hh:mm:ss` UTC after the manual clock's now. */
function nextAt(cp: ControlPlane, h: number, m: number, sec: number): Date {
  const now = new Date(cp.clock.now());
  const at = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), h, m, sec));
  if (at.getTime() <= now.getTime()) at.setUTCDate(at.getUTCDate() + 1);
  return at;
}

/** Scheduled occurrences and HTTP drains share the topic's admission ledger. */
describe('scheduled drains and the admission ledger', () => {
  const HELD = { name: 'held-bud', schedule: '0 0 23 * * *', topic: 'bud-2', count: 1, gracePeriod: '1h' };
  const FREE = { name: 'free-bud', schedule: '30 0 23 * * *', topic: 'bud-2', count: 1, gracePeriod: '1h' };
  let cp: ControlPlane;
  let store: BudgetStore;
  const partition = topicPartition('bud-2');
  beforeAll(async () => {
    cp = await startControlPlane({ schedules: [HELD, FREE] });
    store = new BudgetStore({ kind: 'connectionString', setting: 'AzureWebJobsStorage', connectionString: cp.storage });
    expect((await cp.api('PUT', 'topics/bud-2')).status).toBe(201);
    await sendPresence(cp.sb, ['c-1', 'c-2'].map((id) => presenceReport('bud-2', id, { heartbeatSeconds: 3_600 })));
    await waitFor(async () => (await cp.api('GET', 'topics/bud-2/nodes')).body?.nodes?.length === 2, 'two nodes in the inventory');
    expect((await cp.api('PUT', 'topics/bud-2/policy', { maxUnavailable: 1 })).status).toBe(200);
  }, 120_000);
  afterAll(async () => {
    await cp?.close();
  });

  it('an occurrence counts the reservation of a drain admitted and not started yet, and skips; one within the budget reserves', async () => {
    // An HTTP drain admitted a moment ago: its reservation is in the ledger, its drain not yet anywhere.
    const ledger = (await store.ledger(partition))!;
    expect(await store.writeReservations(partition, ledger.etag, withReservation(ledger.reservations, 'operator-1', 1, new Date())!)).toBe(true);
    const at23 = nextAt(cp, 23, 0, 0);
    await cp.clock.set(at23);
    const topic = await waitFor(async () => {
      const t = (await cp.api('GET', 'topics')).body.topics?.find((x: { name: string }) => x.name === 'bud-2');
      return t?.skippedRuns?.length > 0 && t;
    }, 'the skipped run recorded');
    expect(topic.skippedRuns).toEqual([{
      at: at23.toISOString(), schedule: 'held-bud', drainId: scheduledDrainId('held-bud', at23), why: expect.stringContaining('1 reserved'),
      online: 2, unavailable: 1, inFlight: 0, reserved: 1, requested: 1, allowed: 1, maxUnavailable: 1,
    }]);

    // The operator's start never happened; once its reservation is gone the next occurrence starts, reserving.
    const now = (await store.ledger(partition))!;
    expect(await store.writeReservations(partition, now.etag, [])).toBe(true);
    const at2330 = new Date(at23.getTime() + 30_000);
    await cp.clock.set(at2330);
    const drainId = scheduledDrainId('free-bud', at2330);
    await waitFor(async () => (await cp.api('GET', `drains/${drainId}`)).status === 200, 'the free occurrence started');
    expect((await store.ledger(partition))!.reservations).toEqual([expect.objectContaining({ drainId, nodes: 1 })]);
  });
});
