// The SQLite store (better-sqlite3). Message changes are staged and written in one transaction
// per event-loop turn; `afterCommit` callbacks run once that transaction has committed, which is
// when the AMQP layer settles transfers and answers dispositions.
//
// Durability: WAL journal with synchronous=NORMAL. A commit is in the WAL file (the OS page
// cache) before any callback runs, so killing the process loses nothing that was acknowledged.
// A power loss or OS crash can lose the transactions since the last WAL checkpoint's fsync; the
// database itself stays consistent. See README "Durability".
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { invalidConfiguration } from '../errors.js';
import type { Logger } from '../log.js';
import type { EntityRecord, MessageRecord, MessageStore, StoreSnapshot } from './store.js';

export const DATABASE_FILE = 'servicebus.db';
const SCHEMA_VERSION = 1;

type Op = () => void;

export class SqliteStore implements MessageStore {
  readonly persistent = true;
  readonly path: string;
  private readonly db: Database.Database;
  private readonly stmt: ReturnType<SqliteStore['prepare']>;
  private staged: Op[] = [];
  private waiting: Array<(error?: Error) => void> = [];
  private scheduled = false;
  private closed = false;

  constructor(
    dataDir: string,
    private readonly logger: Logger,
  ) {
    mkdirSync(dataDir, { recursive: true });
    this.path = join(dataDir, DATABASE_FILE);
    // A short busy timeout: the only contention is another process holding the exclusive lock.
    this.db = new Database(this.path, { timeout: 200 });
    try {
      // Exclusive locking: a second emulator on the same directory fails at start instead of
      // sharing (and corrupting) the state. The OS releases the lock when a process dies.
      this.db.pragma('locking_mode = EXCLUSIVE');
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.migrate();
    } catch (e) {
      this.db.close();
      if (String(e).includes('locked') || String(e).includes('busy')) {
        throw invalidConfiguration(`The data directory ${dataDir} is in use by another emulator process; stop it or choose another --data directory.`);
      }
      throw e;
    }
    this.stmt = this.prepare();
  }

