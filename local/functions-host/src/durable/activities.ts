// Running activities: work items (activity calls and durable HTTP calls) live in the store, so a
// restarted host runs what was scheduled before it stopped; at most `maxConcurrent` run at once.
// Each result becomes a message for its instance, and the instance gets an episode.

import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { RpcInvocationResponse, RpcParameterBinding } from '../worker/protocol.js';
import { failureEvent, iso, typedDataToJson } from './events.js';
import { EventType, parseJson, type HistoryEvent } from './history.js';
import { TERMINAL, type DurableStore, type WorkRow } from './store.js';

export interface ActivityRunnerOptions {
  store: DurableStore;
  clock: Clock;
  activities: ReadonlyMap<string, { name: string; triggerName: string }>;
  invoke(functionName: string, inputData: RpcParameterBinding[]): Promise<RpcInvocationResponse>;
  logger: Logger;
  maxConcurrent: number;
  /** A result was stored for the instance: give it an episode. */
  onResult(instanceId: string): void;
}

export class ActivityRunner {
  #o: ActivityRunnerOptions;
  #active = new Set<number>();
  #queue: WorkRow[] = [];
  #stopped = false;

  constructor(options: ActivityRunnerOptions) {
    this.#o = { ...options, maxConcurrent: Math.max(1, options.maxConcurrent) };
  }

  /** Queues every stored work item not yet running or queued, and starts what fits. */
  kick(): void {
    if (this.#stopped) return;
    const queued = new Set(this.#queue.map((w) => w.id));
    for (const w of this.#o.store.allWork()) {
      if (!this.#active.has(w.id) && !queued.has(w.id)) this.#queue.push(w);
    }
    this.#pump();
  }

  /** Starts nothing more; results of work in flight are dropped (it runs again after a restart). */
  stop(): void {
    this.#stopped = true;
    this.#queue = [];
  }

  #pump(): void {
    while (!this.#stopped && this.#active.size < this.#o.maxConcurrent && this.#queue.length > 0) {
      const w = this.#queue.shift()!;
      this.#active.add(w.id);
      void this.#run(w)
        .catch((err: unknown) => this.#o.logger.error(`Durable engine: activity ${w.name}: ${(err as Error).message}`))
        .finally(() => {
          this.#active.delete(w.id);
          this.#pump();
        });
    }
  }

  async #run(w: WorkRow): Promise<void> {
    const { store, clock } = this.#o;
    const inst = store.getInstance(w.instanceId);
    if (!inst || inst.executionId !== w.executionId || TERMINAL.has(inst.status)) {
      store.deleteWork(w.id);
      return;
    }
    let event: HistoryEvent;
    if (w.kind === 'http') {
      event = await this.#runHttp(w);
    } else {
      const fn = this.#o.activities.get(w.name.toLowerCase());
      if (!fn) {
        event = failureEvent('Activity', w.name, new Error(`The function '${w.name}' doesn't exist, is disabled, or is not an activity function.`), w.taskId, clock.now(), EventType.TaskFailed);
      } else {
        let res: RpcInvocationResponse;
        try {
          res = await this.#o.invoke(fn.name, [{ name: fn.triggerName, data: { json: w.input } }]);
        } catch (err) {
          // Worker gone: the work item stays and runs again once the worker is back.
          this.#o.logger.warn(`Activity ${w.name} for ${w.instanceId} not run: ${(err as Error).message}`);
          return;
        }
        const now = clock.now();
        event =
          res.result?.status === 'success'
            ? { EventType: EventType.TaskCompleted, EventId: -1, Timestamp: iso(now), TaskScheduledId: w.taskId, Result: typedDataToJson(res.returnValue) }
            : failureEvent('Activity', w.name, res, w.taskId, now, EventType.TaskFailed);
      }
    }
    if (this.#stopped) return;
    store.transaction(() => {
      store.deleteWork(w.id);
      store.addMessage(w.instanceId, w.executionId, clock.now(), event);
    });
    this.#o.onResult(w.instanceId);
  }

  /** Durable HTTP (`callHttp`): the engine makes the request and hands back a DurableHttpResponse. */
  async #runHttp(w: WorkRow): Promise<HistoryEvent> {
    const req = parseJson(w.input) as { method?: string; uri?: string; content?: string; headers?: Record<string, string> };
    const now = () => iso(this.#o.clock.now());
    try {
      const res = await fetch(req.uri ?? '', { method: req.method ?? 'GET', headers: req.headers, body: req.content, signal: AbortSignal.timeout(100_000) });
      const headers: Record<string, string> = {};
      res.headers.forEach((v, k) => (headers[k] = v));
      const content = await res.text();
      return { EventType: EventType.TaskCompleted, EventId: -1, Timestamp: now(), TaskScheduledId: w.taskId, Result: JSON.stringify({ statusCode: res.status, headers, content }) };
    } catch (err) {
      return failureEvent('Activity', 'BuiltIn::HttpActivity', err as Error, w.taskId, this.#o.clock.now(), EventType.TaskFailed);
    }
  }
}
