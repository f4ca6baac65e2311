import * as df from 'durable-functions';
// The library's own orchestrator wrapper, run in-process: the same code the app's orchestration trigger runs.
import { createOrchestrator } from 'durable-functions/lib/src/util/testingUtils.js';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { DurableEngine } from '../../src/durable/engine.js';
import { EventType, type HistoryEvent } from '../../src/durable/history.js';
import { DurableStore } from '../../src/durable/store.js';
import { silentLogger } from '../../src/logger.js';
import type { RpcInvocationResponse, RpcParameterBinding } from '../../src/worker/protocol.js';

type Gen = Generator<unknown, unknown, any>;
type OrchestratorFn = (context: any) => Gen;

/** An engine over an in-memory store whose "worker" runs durable-functions in this process. */
function harness(orchestrators: Record<string, OrchestratorFn>, activities: Record<string, (input: any) => unknown>) {
  const clock = new ManualClock(new Date('2030-01-01T00:00:00Z'));
  const store = new DurableStore(':memory:', 'test');
  const replays: { name: string; history: HistoryEvent[] }[] = [];
  const handlers = Object.fromEntries(Object.entries(orchestrators).map(([n, g]) => [n, createOrchestrator(g as never)]));
  const names = (o: object) => new Map(Object.keys(o).map((n) => [n.toLowerCase(), { name: n, triggerName: 'trigger' }]));
  const invoke = async (name: string, inputData: RpcParameterBinding[]): Promise<RpcInvocationResponse> => {
    const data = inputData[0]!.data!;
    try {
      if (handlers[name]) {
        const trigger = JSON.parse(data.string!);
        replays.push({ name, history: trigger.history });
        const state = await handlers[name]!(trigger, new df.DummyOrchestrationContext(name));
        return { result: { status: 'success' }, returnValue: { json: JSON.stringify(state) } };
      }
      const result = await activities[name]!(JSON.parse(data.json!));
      return { result: { status: 'success' }, returnValue: result === undefined ? undefined : { json: JSON.stringify(result) } };
    } catch (err) {
      return { result: { status: 'failure', exception: { message: (err as Error).message, stackTrace: (err as Error).stack } } };
    }
  };
  const engine = new DurableEngine({
    store,
    clock,
    logger: silentLogger(),
    maxConcurrentActivities: 4,
    functions: { orchestrators: names(orchestrators), activities: names(activities), invoke },
  });
  engine.kick();
  const settle = async (id: string, advanceMs = 0) => {
    for (let i = 0; i < 400; i++) {
      const inst = store.getInstance(id)!;
      if (['Completed', 'Failed', 'Terminated'].includes(inst.status)) return inst;
      await new Promise((r) => setTimeout(r, 5));
      if (advanceMs) await clock.advance(advanceMs);
    }
    throw new Error(`instance ${id} did not finish: ${store.getInstance(id)?.status}`);
  };
  return { clock, store, engine, replays, settle };
}

