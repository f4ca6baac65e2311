// The local Durable Task engine: instances, their messages and their episodes. Client
// operations (start, raise an event, terminate, purge) become messages; each instance runs one
// episode at a time (`schedule`), replays its orchestrator (replay.ts) and commits the result
// (actions.ts) in one store transaction; activities run beside it (activities.ts).

import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import { HostError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { RpcInvocationResponse, RpcParameterBinding } from '../worker/protocol.js';
import { ActivityRunner } from './activities.js';
import { createInstance, EpisodeCommit } from './actions.js';
import { iso } from './events.js';
import { EventType, type HistoryEvent } from './history.js';
import { replay, type ReplayResult } from './replay.js';
import { retryFor } from './retry.js';
import { DurableStore, newEngineState, TERMINAL, type InstanceRow, type MessageRow } from './store.js';

/** What the engine needs from the host: the app's durable functions and a way to invoke them. */
export interface DurableFunctionSet {
  orchestrators: ReadonlyMap<string, { name: string; triggerName: string }>;
  activities: ReadonlyMap<string, { name: string; triggerName: string }>;
  invoke(functionName: string, inputData: RpcParameterBinding[]): Promise<RpcInvocationResponse>;
}

export interface DurableEngineOptions {
  store: DurableStore;
  clock: Clock;
  functions: DurableFunctionSet;
  logger: Logger;
  maxConcurrentActivities: number;
}

/**
 * A Durable Task engine for the durable-functions replay protocol. Each orchestration
 * episode takes the instance's visible messages, appends them to its history, replays the
 * orchestrator function (which answers with the full list of actions it has scheduled), turns
 * the actions it had not seen into work (activities, timers, sub-orchestrations), and commits
 * all of it in one SQLite transaction. Work items and messages outlive the process, so a
 * restarted host picks up where it stopped.
 */
export class DurableEngine {
  readonly store: DurableStore;
  #clock: Clock;
  #fns: DurableFunctionSet;
  #logger: Logger;
  #activities: ActivityRunner;
  #commit: EpisodeCommit;
  #running = new Map<string, Promise<void>>();
  #dirty = new Set<string>();
  /** Clock timers armed per instance, by visibility time. */
  #armed = new Map<string, Map<number, () => void>>();
  #stopped = false;

  constructor(opts: DurableEngineOptions) {
    this.store = opts.store;
    this.#clock = opts.clock;
    this.#fns = opts.functions;
    this.#logger = opts.logger;
    this.#activities = new ActivityRunner({
      store: opts.store,
      clock: opts.clock,
      activities: opts.functions.activities,
      invoke: (name, data) => opts.functions.invoke(name, data),
      logger: opts.logger,
      maxConcurrent: opts.maxConcurrentActivities,
      onResult: (id) => this.schedule(id),
    });
    this.#commit = new EpisodeCommit({
      store: opts.store,
      orchestrators: opts.functions.orchestrators,
      schedule: (id) => this.schedule(id),
      arm: (id, at) => this.#arm(id, at),
      kickWork: () => this.kickWork(),
    });
  }

  /** Picks up persisted state: arms timers, resumes instances with messages, re-queues activities. */
  kick(): void {
    if (this.#stopped) return;
    const now = this.#clock.now();
    for (const { instanceId, visibleAt } of this.store.allMessageTimes()) {
      if (visibleAt <= now) this.schedule(instanceId);
      else this.#arm(instanceId, visibleAt);
    }
    this.kickWork();
  }

  /** Runs the stored work items (activities, HTTP calls) that are not running yet. */
  kickWork(): void {
    if (!this.#stopped) this.#activities.kick();
  }

  /** Stops taking work; in-flight episodes finish or are abandoned uncommitted (and replayed after a restart). */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const timers of this.#armed.values()) for (const cancel of timers.values()) cancel();
    this.#armed.clear();
    this.#activities.stop();
    await Promise.allSettled([...this.#running.values()]);
  }

  // ---- client operations -------------------------------------------------------------

  startNew(name: string, instanceId: string | undefined, inputJson: string | undefined): InstanceRow {
    const fn = this.#fns.orchestrators.get(name.toLowerCase());
    if (!fn) {
      throw new HostError(
        'OrchestratorNotFound',
        `The function '${name}' doesn't exist, is disabled, or is not an orchestrator function.`,
        400,
      );
    }
    const id = instanceId ?? randomUUID().replace(/-/g, '');
    const now = this.#clock.now();
    const row = this.store.transaction(() => {
      const existing = this.store.getInstance(id);
      if (existing && !TERMINAL.has(existing.status)) {
        throw new HostError('InstanceExists', `An instance with ID '${id}' already exists and is ${existing.status}.`, 409);
      }
      if (existing) this.store.purge(id);
      const instance: InstanceRow = {
        id,
        name: fn.name,
        executionId: randomUUID().replace(/-/g, ''),
        status: 'Pending',
        input: inputJson === undefined || inputJson === '' ? null : inputJson,
        output: null,
        customStatus: null,
        createdAt: now,
        updatedAt: now,
        parentId: null,
        parentTaskId: null,
        parentExecutionId: null,
        engine: newEngineState(),
      };
      createInstance(this.store, instance, now);
      return instance;
    });
    this.schedule(id);
    return row;
  }

  raiseEvent(id: string, eventName: string, inputJson: string | undefined): 'accepted' | 'notFound' | 'gone' {
    const now = this.#clock.now();
    const result = this.store.transaction(() => {
      const inst = this.store.getInstance(id);
      if (!inst) return 'notFound' as const;
      if (TERMINAL.has(inst.status)) return 'gone' as const;
      this.store.addMessage(id, null, now, {
        EventType: EventType.EventRaised,
        EventId: -1,
        Timestamp: iso(now),
        Name: eventName,
        Input: inputJson === undefined || inputJson === '' ? undefined : inputJson,
      });
      return 'accepted' as const;
    });
    if (result === 'accepted') this.schedule(id);
    return result;
  }

  /** Terminate, suspend and resume are messages too, so they serialize with the instance's episodes. */
  control(id: string, kind: 'terminate' | 'suspend' | 'resume', reason: string): 'accepted' | 'notFound' | 'gone' {
    const now = this.#clock.now();
    const type =
      kind === 'terminate' ? EventType.ExecutionTerminated : kind === 'suspend' ? EventType.ExecutionSuspended : EventType.ExecutionResumed;
    const result = this.store.transaction(() => {
      const inst = this.store.getInstance(id);
      if (!inst) return 'notFound' as const;
      if (TERMINAL.has(inst.status)) return 'gone' as const;
      this.store.addMessage(id, null, now, { EventType: type, EventId: -1, Timestamp: iso(now), Input: reason });
      return 'accepted' as const;
    });
    if (result === 'accepted') this.schedule(id);
    return result;
  }

  /** Purges terminal instances; returns how many were deleted. */
  purge(ids: string[]): number {
    return this.store.transaction(() => {
      let n = 0;
      for (const id of ids) {
        const inst = this.store.getInstance(id);
        if (inst && TERMINAL.has(inst.status) && this.store.purge(id)) n++;
      }
      return n;
    });
  }

  // ---- scheduling ----------------------------------------------------------------------

  schedule(id: string): void {
    if (this.#stopped) return;
    if (this.#running.has(id)) {
      this.#dirty.add(id);
      return;
    }
    this.#running.set(id, this.#loop(id));
  }

  async #loop(id: string): Promise<void> {
    // No await between the last dirty check and the delete: a schedule() in between would be lost.
    try {
      do {
        this.#dirty.delete(id);
        while (!this.#stopped && (await this.#episode(id))) {
          // a cut batch or messages that arrived meanwhile: go again
        }
      } while (this.#dirty.has(id) && !this.#stopped);
    } catch (err) {
      this.#logger.error(`Durable engine: instance ${id}: ${(err as Error).stack ?? String(err)}`);
    } finally {
      this.#running.delete(id);
    }
  }

  #arm(instanceId: string, at: number): void {
    if (this.#stopped) return;
    let timers = this.#armed.get(instanceId);
    if (!timers) this.#armed.set(instanceId, (timers = new Map()));
    if (timers.has(at)) return;
    const cancel = this.#clock.setTimer(at, () => {
      timers.delete(at);
      if (timers.size === 0) this.#armed.delete(instanceId);
      this.schedule(instanceId);
    });
    timers.set(at, cancel);
  }

  /** Cancels clock timers whose messages are gone (cancelled durable timers, finished instances). */
  #disarmStale(instanceId: string): void {
    const timers = this.#armed.get(instanceId);
    if (!timers) return;
    const times = new Set(this.store.messages(instanceId).map((m) => m.visibleAt));
    for (const [at, cancel] of timers) {
      if (!times.has(at)) {
        cancel();
        timers.delete(at);
      }
    }
    if (timers.size === 0) this.#armed.delete(instanceId);
  }

  // ---- episodes ------------------------------------------------------------------------

  /** Runs one episode; returns true when the instance has more to do right away. */
  async #episode(id: string): Promise<boolean> {
    const inst = this.store.getInstance(id);
    const now = this.#clock.now();
    const all = this.store.messages(id);
    if (!inst) {
      if (all.length) this.store.deleteMessages(all.map((m) => m.id));
      return false;
    }
    const visible = all.filter((m) => m.visibleAt <= now);
    if (visible.length === 0) return false;
    if (TERMINAL.has(inst.status)) {
      this.store.deleteMessages(visible.map((m) => m.id));
      return false;
    }

    const terminate = visible.find((m) => m.event.EventType === EventType.ExecutionTerminated);
    if (terminate) {
      this.#terminate(inst, terminate, now);
      return false;
    }

    // Suspend / resume, and messages of an execution that continued as new.
    const consumed: number[] = [];
    let status = inst.status;
    for (const m of visible) {
      if (m.event.EventType === EventType.ExecutionSuspended) {
        status = 'Suspended';
        consumed.push(m.id);
      } else if (m.event.EventType === EventType.ExecutionResumed) {
        if (status === 'Suspended') status = this.store.getHistory(id).length ? 'Running' : 'Pending';
        consumed.push(m.id);
      } else if (m.executionId !== null && m.executionId !== inst.executionId) consumed.push(m.id);
    }
    if (status !== inst.status || consumed.length) {
      this.store.transaction(() => {
        this.store.deleteMessages(consumed);
        this.store.putInstance({ ...inst, status, updatedAt: now });
      });
      inst.status = status;
    }
    if (status === 'Suspended') return false;

    const candidates = visible.filter((m) => !consumed.includes(m.id));
    const history = this.store.getHistory(id);
    const started = history.some((e) => e.EventType === EventType.ExecutionStarted);
    // ExecutionStarted goes first; the batch ends after the first event on which the library
    // allocates a sequence number itself, so that its numbering and ours stay in step.
    candidates.sort((a, b) => Number(b.event.EventType === EventType.ExecutionStarted) - Number(a.event.EventType === EventType.ExecutionStarted));
    if (!started && candidates[0]?.event.EventType !== EventType.ExecutionStarted) return false;
    const batch: MessageRow[] = [];
    for (const m of candidates) {
      batch.push(m);
      const retry = retryFor(inst.engine, m.event);
      if (retry && (retry.phase === 'failed' || (retry.phase === 'timer' && retry.r.attempt < retry.r.options.maxNumberOfAttempts))) break;
    }
    if (batch.length === 0) return false;

    const newEvents: HistoryEvent[] = [
      { EventType: EventType.OrchestratorStarted, EventId: -1, Timestamp: iso(now), IsPlayed: false },
      ...batch.map((m) => ({ ...m.event, IsPlayed: false })),
    ];
    let result: ReplayResult;
    try {
      result = await replay(this.#fns.orchestrators.get(inst.name.toLowerCase()), this.#fns.invoke.bind(this.#fns), inst, history, newEvents);
    } catch (err) {
      // The worker went away: nothing was committed, the episode runs again once it is back.
      this.#logger.warn(`Orchestration ${id} not run: ${(err as Error).message}`);
      return false;
    }
    if (this.#stopped) return false;

    const after: (() => void)[] = [];
    this.store.transaction(() => this.#commit.apply(inst, history.length, newEvents, batch, result.state, result.failure, now, after));
    for (const fn of after) fn();
    this.#disarmStale(id);
    return this.store.messages(id).some((m) => m.visibleAt <= this.#clock.now());
  }

  #terminate(inst: InstanceRow, message: MessageRow, now: number): void {
    const reason = message.event.Input ?? '';
    const after: (() => void)[] = [];
    this.store.transaction(() => {
      const history = this.store.getHistory(inst.id);
      inst.output = JSON.stringify(reason);
      this.#commit.finish(
        inst,
        inst.engine,
        'Terminated',
        history.length,
        [{ EventType: EventType.ExecutionTerminated, EventId: -1, Timestamp: iso(now), Input: reason }],
        now,
        after,
        `Sub-orchestration '${inst.id}' was terminated: ${reason}`,
      );
    });
    for (const fn of after) fn();
    this.#disarmStale(inst.id);
  }
}
