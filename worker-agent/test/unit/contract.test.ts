import { describe, expect, it } from 'vitest';
import {
  EXPIRY_MARGIN_MS,
  MAX_COALESCED_CHARS,
  MAX_EARLIER_STEPS,
  coalesceReports,
  controlMessageEnvelope,
  drainMessageNumber,
  expiredBecause,
  isDrainId,
  isExpired,
  parseAgentReport,
  parseControlMessage,
  reportKey,
  reportSteps,
  type AgentReport,
} from '@workforce/worker-agent/contract';
import { KEPT_FIELDS, SENT_FIELDS } from './control-fields.js';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('parseControlMessage', () => {
  it('accepts the seed body exactly as existing senders publish it (bytes, string or object)', () => {
    for (const body of [bytes('{"operation": "graceful-downscale"}'), '{"operation": "graceful-downscale"}', { operation: 'graceful-downscale' }]) {
      expect(parseControlMessage(body)).toEqual({ ok: true, value: { operation: 'graceful-downscale' } });
    }
    expect(parseControlMessage(bytes('{"operation":"do-not-accept-new-tasks"}'))).toEqual({ ok: true, value: { operation: 'do-not-accept-new-tasks' } });
  });

  it('keeps known fields, normalises instants and ignores unknown fields', () => {
    const result = parseControlMessage({ operation: 'graceful-downscale', ...SENT_FIELDS });
    expect(result).toEqual({ ok: true, value: { operation: 'graceful-downscale', ...KEPT_FIELDS } });
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
    // Agents echo the drain id in reports; the control plane addresses a durable instance with it.
    [{ operation: 'graceful-downscale', drainId: 'victim/terminate?reason=x&' }, 'drainId', /must be 1-64 letters, digits/],
    [{ operation: 'graceful-downscale', drainId: '..' }, 'drainId', /must be 1-64/],
    [{ operation: 'graceful-downscale', drainId: 'd'.repeat(65) }, 'drainId', /must be 1-64/],
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

  it('treats a drain whose deadline already passed as expired (acting would be an immediate SIGKILL)', () => {
    const now = new Date('2030-01-01T00:00:00Z');
    const late = { operation: 'graceful-downscale' as const, deadline: '2029-12-31T23:59:00.000Z', notAfter: '2030-01-01T00:10:00.000Z' };
    expect(expiredBecause(late, now)).toBe('deadline 2029-12-31T23:59:00.000Z passed before this node received it');
    expect(isExpired({ ...late, deadline: now.toISOString() }, now)).toBe(true);
    expect(isExpired({ ...late, deadline: '2030-01-01T00:00:01.000Z' }, now)).toBe(false);
    // An intake stop carries a deadline without using it.
    expect(isExpired({ ...late, operation: 'do-not-accept-new-tasks' }, now)).toBe(false);
  });
});

describe('drain ids', () => {
  it('one pattern: letters, digits, . - _, up to 64, starting with a letter or digit', () => {
    for (const id of ['d1', 'nightly-eu-20261125T2200Z', '3f2b8c1e-0d6a-4c1b-9d1e-5b7f2a9c0e11', 'a.b_c']) expect(isDrainId(id)).toBe(true);
    for (const id of ['', '-x', '.x', 'a/b', 'a?b', 'a&b', 'a%2Fb', 'a b', 'd'.repeat(65), 7]) expect(isDrainId(id)).toBe(false);
  });

  it('numbers a drain\'s messages from 1 and recognises only its own', () => {
    expect(drainMessageNumber('d1', 'd1/3')).toBe(3);
    for (const id of ['d1/0', 'd1/03', 'd1/', 'd1/1/2', 'd10/1', 'd1/x', 'd2/1', 'd1']) expect(drainMessageNumber('d1', id)).toBeUndefined();
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
    messageId: 'd1/1',
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

  it('refuses a drain id outside the pattern and overlong text (reports are untrusted)', () => {
    expect(parseAgentReport({ ...report, drainId: 'victim/terminate?reason=x&' })).toMatchObject({ ok: false, error: { code: 'InvalidReport', field: 'drainId' } });
    expect(parseAgentReport({ ...report, nodeId: 'n'.repeat(1025) })).toMatchObject({ ok: false, error: { field: 'nodeId' } });
    expect(parseAgentReport({ ...report, reason: 'r'.repeat(1025) })).toMatchObject({ ok: false, error: { field: 'reason' } });
    expect(parseAgentReport({ ...report, workers: [{ workerId: 'w'.repeat(1025), pid: 1 }] })).toMatchObject({ ok: false, error: { field: 'workers[0].workerId' } });
  });

  it('keys duplicates by message and state (and worker for exits)', () => {
    expect(reportKey({ ...report, state: 'accepted' })).toBe(reportKey({ ...report, state: 'accepted', workers: [] }));
    expect(reportKey(report as never)).not.toBe(reportKey({ ...report, workers: [{ workerId: 'w2', pid: 11 }] } as never));
  });
});

describe('coalesced reports (earlier states in one message)', () => {
  const base = { drainId: 'd1', messageId: 'd1/1', nodeId: 'n1', topic: 't', workers: [{ workerId: 'w1', pid: 10 }] };
  const at = (s: number) => new Date(Date.UTC(2030, 0, 1, 0, 0, s)).toISOString();
  const accepted: AgentReport = { ...base, state: 'accepted', at: at(1) };
  const signalled: AgentReport = { ...base, state: 'signalled', at: at(2), workers: [{ workerId: 'w1', pid: 10, signal: 'SIGTERM' }] };
  const drained: AgentReport = { ...base, state: 'drained', at: at(3) };
  const other: AgentReport = { ...base, nodeId: 'n2', messageId: 'd1/2', state: 'accepted', at: at(4) };

  it('travel as one report per message and node, in order, and come back as the same states', () => {
    const wire = coalesceReports([accepted, signalled, drained, other]);
    expect(wire).toHaveLength(2);
    expect(wire[0]).toMatchObject({ state: 'drained', earlier: [{ state: 'accepted', at: at(1) }, { state: 'signalled', at: at(2) }] });
    const parsed = parseAgentReport(JSON.parse(JSON.stringify(wire[0])));
    expect(parsed.ok && reportSteps(parsed.value)).toEqual([accepted, signalled, drained]);
    expect(reportSteps(wire[1]!)).toEqual([other]);
  });

  it('keep at most MAX_EARLIER_STEPS earlier states per message', () => {
    const many = Array.from({ length: MAX_EARLIER_STEPS + 3 }, (_, i) => ({ ...signalled, at: at(i) }));
    const wire = coalesceReports(many);
    expect(wire.map((r) => r.earlier?.length ?? 0)).toEqual([MAX_EARLIER_STEPS, 1]);
    expect(wire.flatMap(reportSteps)).toEqual(many);
  });

  it('never coalesce past MAX_COALESCED_CHARS (a node with many workers): the states travel in more messages', () => {
    const workers = Array.from({ length: 256 }, (_, i) => ({ workerId: `worker-${i}`, pid: 1000 + i }));
    const wide = [accepted, signalled, drained].map((r) => ({ ...r, workers }));
    const wire = coalesceReports(wide);
    expect(wire.length).toBeGreaterThan(1);
    expect(JSON.stringify(wide[0]).length).toBeLessThan(MAX_COALESCED_CHARS);
    for (const r of wire) expect(JSON.stringify(r).length).toBeLessThanOrEqual(MAX_COALESCED_CHARS);
    expect(wire.flatMap(reportSteps)).toEqual(wide);
  });

  it('names the bad field of an earlier state, and refuses too many', () => {
    const wire = coalesceReports([accepted, drained])[0]!;
    expect(parseAgentReport({ ...wire, earlier: [{ state: 'sleeping', at: at(1), workers: [] }] })).toMatchObject({ ok: false, error: { field: 'earlier[0].state' } });
    expect(parseAgentReport({ ...wire, earlier: [{ state: 'accepted', at: at(1), workers: [{ pid: 'x' }] }] })).toMatchObject({ ok: false, error: { field: 'earlier[0].workers[0].workerId' } });
    expect(parseAgentReport({ ...wire, earlier: 'accepted' })).toMatchObject({ ok: false, error: { field: 'earlier' } });
    const tooMany = Array.from({ length: MAX_EARLIER_STEPS + 1 }, () => ({ state: 'accepted', at: at(1), workers: [] }));
    expect(parseAgentReport({ ...wire, earlier: tooMany })).toMatchObject({ ok: false, error: { field: 'earlier' } });
  });
});

