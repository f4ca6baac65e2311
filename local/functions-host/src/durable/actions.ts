// Committing an episode: the actions the orchestrator scheduled since the last episode become
// history events and work (activities, timers, sub-orchestrations, HTTP calls), and the
// instance completes, fails or continues as new. Runs inside the episode's store transaction;
// what must happen after the commit (arm a clock timer, run an activity, schedule an instance)
// is pushed to `after`.

import { randomUUID } from 'node:crypto';
import { failureEvent, executionStartedEvent, iso } from './events.js';
import { ActionType, EventType, flattenActions, serializedInput, type Action, type HistoryEvent, type OrchestratorStateWire } from './history.js';
import { retryDelay, retryExpired, retryFor } from './retry.js';
import { newEngineState, TERMINAL, type DurableStore, type EngineState, type InstanceRow, type MessageRow, type RuntimeStatus } from './store.js';

type After = (() => void)[];

export interface EpisodeCommitOptions {
  store: DurableStore;
  orchestrators: ReadonlyMap<string, { name: string; triggerName: string }>;
  /** Give the instance an episode. */
  schedule(instanceId: string): void;
  /** Give the instance an episode at `at` (a durable timer). */
  arm(instanceId: string, at: number): void;
  /** Run the work items stored. */
  kickWork(): void;
}

/** Stores a new instance with its ExecutionStarted message. */
export function createInstance(store: DurableStore, instance: InstanceRow, now: number): void {
  store.putInstance(instance);
  store.addMessage(instance.id, null, now, executionStartedEvent(instance, now));
}

export class EpisodeCommit {
  #o: EpisodeCommitOptions;

  constructor(options: EpisodeCommitOptions) {
    this.#o = options;
  }