  private migrate(): void {
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS entities (key TEXT PRIMARY KEY, record TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS sequences (entity TEXT PRIMARY KEY, seq INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS message_ids (
        entity TEXT NOT NULL, message_id TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (entity, message_id)
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS session_states (
        subqueue TEXT NOT NULL, session_id TEXT NOT NULL, state BLOB NOT NULL, PRIMARY KEY (subqueue, session_id)
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS messages (
        subqueue TEXT NOT NULL,
        seq INTEGER NOT NULL,
        raw BLOB NOT NULL,
        state TEXT NOT NULL,
        enqueued_at INTEGER NOT NULL,
        scheduled_at INTEGER,
        expires_at INTEGER,
        delivery_count INTEGER NOT NULL,
        dead_letter_source TEXT,
        PRIMARY KEY (subqueue, seq)
      ) WITHOUT ROWID;
    `);
    const row = this.db.prepare(`SELECT value FROM meta WHERE key = 'schema'`).get() as { value: string } | undefined;
    if (!row) this.db.prepare(`INSERT INTO meta (key, value) VALUES ('schema', ?)`).run(String(SCHEMA_VERSION));
    else if (Number(row.value) !== SCHEMA_VERSION) {
      throw invalidConfiguration(`${this.path} has schema version ${row.value}; this emulator reads version ${SCHEMA_VERSION}. Use another --data directory.`);
    }
  }

  private prepare() {
    const db = this.db;
    return {
      insert: db.prepare(
        `INSERT OR REPLACE INTO messages (subqueue, seq, raw, state, enqueued_at, scheduled_at, expires_at, delivery_count, dead_letter_source)
         VALUES (@subqueue, @seq, @raw, @state, @enqueuedAt, @scheduledAt, @expiresAt, @deliveryCount, @deadLetterSource)`,
      ),
      remove: db.prepare(`DELETE FROM messages WHERE subqueue = ? AND seq = ?`),
      removeSubqueue: db.prepare(`DELETE FROM messages WHERE subqueue = ?`),
      sequence: db.prepare(`INSERT INTO sequences (entity, seq) VALUES (?, ?) ON CONFLICT(entity) DO UPDATE SET seq = excluded.seq`),
      removeSequence: db.prepare(`DELETE FROM sequences WHERE entity = ?`),
      rememberId: db.prepare(`INSERT OR REPLACE INTO message_ids (entity, message_id, at) VALUES (?, ?, ?)`),
      forgetIds: db.prepare(`DELETE FROM message_ids WHERE entity = ? AND at < ?`),
      removeIds: db.prepare(`DELETE FROM message_ids WHERE entity = ?`),
      setState: db.prepare(
        `INSERT INTO session_states (subqueue, session_id, state) VALUES (?, ?, ?)
         ON CONFLICT(subqueue, session_id) DO UPDATE SET state = excluded.state`,
      ),
      clearState: db.prepare(`DELETE FROM session_states WHERE subqueue = ? AND session_id = ?`),
      removeStates: db.prepare(`DELETE FROM session_states WHERE subqueue = ?`),
      saveEntity: db.prepare(`INSERT INTO entities (key, record) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET record = excluded.record`),
      removeEntity: db.prepare(`DELETE FROM entities WHERE key = ?`),
    };
  }

  load(): StoreSnapshot {
    const entities = (this.db.prepare(`SELECT record FROM entities`).all() as Array<{ record: string }>).map(
      (r) => JSON.parse(r.record, reviveDates) as EntityRecord,
    );
    const messages = (
      this.db.prepare(`SELECT * FROM messages ORDER BY subqueue, seq`).all() as Array<{
        subqueue: string;
        seq: number;
        raw: Buffer;
        state: MessageRecord['state'];
        enqueued_at: number;
        scheduled_at: number | null;
        expires_at: number | null;
        delivery_count: number;
        dead_letter_source: string | null;
      }>
    ).map(
      (r): MessageRecord => ({
        subqueue: r.subqueue,
        seq: r.seq,
        raw: r.raw,
        state: r.state,
        enqueuedAt: r.enqueued_at,
        scheduledAt: r.scheduled_at ?? undefined,
        expiresAt: r.expires_at ?? Infinity,
        deliveryCount: r.delivery_count,
        deadLetterSource: r.dead_letter_source ?? undefined,
      }),
    );
    const sequences = new Map(
      (this.db.prepare(`SELECT entity, seq FROM sequences`).all() as Array<{ entity: string; seq: number }>).map((r) => [r.entity, r.seq]),
    );
    const messageIds = (
      this.db.prepare(`SELECT entity, message_id, at FROM message_ids ORDER BY at`).all() as Array<{ entity: string; message_id: string; at: number }>
    ).map((r) => ({ entity: r.entity, messageId: r.message_id, at: r.at }));
    const sessionStates = (
      this.db.prepare(`SELECT subqueue, session_id, state FROM session_states`).all() as Array<{ subqueue: string; session_id: string; state: Buffer }>
    ).map((r) => ({ subqueue: r.subqueue, sessionId: r.session_id, state: r.state }));
    return { entities, messages, sequences, messageIds, sessionStates };
  }

  saveEntity(record: EntityRecord): void {
    this.flush();
    this.stmt.saveEntity.run(entityKey(record), JSON.stringify(record, keepDates));
  }

  deleteEntity(record: Pick<EntityRecord, 'kind' | 'name'> & { topicName?: string }, subqueues: string[]): void {
    this.flush();
    this.db.transaction(() => {
      this.stmt.removeEntity.run(entityKey(record));
      for (const sq of subqueues) {
        this.stmt.removeSubqueue.run(sq);
        this.stmt.removeStates.run(sq);
      }
      if (record.kind !== 'subscription') {
        this.stmt.removeSequence.run(record.name.toLowerCase());
        this.stmt.removeIds.run(record.name.toLowerCase());
      }
    })();
  }

  insertMessage(record: MessageRecord): void {
    const row = toRow(record);
    this.stage(() => this.stmt.insert.run(row));
  }

  updateMessage(record: MessageRecord, previousSubqueue?: string): void {
    const row = toRow(record);
    this.stage(() => {
      if (previousSubqueue && previousSubqueue !== record.subqueue) this.stmt.remove.run(previousSubqueue, record.seq);
      this.stmt.insert.run(row);
    });
  }

  deleteMessage(subqueue: string, seq: number): void {
    this.stage(() => this.stmt.remove.run(subqueue, seq));
  }

  setSequence(entityKey: string, seq: number): void {
    this.stage(() => this.stmt.sequence.run(entityKey, seq));
  }

  rememberMessageId(entityKey: string, messageId: string, at: number): void {
    this.stage(() => this.stmt.rememberId.run(entityKey, messageId, at));
  }

  forgetMessageIds(entityKey: string, before: number): void {
    this.stage(() => this.stmt.forgetIds.run(entityKey, before));
  }

  setSessionState(subqueue: string, sessionId: string, state: Buffer | undefined): void {
    this.stage(() => (state ? this.stmt.setState.run(subqueue, sessionId, state) : this.stmt.clearState.run(subqueue, sessionId)));
  }

  afterCommit(done: (error?: Error) => void): void {
    if (this.staged.length === 0 && !this.scheduled) {
      done();
      return;
    }
    this.waiting.push(done);
  }

  private stage(op: Op): void {
    if (this.closed) return;
    this.staged.push(op);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Writes everything staged in one transaction, then runs the waiting callbacks. */
  flush(): void {
    this.scheduled = false;
    const ops = this.staged;
    const waiting = this.waiting;
    this.staged = [];
    this.waiting = [];
    let error: Error | undefined;
    if (ops.length && !this.closed) {
      try {
        this.db.transaction(() => {
          for (const op of ops) op();
        })();
      } catch (e) {
        error = e instanceof Error ? e : new Error(String(e));
        this.logger.error('writing to the data directory failed', { path: this.path, error: error.message });
      }
    }
    for (const done of waiting) done(error);
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.db.close();
  }
}

function entityKey(r: Pick<EntityRecord, 'kind' | 'name'> & { topicName?: string }): string {
  return r.kind === 'subscription' ? `subscription:${r.topicName!.toLowerCase()}/${r.name.toLowerCase()}` : `${r.kind}:${r.name.toLowerCase()}`;
}

function toRow(r: MessageRecord) {
  return {
    subqueue: r.subqueue,
    seq: r.seq,
    raw: r.raw,
    state: r.state,
    enqueuedAt: r.enqueuedAt,
    scheduledAt: r.scheduledAt ?? null,
    expiresAt: Number.isFinite(r.expiresAt) ? r.expiresAt : null,
    deliveryCount: r.deliveryCount,
    deadLetterSource: r.deadLetterSource ?? null,
  };
}

/** Dates in entity records (timestamps in correlation filters) are stored as `{ "$date": ms }`. */
function keepDates(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const original = this[key];
  return original instanceof Date ? { $date: original.getTime() } : value;
}

function reviveDates(_key: string, value: unknown): unknown {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const keys = Object.keys(value);
    const ms = (value as { $date?: unknown }).$date;
    if (keys.length === 1 && typeof ms === 'number') return new Date(ms);
  }
  return value;
}
