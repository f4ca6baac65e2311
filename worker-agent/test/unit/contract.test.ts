import { describe, expect, it } from 'vitest';
import {
  EXPIRY_MARGIN_MS,
  controlMessageEnvelope,
  isExpired,
  parseAgentReport,
  parseControlMessage,
  reportKey,
} from '@workforce/worker-agent/contract';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('parseControlMessage', () => {
  it('accepts the seed body exactly as existing senders publish it (bytes, string or object)', () => {
    for (const body of [bytes('{"operation": "graceful-downscale"}'), '{"operation": "graceful-downscale"}', { operation: 'graceful-downscale' }]) {
      expect(parseControlMessage(body)).toEqual({ ok: true, value: { operation: 'graceful-downscale' } });
    }
    expect(parseControlMessage(bytes('{"operation":"do-not-accept-new-tasks"}'))).toEqual({ ok: true, value: { operation: 'do-not-accept-new-tasks' } });
  });

  it('keeps known fields, normalises instants and ignores unknown fields', () => {
    const result = parseControlMessage({
      operation: 'graceful-downscale',
      drainId: 'd1',
      deadline: '2030-01-01T10:00:00+02:00',
      notAfter: '2030-01-01T08:00:00Z',
      reason: 'scale in',
      requestedBy: 'ops@example.com',
      replyTo: 'reports-eu',
      somethingNew: 42,
    });
    expect(result).toEqual({
      ok: true,
      value: {
        operation: 'graceful-downscale',
        drainId: 'd1',
        deadline: '2030-01-01T08:00:00.000Z',
        notAfter: '2030-01-01T08:00:00.000Z',
        reason: 'scale in',
        requestedBy: 'ops@example.com',
        replyTo: 'reports-eu',
      },
    });
  });

  it('unwraps a body that was JSON-stringified twice', () => {
    expect(parseControlMessage(JSON.stringify(JSON.stringify({ operation: 'graceful-downscale' })))).toMatchObject({ ok: true });
  });

  it.each([
    [bytes('not json'), 'body', /not JSON/],
    [new Uint8Array([0xff, 0xfe]), 'body', /UTF-8/],
    ['[1,2]', 'body', /JSON object, not an array/],
    ['"just a string"', 'body', /JSON object/],
    [{}, 'operation', /required/],
    [{ operation: 'explode' }, 'operation', /unknown operation "explode"/],
    [{ operation: 'graceful-downscale', deadline: 'tomorrow' }, 'deadline', /ISO-8601/],
    [{ operation: 'graceful-downscale', deadline: '2030-01-01T08:00:00' }, 'deadline', /time zone/],
    [{ operation: 'graceful-downscale', notAfter: 12 }, 'notAfter', /ISO-8601/],
    [{ operation: 'graceful-downscale', drainId: '' }, 'drainId', /non-empty/],
    [{ operation: 'graceful-downscale', reason: 5 }, 'reason', /non-empty string/],
    [{ operation: 'graceful-downscale', replyTo: 'no spaces' }, 'replyTo', /not a valid queue/],
  ])('rejects %j naming the field', (body, field, message) => {
    const result = parseControlMessage(body);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.code).toBe('InvalidControlMessage');
      expect(result.error.field).toBe(field);
      expect(result.error.message).toMatch(message);
    }
  });

  it('tells expired messages apart', () => {
    const message = { operation: 'graceful-downscale' as const, notAfter: '2030-01-01T00:00:00.000Z' };
    expect(isExpired(message, new Date('2029-12-31T23:59:59Z'))).toBe(false);
    expect(isExpired(message, new Date('2030-01-01T00:00:01Z'))).toBe(true);
    expect(isExpired({ operation: 'graceful-downscale' }, new Date())).toBe(false);
  });
});

describe('controlMessageEnvelope', () => {
  it('sets the properties publishers use', () => {
    const now = new Date('2030-01-01T00:00:00Z');
    const envelope = controlMessageEnvelope({ operation: 'graceful-downscale', drainId: 'd7', notAfter: '2030-01-01T00:15:00.000Z' }, 3, now);
    expect(envelope).toEqual({
      body: { operation: 'graceful-downscale', drainId: 'd7', notAfter: '2030-01-01T00:15:00.000Z' },
      messageId: 'd7/3',
      subject: 'graceful-downscale',
      contentType: 'application/json',
      timeToLive: 15 * 60_000 + EXPIRY_MARGIN_MS,
    });
  });
});

describe('parseAgentReport', () => {
  const report = {
    drainId: 'd1',
    messageId: 'd1/0',
    nodeId: 'n1',
    topic: 't',
    state: 'worker-exited',
    workers: [{ workerId: 'w1', pid: 10, exitCode: 0 }],
    at: '2030-01-01T00:00:00.000Z',
  };

  it('round-trips a report', () => {
    expect(parseAgentReport(JSON.stringify(report))).toEqual({ ok: true, value: report });
  });

  it('names the bad field', () => {
    const bad = parseAgentReport({ ...report, workers: [{ workerId: 'w1', pid: 'x' }] });
    expect(bad).toMatchObject({ ok: false, error: { code: 'InvalidReport', field: 'workers[0].pid' } });
    expect(parseAgentReport({ ...report, state: 'done' })).toMatchObject({ ok: false, error: { field: 'state' } });
  });

  it('keys duplicates by message and state (and worker for exits)', () => {
    expect(reportKey({ ...report, state: 'accepted' })).toBe(reportKey({ ...report, state: 'accepted', workers: [] }));
    expect(reportKey(report as never)).not.toBe(reportKey({ ...report, workers: [{ workerId: 'w2', pid: 11 }] } as never));
  });
});
