// Thin adapter over @azure/data-tables for the fleet inventory (docs/DESIGN.md "Fleet inventory"):
// the node table (partition = topic, lower-cased; row = node id, escaped), the topics it knows,
// and a bounded record of the reports it refused. The tables are created when missing.
//
// Writes are conditional, so an older report never overwrites a newer row: each node's stored
// `lastReportAt` and ETag are read (or known from this process's last write), the fold drops
// what is no newer, and the row is created (fails if it appeared meanwhile) or merged with
// If-Match on that ETag (fails if it changed). A partition's operations go in transactions of at
// most 100; a transaction that fails on a conflict is read and folded again.

import { odata, RestError, TableClient, type TableEntity, type TableEntityResult, type TransactionAction } from '@azure/data-tables';
import { DefaultAzureCredential, ManagedIdentityCredential } from '@azure/identity';
import type { InventoryStorage } from '../config.js';
import { foldNode, type NodeReports, type NodeUpdate } from '../domain/node-inventory.js';
import type { NodeRow, Standing } from '../domain/node-view.js';

export const NODES_TABLE = 'workforcenodes';
export const TOPICS_TABLE = 'workforcetopics';
export const REJECTED_TABLE = 'workforcerejectedreports';
/** The rejected-reports table is a ring of this many rows (slot = sequence number mod this). */
export const REJECTED_SLOTS = 1000;
const TRANSACTION_MAX = 100;
const READ_CONCURRENCY = 16;
/** From this many unknown nodes of a partition in one batch, the partition is read whole, once. */
const SCAN_MIN = 50;
const CONFLICT_RETRIES = 3;
/** Known rows (ETag and lastReportAt) kept per process; beyond it the oldest are read again. */
const KNOWN_MAX = 100_000;
const TOPICS_PARTITION = 'topics';
const REJECTED_PARTITION = 'rejected';

interface Known {
  etag: string;
  lastReportAt?: string;
}

export interface RejectedReport {
  sequenceNumber: number;
  messageId: string;
  field: string;
  reason: string;
  /** The start of the body, as text. */
  excerpt: string;
}

export interface NodePage {
  rows: NodeRow[];
  continuationToken?: string;
}

export function tableClient(storage: InventoryStorage, table: string): TableClient {
  if (storage.kind === 'connectionString') {
    // Azurite (local) answers over http on loopback; the SDK sends a key over http only when told.
    const insecure = /TableEndpoint=http:\/\/(127\.0\.0\.1|localhost|\[::1\])[:/]/i.test(storage.connectionString) || /UseDevelopmentStorage=true/i.test(storage.connectionString);
    return TableClient.fromConnectionString(storage.connectionString, table, { allowInsecureConnection: insecure });
  }
  const credential = storage.clientId ? new ManagedIdentityCredential({ clientId: storage.clientId }) : new DefaultAzureCredential();
  return new TableClient(storage.tableServiceUri, table, credential);
}

const isStatus = (err: unknown, ...statuses: number[]): boolean => err instanceof RestError && statuses.includes(err.statusCode ?? 0);

/** Table Storage refused the request as malformed (400): in a query, the continuation it was given. */
export const isBadRequest = (err: unknown): boolean => isStatus(err, 400);

export class NodeInventory {
  readonly #nodes: TableClient;
  readonly #topics: TableClient;
  readonly #rejected: TableClient;
  #ready: Promise<void> | undefined;
  readonly #known = new Map<string, Known>();
  readonly #knownTopics = new Set<string>();
  /** Partitions read whole by this process: a node of theirs it does not know is taken as new. */
  readonly #scanned = new Set<string>();

  constructor(storage: InventoryStorage) {
    this.#nodes = tableClient(storage, NODES_TABLE);
    this.#topics = tableClient(storage, TOPICS_TABLE);
    this.#rejected = tableClient(storage, REJECTED_TABLE);
  }

