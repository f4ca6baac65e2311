import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, type Host } from '../src/index.js';
import { getJson, startSample, waitFor } from './helpers.js';

/**
 * Every Durable feature, driven the way an app drives it: HTTP functions of the sample app
 * call df.getClient(context), whose DurableClient talks to this host's
 * /runtime/webhooks/durabletask API over real HTTP.
 */
describe('Durable Functions through df.getClient over HTTP', () => {
  let host: Host;
  let clock: ManualClock;
  const start = async (name: string, input?: unknown, instanceId?: string) => {
    const res = await fetch(`${host.url}/api/orchestrators/${name}${instanceId ? `/${instanceId}` : ''}`, {
      method: 'POST',
      body: input === undefined ? undefined : JSON.stringify(input),
    });
    expect(res.status).toBe(202);
    return (await res.json()) as { id: string; statusQueryGetUri: string; sendEventPostUri: string; terminatePostUri: string; purgeHistoryDeleteUri: string };
  };
  const status = async (id: string, history = false) => (await getJson(`${host.url}/api/status/${id}${history ? '?history=true' : ''}`)).body;
  const finished = (id: string, opts: { advanceMs?: number } = {}) =>
    waitFor(
      async () => {
        const s = await status(id);
        if (['Completed', 'Failed', 'Terminated'].includes(s.runtimeStatus)) return s;
        if (opts.advanceMs) await clock.advance(opts.advanceMs);
        return undefined;
      },
      { what: `instance ${id} to finish` },
    );

  beforeAll(async () => {
    clock = new ManualClock(new Date('2030-01-01T00:00:00Z'));
    host = await startSample({ clock });
  });
  afterAll(async () => {
    await host?.close();
  });

  it('runs an activity sequence and answers createCheckStatusResponse', async () => {
    const res = await fetch(`${host.url}/api/orchestrators/helloSequence`, { method: 'POST' });
    expect(res.status).toBe(202);
    const payload = (await res.json()) as { id: string; statusQueryGetUri: string };
    expect(res.headers.get('location')).toBe(payload.statusQueryGetUri);
    expect(payload.statusQueryGetUri).toMatch(new RegExp(`^${host.url}/runtime/webhooks/durabletask/instances/${payload.id}\\?`));
    const done = await finished(payload.id);
    expect(done).toMatchObject({ name: 'helloSequence', runtimeStatus: 'Completed', output: ['Hello Tokyo', 'Hello Seattle', 'Hello London'] });

    // The status URI handed out works as is (it carries the system key).
    const direct = await getJson(`${payload.statusQueryGetUri}&showHistory=true&showHistoryOutput=true`);
    expect(direct.status).toBe(200);
    const completed = direct.body.historyEvents.filter((e: { EventType: string }) => e.EventType === 'TaskCompleted');
    expect(completed.map((e: { FunctionName: string; Result: string }) => [e.FunctionName, e.Result])).toEqual([
      ['sayHello', 'Hello Tokyo'],
      ['sayHello', 'Hello Seattle'],
      ['sayHello', 'Hello London'],
    ]);
    expect(direct.body.historyEvents.at(-1)).toMatchObject({ EventType: 'ExecutionCompleted', OrchestrationStatus: 'Completed' });
    // ...and the client's getStatus with history
    expect((await status(payload.id, true)).history.length).toBe(direct.body.historyEvents.length);
  });

  it('retries activities with backoff on durable timers, then succeeds', async () => {
    const { id } = await start('retrying', { key: 'retry-ok', failures: 2, attempts: 3 });
    const done = await finished(id, { advanceMs: 500 });
    expect(done.output).toEqual({ ok: true, result: { key: 'retry-ok', attempts: 3 } });
    expect(done.customStatus).toEqual({ phase: 'done' });
    const history = (await status(id, true)).history as { EventType: string; FireAt?: string; Timestamp: string }[];
    expect(history.filter((e) => e.EventType === 'TaskFailed')).toHaveLength(2);
    // Backoff: 1 s after the first failure, 2 s after the second (coefficient 2).
    const timers = history.filter((e) => e.EventType === 'TimerCreated').map((e) => Date.parse(e.FireAt!) - Date.parse(e.Timestamp));
    expect(timers).toEqual([1000, 2000]);
  });

  it('gives up after the last attempt and lets the orchestrator catch the failure', async () => {
    const { id } = await start('retrying', { key: 'retry-fail', failures: 5, attempts: 2 });
    const done = await finished(id, { advanceMs: 500 });
    expect(done.output.ok).toBe(false);
    expect(done.output.error).toContain('flaky failure 2 for retry-fail');
    expect(done.customStatus).toEqual({ phase: 'gave up' });
  });

  it('stops retrying once the retry timeout has passed', async () => {
    const { id } = await start('retrying', { key: 'retry-timeout', failures: 10, attempts: 5, timeoutMs: 1500 });
    const done = await finished(id, { advanceMs: 250 });
    expect(done.output.ok).toBe(false);
    // Attempts at 0 s and 1 s ran; by the next one (at 3 s) the 1.5 s retry timeout had passed.
    const ran = (await getJson(`${host.url}/api/calls/flaky`)).body.filter((c: { key: string }) => c.key === 'retry-timeout');
    expect(ran).toHaveLength(2);
  });

  it('retries a failed sub-orchestration as a new child instance', async () => {
    const { id } = await start('retryingParent', { key: 'child-retry' }, 'rp-1');
    const done = await finished(id, { advanceMs: 500 });
    expect(done.output).toEqual({ key: 'child-retry', attempts: 2 });
    const history = (await status(id, true)).history as { EventType: string; InstanceId?: string }[];
    const children = history.filter((e) => e.EventType === 'SubOrchestrationInstanceCreated').map((e) => e.InstanceId);
    expect(children).toEqual(['rp-1:0', 'rp-1:2']);
    expect((await status('rp-1:0')).runtimeStatus).toBe('Failed');
    expect((await status('rp-1:2')).runtimeStatus).toBe('Completed');
  });

  it('makes durable HTTP calls (callHttp)', async () => {
    const { id } = await start('httpCaller', { url: `${host.url}/api/hello/durable` });
    expect((await finished(id)).output).toEqual({ statusCode: 200, content: 'Hello, durable!' });
  });

  it('fans out and in with Task.all', async () => {
    const { id } = await start('fanOut', 20);
    expect((await finished(id)).output).toBe(420);
  });

  it('waits for an external event racing a durable timer (Task.any) and cancels the timer', async () => {
    const { id } = await start('approval', { timeoutSeconds: 3600 });
    await waitFor(async () => (await status(id)).customStatus === 'waiting');
    const timersBefore = clock.pending;
    const raised = await fetch(`${host.url}/api/raise/${id}/approve`, { method: 'POST', body: JSON.stringify('alice') });
    expect(raised.status).toBe(202);
    const done = await finished(id);
    expect(done.output).toEqual({ approved: true, by: 'alice' });
    expect(clock.pending).toBe(timersBefore - 1);
  });

  it('lets the durable timer win when no event comes', async () => {
    const { id } = await start('approval', { timeoutSeconds: 60 });
    await waitFor(async () => (await status(id)).customStatus === 'waiting');
    await clock.advance(59_000);
    expect((await status(id)).runtimeStatus).toBe('Running');
    await clock.advance(1_000);
    expect((await finished(id)).output).toEqual({ approved: false, timedOut: true });
  });

  it('continues as new with a fresh history', async () => {
    const { id } = await start('counter', 0);
    const done = await finished(id, { advanceMs: 1000 });
    expect(done.output).toEqual({ final: 3 });
    expect(done.customStatus).toEqual({ n: 3 });
    const history = (await status(id, true)).history as { EventType: string; Input?: unknown }[];
    expect(history[0]).toMatchObject({ EventType: 'ExecutionStarted', Input: 3 });
    expect(history.filter((e) => e.EventType === 'TimerCreated')).toHaveLength(0);
  });

  it('runs sub-orchestrations, passing results and failures to the parent', async () => {
    const { id } = await start('parent', undefined, 'parent-1');
    const done = await finished(id);
    expect(done.output.child).toEqual(['Hello Ann', 'Hello Bob']);
    expect(done.output.childFailure).toContain('this activity always fails');
    const child = await status('parent-1-child');
    expect(child).toMatchObject({ runtimeStatus: 'Completed', output: ['Hello Ann', 'Hello Bob'] });
  });

  it('marks an orchestration whose activity fails uncaught as Failed', async () => {
    const { id } = await start('failing');
    const done = await finished(id);
    expect(done.runtimeStatus).toBe('Failed');
    expect(done.output).toContain('this activity always fails');
  });

  it('terminates, then refuses events for the terminated instance', async () => {
    const { id } = await start('waiter');
    await waitFor(async () => (await status(id)).runtimeStatus === 'Running');
    expect((await fetch(`${host.url}/api/terminate/${id}?reason=enough`, { method: 'POST' })).status).toBe(202);
    const done = await finished(id);
    expect(done).toMatchObject({ runtimeStatus: 'Terminated', output: 'enough' });
    // The client treats 410 Gone as success, as with the real extension.
    expect((await fetch(`${host.url}/api/raise/${id}/go`, { method: 'POST', body: '1' })).status).toBe(202);
    const raw = await fetch(done.sendEventPostUri ?? `${host.url}/runtime/webhooks/durabletask/instances/${id}/raiseEvent/go?code=${host.keys.durableTask}`, { method: 'POST', body: '1' });
    expect(raw.status).toBe(410);
  });

  it('delivers several events with the same name in order', async () => {
    const { id } = await start('waiter');
    await fetch(`${host.url}/api/raise/${id}/go`, { method: 'POST', body: JSON.stringify({ n: 1 }) });
    await fetch(`${host.url}/api/raise/${id}/go`, { method: 'POST', body: JSON.stringify({ n: 2 }) });
    expect((await finished(id)).output).toEqual([{ n: 1 }, { n: 2 }]);
  });

  it('purges a finished instance', async () => {
    const { id } = await start('helloSequence', ['Zed']);
    await finished(id);
    const purged = await getJson(`${host.url}/api/purge/${id}`, { method: 'DELETE' });
    expect(purged.body).toEqual({ instancesDeleted: 1 });
    expect((await getJson(`${host.url}/api/status/${id}`)).status).toBe(404);
  });

  it('lists instances through getStatusAll', async () => {
    const list = (await getJson(`${host.url}/api/instances`)).body as { instanceId: string; runtimeStatus: string }[];
    expect(list.length).toBeGreaterThan(5);
    expect(list.find((i) => i.instanceId === 'parent-1')?.runtimeStatus).toBe('Completed');
  });

  describe('the durabletask HTTP API itself', () => {
    const api = (path: string) => `${host.url}/runtime/webhooks/durabletask${path}${path.includes('?') ? '&' : '?'}code=${host.keys.durableTask}`;

    it('requires the extension key or the master key', async () => {
      expect((await fetch(`${host.url}/runtime/webhooks/durabletask/instances`)).status).toBe(401);
      expect((await fetch(`${host.url}/runtime/webhooks/durabletask/instances?code=${host.keys.master}`)).status).toBe(200);
    });

    it('starts with an instance id, rejects a duplicate while running and an unknown orchestrator', async () => {
      const first = await fetch(api('/orchestrators/waiter/dup-1'), { method: 'POST' });
      expect(first.status).toBe(202);
      expect(((await first.json()) as { id: string }).id).toBe('dup-1');
      const second = await getJson(api('/orchestrators/waiter/dup-1'), { method: 'POST' });
      expect(second.status).toBe(409);
      expect(second.headers.get('content-type')).toBe('application/problem+json');
      expect((await getJson(api('/orchestrators/nope'), { method: 'POST' })).status).toBe(400);
      expect((await getJson(api('/instances/missing'))).status).toBe(404);
    });

    it('suspends and resumes', async () => {
      await fetch(api('/orchestrators/waiter/susp-1'), { method: 'POST' });
      await waitFor(async () => (await getJson(api('/instances/susp-1'))).body.runtimeStatus === 'Running');
      expect((await fetch(api('/instances/susp-1/suspend?reason=pause'), { method: 'POST' })).status).toBe(202);
      await waitFor(async () => (await getJson(api('/instances/susp-1'))).body.runtimeStatus === 'Suspended');
      await fetch(api('/instances/susp-1/raiseEvent/go'), { method: 'POST', body: '1' });
      await fetch(api('/instances/susp-1/raiseEvent/go'), { method: 'POST', body: '2' });
      await new Promise((r) => setTimeout(r, 200));
      expect((await getJson(api('/instances/susp-1'))).body.runtimeStatus).toBe('Suspended');
      await fetch(api('/instances/susp-1/resume?reason=go'), { method: 'POST' });
      const done = await waitFor(async () => {
        const s = (await getJson(api('/instances/susp-1'))).body;
        return s.runtimeStatus === 'Completed' && s;
      });
      expect(done.output).toEqual([1, 2]);
    });

    it('purges by filter and refuses to purge a running instance', async () => {
      expect((await getJson(api('/instances/dup-1'), { method: 'DELETE' })).status).toBe(409);
      await fetch(api('/instances/dup-1/terminate?reason=cleanup'), { method: 'POST' });
      await waitFor(async () => (await getJson(api('/instances/dup-1'))).body.runtimeStatus === 'Terminated');
      const purged = await getJson(api(`/instances?createdTimeFrom=2000-01-01T00:00:00Z&runtimeStatus=Terminated`), { method: 'DELETE' });
      expect(purged.status).toBe(200);
      expect(purged.body.instancesDeleted).toBeGreaterThanOrEqual(1);
      expect((await getJson(api('/instances/dup-1'))).status).toBe(404);
    });
  });
});
