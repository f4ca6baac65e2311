// The thin AMQP adapter: turns rhea events into calls on the broker, speaking the Service Bus
// dialect ($cbs put-token, <entity>/$management, lock tokens as delivery tags, settled
// dispositions). It holds per-connection state (accepted tokens, reply links, consumers) only,
// and uses rhea through its API (with the additions of patches/rhea+3.0.5.patch: the link option
// `decode` and `set_attach_fields`).
import rhea, { type Connection, type Container, type Delivery, type EventContext, type Receiver, type Sender } from 'rhea';
import type { Entra } from '../auth/entra.js';
import type { Right } from '../auth/rbac.js';
import type { SasKey } from '../auth/sas.js';
import type { Broker, Settlement } from '../broker/broker.js';
import { invalidRequest, toEmulatorError } from '../errors.js';
import type { Logger } from '../log.js';
import { LinkConsumer } from './link-consumer.js';
import { failureOutcome, successOutcome } from './outcomes.js';
import { parsePayload } from './payload.js';
import { BATCH_FORMAT, splitBatch } from './sections.js';
import { handleManagement, rightFor } from './management.js';
import { CbsAuthority } from './cbs.js';
import { ConnectionAuth } from './connection-auth.js';
import { checkPlainReceiver, openSessionLink, sessionFilter } from './session-link.js';

const { message: amqpMessage, types: amqpTypes } = rhea;

const CBS = '$cbs';
const MANAGEMENT_SUFFIX = '/$management';

export interface AdapterOptions {
  broker: Broker;
  keys: readonly SasKey[];
  /** Trust Entra ID tokens (`jwt` on $cbs) from this issuer, with these role assignments. */
  entra?: Entra | undefined;
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
  /** The grants of its put-tokens and the links they authorised. */
  readonly auth: ConnectionAuth<Sender | Receiver>;
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
  private readonly cbs: CbsAuthority;

  constructor(
    container: Container,
    private readonly options: AdapterOptions,
  ) {
    const catalogue = options.broker.namespace;
    this.cbs = new CbsAuthority({
      keys: options.keys,
      entra: options.entra,
      kindOf: (name) => (catalogue.getQueue(name) ? 'queue' : catalogue.getTopic(name) ? 'topic' : undefined),
    });
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
      const id = `conn-${this.nextConnection++}`;
      const auth = new ConnectionAuth<Sender | Receiver>(
        this.cbs,
        () => namespaceOf(connection),
        (link, error) => {
          this.options.logger.info('link detached: its token expired', { connection: id, address: link.is_sender() ? link.source?.address : link.target?.address });
          this.onLinkClosed(connection, link);
          link.close(error.toAmqpError(namespaceOf(connection)));
        },
      );
      s = { id, auth, replyLinks: new Map(), consumers: new Set() };
      this.connections.set(connection, s);
      this.options.logger.debug('connection opened', { connection: s.id });
    }
    return s;
  }

  /** Throws `Unauthorized` unless the connection's tokens cover `address` with `right`; the link then ends with them. */
  private authorize(state: ConnectionState, link: Sender | Receiver, address: string, right?: Right): void {
    state.auth.authorize(address, right);
    state.auth.track(link, address, right);
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
      if (address.toLowerCase().endsWith(MANAGEMENT_SUFFIX)) {
        // Each operation is checked for its right (onManagementRequest).
        this.authorize(state, link, address);
        const entity = address.slice(0, -MANAGEMENT_SUFFIX.length);
        this.resolveEntity(entity);
        this.roles.set(link, { kind: 'management', entity });
        return;
      }
      this.authorize(state, link, address, 'Send');
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
        if (address !== CBS) this.authorize(state, link, address);
        this.roles.set(link, { kind: 'reply' });
        state.replyLinks.set(link.name, link);
        if (replyTo) state.replyLinks.set(replyTo, link);
        return;
      }
      this.authorize(state, link, address, 'Listen');
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
    state.auth.untrack(link);
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
      const grant = state.auth.putToken({ type: props.type, token: request.body, name: props.name });
      if (grant.type === 'jwt') this.options.logger.debug('put-token: jwt', { connection: state.id, principal: grant.principal, name: props.name, rights: [...grant.rights] });
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
    try {
      // As the link was authorised: the SDKs put the token for `<entity>/$management`.
      state.auth.authorize(`${entity}${MANAGEMENT_SUFFIX}`, rightFor(String(props.operation ?? '')));
    } catch (e) {
      const err = toEmulatorError(e);
      this.options.logger.info('management request refused', { connection: state.id, entity, operation: props.operation, reason: err.message });
      const refusal = { statusCode: amqpTypes.wrap_int(err.statusCode), statusDescription: err.wireMessage(namespace), errorCondition: err.condition };
      this.reply(state, request, refusal, {}, `${entity}${MANAGEMENT_SUFFIX}`);
      return;
    }
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
      outcome = failureOutcome(e);
    }
    broker.afterCommit((error) => {
      if (error) outcome = failureOutcome(error);
      delivery.update(true, outcome);
    });
  }

  // ---- detach and disconnect ---------------------------------------------------------------

  private onLinkClosed(connection: Connection, link: Sender | Receiver): void {
    const role = this.roles.get(link);
    if (!role) return;
    this.roles.delete(link);
    const state = this.connections.get(connection);
    state?.auth.untrack(link);
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
    state.auth.close();
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
