// The Durable Task engine: runs orchestration episodes (replaying each orchestrator against its
// history and turning the new actions into activities, timers and sub-orchestrations), runs
// activities with their retry policies, and commits each step to the SQLite task hub, so that a
// restarted host carries on where it stopped.
import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import { HostError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { RpcInvocationResponse, RpcParameterBinding, RpcTypedData } from '../worker/protocol.js';
import {
  ActionType,
  EventType,
  flattenActions,
  parseJson,
  serializedInput,
  type Action,
  type HistoryEvent,
  type OrchestratorStateWire,
} from './history.js';
import { retryDelay, retryExpired } from './retry.js';
import {
  DurableStore,
  newEngineState,
  TERMINAL,
  type EngineState,
  type InstanceRow,
  type MessageRow,
  type RetryState,
  type RuntimeStatus,
  type WorkRow,
} from './store.js';

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

const OUT_OF_PROC_LABEL = '\n\n$OutOfProcData$:';
/** Replay schema V2: compound actions nested, timers and HTTP calls handled as single actions. */
const SCHEMA_VERSION = 1;

const iso = (ms: number): string => new Date(ms).toISOString();

/** The JSON text of a value returned by a function, as the extension serializes it. */
export function typedDataToJson(data: RpcTypedData | null | undefined): string {
  if (!data) return 'null';
  if (typeof data.json === 'string') return data.json;
  if (typeof data.string === 'string') return JSON.stringify(data.string);
  if (typeof data.int === 'number') return String(data.int);
  if (typeof data.double === 'number') return String(data.double);
  if (data.bytes) return JSON.stringify(Buffer.from(data.bytes).toString('base64'));
  return 'null';
}

/** An activity error becomes a TaskFailed; errors serialized by an exception-properties provider keep their details. */
function failureEvent(kind: string, name: string, res: RpcInvocationResponse | Error, taskId: number, now: number, type: number): HistoryEvent {
  const message = res instanceof Error ? res.message : (res.result?.exception?.message ?? 'unknown error');
  const stack = res instanceof Error ? res.stack : (res.result?.exception?.stackTrace ?? undefined);
  const event: HistoryEvent = {
    EventType: type,
    EventId: -1,
    Timestamp: iso(now),
    TaskScheduledId: taskId,
    Reason: `${kind} function '${name}' failed: ${message}`,
    Details: stack ?? '',
  };
  const details = parseJson(message);
  if (details && typeof details === 'object' && 'errorType' in details && 'errorMessage' in details) {
    const d = details as Record<string, unknown>;
    event.FailureDetails = {
      ErrorType: d.errorType,
      ErrorMessage: d.errorMessage,
      StackTrace: d.stackTrace,
      IsNonRetriable: d.isNonRetriable ?? false,
      Properties: d.properties,
    };
  }
  return event;
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
  #maxActivities: number;
  #running = new Map<string, Promise<void>>();
  #dirty = new Set<string>();
  /** Clock timers armed per instance, by visibility time. */
  #armed = new Map<string, Map<number, () => void>>();
  #activeWork = new Set<number>();
  #workQueue: WorkRow[] = [];
  #stopped = false;

  constructor(opts: DurableEngineOptions) {
    this.store = opts.store;
    this.#clock = opts.clock;
    this.#fns = opts.functions;
    this.#logger = opts.logger;
    this.#maxActivities = Math.max(1, opts.maxConcurrentActivities);
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

  /** Stops taking work; in-flight episodes finish or are abandoned uncommitted (and replayed after a restart). */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const timers of this.#armed.values()) for (const cancel of timers.values()) cancel();
    this.#armed.clear();
    this.#workQueue = [];
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
      this.#createInstance(instance, now);
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

  #createInstance(instance: InstanceRow, now: number): void {
    this.store.putInstance(instance);
    this.store.addMessage(instance.id, null, now, {
      EventType: EventType.ExecutionStarted,
      EventId: -1,
      Timestamp: iso(now),
      Name: instance.name,
      Input: instance.input ?? undefined,
      Version: '',
      OrchestrationInstance: { InstanceId: instance.id, ExecutionId: instance.executionId },
      ParentInstance: instance.parentId
        ? { OrchestrationInstance: { InstanceId: instance.parentId }, TaskScheduleId: instance.parentTaskId ?? -1 }
        : undefined,
    });
  }

  /** Is this event one after which the library allocates a sequence number of its own (retry bookkeeping)? */
  #retryFor(eng: EngineState, e: HistoryEvent): { key: string; r: RetryState; phase: 'failed' | 'timer' | 'done' } | undefined {
    for (const [key, r] of Object.entries(eng.retries)) {
      if ((e.EventType === EventType.TaskFailed || e.EventType === EventType.SubOrchestrationInstanceFailed) && e.TaskScheduledId === r.currentId) {
        return { key, r, phase: 'failed' };
      }
      if (e.EventType === EventType.TimerFired && e.TimerId === r.timerId) return { key, r, phase: 'timer' };
      if ((e.EventType === EventType.TaskCompleted || e.EventType === EventType.SubOrchestrationInstanceCompleted) && e.TaskScheduledId === r.currentId) {
        return { key, r, phase: 'done' };
      }
    }
    return undefined;
  }

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
      const retry = this.#retryFor(inst.engine, m.event);
      if (retry && (retry.phase === 'failed' || (retry.phase === 'timer' && retry.r.attempt < retry.r.options.maxNumberOfAttempts))) break;
    }
    if (batch.length === 0) return false;

    const orchestrator = this.#fns.orchestrators.get(inst.name.toLowerCase());
    const newEvents: HistoryEvent[] = [
      { EventType: EventType.OrchestratorStarted, EventId: -1, Timestamp: iso(now), IsPlayed: false },
      ...batch.map((m) => ({ ...m.event, IsPlayed: false })),
    ];
    let state: OrchestratorStateWire | undefined;
    let failure: string | undefined;
    if (!orchestrator) {
      failure = `The function '${inst.name}' doesn't exist, is disabled, or is not an orchestrator function.`;
    } else {
      const payload = {
        history: [...history.map((e) => ({ ...e, IsPlayed: true })), ...newEvents],
        input: parseJson(inst.input),
        instanceId: id,
        isReplaying: history.length > 0,
        parentInstanceId: inst.parentId ?? undefined,
        upperSchemaVersion: SCHEMA_VERSION,
        upperSchemaVersionNew: SCHEMA_VERSION,
        longRunningTimerIntervalDuration: '3.00:00:00',
        maximumShortTimerDuration: '6.00:00:00',
        defaultHttpAsyncRequestSleepTimeMillseconds: 30000,
      };
      let res: RpcInvocationResponse;
      try {
        res = await this.#fns.invoke(orchestrator.name, [{ name: orchestrator.triggerName, data: { string: JSON.stringify(payload) } }]);
      } catch (err) {
        // The worker went away: nothing was committed, the episode runs again once it is back.
        this.#logger.warn(`Orchestration ${id} not run: ${(err as Error).message}`);
        return false;
      }
      if (this.#stopped) return false;
      if (res.result?.status === 'success') {
        state = parseJson(res.returnValue?.json ?? res.returnValue?.string) as OrchestratorStateWire;
        if (!state || !Array.isArray(state.actions)) failure = `Orchestrator function '${inst.name}' did not return an orchestrator state`;
      } else {
        const message = res.result?.exception?.message ?? 'unknown error';
        const at = message.indexOf(OUT_OF_PROC_LABEL);
        if (at >= 0) state = parseJson(message.slice(at + OUT_OF_PROC_LABEL.length)) as OrchestratorStateWire;
        // The library puts the orchestrator's exception in the state it attaches, not in the message.
        failure = `Orchestrator function '${inst.name}' failed: ${state?.error ?? (at >= 0 ? message.slice(0, at) : message)}`;
      }
    }

    const after: (() => void)[] = [];
    this.store.transaction(() => this.#apply(inst, history.length, newEvents, batch, state, failure, now, after));
    for (const fn of after) fn();
    this.#disarmStale(id);
    return this.store.messages(id).some((m) => m.visibleAt <= this.#clock.now());
  }

  #apply(
    inst: InstanceRow,
    historyLength: number,
    newEvents: HistoryEvent[],
    batch: MessageRow[],
    state: OrchestratorStateWire | undefined,
    failure: string | undefined,
    now: number,
    after: (() => void)[],
  ): void {
    const id = inst.id;
    const eng: EngineState = structuredClone(inst.engine);
    const append = [...newEvents];
    this.store.deleteMessages(batch.map((m) => m.id));
    if (state?.customStatus !== undefined) inst.customStatus = JSON.stringify(state.customStatus);

    let continueAsNew: Action | undefined;
    if (!failure && state) {
      const flat = flattenActions(state);
      // Timers the orchestrator has cancelled since they were scheduled never fire.
      flat.forEach((a, i) => {
        const timerId = eng.timers[i];
        if (a.actionType === ActionType.CreateTimer && a.isCanceled && timerId !== undefined) {
          this.store.deleteTimerMessage(id, inst.executionId, timerId);
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
            this.store.addWork({ instanceId: id, executionId: inst.executionId, taskId, kind: 'http', name: 'BuiltIn::HttpActivity', input: JSON.stringify(a.httpRequest ?? {}) });
            after.push(() => this.kickWork());
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
      this.#finish(inst, eng, 'Failed', historyLength, append, now, after, failure);
    } else if (continueAsNew) {
      append.push({ EventType: EventType.ContinueAsNew, EventId: -1, Timestamp: iso(now), Result: serializedInput(continueAsNew.input) });
      this.#continueAsNew(inst, serializedInput(continueAsNew.input), now, after);
    } else if (state?.isDone) {
      inst.output = JSON.stringify(state.output ?? null);
      append.push(
        { EventType: EventType.OrchestratorCompleted, EventId: -1, Timestamp: iso(now) },
        { EventType: EventType.ExecutionCompleted, EventId: -1, Timestamp: iso(now), OrchestrationStatus: 'Completed', Result: inst.output },
      );
      this.#finish(inst, eng, 'Completed', historyLength, append, now, after);
    } else {
      append.push({ EventType: EventType.OrchestratorCompleted, EventId: -1, Timestamp: iso(now) });
      this.store.appendHistory(id, historyLength, append);
      this.store.putInstance({ ...inst, status: 'Running', updatedAt: now, engine: eng });
    }
  }

  #scheduleActivity(inst: InstanceRow, taskId: number, name: string, input: string, now: number, append: HistoryEvent[], after: (() => void)[]): void {
    append.push({ EventType: EventType.TaskScheduled, EventId: taskId, Timestamp: iso(now), Name: name, Input: input });
    this.store.addWork({ instanceId: inst.id, executionId: inst.executionId, taskId, kind: 'activity', name, input });
    after.push(() => this.kickWork());
  }

  /** Returns a failure message when the sub-orchestration cannot be created. */
  #scheduleSubOrchestration(
    inst: InstanceRow, taskId: number, name: string, childId: string | undefined, input: string, now: number, append: HistoryEvent[], after: (() => void)[],
  ): string | undefined {
    const fn = this.#fns.orchestrators.get(name.toLowerCase());
    const instanceId = childId || `${inst.id}:${taskId}`;
    append.push({ EventType: EventType.SubOrchestrationInstanceCreated, EventId: taskId, Timestamp: iso(now), Name: name, InstanceId: instanceId, Input: input });
    if (!fn) return `Orchestrator function '${inst.name}' failed: the sub-orchestrator '${name}' doesn't exist, is disabled, or is not an orchestrator function.`;
    const existing = this.store.getInstance(instanceId);
    if (existing && !TERMINAL.has(existing.status)) {
      return `Orchestrator function '${inst.name}' failed: a sub-orchestration with instance ID '${instanceId}' is already ${existing.status}.`;
    }
    if (existing) this.store.purge(instanceId);
    this.#createInstance(
      {
        id: instanceId, name: fn.name, executionId: randomUUID().replace(/-/g, ''), status: 'Pending', input, output: null, customStatus: null,
        createdAt: now, updatedAt: now, parentId: inst.id, parentTaskId: taskId, parentExecutionId: inst.executionId, engine: newEngineState(),
      },
      now,
    );
    after.push(() => this.schedule(instanceId));
    return undefined;
  }

  #addTimer(inst: InstanceRow, timerId: number, fireAt: number, after: (() => void)[]): void {
    this.store.addMessage(inst.id, inst.executionId, fireAt, { EventType: EventType.TimerFired, EventId: -1, Timestamp: iso(fireAt), TimerId: timerId, FireAt: iso(fireAt) });
    after.push(() => this.#arm(inst.id, fireAt));
  }

  /**
   * Retries run in the engine, as in DurableTask.Core: after every failed attempt a timer
   * (the library waits for it even after the last attempt), then, while attempts remain, a
   * new attempt under a new sequence number.
   */
  #advanceRetry(inst: InstanceRow, eng: EngineState, events: HistoryEvent[], now: number, append: HistoryEvent[], after: (() => void)[]): void {
    // Only the batch's last event can need a new sequence number (the batch is cut there);
    // earlier ones can only end a retry (success, or the last attempt's timer).
    for (const e of events.slice(0, -1)) {
      const ended = this.#retryFor(eng, e);
      if (ended) delete eng.retries[ended.key];
    }
    const last = events[events.length - 1];
    if (!last) return;
    const found = this.#retryFor(eng, last);
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
        this.store.addMessage(inst.id, inst.executionId, now, failureEvent(r.kind === 'activity' ? 'Activity' : 'Orchestrator', r.name, new Error(`retry timeout of ${r.options.retryTimeoutInMilliseconds} ms expired`), taskId, now, type));
        after.push(() => this.schedule(inst.id));
      } else if (r.kind === 'activity') {
        this.#scheduleActivity(inst, taskId, r.name, r.input, now, append, after);
      } else {
        const failure = this.#scheduleSubOrchestration(inst, taskId, r.name, r.childInstanceId, r.input, now, append, after);
        if (failure) {
          this.store.addMessage(inst.id, inst.executionId, now, failureEvent('Orchestrator', r.name, new Error(failure), taskId, now, EventType.SubOrchestrationInstanceFailed));
          after.push(() => this.schedule(inst.id));
        }
      }
    }
  }

  #finish(
    inst: InstanceRow, eng: EngineState, status: RuntimeStatus, historyLength: number, append: HistoryEvent[], now: number, after: (() => void)[], failure?: string,
  ): void {
    this.store.appendHistory(inst.id, historyLength, append);
    this.store.putInstance({ ...inst, status, updatedAt: now, engine: eng });
    this.#dropPending(inst.id);
    this.#notifyParent(inst, status, now, after, failure);
  }

  #dropPending(id: string): void {
    this.store.deleteMessages(this.store.messages(id).map((m) => m.id));
    this.store.deleteWorkOf(id);
  }

  #notifyParent(inst: InstanceRow, status: RuntimeStatus, now: number, after: (() => void)[], failure?: string): void {
    if (!inst.parentId || inst.parentTaskId === null) return;
    const parentId = inst.parentId;
    const event: HistoryEvent =
      status === 'Completed'
        ? { EventType: EventType.SubOrchestrationInstanceCompleted, EventId: -1, Timestamp: iso(now), TaskScheduledId: inst.parentTaskId, Result: inst.output ?? 'null' }
        : {
            EventType: EventType.SubOrchestrationInstanceFailed, EventId: -1, Timestamp: iso(now), TaskScheduledId: inst.parentTaskId,
            Reason: failure ?? `Sub-orchestration '${inst.id}' was ${status.toLowerCase()}`, Details: '',
          };
    this.store.addMessage(parentId, inst.parentExecutionId, now, event);
    after.push(() => this.schedule(parentId));
  }

  #continueAsNew(inst: InstanceRow, input: string, now: number, after: (() => void)[]): void {
    this.store.clearHistory(inst.id);
    // Messages bound to the old execution (timers, results) go; raised events wait for the new one.
    for (const m of this.store.messages(inst.id)) if (m.executionId === inst.executionId) this.store.deleteMessages([m.id]);
    this.store.deleteWorkOf(inst.id);
    const next: InstanceRow = { ...inst, executionId: randomUUID().replace(/-/g, ''), status: 'ContinuedAsNew', input, output: null, updatedAt: now, engine: newEngineState() };
    this.#createInstance(next, now);
    after.push(() => this.schedule(inst.id));
  }

  #terminate(inst: InstanceRow, message: MessageRow, now: number): void {
    const reason = message.event.Input ?? '';
    const after: (() => void)[] = [];
    this.store.transaction(() => {
      const history = this.store.getHistory(inst.id);
      inst.output = JSON.stringify(reason);
      this.#finish(
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

  // ---- activities ---------------------------------------------------------------------

  kickWork(): void {
    if (this.#stopped) return;
    const queued = new Set(this.#workQueue.map((w) => w.id));
    for (const w of this.store.allWork()) {
      if (!this.#activeWork.has(w.id) && !queued.has(w.id)) this.#workQueue.push(w);
    }
    this.#pumpWork();
  }

  #pumpWork(): void {
    while (!this.#stopped && this.#activeWork.size < this.#maxActivities && this.#workQueue.length > 0) {
      const w = this.#workQueue.shift()!;
      this.#activeWork.add(w.id);
      void this.#runWork(w)
        .catch((err: unknown) => this.#logger.error(`Durable engine: activity ${w.name}: ${(err as Error).message}`))
        .finally(() => {
          this.#activeWork.delete(w.id);
          this.#pumpWork();
        });
    }
  }

  async #runWork(w: WorkRow): Promise<void> {
    const inst = this.store.getInstance(w.instanceId);
    if (!inst || inst.executionId !== w.executionId || TERMINAL.has(inst.status)) {
      this.store.deleteWork(w.id);
      return;
    }
    let event: HistoryEvent;
    if (w.kind === 'http') {
      event = await this.#runHttp(w);
    } else {
      const fn = this.#fns.activities.get(w.name.toLowerCase());
      if (!fn) {
        event = failureEvent('Activity', w.name, new Error(`The function '${w.name}' doesn't exist, is disabled, or is not an activity function.`), w.taskId, this.#clock.now(), EventType.TaskFailed);
      } else {
        let res: RpcInvocationResponse;
        try {
          res = await this.#fns.invoke(fn.name, [{ name: fn.triggerName, data: { json: w.input } }]);
        } catch (err) {
          // Worker gone: the work item stays and runs again once the worker is back.
          this.#logger.warn(`Activity ${w.name} for ${w.instanceId} not run: ${(err as Error).message}`);
          return;
        }
        const now = this.#clock.now();
        event =
          res.result?.status === 'success'
            ? { EventType: EventType.TaskCompleted, EventId: -1, Timestamp: iso(now), TaskScheduledId: w.taskId, Result: typedDataToJson(res.returnValue) }
            : failureEvent('Activity', w.name, res, w.taskId, now, EventType.TaskFailed);
      }
    }
    if (this.#stopped) return;
    this.store.transaction(() => {
      this.store.deleteWork(w.id);
      this.store.addMessage(w.instanceId, w.executionId, this.#clock.now(), event);
    });
    this.schedule(w.instanceId);
  }

  /** Durable HTTP (`callHttp`): the engine makes the request and hands back a DurableHttpResponse. */
  async #runHttp(w: WorkRow): Promise<HistoryEvent> {
    const req = parseJson(w.input) as { method?: string; uri?: string; content?: string; headers?: Record<string, string> };
    try {
      const res = await fetch(req.uri ?? '', { method: req.method ?? 'GET', headers: req.headers, body: req.content, signal: AbortSignal.timeout(100_000) });
      const headers: Record<string, string> = {};
      res.headers.forEach((v, k) => (headers[k] = v));
      const content = await res.text();
      return { EventType: EventType.TaskCompleted, EventId: -1, Timestamp: iso(this.#clock.now()), TaskScheduledId: w.taskId, Result: JSON.stringify({ statusCode: res.status, headers, content }) };
    } catch (err) {
      return failureEvent('Activity', 'BuiltIn::HttpActivity', err as Error, w.taskId, this.#clock.now(), EventType.TaskFailed);
    }
  }
}
