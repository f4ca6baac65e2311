import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { report, sendReports, takeControlMessages } from '../support/agents.js';
import { startControlPlane, waitFor, type ControlPlane } from '../support/control-plane.js';

const NOISE = 130;
const NIGHTLY = { name: 'nightly-sch', schedule: '0 0 22 * * *', topic: 'sch-1', count: 1, gracePeriod: '1h', reason: 'nightly scale-down' };

/** Schedules on the manual clock, a host restart mid-drain, and the bounded history of a long drain. */
describe('scheduled drains, restarts and history', () => {
  let cp: ControlPlane;
  beforeAll(async () => {
    cp = await startControlPlane({ schedules: [NIGHTLY] });
    await cp.api('PUT', 'topics/sch-1');
    await cp.api('PUT', 'topics/rs-1');
    await cp.api('PUT', 'topics/long-1');
  });
  afterAll(async () => {
    await cp?.close();
  });
  const drain = (id: string) => cp.api('GET', `drains/${id}`);
  const ended = (id: string) => waitFor(async () => ((await drain(id)).body.status !== 'running' ? (await drain(id)).body : undefined), `drain ${id} to end`);

  it('folds reports across continue-as-new and keeps the history bounded', async () => {
    const { drainId } = (await cp.api('POST', 'topics/long-1/drains', { count: 2 })).body;
    await takeControlMessages(cp.sb, 'long-1', 2);
    // Reports are sent at least once: a noisy agent repeats itself many times over.
    const noise = Array.from({ length: NOISE }, (_, i) => report(drainId, 1, 'n1', i % 2 ? 'accepted' : 'signalled', 'long-1'));
    await sendReports(cp.sb, noise);
    await waitFor(async () => (await drain(drainId)).body.counts?.draining === 1, 'the noise to fold', 60_000);
    await sendReports(cp.sb, [report(drainId, 1, 'n1', 'drained', 'long-1'), report(drainId, 2, 'n2', 'accepted', 'long-1'), report(drainId, 2, 'n2', 'drained', 'long-1')]);
    const done = await waitFor(async () => {
      const d = (await drain(drainId)).body;
      return d.status === 'completed' && d;
    }, 'the drain to complete', 60_000);
    expect(done.counts).toMatchObject({ drained: 2, shortfall: 0 });
    const raw = await fetch(`${cp.host.url}/runtime/webhooks/durabletask/instances/${drainId}?showHistory=true&code=${cp.host.keys.durableTask}`);
    const status = (await raw.json()) as { output: { generation: number; eventsFolded: number }; historyEvents: unknown[] };
    expect(status.output.generation).toBeGreaterThanOrEqual(1);
    expect(status.output.eventsFolded).toBe(NOISE + 3);
    // Only the last generation's history is kept, and an episode that folded reports ends its
    // generation: a handful of events, whatever the number of reports.
    expect(status.historyEvents.length).toBeLessThan(20);
  });

  it('finishes a drain across a host restart', async () => {
    const { drainId } = (await cp.api('POST', 'topics/rs-1/drains', { count: 2, requestedBy: 'bob' })).body;
    await takeControlMessages(cp.sb, 'rs-1', 2);
    await sendReports(cp.sb, [report(drainId, 1, 'n1', 'accepted', 'rs-1'), report(drainId, 1, 'n1', 'drained', 'rs-1')]);
    await waitFor(async () => (await drain(drainId)).body.counts?.drained === 1, 'the first node to fold');
    await cp.restart();
    expect((await drain(drainId)).body).toMatchObject({ status: 'running', counts: { drained: 1 }, requestedBy: 'bob' });
    await sendReports(cp.sb, [report(drainId, 2, 'n2', 'accepted', 'rs-1'), report(drainId, 2, 'n2', 'drained', 'rs-1')]);
    const done = await ended(drainId);
    expect(done).toMatchObject({ status: 'completed', counts: { drained: 2 } });
    expect(Object.keys(done.progress.nodes).sort()).toEqual(['n1', 'n2']);
  });

  // Moves the manual clock to the next 22:00 UTC: keep it last.
  it('starts a scheduled drain when the clock reaches the schedule, once per occurrence', async () => {
    const now = new Date(cp.clock.now());
    const at22 = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), 22));
    if (at22.getTime() <= now.getTime()) at22.setUTCDate(at22.getUTCDate() + 1);
    const drainId = `nightly-sch-${at22.toISOString().slice(0, 13).replace(/-/g, '')}00Z`;
    expect((await drain(drainId)).status).toBe(404);

    await cp.clock.set(at22);
    const started = await waitFor(async () => {
      const d = await drain(drainId);
      return d.status === 200 && d.body;
    }, 'the scheduled drain to start');
    expect(started).toMatchObject({ topic: 'sch-1', requestedBy: 'schedule:nightly-sch', reason: 'nightly scale-down', deadline: new Date(at22.getTime() + 3_600_000).toISOString() });
    const [message] = await takeControlMessages(cp.sb, 'sch-1', 1);
    expect(message?.messageId).toBe(`${drainId}/1`);

    // The same occurrence run again (by hand here; a past-due re-fire in production) starts nothing new.
    const rerun = await fetch(`${cp.host.url}/admin/functions/schedule-nightly-sch`, {
      method: 'POST',
      headers: { 'x-functions-key': cp.host.keys.master, 'content-type': 'application/json' },
      body: '{"input":""}',
    });
    expect(rerun.status).toBe(202);
    await new Promise((r) => setTimeout(r, 1_000));
    const listed = (await cp.api('GET', 'drains?topic=sch-1')).body.drains;
    expect(listed.map((d: { drainId: string }) => d.drainId)).toEqual([drainId]);
    expect(await takeControlMessages(cp.sb, 'sch-1', 1, 1_000)).toEqual([]);
  });
});