describe('replay engine against the durable-functions library', () => {
  let stop: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await stop?.();
  });

  it('numbers scheduled tasks as the library does and replays the growing history', async () => {
    const h = harness(
      {
        seq: function* (ctx: any): Gen {
          const a = yield ctx.df.callActivity('hi', 'a');
          const b = yield ctx.df.callActivity('hi', 'b');
          return [a, b, ctx.df.isReplaying];
        },
      },
      { hi: (x: string) => `hi ${x}` },
    );
    stop = () => h.engine.stop();
    h.engine.startNew('seq', 'i1', undefined);
    const done = await h.settle('i1');
    expect(JSON.parse(done.output!)).toEqual(['hi a', 'hi b', false]);

    // Three episodes: start, after the first result, after the second.
    expect(h.replays).toHaveLength(3);
    const last = h.replays[2]!.history;
    const types = last.map((e) => e.EventType);
    expect(types).toEqual([
      EventType.OrchestratorStarted, EventType.ExecutionStarted, EventType.TaskScheduled, EventType.OrchestratorCompleted,
      EventType.OrchestratorStarted, EventType.TaskCompleted, EventType.TaskScheduled, EventType.OrchestratorCompleted,
      EventType.OrchestratorStarted, EventType.TaskCompleted,
    ]);
    expect(last.filter((e) => e.EventType === EventType.TaskScheduled).map((e) => e.EventId)).toEqual([0, 1]);
    expect(last.filter((e) => e.EventType === EventType.TaskCompleted).map((e) => e.TaskScheduledId)).toEqual([0, 1]);
    // Events of earlier episodes are marked as played; the new ones are not.
    expect(last.map((e) => e.IsPlayed)).toEqual([true, true, true, true, true, true, true, true, false, false]);
  });

  it('keeps retry numbering in step when retrying tasks interleave inside Task.all', async () => {
    const failures: Record<string, number> = { a: 2, b: 1 };
    const h = harness(
      {
        both: function* (ctx: any): Gen {
          const retry = new df.RetryOptions(1000, 4);
          const results = yield ctx.df.Task.all([
            ctx.df.callActivityWithRetry('flaky', retry, 'a'),
            ctx.df.callActivityWithRetry('flaky', retry, 'b'),
            ctx.df.callActivity('flaky', 'c'),
          ]);
          const after = yield ctx.df.callActivity('flaky', 'd');
          return [...results, after];
        },
      },
      {
        flaky: (key: string) => {
          if ((failures[key] ?? 0) > 0) {
            failures[key]!--;
            throw new Error(`not yet ${key}`);
          }
          return key.toUpperCase();
        },
      },
    );
    stop = () => h.engine.stop();
    h.engine.startNew('both', 'i2', undefined);
    const done = await h.settle('i2', 250);
    expect(done.status).toBe('Completed');
    expect(JSON.parse(done.output!)).toEqual(['A', 'B', 'C', 'D']);
    const history = h.store.getHistory('i2');
    const ids = history.filter((e) => e.EventId >= 0).map((e) => e.EventId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(history.filter((e) => e.EventType === EventType.TaskFailed)).toHaveLength(3);
  });

  it('fails the orchestration with the activity error after the last attempt', async () => {
    const h = harness(
      {
        doomed: function* (ctx: any): Gen {
          return yield ctx.df.callActivityWithRetry('nope', new df.RetryOptions(500, 2), null);
        },
      },
      {
        nope: () => {
          throw new Error('never works');
        },
      },
    );
    stop = () => h.engine.stop();
    h.engine.startNew('doomed', 'i3', undefined);
    const done = await h.settle('i3', 250);
    expect(done.status).toBe('Failed');
    expect(JSON.parse(done.output!)).toContain("Activity function 'nope' failed: never works");
    // Two attempts, each followed by a retry timer (the library waits for one after the last attempt too).
    const history = h.store.getHistory('i3');
    expect(history.filter((e) => e.EventType === EventType.TaskScheduled)).toHaveLength(2);
    expect(history.filter((e) => e.EventType === EventType.TimerFired)).toHaveLength(2);
  });

  it('resumes from the store alone: a second engine finishes what the first started', async () => {
    const h = harness(
      {
        nap: function* (ctx: any): Gen {
          yield ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + 60_000));
          return yield ctx.df.callActivity('hi', 'later');
        },
      },
      { hi: (x: string) => `hi ${x}` },
    );
    h.engine.startNew('nap', 'i4', undefined);
    for (let i = 0; i < 100 && h.store.getInstance('i4')!.status !== 'Running'; i++) await new Promise((r) => setTimeout(r, 5));
    await h.engine.stop();
    expect(h.store.getHistory('i4').some((e) => e.EventType === EventType.TimerCreated)).toBe(true);

    const second = new DurableEngine({
      store: h.store,
      clock: h.clock,
      logger: silentLogger(),
      maxConcurrentActivities: 1,
      functions: {
        orchestrators: new Map([['nap', { name: 'nap', triggerName: 't' }]]),
        activities: new Map([['hi', { name: 'hi', triggerName: 't' }]]),
        invoke: async (name: string, inputData: RpcParameterBinding[]): Promise<RpcInvocationResponse> => {
          const data = inputData[0]!.data!;
          if (name === 'nap') {
            const handler = createOrchestrator(function* (ctx: any): Gen {
              yield ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + 60_000));
              return yield ctx.df.callActivity('hi', 'later');
            } as never);
            const state = await handler(JSON.parse(data.string!), new df.DummyOrchestrationContext('nap'));
            return { result: { status: 'success' }, returnValue: { json: JSON.stringify(state) } };
          }
          return { result: { status: 'success' }, returnValue: { string: `hi ${JSON.parse(data.json!)}` } };
        },
      },
    });
    stop = () => second.stop();
    second.kick();
    await h.clock.advance(60_000);
    const done = await h.settle('i4');
    expect(JSON.parse(done.output!)).toBe('hi later');
  });
});
