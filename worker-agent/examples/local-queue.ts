// A task queue in a directory, for the example workers and the tests (the Python example
// speaks the same layout):
//   <dir>/pending/<taskId>.json   {"durationMs": 200}      enqueued
//   <dir>/running/<taskId>.json                             claimed (rename is atomic: one winner)
//   <dir>/done/<taskId>.json      {"workerId": …}           finished
//   <dir>/events.jsonl            one JSON object per line: what each worker did, and when
// `tasks.ts` queues tasks in it from the command line.

import { appendFileSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The queue the example workers and the `tasks` command use when none is given (the Python example too). */
export const DEFAULT_QUEUE_DIR = join(tmpdir(), 'workforce', 'queue');

export interface Task {
  taskId: string;
  durationMs: number;
}

export interface QueueEvent {
  event: string;
  workerId: string;
  taskId?: string;
  /** Wall clock, ms. */
  at: number;
  /** CLOCK_MONOTONIC in ns (process.hrtime / time.monotonic_ns): comparable across processes. */
  mono: string;
  [key: string]: unknown;
}

export class LocalQueue {
  constructor(readonly dir: string) {
    for (const sub of ['pending', 'running', 'done']) mkdirSync(join(dir, sub), { recursive: true });
  }

  enqueue(taskId: string, durationMs: number): void {
    const tmp = join(this.dir, `.${taskId}.tmp`);
    writeFileSync(tmp, JSON.stringify({ durationMs }));
    renameSync(tmp, join(this.dir, 'pending', `${taskId}.json`));
  }

  /** Claims the oldest pending task, or returns undefined when there is none. */
  claim(): Task | undefined {
    for (const name of readdirSync(join(this.dir, 'pending')).sort()) {
      const taskId = name.replace(/\.json$/, '');
      const running = join(this.dir, 'running', name);
      try {
        renameSync(join(this.dir, 'pending', name), running);
      } catch {
        continue; // another worker won it
      }
      const { durationMs } = JSON.parse(readFileSync(running, 'utf8')) as { durationMs: number };
      return { taskId, durationMs };
    }
    return undefined;
  }

  finish(task: Task, workerId: string): void {
    const done = join(this.dir, 'done', `${task.taskId}.json`);
    renameSync(join(this.dir, 'running', `${task.taskId}.json`), done);
    writeFileSync(done, JSON.stringify({ workerId, durationMs: task.durationMs }));
  }

  record(event: string, workerId: string, fields: Record<string, unknown> = {}): void {
    const line: QueueEvent = { event, workerId, at: Date.now(), mono: process.hrtime.bigint().toString(), ...fields };
    appendFileSync(join(this.dir, 'events.jsonl'), `${JSON.stringify(line)}\n`);
  }

  events(): QueueEvent[] {
    let text = '';
    try {
      text = readFileSync(join(this.dir, 'events.jsonl'), 'utf8');
    } catch {
      return [];
    }
    return text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as QueueEvent);
  }

  pending(): string[] {
    return readdirSync(join(this.dir, 'pending')).map((n) => n.replace(/\.json$/, ''));
  }

  running(): string[] {
    return readdirSync(join(this.dir, 'running')).map((n) => n.replace(/\.json$/, ''));
  }

  done(): string[] {
    return readdirSync(join(this.dir, 'done')).map((n) => n.replace(/\.json$/, ''));
  }
}
