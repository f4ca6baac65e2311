import { describe, expect, it } from 'vitest';
import {
  COMMAND_OPERATIONS,
  EXPIRY_MARGIN_MS,
  MAX_NODE_ID_LENGTH,
  REPORT_STATES,
  commandEnvelope,
  commandsQueueName,
  expiredBecause,
  isCommandTarget,
  isSameNode,
  parseAgentReport,
  parseCommandMessage,
  parseControlMessage,
} from '@workforce/worker-agent/contract';
import { KEPT_FIELDS, SENT_FIELDS } from './control-fields.js';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('commandsQueueName', () => {
  it('is <topic>-commands, case kept', () => {
    expect(commandsQueueName('eu-West')).toBe('eu-West-commands');
  });
});

describe('isCommandTarget', () => {
  it('accepts 1-128 characters without control characters, as Service Bus session ids allow', () => {
    expect(isCommandTarget('node-17')).toBe(true);
    expect(isCommandTarget('a'.repeat(MAX_NODE_ID_LENGTH))).toBe(true);
    expect(isCommandTarget('gpu node/7 ü')).toBe(true);
  });

  it.each([
    ['', 'empty'],
    ['a'.repeat(MAX_NODE_ID_LENGTH + 1), 'too long'],
    ['node\n17', 'a newline'],
    ['node\u0000', 'NUL'],
    ['node\u007f', 'DEL'],
    ['node\u0085', 'a C1 control'],
    [17, 'a number'],
    [null, 'null'],
  ] as Array<[unknown, string]>)('refuses %j (%s)', (value) => {
    expect(isCommandTarget(value)).toBe(false);
  });
});

describe('isSameNode', () => {
  it('compares case-insensitively, as Service Bus compares session ids', () => {
    expect(isSameNode('Node-17', 'node-17')).toBe(true);
    expect(isSameNode('node-17', 'node-71')).toBe(false);
  });
});

describe('parseCommandMessage', () => {
  it('accepts every command operation with its nodeId, from bytes, a string or an object', () => {
    expect(COMMAND_OPERATIONS).toEqual(['graceful-downscale', 'do-not-accept-new-tasks', 'resume']);
    for (const operation of COMMAND_OPERATIONS) {
      for (const body of [bytes(JSON.stringify({ operation, nodeId: 'n1' })), JSON.stringify({ operation, nodeId: 'n1' }), { operation, nodeId: 'n1' }]) {
        expect(parseCommandMessage(body)).toEqual({ ok: true, value: { operation, nodeId: 'n1' } });
      }
    }
  });

  it('applies the control message rules to the shared fields, and keeps them', () => {
    const result = parseCommandMessage({ operation: 'graceful-downscale', nodeId: 'n1', ...SENT_FIELDS });
    expect(result).toEqual({ ok: true, value: { operation: 'graceful-downscale', nodeId: 'n1', ...KEPT_FIELDS } });
  });

  it.each([
    [bytes('not json'), 'body', /not JSON/],
    [[], 'body', /JSON object/],
    [{ nodeId: 'n1' }, 'operation', /required/],
    [{ operation: 'reboot', nodeId: 'n1' }, 'operation', /unknown operation "reboot".*resume/],
    [{ operation: 'resume' }, 'nodeId', /required on a command/],
    [{ operation: 'resume', nodeId: null }, 'nodeId', /required on a command/],
    [{ operation: 'resume', nodeId: '' }, 'nodeId', /1-128 characters/],
    [{ operation: 'resume', nodeId: 7 }, 'nodeId', /number must be 1-128/],
    [{ operation: 'resume', nodeId: 'x'.repeat(129) }, 'nodeId', /1-128 characters/],
    [{ operation: 'resume', nodeId: 'n\u001b[31m' }, 'nodeId', /control characters/],
    [{ operation: 'resume', nodeId: 'n1', drainId: 'a/b' }, 'drainId', /letters, digits/],
    [{ operation: 'resume', nodeId: 'n1', notAfter: 'tomorrow' }, 'notAfter', /ISO-8601/],
    [{ operation: 'graceful-downscale', nodeId: 'n1', deadline: 5 }, 'deadline', /ISO-8601/],
    [{ operation: 'resume', nodeId: 'n1', reason: '' }, 'reason', /non-empty string/],
    [{ operation: 'resume', nodeId: 'n1', requestedBy: 'x'.repeat(1025) }, 'requestedBy', /longer than 1024/],
    [{ operation: 'resume', nodeId: 'n1', replyTo: 'no spaces' }, 'replyTo', /not a valid queue name/],
  ])('refuses %j naming the field %s', (body, field, message) => {
    const result = parseCommandMessage(body);
    expect(result).toMatchObject({ ok: false, error: { code: 'InvalidControlMessage', field } });
    if (!result.ok) expect(result.error.message).toMatch(message);
  });

  it('leaves resume unknown on the shutdown subscription', () => {
    expect(parseControlMessage({ operation: 'resume' })).toMatchObject({ ok: false, error: { field: 'operation' } });
  });

  it('expires a resume after notAfter, with no deadline rule', () => {
    const now = new Date('2030-01-01T08:00:00Z');
    expect(expiredBecause({ operation: 'resume', notAfter: '2030-01-01T07:59:59.000Z' }, now)).toMatch(/notAfter/);
    expect(expiredBecause({ operation: 'resume', notAfter: '2030-01-01T08:00:01.000Z', deadline: '2029-01-01T00:00:00.000Z' }, now)).toBeUndefined();
  });
});

describe('commandEnvelope', () => {
  it('addresses the node by sessionId and numbers the message like a control message', () => {
    const now = new Date('2030-01-01T08:00:00Z');
    const envelope = commandEnvelope({ operation: 'resume', nodeId: 'Node-3', drainId: 'd1', notAfter: '2030-01-01T08:05:00.000Z' }, 3, now);
    expect(envelope).toEqual({
      body: { operation: 'resume', nodeId: 'Node-3', drainId: 'd1', notAfter: '2030-01-01T08:05:00.000Z' },
      sessionId: 'Node-3',
      messageId: 'd1/3',
      subject: 'resume',
      contentType: 'application/json',
      timeToLive: 300_000 + EXPIRY_MARGIN_MS,
    });
  });
});

describe('the refused report state', () => {
  it('is a report state the control plane parses', () => {
    expect(REPORT_STATES).toContain('refused');
    const report = { messageId: 'd1/1', nodeId: 'n1', topic: 't', state: 'refused', workers: [], at: '2030-01-01T08:00:00Z', reason: 'drained: resume it first' };
    expect(parseAgentReport(report)).toMatchObject({ ok: true, value: { state: 'refused' } });
  });
});
