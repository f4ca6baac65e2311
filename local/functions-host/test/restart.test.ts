import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ManualClock, type Host } from '../src/index.js';
import { getJson, removeDir, startSample, tempDir, waitFor } from './helpers.js';

describe('host restart on the same data dir', () => {
  const hosts: Host[] = [];
  const dataDir = tempDir();
  afterEach(async () => {
    await Promise.all(hosts.splice(0).map((h) => h.close()));
  });
  afterAll(() => removeDir(dataDir));

  const start = async (clock: ManualClock) => {
    const host = await startSample({ clock, dataDir });
    hosts.push(host);
    return host;
  };
  const status = async (host: Host, id: string) => (await getJson(`${host.url}/api/status/${id}?history=true`)).body;

  it('resumes one orchestration waiting on a durable timer and one waiting on an external event', async () => {
    const t0 = new Date('2030-06-01T12:00:00Z');
    const first = await start(new ManualClock(t0));
    await fetch(`${first.url}/api/orchestrators/sleeper/sleep-1`, { method: 'POST', body: JSON.stringify({ seconds: 600 }) });
    await fetch(`${first.url}/api/orchestrators/waiter/wait-1`, { method: 'POST' });
    await waitFor(async () => {
      const s = await status(first, 'sleep-1');
      return s.runtimeStatus === 'Running' && s.history.some((e: { EventType: string }) => e.EventType === 'TimerCreated');
    });
    await waitFor(async () => (await status(first, 'wait-1')).runtimeStatus === 'Running');
    // One event arrives before the restart, one after.
    await fetch(`${first.url}/api/raise/wait-1/go`, { method: 'POST', body: JSON.stringify('before') });
    await waitFor(async () => (await status(first, 'wait-1')).history.some((e: { EventType: string }) => e.EventType === 'EventRaised'));
    await first.close();

    const clock = new ManualClock(new Date(t0.getTime() + 60_000));
    const second = await start(clock);
    expect((await status(second, 'sleep-1')).runtimeStatus).toBe('Running');
    await fetch(`${second.url}/api/raise/wait-1/go`, { method: 'POST', body: JSON.stringify('after') });
    const waited = await waitFor(async () => {
      const s = await status(second, 'wait-1');
      return s.runtimeStatus === 'Completed' && s;
    });
    expect(waited.output).toEqual(['before', 'after']);

    await clock.advance(539_000);
    await new Promise((r) => setTimeout(r, 100));
    expect((await status(second, 'sleep-1')).runtimeStatus).toBe('Running');
    await clock.advance(1_000);
    const slept = await waitFor(async () => {
      const s = await status(second, 'sleep-1');
      return s.runtimeStatus === 'Completed' && s;
    });
    expect(slept.output).toEqual({ greeting: 'Hello after sleep', sleptMs: 600_000 });
  });

  it('fires a durable timer that came due while the host was down as soon as it is back', async () => {
    const t0 = new Date('2030-07-01T00:00:00Z');
    const first = await start(new ManualClock(t0));
    await fetch(`${first.url}/api/orchestrators/sleeper/sleep-2`, { method: 'POST', body: JSON.stringify({ seconds: 30 }) });
    await waitFor(async () => (await status(first, 'sleep-2')).runtimeStatus === 'Running');
    await first.close();

    const second = await start(new ManualClock(new Date(t0.getTime() + 3_600_000)));
    const done = await waitFor(async () => {
      const s = await status(second, 'sleep-2');
      return s.runtimeStatus === 'Completed' && s;
    });
    expect(done.output.greeting).toBe('Hello after sleep');
    expect(done.output.sleptMs).toBe(3_600_000);
  });

  it('lets an HTTP invocation in flight finish when it closes, Durable calls included, and refuses new ones', async () => {
    const clock = new ManualClock(new Date('2030-06-01T12:00:00Z'));
    const first = await start(clock);
    // In flight for 800 ms, then it starts an orchestration through its durable client.
    const inFlight = fetch(`${first.url}/api/slow-start/waiter/drain-1?delayMs=800`, { method: 'POST' });
    await new Promise((r) => setTimeout(r, 200));
    const closing = first.close();
    const refused = await fetch(`${first.url}/api/orchestrators/waiter/late-1`, { method: 'POST' }).catch(() => undefined);
    const answer = await inFlight;
    await closing;
    expect(answer.status).toBe(202); // not the 500 of a Durable call refused with 503
    if (refused) expect(refused.status).toBe(503); // or the connection was already closed
    const second = await start(clock);
    expect((await status(second, 'drain-1')).runtimeStatus).toBe('Running');
    expect((await getJson(`${second.url}/api/status/late-1`)).status).toBe(404);
  });
});

