// The safety budget's storage, beside the fleet inventory (docs/DESIGN.md "Drain orchestration",
// budget): a topic's policy in its `workforcetopics` row (column `maxUnavailable`, '' when
// none), its admission ledger in the same row (column `reservations`, JSON, written only with
// If-Match on the ETag the admission judged from), and the scheduled runs the budget skipped in
// `workforceskippedruns` (partition = the topic's partition key, row = the occurrence newest
// first and the schedule, so a re-fired occurrence writes the same row).

import { RestError, odata, type TableClient } from '@azure/data-tables';
import type { InventoryStorage } from '../config.js';
import { parseMaxUnavailable, type BudgetFigures, type TopicPolicy } from '../domain/budget.js';
import { parseReservations, type Reservation } from '../domain/reservations.js';
import { tableClient, TOPICS_TABLE } from './inventory-table.js';

export const SKIPPED_TABLE = 'workforceskippedruns';
/** Skipped runs shown per topic (the newest). */
export const SKIPPED_SHOWN = 20;
const TOPICS_PARTITION = 'topics';
const MAX_MS = 9_999_999_999_999;

export interface SkippedRun extends BudgetFigures {
  /** The occurrence that started no drain. */
  at: string;
  schedule: string;
  /** The drain id the occurrence would have had. */
  drainId: string;
  why: string;
}

export interface StoredPolicy extends TopicPolicy {
  updatedAt?: string;
}

/** A topic's row as an admission reads it: the policy, the reservations, and the ETag to write them back on. */
export interface Ledger {
  policy?: StoredPolicy;
  reservations: Reservation[];
  etag: string;
}

interface TopicRow {
  maxUnavailable?: string;
  policyUpdatedAt?: string;
  reservations?: string;
}

const isStatus = (err: unknown, status: number): boolean => err instanceof RestError && err.statusCode === status;

export class BudgetStore {
  readonly #topics: TableClient;
  readonly #skipped: TableClient;
  #ready: Promise<void> | undefined;

  constructor(storage: InventoryStorage) {
    this.#topics = tableClient(storage, TOPICS_TABLE);
    this.#skipped = tableClient(storage, SKIPPED_TABLE);
  }

