// The task hub on SQLite: instances with their histories and engine state, each instance's
// inbox of messages (a visibility time is how durable timers wait), and the activity work
// queue. An orchestration episode commits in one transaction.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { HistoryEvent, RetryOptionsWire } from './history.js';

export type RuntimeStatus = 'Pending' | 'Running' | 'Completed' | 'ContinuedAsNew' | 'Failed' | 'Terminated' | 'Suspended';
export const TERMINAL: ReadonlySet<RuntimeStatus> = new Set(['Completed', 'Failed', 'Terminated']);

export interface RetryState {
  kind: 'activity' | 'suborchestration';
  name: string;
  input: string;
  options: RetryOptionsWire;
  attempt: number;
  firstAttemptAt: number;
  currentId: number;
  timerId?: number;
  /** A sub-orchestration retried under a caller-chosen instance id keeps it. */
  childInstanceId?: string;
}

/** Engine bookkeeping of one execution, persisted with the instance. */
export interface EngineState {
  nextSeq: number;
  actionsSeen: number;
  retries: Record<string, RetryState>;
  /** sequence id of each CreateTimer action, by action index, so cancellations find their timer */
  timers: Record<string, number>;
}

export interface InstanceRow {
  id: string;
  name: string;
  executionId: string;
  status: RuntimeStatus;
  input: string | null;
  output: string | null;
  customStatus: string | null;
  createdAt: number;
  updatedAt: number;
  parentId: string | null;
  parentTaskId: number | null;
  parentExecutionId: string | null;
  engine: EngineState;
}

export interface MessageRow {
  id: number;
  instanceId: string;
  executionId: string | null;
  visibleAt: number;
  event: HistoryEvent;
}

export interface WorkRow {
  id: number;
  instanceId: string;
  executionId: string;
  taskId: number;
  kind: 'activity' | 'http';
  name: string;
  input: string;
}

export function newEngineState(): EngineState {
  return { nextSeq: 0, actionsSeen: 0, retries: {}, timers: {} };
}

interface RawInstance {
  id: string;
  name: string;
  execution_id: string;
  status: RuntimeStatus;
  input: string | null;
  output: string | null;
  custom_status: string | null;
  created_at: number;
  updated_at: number;
  parent_id: string | null;
  parent_task_id: number | null;
  parent_execution_id: string | null;
  engine: string;
}

function toInstance(r: RawInstance): InstanceRow {
  return {
    id: r.id,
    name: r.name,
    executionId: r.execution_id,
    status: r.status,
    input: r.input,
    output: r.output,
    customStatus: r.custom_status,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    parentId: r.parent_id,
    parentTaskId: r.parent_task_id,
    parentExecutionId: r.parent_execution_id,
    engine: JSON.parse(r.engine) as EngineState,
  };
}

/**
 * Task hub storage on SQLite: instances, their histories, each instance's inbox of
 * messages (with a visibility time, which is how durable timers wait), and the activity
 * work queue. Every orchestration episode commits in one transaction.
 */
export class DurableStore {
  readonly db: Database.Database;
  readonly hub: string;

