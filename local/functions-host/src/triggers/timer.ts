// Timer triggers on the host clock: each function's NCRONTAB or TimeSpan schedule, with its
// last and next occurrence persisted so a missed occurrence fires once, past due, at start-up.
import type Database from 'better-sqlite3';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { RpcInvocationResponse, RpcParameterBinding } from '../worker/protocol.js';
import { parseSchedule, type Schedule } from './ncrontab.js';

export interface TimerFunction {
  name: string;
  triggerName: string;
  schedule: Schedule;
  runOnStartup: boolean;
}

export type Invoke = (name: string, inputData: RpcParameterBinding[]) => Promise<RpcInvocationResponse>;

interface Status {
  last: number | null;
  next: number;
  lastUpdated: number;
}

/** The timer input the host gives the worker (the library camel-cases it into the `Timer` object). */
export function timerInput(isPastDue: boolean, status: Status | undefined): string {
  return JSON.stringify({
    Schedule: { AdjustForDST: true },
    ScheduleStatus: status
      ? {
          Last: new Date(status.last ?? status.lastUpdated).toISOString(),
          Next: new Date(status.next).toISOString(),
          LastUpdated: new Date(status.lastUpdated).toISOString(),
        }
      : null,
    IsPastDue: isPastDue,
  });
}

/**
 * Timer triggers driven by the host clock. Schedule status (last and next occurrence) is
 * persisted, so that an occurrence missed while the host was down fires once at start-up
 * with `isPastDue: true`, as the real host's schedule monitor does. Invocations of one
 * function never overlap; occurrences that pass while one runs are coalesced into one
 * past-due invocation.
 */
export class TimerTriggers {
  #clock: Clock;
  #invoke: Invoke;
  #logger: Logger;
  #db: Database.Database;
  #cancels = new Map<string, () => void>();
  #chains = new Map<string, Promise<void>>();
  #stopped = false;

  constructor(opts: { clock: Clock; invoke: Invoke; logger: Logger; db: Database.Database }) {
    this.#clock = opts.clock;
    this.#invoke = opts.invoke;
    this.#logger = opts.logger;
    this.#db = opts.db;
    this.#db.exec('CREATE TABLE IF NOT EXISTS timer_status (name TEXT PRIMARY KEY, expression TEXT NOT NULL, last INTEGER, next INTEGER NOT NULL, last_updated INTEGER NOT NULL)');
  }

  static parse(name: string, triggerName: string, schedule: string, runOnStartup: boolean): TimerFunction {
    return { name, triggerName, schedule: parseSchedule(schedule), runOnStartup };
  }

  #load(fn: TimerFunction): Status | undefined {
    const row = this.#db.prepare('SELECT * FROM timer_status WHERE name = ? AND expression = ?').get(fn.name, fn.schedule.expression) as
      | { last: number | null; next: number; last_updated: number }
      | undefined;
    return row ? { last: row.last, next: row.next, lastUpdated: row.last_updated } : undefined;
  }

  #save(fn: TimerFunction, s: Status): void {
    this.#db
      .prepare('INSERT OR REPLACE INTO timer_status (name, expression, last, next, last_updated) VALUES (?, ?, ?, ?, ?)')
      .run(fn.name, fn.schedule.expression, s.last, s.next, s.lastUpdated);
  }

  start(functions: readonly TimerFunction[]): void {
    const now = this.#clock.now();
    for (const fn of functions) {
      const saved = this.#load(fn);
      if (fn.runOnStartup) this.#run(fn, false, saved);
      if (saved && saved.next <= now) {
        const status = { last: saved.next, next: fn.schedule.next(now), lastUpdated: now };
        this.#save(fn, status);
        this.#run(fn, true, status);
        this.#arm(fn, status.next);
      } else {
        const next = saved?.next ?? fn.schedule.next(now);
        this.#save(fn, { last: saved?.last ?? null, next, lastUpdated: now });
        this.#arm(fn, next);
      }
      this.#logger.info(`Timer ${fn.name} (${fn.schedule.expression}): next at ${new Date(this.#load(fn)!.next).toISOString()}`);
    }
  }

  #arm(fn: TimerFunction, at: number): void {
    if (this.#stopped) return;
    this.#cancels.set(fn.name, this.#clock.setTimer(at, () => this.#fire(fn, at)));
  }

  #fire(fn: TimerFunction, occurrence: number): void {
    const now = this.#clock.now();
    const next = fn.schedule.next(now);
    // Missed more than this one occurrence (the clock jumped, or the host was busy): past due.
    const isPastDue = fn.schedule.next(occurrence) <= now;
    const status = { last: occurrence, next, lastUpdated: now };
    this.#save(fn, status);
    this.#run(fn, isPastDue, status);
    this.#arm(fn, next);
  }

  /** Manual run (POST /admin/functions/{name}). */
  runNow(fn: TimerFunction): Promise<void> {
    return this.#run(fn, false, this.#load(fn));
  }

  #run(fn: TimerFunction, isPastDue: boolean, status: Status | undefined): Promise<void> {
    const prev = this.#chains.get(fn.name) ?? Promise.resolve();
    const run = prev.then(async () => {
      if (this.#stopped) return;
      try {
        const res = await this.#invoke(fn.name, [{ name: fn.triggerName, data: { json: timerInput(isPastDue, status) } }]);
        if (res.result?.status !== 'success') {
          this.#logger.error(`Timer function ${fn.name} failed: ${res.result?.exception?.message ?? 'unknown error'}`);
        }
      } catch (err) {
        this.#logger.error(`Timer function ${fn.name} not run: ${(err as Error).message}`);
      }
    });
    this.#chains.set(fn.name, run);
    return run;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const cancel of this.#cancels.values()) cancel();
    this.#cancels.clear();
    await Promise.allSettled([...this.#chains.values()]);
  }
}
