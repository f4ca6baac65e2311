import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPORTS_QUEUE } from '../../src/config.js';
import { sendRaw } from '../support/agents.js';
import { inventoryOf, startControlPlane, waitFor, type ControlPlane } from '../support/control-plane.js';

/** What callers get wrong, and what the app answers: problem+json naming the field, never a stack. */
describe('API errors and report hygiene', () => {
  let cp: ControlPlane;
  beforeAll(async () => {
    cp = await startControlPlane();
  });
  afterAll(async () => {
    await cp?.close();
  });

  it('refuses calls without the function key (401)', async () => {
    for (const [method, route] of [['PUT', 'topics/t'], ['POST', 'topics/t/drains'], ['GET', 'drains/x'], ['GET', 'drains'], ['POST', 'drains/x/cancel']] as const) {
      const res = await cp.api(method, route, method === 'GET' ? undefined : { count: 1 }, null);
      expect(res.status, `${method} ${route}`).toBe(401);
      expect((await cp.api(method, route, method === 'GET' ? undefined : { count: 1 }, 'wrong-key')).status).toBe(401);
    }
  });

  it.each([
    [{ count: 0 }, 'count'],
    [{ count: 'two' }, 'count'],
    [{ count: 1, mode: 'shutdown-now' }, 'mode'],
    [{ count: 1, gracePeriod: 'soon' }, 'gracePeriod'],
    [{ count: 1, deadline: '2001-01-01T00:00:00Z' }, 'deadline'],
    [{ count: 1, deadline: '2099-01-01T00:00:00Z', gracePeriod: '1h' }, 'gracePeriod'],
    [{ count: 1, mode: 'do-not-accept-new-tasks', gracePeriod: '1h' }, 'gracePeriod'],
    [{ count: 1, colour: 'blue' }, 'colour'],
    [{ count: 1, drainId: 'has space' }, 'drainId'],
    [{ count: 1, drainId: 'victim/terminate?reason=x&' }, 'drainId'],
  ])('answers 400 problem+json naming the field for %j', async (body, field) => {
    const res = await cp.api('POST', 'topics/eu-west/drains', body);
    expect(res.status).toBe(400);
    expect(res.contentType).toContain('application/problem+json');
    expect(res.body).toMatchObject({ status: 400, code: 'InvalidField', field });
    expect(res.body.detail).toContain(field);
    expect(JSON.stringify(res.body)).not.toMatch(/\bat .*\.ts:\d+/);
  });

  it('answers 400 for a body that is not JSON and for a bad topic name', async () => {
    const notJson = await cp.api('POST', 'topics/eu-west/drains', '{"count": 1');
    expect(notJson).toMatchObject({ status: 400, body: { code: 'InvalidJson' } });
    const badTopic = await cp.api('PUT', 'topics/-bad-');
    expect(badTopic).toMatchObject({ status: 400, body: { field: 'topic' } });
    expect((await cp.api('GET', 'drains?status=sleeping')).body).toMatchObject({ field: 'status' });
    // A drain id in the route is held to the same pattern (it becomes a durable instance id).
    const evil = encodeURIComponent('victim/terminate?reason=x&');
    for (const [method, route] of [['GET', `drains/${evil}`], ['GET', `drains/${evil}/workers`], ['POST', `drains/${evil}/cancel`]] as const) {
      const res = await cp.api(method, route);
      expect([res.status, res.contentType, res.body.field], route).toEqual([400, 'application/problem+json', 'drainId']);
    }
  });

  it('answers 404 for an unknown drain and 409 for a drain id already used', async () => {
    expect((await cp.api('GET', 'drains/no-such-drain')).body).toMatchObject({ status: 404, code: 'DrainNotFound' });
    expect((await cp.api('POST', 'drains/no-such-drain/cancel')).status).toBe(404);
    await cp.api('PUT', 'topics/dup-1');
    expect((await cp.api('POST', 'topics/dup-1/drains', { count: 1, drainId: 'fixed-id-1' })).status).toBe(202);
    const again = await cp.api('POST', 'topics/dup-1/drains', { count: 1, drainId: 'fixed-id-1' });
    expect(again.body).toMatchObject({ status: 409, code: 'DrainExists', field: 'drainId' });
  });

  it('answers 409 DrainExists, not 500, to a start that races another for the same drain id (a client retrying a POST that timed out)', async () => {
    await cp.api('PUT', 'topics/dup-2');
    const answers = await Promise.all(Array.from({ length: 4 }, () => cp.api('POST', 'topics/dup-2/drains', { count: 1, drainId: 'raced-id-1' })));
    expect(answers.map((a) => (a.status === 409 ? `409 ${a.body.code}` : String(a.status))).sort()).toEqual(['202', '409 DrainExists', '409 DrainExists', '409 DrainExists']);
  });

  it('answers a clear 4xx when Service Bus management rejects the entity', async () => {
    // A topic may not take the name of an existing queue: ARM answers 409 Conflict.
    const res = await cp.api('PUT', `topics/${REPORTS_QUEUE}`);
    expect(res.status).toBe(409);
    expect(res.contentType).toContain('application/problem+json');
    expect(res.body).toMatchObject({ code: 'ProvisioningRejected', field: 'topic' });
  });

  it('completes reports for unknown drains, and malformed ones too, keeping those in the rejected reports', async () => {
    await sendRaw(cp.sb, REPORTS_QUEUE, [
      { messageId: 'unknown-drain', body: { drainId: 'never-started', messageId: 'never-started/1', nodeId: 'n', topic: 't', state: 'accepted', workers: [], at: new Date().toISOString() } },
      { messageId: 'malformed', body: { nodeId: 'n', state: 'sleeping' } },
    ]);
    // The trigger takes batches: a malformed report is not thrown back (that would abandon the
    // good ones with it), it is kept with the field at fault.
    const inventory = inventoryOf(cp);
    const rejected = await waitFor(async () => (await inventory.listRejected()).find((r) => r.messageId === 'malformed'), 'the malformed report in the rejected reports');
    expect(rejected).toMatchObject({ field: 'messageId', reason: 'messageId must be a non-empty string' });
    // The unknown drain's report was completed, not retried into the DLQ.
    const queue = await waitFor(() => {
      const q = cp.bus.emulator.catalogue.getQueue(REPORTS_QUEUE);
      return q && q.activeMessageCount === 0 && q;
    }, 'the reports queue to empty');
    expect(queue.deadLetterMessageCount).toBe(0);
  });
});
