import { HttpRequest, InvocationContext } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import { cancelDrain } from '../../src/functions/cancel-drain.js';
import { getDrain } from '../../src/functions/get-drain.js';
import { getDrains } from '../../src/functions/list-drains.js';
import { postDrain } from '../../src/functions/post-drain.js';
import { putTopic } from '../../src/functions/put-topic.js';
import { reportsReceived } from '../../src/functions/reports.js';
import { occurrenceOf } from '../../src/functions/scheduled-drains.js';

// Handlers called directly with the library's own request and context objects. Only paths that
// answer before any I/O are tested here; the rest runs end to end through the local host.
const context = () => new InvocationContext({ functionName: 'test', invocationId: 'unit' });
const request = (method: string, url: string, params: Record<string, string>, body?: string) =>
  new HttpRequest({ method, url, params, ...(body !== undefined && { body: { string: body } }) });

describe('HTTP handlers (validation before any I/O)', () => {
  it('postDrain answers 400 problem+json naming the field', async () => {
    const res = await postDrain(request('POST', 'http://localhost/api/topics/eu/drains', { topic: 'eu' }, '{"count": -1}'), context());
    expect(res.status).toBe(400);
    expect(res.headers).toEqual({ 'content-type': 'application/problem+json' });
    expect(res.jsonBody).toMatchObject({ code: 'InvalidField', field: 'count', status: 400 });
  });

  it('postDrain answers 400 for a body that is not JSON', async () => {
    const res = await postDrain(request('POST', 'http://localhost/api/topics/eu/drains', { topic: 'eu' }, 'count=1'), context());
    expect(res.jsonBody).toMatchObject({ code: 'InvalidJson', status: 400 });
  });

  it('putTopic refuses a name Service Bus would refuse', async () => {
    const res = await putTopic(request('PUT', 'http://localhost/api/topics/a%20b', { topic: 'a b' }), context());
    expect(res.jsonBody).toMatchObject({ status: 400, field: 'topic' });
  });

  it('getDrain and cancelDrain refuse a malformed drain id', async () => {
    expect((await getDrain(request('GET', 'http://localhost/api/drains/x', { id: '../etc' }), context())).jsonBody).toMatchObject({ field: 'drainId' });
    const cancel = await cancelDrain(request('POST', 'http://localhost/api/drains/d1/cancel', { id: 'd1' }, '{"why": "x"}'), context());
    expect(cancel.jsonBody).toMatchObject({ status: 400, field: 'why' });
  });

  it('getDrains refuses an unknown status filter', async () => {
    const res = await getDrains(request('GET', 'http://localhost/api/drains?status=paused', {}), context());
    expect(res.jsonBody).toMatchObject({ status: 400, field: 'status' });
  });
});

describe('reports trigger (a batch)', () => {
  // (The context has no durable client: reaching for it would throw.)
  const at = '2026-01-01T00:00:00Z';
  it('never throws for a malformed report: it is logged with the field at fault and the batch goes on', async () => {
    const ctx = context();
    const warned: string[] = [];
    ctx.warn = (...args: unknown[]) => void warned.push(args.join(' '));
    const good = { messageId: 'm/1', nodeId: 'n', topic: 't', state: 'accepted', workers: [], at };
    await expect(reportsReceived([{ nodeId: 'n' }, 'not json', good], ctx)).resolves.toBeUndefined();
    expect(warned).toEqual([expect.stringContaining('(messageId: '), expect.stringContaining('(body: ')]);
  });

  it('contacts nothing for reports that name no drain, or a message that is not their drain\'s', async () => {
    const batch = [{ messageId: 'm/1', nodeId: 'n', topic: 't', state: 'accepted', workers: [], at }];
    for (const messageId of ['victim/1', 'd1', 'd1/0', 'd1/x']) batch.push({ drainId: 'd1', messageId, nodeId: 'n', topic: 't', state: 'drained', workers: [], at } as never);
    await expect(reportsReceived(batch, context())).resolves.toBeUndefined();
  });

  it('treats a drain id outside the pattern as a malformed report, not a drain to raise on', async () => {
    const report = { drainId: 'victim/terminate?reason=x&', messageId: 'victim/terminate?reason=x&/1', nodeId: 'n', topic: 't', state: 'drained', workers: [], at };
    await expect(reportsReceived([report], context())).resolves.toBeUndefined();
  });
});

describe('occurrenceOf (scheduled drains)', () => {
  const timer = (last: string, next: string) => ({ isPastDue: false, schedule: { adjustForDST: true }, scheduleStatus: { last, next, lastUpdated: last } });
  const now = new Date('2030-01-01T22:00:00.400Z');
  it("takes Azure's pre-run status: next is the occurrence firing", () => {
    expect(occurrenceOf(timer('2029-12-31T22:00:00Z', '2030-01-01T22:00:00Z'), now).toISOString()).toBe('2030-01-01T22:00:00.000Z');
    // A timer that fires a little early (clock skew) still names its own occurrence.
    expect(occurrenceOf(timer('2029-12-31T22:00:00Z', '2030-01-01T22:00:01Z'), now).toISOString()).toBe('2030-01-01T22:00:01.000Z');
  });
  it("takes the local host's post-update status: last is the occurrence firing", () => {
    expect(occurrenceOf(timer('2030-01-01T22:00:00Z', '2030-01-02T22:00:00Z'), now).toISOString()).toBe('2030-01-01T22:00:00.000Z');
  });
});
