// Request/response operations on `<entity>/$management`: decode the request body, call the
// broker, encode the reply. Replies carry `statusCode`/`statusDescription` (and `errorCondition`
// on failure) in their application properties, as Service Bus does.
import rhea from 'rhea';
import type { Right } from '../auth/rbac.js';
import type { Broker, Settlement } from '../broker/broker.js';
import type { BrokerMessage } from '../broker/message.js';
import { invalidRequest, notImplemented, toEmulatorError } from '../errors.js';
import { encodeForDelivery } from './delivery.js';
import { uuidToString } from './guid.js';
import { parsePayload } from './payload.js';
import { sessionOperation } from './session-operations.js';
import { addRule, enumerateRules, removeRule } from './rule-operations.js';

const { types } = rhea;

export interface ManagementRequest {
  operation: string;
  body: Record<string, unknown>;
}

export interface ManagementReply {
  status: number;
  description: string;
  condition?: string;
  body: unknown;
  /** Why a request failed, with the emulator's hint, for the log. */
  reason?: string;
}

export interface ManagementContext {
  broker: Broker;
  /** The entity address, without `/$management`. */
  entity: string;
  /** Connection id, the owner of locks taken here. */
  owner: string;
  /** The host name the client connected to, for Azure's wording of errors. */
  namespace?: string;
}

export const ok = (body: unknown = {}): ManagementReply => ({ status: 200, description: 'OK', body });

export function handleManagement(ctx: ManagementContext, request: ManagementRequest): ManagementReply {
  try {
    const handler = sessionOperation(ctx, request) ?? operations[request.operation];
    if (!handler) throw notImplemented(`The management operation '${request.operation}'`);
    return handler(ctx, request.body ?? {});
  } catch (e) {
    const err = toEmulatorError(e);
    return { status: err.statusCode, description: err.wireMessage(ctx.namespace), condition: err.condition, body: {}, reason: err.message };
  }
}

export type Operation = (ctx: ManagementContext, body: Record<string, unknown>) => ManagementReply;

const operations: Record<string, Operation> = {
  'com.microsoft:renew-lock': ({ broker, entity }, body) => {
    const sq = broker.subqueue(entity);
    const until = broker.renewLocks(sq, lockTokens(body));
    return ok({ expirations: types.wrap_array(until.map((t) => new Date(t)), 0x83, undefined) });
  },

  'com.microsoft:schedule-message': ({ broker, entity }, body) => {
    const target = broker.sendTarget(entity);
    const entries = body.messages;
    if (!Array.isArray(entries) || entries.length === 0) throw invalidRequest("schedule-message needs a non-empty 'messages' list.");
    const payloads = entries.map((entry: Record<string, unknown>) => {
      const raw = entry?.message;
      if (!Buffer.isBuffer(raw)) throw invalidRequest("Each scheduled message needs its encoded 'message'.");
      broker.checkSize(target, raw.length);
      const payload = parsePayload(raw);
      if (payload.scheduledEnqueueTime === undefined) throw invalidRequest('A scheduled message needs x-opt-scheduled-enqueue-time.');
      return payload;
    });
    // One call per message, so that each gets its own number (0 for a dropped duplicate).
    const seqs = payloads.map((p) => broker.send(target, [p])[0] ?? 0);
    return ok({ 'sequence-numbers': types.wrap_array(seqs, 0x81, undefined) });
  },

  'com.microsoft:cancel-scheduled-message': ({ broker, entity }, body) => {
    broker.cancelScheduled(broker.sendTarget(entity), sequenceNumbers(body));
    return ok();
  },

  'com.microsoft:peek-message': ({ broker, entity }, body) => {
    const sq = broker.subqueue(entity);
    const from = toNumber(body['from-sequence-number'], 'from-sequence-number');
    const count = toNumber(body['message-count'], 'message-count');
    return peekReply(broker.peek(sq, from, Math.max(1, count)));
  },

  'com.microsoft:receive-by-sequence-number': ({ broker, entity, owner }, body) => {
    const sq = broker.subqueue(entity);
    const receiveAndDelete = body['receiver-settle-mode'] === 0;
    const found = broker.receiveDeferred(sq, sequenceNumbers(body), receiveAndDelete, owner);
    return ok({ messages: found.map((m) => deferredEntry(m)) });
  },

  'com.microsoft:update-disposition': ({ broker, entity }, body) => {
    const sq = broker.subqueue(entity);
    const settlement = dispositionOf(body);
    for (const token of lockTokens(body)) broker.settle(token, settlement, sq);
    return ok();
  },

  'com.microsoft:add-rule': ({ broker, entity }, body) => replyOf(addRule(broker, entity, body)),
  'com.microsoft:remove-rule': ({ broker, entity }, body) => replyOf(removeRule(broker, entity, body)),
  'com.microsoft:enumerate-rules': ({ broker, entity }, body) => replyOf(enumerateRules(broker, entity, body)),
};

