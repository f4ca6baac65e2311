import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXPIRY_MARGIN_MS } from '@workforce/worker-agent/contract';
import { REPORT_GRACE_MS } from '../../src/domain/drain-end.js';
import { report, sendReports } from '../support/agents.js';
import { FUNCTION_KEY, startControlPlane, waitFor, type ControlPlane } from '../support/control-plane.js';
import { cli } from '../cli/run-cli.js';

/** How drains end when too few nodes finish, on the host's manual clock (times are set from the clock). */
describe('drains that too few nodes finish', () => {
  let cp: ControlPlane;
  beforeAll(async () => {
    cp = await startControlPlane();
    await cp.api('PUT', 'topics/nd-1');
  });
  afterAll(async () => {
    await cp?.close();
  });
  const drain = async (id: string) => (await cp.api('GET', `drains/${id}`)).body;
  const post = async (body: object) => (await cp.api('POST', 'topics/nd-1/drains', { ...body, notAfter: new Date(cp.clock.now() + 5 * 60_000).toISOString() })).body as { drainId: string; spec: { notAfter: string } };

  it('times out at notAfter plus the grace when no node took the drain', async () => {
    const { drainId, spec } = await post({ count: 2 });
    await waitFor(async () => (await drain(drainId)).outcome !== 'publishing' && (await drain(drainId)).counts, 'publishing');
    await cp.clock.set(Date.parse(spec.notAfter) + REPORT_GRACE_MS - 1_000);
    expect((await drain(drainId)).status).toBe('running');
    await cp.clock.advance(1_000);
    const done = await waitFor(async () => ((await drain(drainId)).status !== 'running' ? drain(drainId) : undefined), 'the timeout');
    expect(done).toMatchObject({ status: 'timed-out', counts: { accepted: 0, shortfall: 2 } });
    expect(done.outcome).toContain('notAfter');
  });

  it('with a deadline, ends when its untaken messages expired, not at the deadline, saying so', async () => {
    const { drainId, spec } = await post({ count: 2, gracePeriod: '30m' });
    const running = await waitFor(async () => {
      const d = await drain(drainId);
      return d.outcome !== 'publishing' && d.counts && d;
    }, 'publishing');
    const expireAt = new Date(Date.parse(spec.notAfter) + EXPIRY_MARGIN_MS).toISOString();
    expect(running).toMatchObject({ status: 'running', counts: { untaken: 2 }, untakenExpireAt: expireAt });
    const shown = await cli(['status', drainId], { WORKFORCE_API_URL: cp.host.url, WORKFORCE_API_KEY: FUNCTION_KEY });
    expect(shown.stdout).toContain(`untaken 2 (expire ${expireAt})`);
    await cp.clock.set(Date.parse(spec.notAfter) + REPORT_GRACE_MS - 1_000);
    expect((await drain(drainId)).status).toBe('running');
    await cp.clock.advance(1_000);
    const done = await waitFor(async () => ((await drain(drainId)).status !== 'running' ? drain(drainId) : undefined), 'the end at the expiry');
    expect(done).toMatchObject({ status: 'timed-out', counts: { accepted: 0, shortfall: 2, untaken: 2 } });
    expect(done.outcome).toContain('2 of 2 nodes did not reach the target state; 2 messages expired untaken');
    expect(Date.parse(done.finishedAt)).toBeLessThan(Date.parse(done.deadline));
  });

  it('keeps waiting past notAfter for a node that accepted, then ends with the shortfall', async () => {
    const { drainId, spec } = await post({ count: 2 });
    await sendReports(cp.sb, [report(drainId, 1, 'slow', 'accepted', 'nd-1'), report(drainId, 1, 'slow', 'signalled', 'nd-1')]);
    await waitFor(async () => (await drain(drainId)).counts?.draining === 1, 'the reports');
    await cp.clock.set(Date.parse(spec.notAfter) + REPORT_GRACE_MS + 3_600_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(await drain(drainId)).toMatchObject({ status: 'running', unfinished: ['slow'] });
    await sendReports(cp.sb, [report(drainId, 1, 'slow', 'drained', 'nd-1')]);
    const done = await waitFor(async () => ((await drain(drainId)).status !== 'running' ? drain(drainId) : undefined), 'the end');
    expect(done).toMatchObject({ status: 'timed-out', counts: { drained: 1, shortfall: 1 }, unfinished: [] });
  });

  it('ends at once when every message expired or finished', async () => {
    const { drainId } = await post({ count: 2 });
    await sendReports(cp.sb, [report(drainId, 1, 'a', 'drained', 'nd-1'), report(drainId, 2, 'b', 'expired', 'nd-1')]);
    const done = await waitFor(async () => ((await drain(drainId)).status !== 'running' ? drain(drainId) : undefined), 'the end');
    expect(done).toMatchObject({ status: 'timed-out', counts: { drained: 1, expired: 1, shortfall: 1 } });
  });
});

describe('a drain whose messages cannot be published', () => {
  let cp: ControlPlane;
  beforeAll(async () => {
    cp = await startControlPlane();
  });
  afterAll(async () => {
    await cp?.close();
  });

  it('answers 404 TopicNotFound, and starts nothing, for a topic that does not exist', async () => {
    const res = await cp.api('POST', 'topics/never-provisioned/drains', { count: 1, drainId: 'on-no-topic' });
    expect(res.status).toBe(404);
    expect(res.contentType).toContain('application/problem+json');
    expect(res.body).toMatchObject({ code: 'TopicNotFound', field: 'topic', detail: expect.stringContaining('PUT /api/topics/never-provisioned') });
    expect((await cp.api('GET', 'drains/on-no-topic')).status).toBe(404);
  });

  it('ends as failed, naming the cause, once the publish retries are used up', async () => {
    // The topic exists (the check before starting passes) but takes messages of 1 KB at most, and
    // this drain's message is larger (1,000 characters each of reason and requester), so every publish attempt fails for real.
    cp.bus.emulator.catalogue.putTopic('tiny-messages', { maxMessageSizeInBytes: 1_024 });
    const posted = await cp.api('POST', 'topics/tiny-messages/drains', { count: 1, reason: 'r'.repeat(1_000), requestedBy: 'q'.repeat(1_000) });
    expect(posted.status).toBe(202);
    const { drainId } = posted.body as { drainId: string };
    const drain = async () => (await cp.api('GET', `drains/${drainId}`)).body;
    const done = await waitFor(async () => {
      await cp.clock.advance(10_000); // the retry back-off runs on durable timers, driven by the manual clock
      const d = await drain();
      return d.status !== 'running' && d;
    }, 'the drain to fail', 60_000);
    expect(done).toMatchObject({ status: 'failed', runtimeStatus: 'Completed', counts: { requested: 1, shortfall: 1 } });
    expect(done.outcome).toMatch(/^publishing failed after 5 attempts: .*control message \S+\/1 is larger than a whole batch \(1024 bytes\)/);
  });
});