  /** Creates the tables when missing (once per process; tried again after a failure). */
  ready(): Promise<void> {
    this.#ready ??= Promise.all([this.#nodes.createTable(), this.#topics.createTable(), this.#rejected.createTable()]).then(
      () => undefined,
      (err: unknown) => {
        this.#ready = undefined;
        throw err;
      },
    );
    return this.#ready;
  }

  /**
   * Writes the batch's nodes: how many rows were written, how many nodes had a row no older than
   * their reports, and the failures (a failed transaction loses its nodes until their next
   * heartbeat; the other transactions of the batch go on).
   */
  async apply(nodes: readonly NodeReports[]): Promise<{ written: number; unchanged: number; failed: Array<{ nodes: number; error: string }> }> {
    await this.ready();
    const byPartition = new Map<string, NodeReports[]>();
    for (const node of nodes) {
      const list = byPartition.get(node.partitionKey) ?? [];
      list.push(node);
      byPartition.set(node.partitionKey, list);
    }
    await this.#rememberTopics(nodes);
    let written = 0;
    let unchanged = 0;
    const failed: Array<{ nodes: number; error: string }> = [];
    for (const list of byPartition.values()) {
      for (let i = 0; i < list.length; i += TRANSACTION_MAX) {
        const chunk = list.slice(i, i + TRANSACTION_MAX);
        try {
          const n = await this.#writeChunk(chunk);
          written += n;
          unchanged += chunk.length - n;
        } catch (err) {
          for (const node of chunk) this.#known.delete(key(node));
          failed.push({ nodes: chunk.length, error: String((err as Error)?.message ?? err).split('\n')[0] || String((err as RestError).code ?? (err as RestError).statusCode) });
        }
      }
    }
    return { written, unchanged, failed };
  }

  async #writeChunk(chunk: NodeReports[]): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      await this.#readUnknown(chunk, attempt === 1);
      const actions: TransactionAction[] = [];
      const updates: NodeUpdate[] = [];
      for (const node of chunk) {
        const known = this.#known.get(key(node));
        const update = foldNode(node, known?.etag ? { ...(known.lastReportAt !== undefined && { lastReportAt: known.lastReportAt }) } : undefined);
        if (!update) continue;
        const entity = toEntity(update);
        actions.push(known?.etag ? ['update', entity, 'Merge', { etag: known.etag }] : ['create', entity]);
        updates.push(update);
      }
      if (actions.length === 0) return 0;
      try {
        const result = await this.#nodes.submitTransaction(actions);
        updates.forEach((u, i) => {
          const etag = result.subResponses[i]?.etag;
          if (etag) this.#remember(key(u), { etag, lastReportAt: u.lastReportAt });
          else this.#known.delete(key(u));
        });
        return updates.length;
      } catch (err) {
        // 409: a row was created meanwhile; 412: a row changed since read. Read them again.
        if (!isStatus(err, 409, 412) || attempt >= CONFLICT_RETRIES) throw err;
        for (const node of chunk) this.#known.delete(key(node));
      }
    }
  }

  /**
   * Reads `lastReportAt` and the ETag of the rows this process does not know: one by one, or (a
   * process's first batches of a large fleet) the whole partition in pages of 1,000, after which
   * a node not found is taken as new. Taken wrongly (another instance created it meanwhile), the
   * create fails with 409 and the retry reads it (`mayAssume` false).
   */
  async #readUnknown(chunk: NodeReports[], mayAssume: boolean): Promise<void> {
    let unknown = chunk.filter((n) => !this.#known.has(key(n)));
    const partition = chunk[0]?.partitionKey;
    if (mayAssume && partition !== undefined && unknown.length > 0) {
      if (unknown.length >= SCAN_MIN && !this.#scanned.has(partition)) {
        for await (const e of this.#nodes.listEntities<{ lastReportAt?: string }>({ queryOptions: { filter: odata`PartitionKey eq ${partition}`, select: ['RowKey', 'lastReportAt'] } })) {
          this.#remember(key({ partitionKey: partition, rowKey: e.rowKey! }), { etag: e.etag, ...(typeof e.lastReportAt === 'string' && { lastReportAt: e.lastReportAt }) });
        }
        this.#scanned.add(partition);
      }
      if (this.#scanned.has(partition)) {
        for (const n of unknown) if (!this.#known.has(key(n))) this.#remember(key(n), { etag: '' });
        unknown = [];
      }
    }
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < unknown.length) {
        const node = unknown[next++]!;
        try {
          const row = await this.#nodes.getEntity<{ lastReportAt?: string }>(node.partitionKey, node.rowKey, { queryOptions: { select: ['lastReportAt'] } });
          this.#remember(key(node), { etag: row.etag, ...(typeof row.lastReportAt === 'string' && { lastReportAt: row.lastReportAt }) });
        } catch (err) {
          if (!isStatus(err, 404)) throw err;
          this.#remember(key(node), { etag: '' });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, unknown.length) }, worker));
  }

  #remember(k: string, known: Known): void {
    this.#known.delete(k);
    this.#known.set(k, known);
    if (this.#known.size > KNOWN_MAX) this.#known.delete(this.#known.keys().next().value!);
  }

  async #rememberTopics(nodes: readonly NodeReports[]): Promise<void> {
    const fresh = new Map<string, string>();
    for (const n of nodes) if (!this.#knownTopics.has(n.partitionKey)) fresh.set(n.partitionKey, n.topic);
    if (fresh.size === 0) return;
    const actions: TransactionAction[] = [...fresh].map(([rowKey, name]) => ['upsert', { partitionKey: TOPICS_PARTITION, rowKey, name }, 'Merge']);
    for (let i = 0; i < actions.length; i += TRANSACTION_MAX) await this.#topics.submitTransaction(actions.slice(i, i + TRANSACTION_MAX));
    for (const k of fresh.keys()) this.#knownTopics.add(k);
  }

  /** Keeps refused reports in a ring of REJECTED_SLOTS rows: the newest replace the oldest. */
  async recordRejected(reports: readonly RejectedReport[]): Promise<void> {
    if (reports.length === 0) return;
    await this.ready();
    const slots = new Map<string, TransactionAction>();
    for (const r of reports) {
      const rowKey = String(((r.sequenceNumber % REJECTED_SLOTS) + REJECTED_SLOTS) % REJECTED_SLOTS).padStart(4, '0');
      slots.set(rowKey, ['upsert', { partitionKey: REJECTED_PARTITION, rowKey, at: new Date().toISOString(), sequenceNumber: String(r.sequenceNumber), messageId: r.messageId, field: r.field, reason: r.reason, excerpt: r.excerpt }, 'Replace']);
    }
    const actions = [...slots.values()];
    for (let i = 0; i < actions.length; i += TRANSACTION_MAX) await this.#rejected.submitTransaction(actions.slice(i, i + TRANSACTION_MAX));
  }

  /** The refused reports kept, newest first. */
  async listRejected(): Promise<Array<{ at: string; messageId: string; field: string; reason: string; excerpt: string }>> {
    await this.ready();
    const rows = [];
    for await (const e of this.#rejected.listEntities<{ at: string; messageId: string; field: string; reason: string; excerpt: string }>()) rows.push(e);
    return rows.sort((a, b) => b.at.localeCompare(a.at)).map(({ at, messageId, field, reason, excerpt }) => ({ at, messageId, field, reason, excerpt }));
  }

  /** Topic names the inventory knows (as first reported), by partition key. */
  async topics(): Promise<Map<string, string>> {
    await this.ready();
    const topics = new Map<string, string>();
    for await (const e of this.#topics.listEntities<{ name: string }>({ queryOptions: { filter: odata`PartitionKey eq ${TOPICS_PARTITION}` } })) topics.set(e.rowKey!, e.name);
    return topics;
  }

  /** Every node row of a topic, with the columns that say where it stands. */
  async *standings(partitionKey: string): AsyncIterable<NodeRow> {
    await this.ready();
    const select = ['nodeId', 'topic', 'state', 'presence', 'lastSeen', 'heartbeatSeconds'];
    for await (const e of this.#nodes.listEntities<NodeRow>({ queryOptions: { filter: odata`PartitionKey eq ${partitionKey}`, select } })) yield e;
  }

  /**
   * One page of a topic's nodes. The state filter goes to the table; whether a node is stale is
   * known only at read time (`keep`), so a page may hold fewer than `limit` nodes while a
   * continuation token follows.
   */
  async page(partitionKey: string, opts: { standing?: Standing; limit: number; continuationToken?: string; keep: (row: NodeRow) => boolean }): Promise<NodePage> {
    await this.ready();
    const filter = standingFilter(partitionKey, opts.standing);
    const pages = this.#nodes.listEntities<NodeRow>({ queryOptions: { filter } }).byPage({ maxPageSize: opts.limit, ...(opts.continuationToken && { continuationToken: opts.continuationToken }) });
    const { value } = await pages.next();
    const page = (value ?? []) as TableEntityResult<NodeRow>[] & { continuationToken?: string };
    return { rows: page.filter((r) => opts.keep(r)).map(fromEntity), ...(page.continuationToken && { continuationToken: page.continuationToken }) };
  }
}

function standingFilter(partitionKey: string, standing: Standing | undefined): string {
  const partition = odata`PartitionKey eq ${partitionKey}`;
  if (standing === undefined) return partition;
  if (standing === 'offline') return `${partition} and ${odata`presence eq ${'offline'}`}`;
  if (standing === 'stale') return `${partition} and ${odata`presence ne ${'offline'}`}`;
  return `${partition} and ${odata`state eq ${standing}`} and ${odata`presence ne ${'offline'}`}`;
}

const key = (n: { partitionKey: string; rowKey: string }): string => `${n.partitionKey}\u0000${n.rowKey}`;

function toEntity(u: NodeUpdate): TableEntity {
  const entity: TableEntity = { partitionKey: u.partitionKey, rowKey: u.rowKey };
  for (const [k, v] of Object.entries(u)) if (v !== undefined && k !== 'partitionKey' && k !== 'rowKey') entity[k] = v;
  return entity;
}

function fromEntity(e: TableEntityResult<NodeRow>): NodeRow {
  const { partitionKey: _p, rowKey: _r, etag: _e, timestamp: _t, ...row } = e as TableEntityResult<NodeRow> & { timestamp?: string };
  return row as NodeRow;
}

const shared = new WeakMap<InventoryStorage, NodeInventory>();

/** One inventory per storage setting in a worker process, so what it knows of rows is kept between batches. */
export function nodeInventory(storage: InventoryStorage): NodeInventory {
  let inventory = shared.get(storage);
  if (!inventory) shared.set(storage, (inventory = new NodeInventory(storage)));
  return inventory;
}