  /** Applies one episode: `batch` was consumed, `newEvents` were played, `state` is what the orchestrator answered. */
  apply(
    inst: InstanceRow,
    historyLength: number,
    newEvents: HistoryEvent[],
    batch: MessageRow[],
    state: OrchestratorStateWire | undefined,
    failure: string | undefined,
    now: number,
    after: After,
  ): void {
    const { store } = this.#o;
    const id = inst.id;
    const eng: EngineState = structuredClone(inst.engine);
    const append = [...newEvents];
    store.deleteMessages(batch.map((m) => m.id));
    if (state?.customStatus !== undefined) inst.customStatus = JSON.stringify(state.customStatus);

    let continueAsNew: Action | undefined;
    if (!failure && state) {
      const flat = flattenActions(state);
      // Timers the orchestrator has cancelled since they were scheduled never fire.
      flat.forEach((a, i) => {
        const timerId = eng.timers[i];
        if (a.actionType === ActionType.CreateTimer && a.isCanceled && timerId !== undefined) {
          store.deleteTimerMessage(id, inst.executionId, timerId);
          delete eng.timers[i];
        }
      });
      for (let i = eng.actionsSeen; i < flat.length && !failure; i++) {
        const a = flat[i]!;
        switch (a.actionType) {
          case ActionType.CallActivity:
          case ActionType.CallActivityWithRetry: {
            const taskId = eng.nextSeq++;
            const input = serializedInput(a.input);
            this.#scheduleActivity(inst, taskId, a.functionName ?? '', input, now, append, after);
            if (a.actionType === ActionType.CallActivityWithRetry && a.retryOptions) {
              eng.retries[taskId] = { kind: 'activity', name: a.functionName ?? '', input, options: a.retryOptions, attempt: 1, firstAttemptAt: now, currentId: taskId };
            }
            break;
          }
          case ActionType.CallSubOrchestrator:
          case ActionType.CallSubOrchestratorWithRetry: {
            const taskId = eng.nextSeq++;
            const input = a.input === undefined ? 'null' : JSON.stringify(a.input);
            failure = this.#scheduleSubOrchestration(inst, taskId, a.functionName ?? '', a.instanceId, input, now, append, after);
            if (a.actionType === ActionType.CallSubOrchestratorWithRetry && a.retryOptions) {
              eng.retries[taskId] = {
                kind: 'suborchestration', name: a.functionName ?? '', input, options: a.retryOptions, attempt: 1, firstAttemptAt: now, currentId: taskId,
                childInstanceId: a.instanceId,
              };
            }
            break;
          }
          case ActionType.CreateTimer: {
            const timerId = eng.nextSeq++;
            const fireAt = Date.parse(a.fireAt ?? '');
            append.push({ EventType: EventType.TimerCreated, EventId: timerId, Timestamp: iso(now), FireAt: iso(fireAt) });
            if (!a.isCanceled) {
              eng.timers[i] = timerId;
              this.#addTimer(inst, timerId, fireAt, after);
            }
            break;
          }
          case ActionType.CallHttp: {
            const taskId = eng.nextSeq++;
            append.push({ EventType: EventType.TaskScheduled, EventId: taskId, Timestamp: iso(now), Name: 'BuiltIn::HttpActivity' });
            store.addWork({ instanceId: id, executionId: inst.executionId, taskId, kind: 'http', name: 'BuiltIn::HttpActivity', input: JSON.stringify(a.httpRequest ?? {}) });
            after.push(() => this.#o.kickWork());
            break;
          }
          case ActionType.WaitForExternalEvent:
            break;
          case ActionType.ContinueAsNew:
            continueAsNew = a;
            break;
          default:
            failure = `Orchestrator function '${inst.name}' used an action this host does not support (action type ${a.actionType}: durable entities are not modelled)`;
        }
      }
      eng.actionsSeen = flat.length;
      if (!failure) this.#advanceRetry(inst, eng, batch.map((m) => m.event), now, append, after);
    }

    if (failure) {
      inst.output = JSON.stringify(failure);
      append.push(
        { EventType: EventType.OrchestratorCompleted, EventId: -1, Timestamp: iso(now) },
        { EventType: EventType.ExecutionCompleted, EventId: -1, Timestamp: iso(now), OrchestrationStatus: 'Failed', Result: inst.output },
      );
      this.finish(inst, eng, 'Failed', historyLength, append, now, after, failure);
    } else if (continueAsNew) {
      append.push({ EventType: EventType.ContinueAsNew, EventId: -1, Timestamp: iso(now), Result: serializedInput(continueAsNew.input) });
      this.#continueAsNew(inst, serializedInput(continueAsNew.input), now, after);
    } else if (state?.isDone) {
      inst.output = JSON.stringify(state.output ?? null);
      append.push(
        { EventType: EventType.OrchestratorCompleted, EventId: -1, Timestamp: iso(now) },
        { EventType: EventType.ExecutionCompleted, EventId: -1, Timestamp: iso(now), OrchestrationStatus: 'Completed', Result: inst.output },
      );
      this.finish(inst, eng, 'Completed', historyLength, append, now, after);
    } else {
      append.push({ EventType: EventType.OrchestratorCompleted, EventId: -1, Timestamp: iso(now) });
      store.appendHistory(id, historyLength, append);
      store.putInstance({ ...inst, status: 'Running', updatedAt: now, engine: eng });
    }
  }

  /** Ends the instance: history written, pending messages and work dropped, the parent told. */
  finish(inst: InstanceRow, eng: EngineState, status: RuntimeStatus, historyLength: number, append: HistoryEvent[], now: number, after: After, failure?: string): void {
    const { store } = this.#o;
    store.appendHistory(inst.id, historyLength, append);
    store.putInstance({ ...inst, status, updatedAt: now, engine: eng });
    store.deleteMessages(store.messages(inst.id).map((m) => m.id));
    store.deleteWorkOf(inst.id);
    this.#notifyParent(inst, status, now, after, failure);
  }

  #scheduleActivity(inst: InstanceRow, taskId: number, name: string, input: string, now: number, append: HistoryEvent[], after: After): void {
    append.push({ EventType: EventType.TaskScheduled, EventId: taskId, Timestamp: iso(now), Name: name, Input: input });
    this.#o.store.addWork({ instanceId: inst.id, executionId: inst.executionId, taskId, kind: 'activity', name, input });
    after.push(() => this.#o.kickWork());
  }

  /** Returns a failure message when the sub-orchestration cannot be created. */
  #scheduleSubOrchestration(
    inst: InstanceRow, taskId: number, name: string, childId: string | undefined, input: string, now: number, append: HistoryEvent[], after: After,
  ): string | undefined {
    const { store } = this.#o;
    const fn = this.#o.orchestrators.get(name.toLowerCase());
    const instanceId = childId || `${inst.id}:${taskId}`;
    append.push({ EventType: EventType.SubOrchestrationInstanceCreated, EventId: taskId, Timestamp: iso(now), Name: name, InstanceId: instanceId, Input: input });
    if (!fn) return `Orchestrator function '${inst.name}' failed: the sub-orchestrator '${name}' doesn't exist, is disabled, or is not an orchestrator function.`;
    const existing = store.getInstance(instanceId);
    if (existing && !TERMINAL.has(existing.status)) {
      return `Orchestrator function '${inst.name}' failed: a sub-orchestration with instance ID '${instanceId}' is already ${existing.status}.`;
    }
    if (existing) store.purge(instanceId);
    createInstance(
      store,
      {
        id: instanceId, name: fn.name, executionId: randomUUID().replace(/-/g, ''), status: 'Pending', input, output: null, customStatus: null,
        createdAt: now, updatedAt: now, parentId: inst.id, parentTaskId: taskId, parentExecutionId: inst.executionId, engine: newEngineState(),
      },
      now,
    );
    after.push(() => this.#o.schedule(instanceId));
    return undefined;
  }

  #addTimer(inst: InstanceRow, timerId: number, fireAt: number, after: After): void {
    this.#o.store.addMessage(inst.id, inst.executionId, fireAt, { EventType: EventType.TimerFired, EventId: -1, Timestamp: iso(fireAt), TimerId: timerId, FireAt: iso(fireAt) });
    after.push(() => this.#o.arm(inst.id, fireAt));
  }

  /**
   * Retries run in the engine, as in DurableTask.Core: after every failed attempt a timer
   * (the library waits for it even after the last attempt), then, while attempts remain, a
   * new attempt under a new sequence number.
   */
  #advanceRetry(inst: InstanceRow, eng: EngineState, events: HistoryEvent[], now: number, append: HistoryEvent[], after: After): void {
    const { store } = this.#o;
    // Only the batch's last event can need a new sequence number (the batch is cut there);
    // earlier ones can only end a retry (success, or the last attempt's timer).
    for (const e of events.slice(0, -1)) {
      const ended = retryFor(eng, e);
      if (ended) delete eng.retries[ended.key];
    }
    const last = events[events.length - 1];
    if (!last) return;
    const found = retryFor(eng, last);
    if (!found) return;
    const { key, r, phase } = found;
    if (phase === 'done') {
      delete eng.retries[key];
    } else if (phase === 'failed') {
      const timerId = eng.nextSeq++;
      const fireAt = now + (retryExpired(r, now) ? 0 : retryDelay(r.options, r.attempt));
      append.push({ EventType: EventType.TimerCreated, EventId: timerId, Timestamp: iso(now), FireAt: iso(fireAt) });
      r.timerId = timerId;
      this.#addTimer(inst, timerId, fireAt, after);
    } else if (r.attempt >= r.options.maxNumberOfAttempts) {
      delete eng.retries[key];
    } else {
      const taskId = eng.nextSeq++;
      r.attempt++;
      r.currentId = taskId;
      r.timerId = undefined;
      if (retryExpired(r, now)) {
        const type = r.kind === 'activity' ? EventType.TaskFailed : EventType.SubOrchestrationInstanceFailed;
        store.addMessage(inst.id, inst.executionId, now, failureEvent(r.kind === 'activity' ? 'Activity' : 'Orchestrator', r.name, new Error(`retry timeout of ${r.options.retryTimeoutInMilliseconds} ms expired`), taskId, now, type));
        after.push(() => this.#o.schedule(inst.id));
      } else if (r.kind === 'activity') {
        this.#scheduleActivity(inst, taskId, r.name, r.input, now, append, after);
      } else {
        const failure = this.#scheduleSubOrchestration(inst, taskId, r.name, r.childInstanceId, r.input, now, append, after);
        if (failure) {
          store.addMessage(inst.id, inst.executionId, now, failureEvent('Orchestrator', r.name, new Error(failure), taskId, now, EventType.SubOrchestrationInstanceFailed));
          after.push(() => this.#o.schedule(inst.id));
        }
      }
    }
  }

  #notifyParent(inst: InstanceRow, status: RuntimeStatus, now: number, after: After, failure?: string): void {
    if (!inst.parentId || inst.parentTaskId === null) return;
    const parentId = inst.parentId;
    const event: HistoryEvent =
      status === 'Completed'
        ? { EventType: EventType.SubOrchestrationInstanceCompleted, EventId: -1, Timestamp: iso(now), TaskScheduledId: inst.parentTaskId, Result: inst.output ?? 'null' }
        : {
            EventType: EventType.SubOrchestrationInstanceFailed, EventId: -1, Timestamp: iso(now), TaskScheduledId: inst.parentTaskId,
            Reason: failure ?? `Sub-orchestration '${inst.id}' was ${status.toLowerCase()}`, Details: '',
          };
    this.#o.store.addMessage(parentId, inst.parentExecutionId, now, event);
    after.push(() => this.#o.schedule(parentId));
  }

  #continueAsNew(inst: InstanceRow, input: string, now: number, after: After): void {
    const { store } = this.#o;
    store.clearHistory(inst.id);
    // Messages bound to the old execution (timers, results) go; raised events wait for the new one.
    for (const m of store.messages(inst.id)) if (m.executionId === inst.executionId) store.deleteMessages([m.id]);
    store.deleteWorkOf(inst.id);
    const next: InstanceRow = { ...inst, executionId: randomUUID().replace(/-/g, ''), status: 'ContinuedAsNew', input, output: null, updatedAt: now, engine: newEngineState() };
    createInstance(store, next, now);
    after.push(() => this.#o.schedule(inst.id));
  }
}
