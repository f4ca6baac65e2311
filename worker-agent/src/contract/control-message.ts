// The control message (topic → subscription `shutdown`), as docs/DESIGN.md defines it.
// Pure: no I/O, no Azure imports, so the control plane can import it too.

import { DRAIN_ID_RULE, drainMessageId, isDrainId } from './drain-id.js';
import { type Failure, type ParseResult, fail, isFailure, ok } from './result.js';

export const OPERATIONS = ['graceful-downscale', 'do-not-accept-new-tasks'] as const;
export type Operation = (typeof OPERATIONS)[number];

/** The queue agents report to when a message names no `replyTo`. */
export const DEFAULT_REPLY_TO = 'workforce-reports';
/** The dead-letter reason for bodies an agent cannot parse. */
export const INVALID_CONTROL_MESSAGE = 'InvalidControlMessage';
/** The subscription agents consume on the control topic. */
export const DEFAULT_SUBSCRIPTION = 'shutdown';

export interface ControlMessage {
  operation: Operation;
  drainId?: string;
  /** ISO-8601 instant, normalised to `toISOString()`. `graceful-downscale` only. */
  deadline?: string;
  /** ISO-8601 instant, normalised to `toISOString()`. */
  notAfter?: string;
  reason?: string;
  requestedBy?: string;
  /** Queue for reports; `DEFAULT_REPLY_TO` when absent. */
  replyTo?: string;
}

export function isOperation(value: unknown): value is Operation {
  return typeof value === 'string' && (OPERATIONS as readonly string[]).includes(value);
}

// An instant needs a date, a time and a zone; `Date.parse` alone accepts far too much.
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i;
// Service Bus entity names: letters, digits, `.`, `-`, `_`, `/`; at most 260 characters.
const ENTITY_NAME = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,259}$/;
const MAX_TEXT = 1024;

/** Parses an ISO-8601 instant; undefined when it is not one. */
export function parseInstant(text: string): Date | undefined {
  if (!INSTANT.test(text)) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

/**
 * Turns a Service Bus body as received (bytes of a data section, a string, or an
 * already-decoded value) into a JSON value. A JSON string that itself holds JSON (a sender
 * that stringified twice) is unwrapped once.
 */
export function decodeJsonBody(body: unknown): ParseResult<unknown> {
  let value: unknown = body;
  if (value instanceof Uint8Array) {
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(value);
    } catch {
      return fail(INVALID_CONTROL_MESSAGE, 'body', 'the body is not UTF-8 text');
    }
    value = text;
  }
  for (let unwrap = 0; typeof value === 'string' && unwrap < 2; unwrap++) {
    try {
      value = JSON.parse(value);
    } catch (err) {
      if (unwrap > 0) break; // a plain string that happens not to be JSON: judged below
      return fail(INVALID_CONTROL_MESSAGE, 'body', `the body is not JSON (${(err as Error).message})`);
    }
  }
  return ok(value);
}

/** Validates a control message body; the error names the field at fault. */
export function parseControlMessage(body: unknown): ParseResult<ControlMessage> {
  const parsed = parseMessageFields(body, OPERATIONS);
  return parsed.ok ? ok(parsed.value.message) : parsed;
}

/**
 * The rules every message to agents shares (control message, per-node command), with the
 * operations the caller's entity accepts. Returns the message and the raw fields, for a caller
 * that checks more of them.
 */
