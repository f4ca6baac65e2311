import { describe, expect, it } from 'vitest';
import { DEFAULT_ACK_TIMEOUT_MS, parseDrainRequest, requester } from '../../src/domain/drain-request.js';

const now = new Date('2026-11-25T12:00:00.000Z');
const later = (ms: number) => new Date(now.getTime() + ms).toISOString();

function problemOf(topic: string, body: unknown) {
  const result = parseDrainRequest(topic, body, now);
  if (result.ok) throw new Error(`expected a problem, got ${JSON.stringify(result.value)}`);
  return result.problem;
}

describe('parseDrainRequest', () => {
  it('defaults to graceful-downscale with a 15-minute ack timeout', () => {
    const result = parseDrainRequest('eu-west', { count: 2 }, now);
    expect(result).toEqual({
      ok: true,
      value: { topic: 'eu-west', mode: 'graceful-downscale', count: 2, notAfter: later(DEFAULT_ACK_TIMEOUT_MS), requestedAt: now.toISOString() },
    });
  });

  it('resolves relative times against now', () => {
    const result = parseDrainRequest('eu-west', { count: 1, gracePeriod: '2h', ackTimeout: '10m', reason: 'nightly', drainId: 'n-1' }, now);
    expect(result.ok && result.value).toMatchObject({ deadline: later(7_200_000), notAfter: later(600_000), reason: 'nightly', drainId: 'n-1' });
  });

  it('clamps a defaulted notAfter to a deadline sooner than 15 minutes; an explicit one is refused', () => {
    for (const body of [{ count: 1, gracePeriod: '10m' }, { count: 1, deadline: later(600_000) }]) {
      const result = parseDrainRequest('eu-west', body, now);
      expect(result.ok && result.value).toMatchObject({ deadline: later(600_000), notAfter: later(600_000) });
    }
    expect(problemOf('eu-west', { count: 1, gracePeriod: '10m', ackTimeout: '11m' })).toMatchObject({ field: 'ackTimeout', detail: expect.stringContaining('must not end after the deadline') });
    expect(problemOf('eu-west', { count: 1, gracePeriod: '10m', notAfter: later(660_000) })).toMatchObject({ field: 'notAfter' });
  });

  it('keeps absolute instants', () => {
    const deadline = later(3_600_000);
    const result = parseDrainRequest('t', { count: 3, deadline, notAfter: later(60_000), mode: 'graceful-downscale' }, now);
    expect(result.ok && result.value.deadline).toBe(deadline);
  });

  it.each([
    [{ count: 0 }, 'count'],
    [{ count: 1.5 }, 'count'],
    [{ count: '2' }, 'count'],
    [{}, 'count'],
    [{ count: 1, mode: 'shutdown' }, 'mode'],
    [{ count: 1, deadline: '2020-01-01T00:00:00Z' }, 'deadline'],
    [{ count: 1, deadline: 'tomorrow' }, 'deadline'],
    [{ count: 1, gracePeriod: 'forever' }, 'gracePeriod'],
    [{ count: 1, deadline: later(60_000), gracePeriod: '1h' }, 'gracePeriod'],
    [{ count: 1, mode: 'do-not-accept-new-tasks', gracePeriod: '1h' }, 'gracePeriod'],
    [{ count: 1, gracePeriod: '5m', ackTimeout: '10m' }, 'ackTimeout'],
    [{ count: 1, reason: 42 }, 'reason'],
    [{ count: 1, drainId: 'a/b' }, 'drainId'],
    [{ count: 1, drainId: 42 }, 'drainId'],
    [{ count: 1, drainId: true }, 'drainId'],
    [{ count: 1, grace: '1h' }, 'grace'],
  ])('names the bad field of %j', (body, field) => {
    const problem = problemOf('eu-west', body);
    expect(problem).toMatchObject({ code: 'InvalidField', status: 400, field });
    expect(problem.detail).toContain(field);
  });

  it('rejects a body that is not an object and a bad topic name', () => {
    expect(problemOf('eu-west', [1]).detail).toMatch(/JSON object/);
    expect(problemOf('-bad-', { count: 1 }).field).toBe('topic');
  });
});

describe('requester (who asked)', () => {
  it('takes the signed-in principal over the body, keeping the body as requestedFor', () => {
    expect(requester('alice@corp', 'ceo@corp')).toEqual({ requestedBy: 'alice@corp', requestedFor: 'ceo@corp' });
    expect(requester('alice@corp', 'alice@corp')).toEqual({ requestedBy: 'alice@corp' });
    expect(requester('alice@corp', undefined)).toEqual({ requestedBy: 'alice@corp' });
  });
  it('without a principal, the body is all there is', () => {
    expect(requester(undefined, 'ops')).toEqual({ requestedBy: 'ops' });
    expect(requester('', 'ops')).toEqual({ requestedBy: 'ops' });
    expect(requester(undefined, undefined)).toEqual({});
  });
});
