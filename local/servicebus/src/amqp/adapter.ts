// The thin AMQP adapter: turns rhea events into calls on the broker, speaking the Service Bus
// dialect ($cbs put-token, <entity>/$management, lock tokens as delivery tags, settled
// dispositions). It holds per-connection state (accepted tokens, reply links, consumers) only,
// and uses rhea through its API (with the additions of patches/rhea+3.0.5.patch: the link option
// `decode` and `set_attach_fields`).
import rhea, { type Connection, type Container, type Delivery, type EventContext, type Receiver, type Sender } from 'rhea';
import { tokenCovers, type SasKey, type VerifiedToken, verifySasToken } from '../auth/sas.js';
import type { Broker, Settlement } from '../broker/broker.js';
import { invalidRequest, toEmulatorError, unauthorized } from '../errors.js';
import type { Logger } from '../log.js';
import { LinkConsumer } from './link-consumer.js';
import { parsePayload } from './payload.js';
import { BATCH_FORMAT, splitBatch } from './sections.js';
import { handleManagement } from './management.js';
import { checkPlainReceiver, openSessionLink, sessionFilter } from './session-link.js';

const { message: amqpMessage, types: amqpTypes } = rhea;

/** Delivery outcomes (rhea exports them at runtime but not in its typings). */
const outcomes = amqpMessage as unknown as {
  accepted(): { described(): unknown };
  rejected(fields: { error?: { condition: string; description: string } }): { described(): unknown };
  modified(fields: { delivery_failed?: boolean; undeliverable_here?: boolean }): { described(): unknown };
};

const CBS = '$cbs';
const MANAGEMENT_SUFFIX = '/$management';
const SAS_TOKEN_TYPE = 'servicebus.windows.net:sastoken';

export interface AdapterOptions {
  broker: Broker;
  keys: readonly SasKey[];
  logger: Logger;
}

/**
 * Options for server-side connections: we settle explicitly, see `modified` as itself, and get
 * each message as the bytes it was sent as (`decode: false`), to keep it byte for byte.
 */
export const serverLinkOptions = {
  // Unsettled deliveries a session can hold; rhea's default (2048) is low for long-lived links.
  session_buffer_size: 32_768,
  autoaccept: false,
  autosettle: false,
  treat_modified_as_released: false,
  decode: false,
};

interface ConnectionState {
  readonly id: string;
  readonly tokens: VerifiedToken[];
  /** Reply links of $cbs and $management, by link name and by target address. */
  readonly replyLinks: Map<string, Sender>;
  readonly consumers: Set<LinkConsumer>;
}

type LinkRole =
  | { kind: 'cbs' }
  | { kind: 'management'; entity: string }
  | { kind: 'send'; address: string }
  | { kind: 'receive'; consumer: LinkConsumer }
  | { kind: 'reply' };

export class ServiceBusAdapter {
  private readonly connections = new WeakMap<Connection, ConnectionState>();
  private readonly roles = new WeakMap<object, LinkRole>();
  private nextConnection = 1;

  constructor(
    container: Container,
    private readonly options: AdapterOptions,
  ) {
    const on = (event: string, handler: (ctx: EventContext) => void) =>
      container.on(event, (ctx: EventContext) => {
        try {
          handler(ctx);
        } catch (e) {
          // Never let one bad request take the server down: log, and fail only that link.
          options.logger.warn('amqp handler failed', { event, error: String(e) });
          const link = ctx.sender ?? ctx.receiver;
          link?.close(toEmulatorError(e).toAmqpError(namespaceOf(ctx.connection)));
        }
      });
    on('receiver_open', (ctx) => this.onIncomingLink(ctx.connection, ctx.receiver!));
    on('sender_open', (ctx) => this.onOutgoingLink(ctx.connection, ctx.sender!));
    on('message', (ctx) => this.onTransfer(ctx));
    on('sender_flow', (ctx) => this.onFlow(ctx.sender!));
    on('sendable', (ctx) => this.onFlow(ctx.sender!));
    on('sender_draining', (ctx) => this.onDrain(ctx.sender!));
    on('accepted', (ctx) => this.onOutcome(ctx, { kind: 'complete' }));
    on('released', (ctx) => this.onOutcome(ctx, { kind: 'abandon' }));
    on('modified', (ctx) => this.onModified(ctx));
    on('rejected', (ctx) => this.onRejected(ctx));
    on('sender_close', (ctx) => this.onLinkClosed(ctx.connection, ctx.sender!));
    on('receiver_close', (ctx) => this.onLinkClosed(ctx.connection, ctx.receiver!));
    on('connection_close', (ctx) => this.onConnectionGone(ctx.connection));
    on('disconnected', (ctx) => this.onConnectionGone(ctx.connection));
    on('connection_error', (ctx) => options.logger.debug('connection error', { error: String(ctx.connection.error) }));
    on('protocol_error', (ctx) => options.logger.warn('protocol error', { error: String(ctx) }));
    for (const e of ['sender_error', 'receiver_error', 'session_error', 'session_close']) on(e, () => {});
  }

