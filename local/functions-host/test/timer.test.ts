import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock, type Host } from '../src/index.js';
import { getJson, removeDir, startSample, tempDir, waitFor } from './helpers.js';

interface TickCall {
  isPastDue: boolean;
  scheduleStatus: { last: string; next: string; lastUpdated: string } | null;
}

describe('timer triggers driven by the injectable clock', () => {
  const hosts: Host[] = [];
  const dirs: string[] = [];
  const start = async (clock: ManualClock, settings: Record<string, string> = {}, dataDir = tempDir()) => {
    dirs.push(dataDir);
    const host = await startSample({ clock, settings, dataDir });
    hosts.push(host);
    return host;
  };
  const ticks = async (host: Host) => (await getJson<TickCall[]>(`${host.url}/api/calls/tick`)).body;
  afterEach(async () => {
    await Promise.all(hosts.splice(0).map((h) => h.close()));
    dirs.splice(0).forEach(removeDir);
  });

  it('fires on the NCRONTAB schedule when the clock reaches it', async () => {
    const clock = new ManualClock(new Date('2030-01-01T00:00:00Z'));
    const host = await start(clock);
    await clock.advance(4 * 60_000 + 59_000);
    await new Promise((r) => setTimeout(r, 100));
    expect(await ticks(host)).toHaveLength(0);
    await clock.advance(1000);
    const [first] = await waitFor(async () => {
      const t = await ticks(host);
      return t.length === 1 && t;
    });
    expect(first).toMatchObject({
      isPastDue: false,
      scheduleStatus: { last: '2030-01-01T00:05:00.000Z', next: '2030-01-01T00:10:00.000Z' },
    });
  });

  it('fires every occurrence the clock passes through, each on time', async () => {
    const clock = new ManualClock(new Date('2030-01-01T00:00:00Z'));
    const host = await start(clock);
    await clock.advance(22 * 60_000);
    const calls = await waitFor(async () => {
      const t = await ticks(host);
      return t.length === 4 && t;
    });
    expect(calls.map((c) => [c.scheduleStatus?.last.slice(11, 16), c.isPastDue])).toEqual([
      ['00:05', false],
      ['00:10', false],
      ['00:15', false],
      ['00:20', false],
    ]);
  });

  it('runs on startup when asked to', async () => {
    const clock = new ManualClock(new Date('2030-01-01T00:01:00Z'));
    const host = await start(clock, { TICK_RUN_ON_STARTUP: 'true' });
    const calls = await waitFor(async () => {
      const t = await ticks(host);
      return t.length === 1 && t;
    });
    expect(calls[0]!.isPastDue).toBe(false);
  });

  it('fires once, past due, for an occurrence missed while the host was down', async () => {
    const dataDir = tempDir();
    const first = await start(new ManualClock(new Date('2030-01-01T00:01:00Z')), {}, dataDir);
    await first.close();
    const host = await start(new ManualClock(new Date('2030-01-01T01:00:00Z')), {}, dataDir);
    const calls = await waitFor(async () => {
      const t = await ticks(host);
      return t.length === 1 && t;
    });
    expect(calls[0]).toMatchObject({ isPastDue: true, scheduleStatus: { last: '2030-01-01T00:05:00.000Z', next: '2030-01-01T01:05:00.000Z' } });
  });

  it('runs a timer function on demand through POST /admin/functions/{name}', async () => {
    const clock = new ManualClock();
    const host = await start(clock);
    const denied = await fetch(`${host.url}/admin/functions/tick`, { method: 'POST', body: '{}' });
    expect(denied.status).toBe(401);
    const res = await fetch(`${host.url}/admin/functions/tick`, { method: 'POST', headers: { 'x-functions-key': host.keys.master }, body: '{"input":""}' });
    expect(res.status).toBe(202);
    await waitFor(async () => (await ticks(host)).length === 1);
    expect((await fetch(`${host.url}/admin/functions/nope`, { method: 'POST', headers: { 'x-functions-key': host.keys.master } })).status).toBe(404);
  });

  it('refuses to start with a schedule that is not six-field NCRONTAB', async () => {
    await expect(start(new ManualClock(), { TICK_SCHEDULE: '*/5 * * * *' })).rejects.toThrow(/Function tick: Schedule "\*\/5 \* \* \* \*" has 5 fields/);
  });
});