export function parseMessageFields<O extends string>(
  body: unknown,
  operations: readonly O[],
): ParseResult<{ message: Omit<ControlMessage, 'operation'> & { operation: O }; fields: Record<string, unknown> }> {
  const decoded = decodeJsonBody(body);
  if (!decoded.ok) return decoded;
  const raw = decoded.value;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return fail(INVALID_CONTROL_MESSAGE, 'body', `the body must be a JSON object, not ${describe(raw)}`);
  }
  const fields = raw as Record<string, unknown>;
  const op = fields['operation'];
  if (op === undefined || op === null) {
    return fail(INVALID_CONTROL_MESSAGE, 'operation', 'operation is required');
  }
  if (typeof op !== 'string' || !(operations as readonly string[]).includes(op)) {
    return fail(
      INVALID_CONTROL_MESSAGE,
      'operation',
      `unknown operation ${JSON.stringify(op)}; expected one of ${operations.join(', ')}`,
    );
  }
  const message: Omit<ControlMessage, 'operation'> & { operation: O } = { operation: op as O };
  for (const name of ['drainId', 'reason', 'requestedBy'] as const) {
    const text = optionalText(fields, name);
    if (isFailure(text)) return text;
    if (text !== undefined) message[name] = text;
  }
  // The drain id travels back in reports and into the control plane's durable URLs.
  if (message.drainId !== undefined && !isDrainId(message.drainId)) {
    return fail(INVALID_CONTROL_MESSAGE, 'drainId', `drainId ${describe(message.drainId)} must be ${DRAIN_ID_RULE}`);
  }
  for (const name of ['deadline', 'notAfter'] as const) {
    const value = fields[name];
    if (value === undefined || value === null) continue;
    const at = typeof value === 'string' ? parseInstant(value) : undefined;
    if (!at) {
      return fail(INVALID_CONTROL_MESSAGE, name, `${name} must be an ISO-8601 instant with a time zone, got ${describe(value)}`);
    }
    // A deadline only means something for a drain; on an intake stop it is carried but unused.
    message[name] = at.toISOString();
  }
  const replyTo = optionalText(fields, 'replyTo');
  if (isFailure(replyTo)) return replyTo;
  if (replyTo !== undefined) {
    if (!ENTITY_NAME.test(replyTo)) {
      return fail(INVALID_CONTROL_MESSAGE, 'replyTo', `replyTo ${JSON.stringify(replyTo)} is not a valid queue name`);
    }
    message.replyTo = replyTo;
  }
  return ok({ message, fields });
}

function optionalText(fields: Record<string, unknown>, name: string): string | undefined | Failure {
  const value = fields[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.length === 0) {
    return fail(INVALID_CONTROL_MESSAGE, name, `${name} must be a non-empty string, got ${describe(value)}`);
  }
  if (value.length > MAX_TEXT) {
    return fail(INVALID_CONTROL_MESSAGE, name, `${name} is longer than ${MAX_TEXT} characters`);
  }
  return value;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

/**
 * Why the message must not be acted on at `now`, or undefined when it may be: its `notAfter`
 * passed, or (graceful-downscale) its deadline already passed, which would turn the drain into
 * an immediate SIGKILL of every worker.
 */
export function expiredBecause(message: Pick<ControlMessage, 'notAfter' | 'deadline'> & { operation: string }, now: Date): string | undefined {
  if (message.notAfter !== undefined && Date.parse(message.notAfter) < now.getTime()) {
    return `notAfter ${message.notAfter} passed before this node received it`;
  }
  if (message.operation === 'graceful-downscale' && message.deadline !== undefined && Date.parse(message.deadline) <= now.getTime()) {
    return `deadline ${message.deadline} passed before this node received it`;
  }
  return undefined;
}

/** Whether the message must not be acted on at `now` (see `expiredBecause`). */
export function isExpired(message: Pick<ControlMessage, 'notAfter' | 'deadline'> & { operation: string }, now: Date): boolean {
  return expiredBecause(message, now) !== undefined;
}

/** The Service Bus properties our publishers set (DESIGN: messageId, subject, contentType, timeToLive). */
export interface ControlMessageEnvelope {
  body: ControlMessage;
  messageId: string;
  subject: Operation;
  contentType: 'application/json';
  timeToLive: number;
}

/**
 * How long a control message outlives its `notAfter` on the bus. Agents enforce `notAfter` from
 * the body; the margin is for the message a node already deferred (its commit point) and still
 * has to complete: if it expired at `notAfter` exactly, an agent cut off from the bus just then
 * would find it in the DLQ as "expired unread" although it drained the node. Shorter than the
 * control plane's report grace (60 s), so every untaken message has expired by the time a
 * drain times out for `notAfter`.
 */
export const EXPIRY_MARGIN_MS = 30_000;

/**
 * Builds the `n`th message of a drain. Pure: `now` is passed in. Publishers always set
 * `notAfter`: a message without one would stay actionable for as long as the bus keeps it.
 */
export function controlMessageEnvelope(message: ControlMessage & { drainId: string; notAfter: string }, n: number, now: Date): ControlMessageEnvelope {
  return {
    body: message,
    messageId: drainMessageId(message.drainId, n),
    subject: message.operation,
    contentType: 'application/json',
    timeToLive: Math.max(1, Date.parse(message.notAfter) - now.getTime()) + EXPIRY_MARGIN_MS,
  };
}