  private state(connection: Connection): ConnectionState {
    let s = this.connections.get(connection);
    if (!s) {
      s = { id: `conn-${this.nextConnection++}`, tokens: [], replyLinks: new Map(), consumers: new Set() };
      this.connections.set(connection, s);
      this.options.logger.debug('connection opened', { connection: s.id });
    }
    return s;
  }

  private authorize(state: ConnectionState, address: string): void {
    const now = Date.now();
    if (state.tokens.some((t) => t.expiresAt > now && tokenCovers(t.resource, address))) return;
    throw unauthorized(`no valid SAS token for '${address}': put one on $cbs first (the SDKs do).`);
  }

  // ---- link attach -------------------------------------------------------------------------

  /** The peer attaches a sender: we receive requests ($cbs, $management) or messages. */
  private onIncomingLink(connection: Connection, link: Receiver): void {
    const address: string = link.target?.address ?? '';
    link.set_source({ address: link.source?.address ?? undefined } as never);
    link.set_target({ address });
    link.set_attach_fields({ rcv_settle_mode: 0 });
    const state = this.state(connection);
    try {
      if (address === CBS) {
        this.roles.set(link, { kind: 'cbs' });
        return;
      }
      this.authorize(state, address);
      if (address.toLowerCase().endsWith(MANAGEMENT_SUFFIX)) {
        const entity = address.slice(0, -MANAGEMENT_SUFFIX.length);
        this.resolveEntity(entity);
        this.roles.set(link, { kind: 'management', entity });
        return;
      }
      const target = this.options.broker.sendTarget(address);
      link.set_attach_fields({ max_message_size: this.options.broker.maxMessageSize(target) });
      this.roles.set(link, { kind: 'send', address });
    } catch (e) {
      this.refuse(link, e, state, address);
    }
  }

  /** The peer attaches a receiver: we send replies, or messages from a subqueue. */
  private onOutgoingLink(connection: Connection, link: Sender): void {
    const address: string = link.source?.address ?? '';
    const replyTo: string | undefined = link.target?.address ?? undefined;
    link.set_source({ address } as never);
    link.set_target({ address: replyTo } as never);
    // The settle modes the peer asked for (receive-and-delete: settled deliveries).
    link.set_attach_fields({ snd_settle_mode: link.snd_settle_mode, rcv_settle_mode: link.rcv_settle_mode });
    const state = this.state(connection);
    try {
      if (address === CBS || address.toLowerCase().endsWith(MANAGEMENT_SUFFIX)) {
        if (address !== CBS) this.authorize(state, address);
        this.roles.set(link, { kind: 'reply' });
        state.replyLinks.set(link.name, link);
        if (replyTo) state.replyLinks.set(replyTo, link);
        return;
      }
      this.authorize(state, address);
      const sq = this.options.broker.subqueue(address);
      const session = sessionFilter(link);
      if (!session) checkPlainReceiver(sq);
      link.set_attach_fields({ max_message_size: this.options.broker.maxMessageSize(sq) });
      const consumer = new LinkConsumer(link, sq, state.id, link.snd_settle_mode === 1);
      if (session) openSessionLink(this.options.broker, link, sq, consumer, session.requested);
      this.roles.set(link, { kind: 'receive', consumer });
      state.consumers.add(consumer);
      if (!session) this.options.broker.addConsumer(sq, consumer);
    } catch (e) {
      this.refuse(link, e, state, address);
    }
  }

  /** Throws `MessagingEntityNotFound` unless `entity` is a queue, topic or subscription. */
  private resolveEntity(entity: string): void {
    try {
      this.options.broker.subqueue(entity);
    } catch {
      // A topic's $management link (scheduling) addresses the topic, which has no subqueue.
      this.options.broker.sendTarget(entity);
    }
  }

  private refuse(link: Sender | Receiver, e: unknown, state: ConnectionState, address: string): void {
    const err = toEmulatorError(e);
    this.options.logger.info('link refused', { connection: state.id, address, code: err.code, reason: err.message });
    link.close(err.toAmqpError(namespaceOf(link.connection)));
  }

  // ---- transfers from the peer -------------------------------------------------------------