  constructor(dataDir: string | ':memory:', hub: string) {
    this.hub = hub;
    if (dataDir === ':memory:') this.db = new Database(':memory:');
    else {
      mkdirSync(dataDir, { recursive: true });
      this.db = new Database(path.join(dataDir, 'durable.sqlite'));
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
    }
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS instances (
        hub TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, execution_id TEXT NOT NULL, status TEXT NOT NULL,
        input TEXT, output TEXT, custom_status TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
        parent_id TEXT, parent_task_id INTEGER, parent_execution_id TEXT, engine TEXT NOT NULL,
        PRIMARY KEY (hub, id));
      CREATE TABLE IF NOT EXISTS history (
        hub TEXT NOT NULL, instance_id TEXT NOT NULL, seq INTEGER NOT NULL, event TEXT NOT NULL,
        PRIMARY KEY (hub, instance_id, seq));
      CREATE TABLE IF NOT EXISTS messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT, hub TEXT NOT NULL, instance_id TEXT NOT NULL, execution_id TEXT,
        visible_at INTEGER NOT NULL, event TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS messages_by_instance ON messages (hub, instance_id, visible_at);
      CREATE TABLE IF NOT EXISTS work (
        id INTEGER PRIMARY KEY AUTOINCREMENT, hub TEXT NOT NULL, instance_id TEXT NOT NULL, execution_id TEXT NOT NULL,
        task_id INTEGER NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL, input TEXT NOT NULL);
    `);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  getInstance(id: string): InstanceRow | undefined {
    const r = this.db.prepare('SELECT * FROM instances WHERE hub = ? AND id = ?').get(this.hub, id) as RawInstance | undefined;
    return r ? toInstance(r) : undefined;
  }

  listInstances(filter: { createdFrom?: number; createdTo?: number; statuses?: RuntimeStatus[] } = {}): InstanceRow[] {
    const rows = this.db.prepare('SELECT * FROM instances WHERE hub = ? ORDER BY created_at, id').all(this.hub) as RawInstance[];
    return rows.map(toInstance).filter(
      (i) =>
        (filter.createdFrom === undefined || i.createdAt >= filter.createdFrom) &&
        (filter.createdTo === undefined || i.createdAt <= filter.createdTo) &&
        (!filter.statuses?.length || filter.statuses.includes(i.status)),
    );
  }

  putInstance(i: InstanceRow): void {
    this.db
      .prepare(
        `INSERT INTO instances (hub, id, name, execution_id, status, input, output, custom_status, created_at, updated_at,
           parent_id, parent_task_id, parent_execution_id, engine)
         VALUES (@hub, @id, @name, @executionId, @status, @input, @output, @customStatus, @createdAt, @updatedAt,
           @parentId, @parentTaskId, @parentExecutionId, @engine)
         ON CONFLICT (hub, id) DO UPDATE SET name = excluded.name, execution_id = excluded.execution_id,
           status = excluded.status, input = excluded.input, output = excluded.output, custom_status = excluded.custom_status,
           created_at = excluded.created_at, updated_at = excluded.updated_at, parent_id = excluded.parent_id,
           parent_task_id = excluded.parent_task_id, parent_execution_id = excluded.parent_execution_id, engine = excluded.engine`,
      )
      .run({ ...i, hub: this.hub, engine: JSON.stringify(i.engine) });
  }

  getHistory(id: string): HistoryEvent[] {
    const rows = this.db.prepare('SELECT event FROM history WHERE hub = ? AND instance_id = ? ORDER BY seq').all(this.hub, id) as {
      event: string;
    }[];
    return rows.map((r) => JSON.parse(r.event) as HistoryEvent);
  }

  appendHistory(id: string, from: number, events: HistoryEvent[]): void {
    const stmt = this.db.prepare('INSERT INTO history (hub, instance_id, seq, event) VALUES (?, ?, ?, ?)');
    events.forEach((e, i) => stmt.run(this.hub, id, from + i, JSON.stringify(e)));
  }

  clearHistory(id: string): void {
    this.db.prepare('DELETE FROM history WHERE hub = ? AND instance_id = ?').run(this.hub, id);
  }

  addMessage(instanceId: string, executionId: string | null, visibleAt: number, event: HistoryEvent): number {
    const r = this.db
      .prepare('INSERT INTO messages (hub, instance_id, execution_id, visible_at, event) VALUES (?, ?, ?, ?, ?)')
      .run(this.hub, instanceId, executionId, visibleAt, JSON.stringify(event));
    return Number(r.lastInsertRowid);
  }

  messages(instanceId: string): MessageRow[] {
    const rows = this.db
      .prepare('SELECT * FROM messages WHERE hub = ? AND instance_id = ? ORDER BY id')
      .all(this.hub, instanceId) as { id: number; instance_id: string; execution_id: string | null; visible_at: number; event: string }[];
    return rows.map((r) => ({
      id: r.id,
      instanceId: r.instance_id,
      executionId: r.execution_id,
      visibleAt: r.visible_at,
      event: JSON.parse(r.event) as HistoryEvent,
    }));
  }

  /** Every (instance, visibility time) with a pending message: due ones to run, future ones (timers) to arm. */
  allMessageTimes(): { instanceId: string; visibleAt: number }[] {
    return this.db.prepare('SELECT DISTINCT instance_id AS instanceId, visible_at AS visibleAt FROM messages WHERE hub = ?').all(this.hub) as {
      instanceId: string;
      visibleAt: number;
    }[];
  }

  deleteMessages(ids: number[]): void {
    const stmt = this.db.prepare('DELETE FROM messages WHERE id = ?');
    for (const id of ids) stmt.run(id);
  }

  deleteTimerMessage(instanceId: string, executionId: string, timerId: number): void {
    for (const m of this.messages(instanceId)) {
      if (m.executionId === executionId && m.event.EventType === 11 && m.event.TimerId === timerId) this.deleteMessages([m.id]);
    }
  }

  addWork(w: Omit<WorkRow, 'id'>): number {
    const r = this.db
      .prepare('INSERT INTO work (hub, instance_id, execution_id, task_id, kind, name, input) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(this.hub, w.instanceId, w.executionId, w.taskId, w.kind, w.name, w.input);
    return Number(r.lastInsertRowid);
  }

  allWork(): WorkRow[] {
    const rows = this.db.prepare('SELECT * FROM work WHERE hub = ? ORDER BY id').all(this.hub) as {
      id: number;
      instance_id: string;
      execution_id: string;
      task_id: number;
      kind: 'activity' | 'http';
      name: string;
      input: string;
    }[];
    return rows.map((r) => ({
      id: r.id,
      instanceId: r.instance_id,
      executionId: r.execution_id,
      taskId: r.task_id,
      kind: r.kind,
      name: r.name,
      input: r.input,
    }));
  }

  deleteWork(id: number): void {
    this.db.prepare('DELETE FROM work WHERE id = ?').run(id);
  }

  /** Removes an instance and everything it owns. */
  purge(id: string): boolean {
    const r = this.db.prepare('DELETE FROM instances WHERE hub = ? AND id = ?').run(this.hub, id);
    this.db.prepare('DELETE FROM history WHERE hub = ? AND instance_id = ?').run(this.hub, id);
    this.db.prepare('DELETE FROM messages WHERE hub = ? AND instance_id = ?').run(this.hub, id);
    this.db.prepare('DELETE FROM work WHERE hub = ? AND instance_id = ?').run(this.hub, id);
    return r.changes > 0;
  }

  deleteWorkOf(id: string): void {
    this.db.prepare('DELETE FROM work WHERE hub = ? AND instance_id = ?').run(this.hub, id);
  }
}