/**
 * The right an operation needs, as Azure checks it: settling, peeking, lock renewal, sessions
 * and the rule manager (which Azure lets a Listen claim use) need Listen; scheduling needs Send.
 * Unknown operations need Manage (they are refused as not implemented anyway).
 */
export function rightFor(operation: string): Right {
  if (operation === 'com.microsoft:schedule-message' || operation === 'com.microsoft:cancel-scheduled-message') return 'Send';
  return LISTEN_OPERATIONS.has(operation) ? 'Listen' : 'Manage';
}

const LISTEN_OPERATIONS = new Set([
  'com.microsoft:renew-lock',
  'com.microsoft:peek-message',
  'com.microsoft:receive-by-sequence-number',
  'com.microsoft:update-disposition',
  'com.microsoft:renew-session-lock',
  'com.microsoft:get-session-state',
  'com.microsoft:set-session-state',
  'com.microsoft:get-message-sessions',
  'com.microsoft:add-rule',
  'com.microsoft:remove-rule',
  'com.microsoft:enumerate-rules',
]);

export function peekReply(found: BrokerMessage[]): ManagementReply {
  const messages = found.map((m) => ({ message: encodeForDelivery(m) }));
  // An empty peek is 204 in Service Bus; the body still carries the (empty) list.
  return messages.length ? ok({ messages }) : { status: 204, description: 'No Content', body: { messages: [] } };
}

function replyOf(r: { status: number; body: unknown }): ManagementReply {
  return r.status === 204 ? { status: 204, description: 'No Content', body: r.body } : ok(r.body);
}

export function deferredEntry(m: BrokerMessage): Record<string, unknown> {
  const entry: Record<string, unknown> = { message: encodeForDelivery(m) };
  // Management replies carry lock tokens in standard UUID order.
  if (m.lock) entry['lock-token'] = types.wrap_uuid(m.lock.token);
  return entry;
}

export function dispositionOf(body: Record<string, unknown>): Settlement {
  const properties = plainObject(body['properties-to-modify']);
  switch (body['disposition-status']) {
    case 'completed':
      return { kind: 'complete' };
    case 'abandoned':
      return { kind: 'abandon', properties };
    case 'defered':
    case 'deferred':
      return { kind: 'defer', properties };
    case 'suspended':
      return {
        kind: 'deadLetter',
        reason: optionalString(body['deadletter-reason']),
        description: optionalString(body['deadletter-description']),
        properties,
      };
    default:
      throw invalidRequest(`Unknown disposition-status ${JSON.stringify(body['disposition-status'])}.`);
  }
}

export function lockTokens(body: Record<string, unknown>): string[] {
  const tokens = body['lock-tokens'];
  if (!Array.isArray(tokens) || tokens.length === 0) throw invalidRequest("The request needs a non-empty 'lock-tokens' array.");
  return tokens.map((t) => {
    if (!Buffer.isBuffer(t) || t.length !== 16) throw invalidRequest('Each lock token must be a UUID.');
    return uuidToString(t);
  });
}

export function sequenceNumbers(body: Record<string, unknown>): number[] {
  const seqs = body['sequence-numbers'];
  if (!Array.isArray(seqs)) throw invalidRequest("The request needs a 'sequence-numbers' array.");
  return seqs.map((s) => toNumber(s, 'sequence-numbers'));
}

export function toNumber(v: unknown, field: string): number {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (Buffer.isBuffer(v) && v.length === 8) return Number(v.readBigInt64BE(0));
  throw invalidRequest(`'${field}' must be a number.`);
}

function optionalString(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function plainObject(v: unknown): Record<string, unknown> | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v) ? (v as Record<string, unknown>) : undefined;
}