  private onTransfer(ctx: EventContext): void {
    const link = ctx.receiver!;
    const delivery = ctx.delivery!;
    const role = this.roles.get(link);
    const raw = ctx.message as unknown as Buffer;
    const format = (ctx as unknown as { format?: number }).format ?? 0;
    if (!role || !Buffer.isBuffer(raw)) {
      if (!delivery.remote_settled) delivery.reject({ condition: 'amqp:not-allowed', description: 'The link is not attached.' });
      return;
    }
    if (role.kind === 'send') {
      this.onMessageSent(role.address, raw, format, delivery, namespaceOf(ctx.connection));
      return;
    }
    let request: ReturnType<typeof amqpMessage.decode>;
    try {
      request = amqpMessage.decode(raw);
    } catch (e) {
      delivery.reject(invalidRequest(`The request could not be decoded: ${String(e)}`).toAmqpError());
      return;
    }
    delivery.accept();
    const state = this.state(ctx.connection);
    if (role.kind === 'cbs') this.onCbsRequest(state, request);
    else if (role.kind === 'management') this.onManagementRequest(state, role.entity, request, namespaceOf(ctx.connection));
  }

  private onMessageSent(address: string, raw: Buffer, format: number, delivery: Delivery, namespace: string | undefined): void {
    const broker = this.options.broker;
    try {
      const target = broker.sendTarget(address);
      broker.checkSize(target, raw.length);
      let payloads;
      if (format === BATCH_FORMAT) payloads = splitBatch(raw).map(parsePayload);
      else if (format === 0) payloads = [parsePayload(raw)];
      else throw invalidRequest(`Message format ${format} is not supported.`);
      broker.send(target, payloads);
    } catch (e) {
      const err = toEmulatorError(e);
      this.options.logger.debug('message refused', { address, code: err.code, reason: err.message });
      if (!delivery.remote_settled) delivery.reject(err.toAmqpError(namespace));
      return;
    }
    if (delivery.remote_settled) return;
    // Settle only once the message is durable.
    broker.afterCommit((error) => {
      if (error) delivery.reject(toEmulatorError(error).toAmqpError());
      else delivery.accept();
    });
  }

  private onCbsRequest(state: ConnectionState, request: ReturnType<typeof amqpMessage.decode>): void {
    const props = (request.application_properties ?? {}) as Record<string, unknown>;
    let status = 202;
    let description = 'Accepted';
    try {
      if (props.operation !== 'put-token') throw invalidRequest(`Unknown $cbs operation ${JSON.stringify(props.operation)}.`);
      if (props.type !== SAS_TOKEN_TYPE) throw unauthorized(`token type '${String(props.type)}' is not supported; use a SAS key.`);
      const token = verifySasToken(request.body, this.options.keys, Date.now());
      state.tokens.push(token);
      if (state.tokens.length > 1000) state.tokens.splice(0, state.tokens.length - 1000);
    } catch (e) {
      const err = toEmulatorError(e);
      status = err.statusCode;
      description = err.message;
      this.options.logger.info('put-token refused', { connection: state.id, reason: err.message });
    }
    // An AMQP int, as Azure sends it: uamqp reads nothing else (rhea would write a uint).
    this.reply(state, request, { 'status-code': amqpTypes.wrap_int(status), 'status-description': description }, undefined, CBS);
  }

  private onManagementRequest(state: ConnectionState, entity: string, request: ReturnType<typeof amqpMessage.decode>, namespace: string | undefined): void {
    const props = (request.application_properties ?? {}) as Record<string, unknown>;
    const body = request.body && typeof request.body === 'object' && !Buffer.isBuffer(request.body) ? (request.body as Record<string, unknown>) : {};
    const result = handleManagement(
      { broker: this.options.broker, entity, owner: state.id, namespace },
      { operation: String(props.operation ?? ''), body },
    );
    this.options.logger.debug('management request', { connection: state.id, entity, operation: props.operation, status: result.status });
    if (result.reason) this.options.logger.info('management request refused', { connection: state.id, entity, operation: props.operation, reason: result.reason });
    const replyProps: Record<string, unknown> = { statusCode: amqpTypes.wrap_int(result.status), statusDescription: result.description };
    if (result.condition) replyProps.errorCondition = result.condition;
    // Changes made by the operation (settlements, schedules) are durable before the reply.
    this.options.broker.afterCommit(() => this.reply(state, request, replyProps, result.body, `${entity}${MANAGEMENT_SUFFIX}`));
  }

