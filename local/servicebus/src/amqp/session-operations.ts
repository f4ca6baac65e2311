// `$management` operations of session receivers: the session lock (renew-session-lock), the
// session state (get/set-session-state), and peek, receive-deferred and settlement within a
// session (the SDK adds `session-id` to those requests). Every one but peek needs the session
// to be locked by a receiver on the requesting connection, else `SessionLockLost`.
import rhea from 'rhea';
import { invalidRequest, messageTooLarge } from '../errors.js';
import {
  type ManagementContext,
  type ManagementRequest,
  type Operation,
  deferredEntry,
  dispositionOf,
  lockTokens,
  ok,
  peekReply,
  sequenceNumbers,
  toNumber,
} from './management.js';

const { types } = rhea;

const SESSION_ID = 'session-id';

const sessionOperations: Record<string, Operation> = {
  'com.microsoft:renew-session-lock': (ctx, body) => {
    const until = ctx.broker.sessions.renew(holder(ctx, body));
    return ok({ expiration: new Date(until) });
  },

  'com.microsoft:get-session-state': (ctx, body) => {
    const state = ctx.broker.sessions.getState(holder(ctx, body));
    return ok({ 'session-state': state ? types.wrap_binary(state) : null });
  },

  'com.microsoft:set-session-state': (ctx, body) => {
    const state = body['session-state'];
    if (state !== null && state !== undefined && !Buffer.isBuffer(state)) throw invalidRequest("'session-state' must be binary or null.");
    const held = holder(ctx, body);
    // Azure caps the state at the entity's message size.
    const limit = held.sq.maxMessageSizeInBytes;
    if (state && state.length > limit) throw messageTooLarge(state.length, limit, held.sq.path);
    ctx.broker.sessions.setState(held, state ?? undefined);
    return ok();
  },
};

/** Operations that act within one session when the request names it. */
const withinSession: Record<string, Operation> = {
  'com.microsoft:peek-message': ({ broker, entity }, body) => {
    const sq = broker.subqueue(entity);
    const from = toNumber(body['from-sequence-number'], 'from-sequence-number');
    const count = toNumber(body['message-count'], 'message-count');
    return peekReply(broker.sessions.peek(sq, sessionId(body), from, Math.max(1, count)));
  },

  'com.microsoft:receive-by-sequence-number': (ctx, body) => {
    const receiveAndDelete = body['receiver-settle-mode'] === 0;
    const found = ctx.broker.sessions.receiveDeferred(holder(ctx, body), sequenceNumbers(body), receiveAndDelete);
    return ok({ messages: found.map((m) => deferredEntry(m)) });
  },

  'com.microsoft:update-disposition': (ctx, body) => {
    const { sq } = holder(ctx, body);
    const settlement = dispositionOf(body);
    for (const token of lockTokens(body)) ctx.broker.settle(token, settlement, sq);
    return ok();
  },
};

/**
 * The session operation for this request, if it is one. The SDK names the message's session in
 * requests about it, also on a dead-letter queue, which has no sessions (it is read with plain
 * receivers): there the request is a plain one.
 */
export function sessionOperation(ctx: ManagementContext, request: ManagementRequest): Operation | undefined {
  const op = sessionOperations[request.operation];
  if (op) return op;
  const body = request.body ?? {};
  if (body[SESSION_ID] === undefined || body[SESSION_ID] === null) return undefined;
  return ctx.broker.subqueue(ctx.entity).requiresSession ? withinSession[request.operation] : undefined;
}

function sessionId(body: Record<string, unknown>): string {
  const id = body[SESSION_ID];
  if (typeof id !== 'string') throw invalidRequest(`The request needs a '${SESSION_ID}' string.`);
  return id;
}

function holder(ctx: ManagementContext, body: Record<string, unknown>) {
  return ctx.broker.sessions.held(ctx.broker.subqueue(ctx.entity), sessionId(body), ctx.owner);
}