  ready(): Promise<void> {
    this.#ready ??= Promise.all([this.#topics.createTable(), this.#skipped.createTable()]).then(
      () => undefined,
      (err: unknown) => {
        this.#ready = undefined;
        throw err;
      },
    );
    return this.#ready;
  }

  /** The topic's policy, or undefined when it has none. */
  async policy(partition: string): Promise<StoredPolicy | undefined> {
    await this.ready();
    try {
      const row = await this.#topics.getEntity<TopicRow>(TOPICS_PARTITION, partition);
      return policyOf(row.maxUnavailable, row.policyUpdatedAt);
    } catch (err) {
      if (isStatus(err, 404)) return undefined;
      throw err;
    }
  }

  /** The topic's policy and reservations with the row's ETag; undefined when the topic has no row. */
  async ledger(partition: string): Promise<Ledger | undefined> {
    await this.ready();
    try {
      const row = await this.#topics.getEntity<TopicRow>(TOPICS_PARTITION, partition);
      const policy = policyOf(row.maxUnavailable, row.policyUpdatedAt);
      return { ...(policy && { policy }), reservations: parseReservations(row.reservations), etag: row.etag };
    } catch (err) {
      if (isStatus(err, 404)) return undefined;
      throw err;
    }
  }

  /**
   * Writes the topic's reservations if its row is still as `etag` says (the admission's judgment
   * holds); false when another write came first (412): the admission starts over.
   */
  async writeReservations(partition: string, etag: string, reservations: readonly Reservation[]): Promise<boolean> {
    try {
      await this.#topics.updateEntity({ partitionKey: TOPICS_PARTITION, rowKey: partition, reservations: JSON.stringify(reservations) }, 'Merge', { etag });
      return true;
    } catch (err) {
      if (isStatus(err, 412)) return false;
      throw err;
    }
  }

  /** Every topic's policy and reservations, by partition key (the topics with a policy). */
  async policies(): Promise<Map<string, StoredPolicy & { reservations: Reservation[] }>> {
    await this.ready();
    const out = new Map<string, StoredPolicy & { reservations: Reservation[] }>();
    const rows = this.#topics.listEntities<TopicRow>({ queryOptions: { filter: odata`PartitionKey eq ${TOPICS_PARTITION}` } });
    for await (const row of rows) {
      const policy = policyOf(row.maxUnavailable, row.policyUpdatedAt);
      if (policy) out.set(row.rowKey!, { ...policy, reservations: parseReservations(row.reservations) });
    }
    return out;
  }

  /** Sets the policy; a topic the inventory does not know yet gets its row (named as given). */
  async setPolicy(partition: string, name: string, policy: TopicPolicy, now: Date): Promise<void> {
    await this.ready();
    const columns = { partitionKey: TOPICS_PARTITION, rowKey: partition, maxUnavailable: String(policy.maxUnavailable), policyUpdatedAt: now.toISOString() };
    try {
      await this.#topics.createEntity({ ...columns, name });
    } catch (err) {
      if (!isStatus(err, 409)) throw err;
      await this.#topics.updateEntity(columns, 'Merge');
    }
  }

  /** Removes the policy; false when there was none. */
  async clearPolicy(partition: string, now: Date): Promise<boolean> {
    if (!(await this.policy(partition))) return false;
    await this.#topics.updateEntity({ partitionKey: TOPICS_PARTITION, rowKey: partition, maxUnavailable: '', policyUpdatedAt: now.toISOString() }, 'Merge');
    return true;
  }

  async recordSkipped(partition: string, run: SkippedRun): Promise<void> {
    await this.ready();
    const rowKey = `${String(MAX_MS - Date.parse(run.at)).padStart(13, '0')}-${run.schedule}`;
    await this.#skipped.upsertEntity({ partitionKey: partition, rowKey, ...run, maxUnavailable: String(run.maxUnavailable) }, 'Replace');
  }

  /** The topic's newest skipped runs, newest first. */
  async skipped(partition: string, max = SKIPPED_SHOWN): Promise<SkippedRun[]> {
    await this.ready();
    const out: SkippedRun[] = [];
    const pages = this.#skipped.listEntities<SkippedRun & { maxUnavailable: string }>({ queryOptions: { filter: odata`PartitionKey eq ${partition}` } }).byPage({ maxPageSize: max });
    for await (const page of pages) {
      for (const e of page) {
        if (out.length >= max) break;
        const { at, schedule, drainId, why, online, unavailable, inFlight, reserved, requested, allowed, maxUnavailable } = e;
        // Rows written before the ledger have no `reserved`: none was counted.
        out.push({ at, schedule, drainId, why, online, unavailable, inFlight, reserved: reserved ?? 0, requested, allowed, maxUnavailable: policyOf(String(maxUnavailable))?.maxUnavailable ?? 0 });
      }
      if (out.length >= max) break;
    }
    return out;
  }
}

/** A stored `maxUnavailable` ("5", "20%", '' for none) as a policy. */
function policyOf(stored: string | undefined, updatedAt?: string): StoredPolicy | undefined {
  if (stored === undefined || stored === '') return undefined;
  const parsed = parseMaxUnavailable(/^\d+$/.test(stored) ? Number(stored) : stored);
  return parsed.ok ? { maxUnavailable: parsed.value, ...(updatedAt !== undefined && { updatedAt }) } : undefined;
}

const shared = new WeakMap<InventoryStorage, BudgetStore>();

export function budgetStore(storage: InventoryStorage): BudgetStore {
  let store = shared.get(storage);
  if (!store) shared.set(storage, (store = new BudgetStore(storage)));
  return store;
}