  private reply(state: ConnectionState, request: ReturnType<typeof amqpMessage.decode>, props: Record<string, unknown>, body: unknown, node: string): void {
    const replyTo = request.reply_to as string | undefined;
    // uamqp (the Python and C SDKs) sends requests without reply-to and reads the answer on its
    // receiving link from the same node, where Azure sends it.
    const link = replyTo
      ? state.replyLinks.get(replyTo)
      : [...state.replyLinks.values()].find((l) => l.is_open() && String(l.source?.address ?? '').toLowerCase() === node.toLowerCase());
    if (!link || !link.is_open()) {
      this.options.logger.debug('no reply link', { connection: state.id, replyTo });
      return;
    }
    link.send({ correlation_id: request.message_id, application_properties: props, body } as never);
  }

  // ---- deliveries to the peer --------------------------------------------------------------

  private onFlow(link: Sender): void {
    const role = this.roles.get(link);
    if (role?.kind !== 'receive') return;
    this.options.broker.pumpFor(role.consumer.subqueue, role.consumer);
  }

  /** The peer asks for its credit back (after `sender_flow`, whose pump sent what was there). */
  private onDrain(link: Sender): void {
    const role = this.roles.get(link);
    if (role?.kind === 'receive') role.consumer.drain();
  }

  private onModified(ctx: EventContext): void {
    const state = ctx.delivery?.remote_state as { undeliverable_here?: boolean; message_annotations?: Record<string, unknown> } | undefined;
    const properties = state?.message_annotations ?? undefined;
    this.onOutcome(ctx, state?.undeliverable_here ? { kind: 'defer', properties } : { kind: 'abandon', properties });
  }

  private onRejected(ctx: EventContext): void {
    const error = (ctx.delivery?.remote_state as { error?: { condition?: string; info?: Record<string, unknown> } } | undefined)?.error;
    const { DeadLetterReason, DeadLetterErrorDescription, ...rest } = error?.info ?? {};
    this.onOutcome(ctx, {
      kind: 'deadLetter',
      reason: typeof DeadLetterReason === 'string' ? DeadLetterReason : undefined,
      description: typeof DeadLetterErrorDescription === 'string' ? DeadLetterErrorDescription : undefined,
      properties: Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== null && v !== undefined)),
    });
  }

  /** A disposition from the peer: settle the lock, then answer with a settled disposition. */
  private onOutcome(ctx: EventContext, settlement: Settlement): void {
    const link = ctx.sender;
    const delivery = ctx.delivery;
    const role = link && this.roles.get(link);
    if (!delivery || role?.kind !== 'receive' || delivery.settled) return;
    const token = role.consumer.tokens.get(delivery);
    if (!token) return;
    role.consumer.tokens.delete(delivery);
    const broker = this.options.broker;
    let outcome: unknown;
    try {
      broker.sessions.assertHolds(role.consumer);
      broker.settle(token, settlement, role.consumer.subqueue);
      outcome = successOutcome(settlement);
    } catch (e) {
      outcome = outcomes.rejected({ error: toEmulatorError(e).toAmqpError() }).described();
    }
    broker.afterCommit((error) => {
      if (error) outcome = outcomes.rejected({ error: toEmulatorError(error).toAmqpError() }).described();
      delivery.update(true, outcome);
    });
  }

  // ---- detach and disconnect ---------------------------------------------------------------

  private onLinkClosed(connection: Connection, link: Sender | Receiver): void {
    const role = this.roles.get(link);
    if (!role) return;
    this.roles.delete(link);
    const state = this.connections.get(connection);
    if (role.kind === 'receive') {
      this.options.broker.removeConsumer(role.consumer.subqueue, role.consumer);
      state?.consumers.delete(role.consumer);
    } else if (role.kind === 'reply' && state) {
      for (const [k, v] of state.replyLinks) if (v === link) state.replyLinks.delete(k);
    }
  }

  private onConnectionGone(connection: Connection): void {
    const state = this.connections.get(connection);
    if (!state) return;
    this.connections.delete(connection);
    for (const c of state.consumers) this.options.broker.removeConsumer(c.subqueue, c);
    state.consumers.clear();
    this.options.logger.debug('connection closed', { connection: state.id });
  }
}

/** The namespace host name the client connected to (its open frame), as Azure names it in errors. */
function namespaceOf(connection: Connection | undefined): string | undefined {
  const host = (connection as unknown as { hostname?: unknown } | undefined)?.hostname;
  return typeof host === 'string' && host !== '' ? host : undefined;
}

function successOutcome(s: Settlement): unknown {
  switch (s.kind) {
    case 'complete':
      return outcomes.accepted().described();
    case 'abandon':
      return outcomes.modified({ delivery_failed: true, undeliverable_here: false }).described();
    case 'defer':
      return outcomes.modified({ delivery_failed: false, undeliverable_here: true }).described();
    case 'deadLetter':
      return outcomes.rejected({}).described();
  }
}
