// This node's session on its topic's commands queue (DESIGN "Per-node commands"): a session
// receiver for `sessionId` = the node id, on the bus's own connection, held for as long as the
// agent runs.
// - The lock is renewed by the SDK for as long as the agent runs (RENEW_FOR_MS); when it is
//   lost anyway (an outage longer than the lock), the receiver is dropped and the session
//   accepted again on the next call.
// - `SessionCannotBeLocked`: another receiver holds the session, typically a crashed
//   predecessor whose lock has not expired yet (30 s): retried with a back-off (1 s to 15 s).
//   The SDK gives the same error when the queue does not exist (its attach is refused), so a
//   peek on the queue tells the two apart: a missing queue (a topic provisioned before commands
//   existed) is logged once (`commands-unavailable`) and retried every minute. The SDK
//   answers a refused session attach (no Listen) the same way: a refused peek is thrown, and the
//   listener logs the refusal once (refusals.ts).
// None of this touches the `shutdown` receiver: both only share the connection.

import {
  type ServiceBusClient,
  type ServiceBusReceivedMessage,
  type ServiceBusReceiver,
  type ServiceBusSessionReceiver,
  isServiceBusError,
} from '@azure/service-bus';
import Long from 'long';
import type { Logger } from '../common/log.js';
import type { BusMessage, MessageSource, PeekedMessage } from './bus.js';
import { missingClaim } from './refusals.js';

/** What the session needs of one connection of the bus; the bus closes these with it. */
export interface SessionConnection {
  client: ServiceBusClient;
  /** The held session, when accepted on this connection. */
  session?: ServiceBusSessionReceiver;
  /** A plain receiver on the commands queue, used only to peek (does the queue exist?). */
  probe?: ServiceBusReceiver;
}

/** The bus the session lives on: its current connection and its watchdog. */
export interface SessionBus {
  current(): SessionConnection;
  /** Runs `fn` under the bus's watchdog; a connection that hangs is replaced. */
  op<T>(name: string, fn: () => Promise<T>, on: SessionConnection, timeoutMs?: number): Promise<T>;
  readonly maxWaitMs: number;
  readonly operationTimeoutMs: number;
}

/**
 * The SDK renews a session lock until `maxAutoLockRenewalDurationInMs` after the accept. Not
 * Infinity nor Number.MAX_SAFE_INTEGER: the SDK turns now + this into a Date, which is invalid
 * past the year 275760, and then renews nothing. A century outlives any agent.
 */
export const RENEW_FOR_MS = 100 * 365 * 24 * 3600_000;
export const UNAVAILABLE_RETRY_MS = 60_000;
const LOCKED_MIN_MS = 1000;
const LOCKED_MAX_MS = 15_000;
/** As for the shutdown receiver (servicebus.ts): the first receive on a link waits less. */
const FIRST_RECEIVE_WAIT_MS = 5000;

const RAW = Symbol('raw');
const HOLDER = Symbol('holder');
type Received = BusMessage & { [RAW]: ServiceBusReceivedMessage; [HOLDER]: Held };
interface Held {
  c: SessionConnection;
  receiver: ServiceBusSessionReceiver;
}

export class CommandSession implements MessageSource {
  private lockedMs = 0;
  private unavailable = false;
  private receiving = false;

  constructor(
    private readonly bus: SessionBus,
    readonly queue: string,
    readonly sessionId: string,
    private readonly log: Logger,
  ) {}

  async receiveOne(abort: AbortSignal): Promise<BusMessage | undefined> {
    const held = await this.hold(abort);
    if (held === undefined) return undefined;
    const waitMs = this.receiving ? this.bus.maxWaitMs : Math.min(this.bus.maxWaitMs, FIRST_RECEIVE_WAIT_MS);
    const [raw] = await this.on(held, 'receive-command', () => held.receiver.receiveMessages(1, { maxWaitTimeInMs: waitMs, abortSignal: abort }), waitMs + this.bus.operationTimeoutMs);
    this.receiving = true;
    if (raw === undefined) return undefined;
    const n = raw.sequenceNumber?.toNumber();
    const message: Received = {
      messageId: raw.messageId === undefined ? undefined : String(raw.messageId),
      sequenceNumber: n === undefined ? '' : Number.isSafeInteger(n) ? String(n) : String(raw.sequenceNumber),
      body: raw.body,
      deliveryCount: raw.deliveryCount ?? 0,
      [RAW]: raw,
      [HOLDER]: held,
    };
    return message;
  }

  complete(message: BusMessage): Promise<void> {
    const [raw, held] = origin(message);
    return this.on(held, 'complete-command', () => held.receiver.completeMessage(raw));
  }

  abandon(message: BusMessage): Promise<void> {
    const [raw, held] = origin(message);
    return this.on(held, 'abandon-command', () => held.receiver.abandonMessage(raw));
  }

  defer(message: BusMessage, properties: Record<string, string>): Promise<void> {
    const [raw, held] = origin(message);
    return this.on(held, 'defer-command', () => held.receiver.deferMessage(raw, properties));
  }

  deadLetter(message: BusMessage, reason: string, description: string): Promise<void> {
    const [raw, held] = origin(message);
    return this.on(held, 'dead-letter-command', () => held.receiver.deadLetterMessage(raw, { deadLetterReason: reason, deadLetterErrorDescription: description }));
  }

  /** Peeks within this node's session: the session is (re-)accepted first, as after a crash. */
  async peek(sequenceNumber: string): Promise<PeekedMessage | undefined> {
    const held = await this.mustHold();
    const [found] = await this.on(held, 'peek-command', () => held.receiver.peekMessages(1, { fromSequenceNumber: Long.fromString(sequenceNumber) }));
    if (found === undefined || found.sequenceNumber?.toString() !== sequenceNumber) return undefined;
    return { sequenceNumber, state: found.state, applicationProperties: { ...(found.applicationProperties ?? {}) } };
  }

  async completeDeferred(sequenceNumber: string): Promise<boolean> {
    const held = await this.mustHold();
    return this.on(held, 'complete-deferred-command', async () => {
      let found: ServiceBusReceivedMessage[];
      try {
        found = await held.receiver.receiveDeferredMessages(Long.fromString(sequenceNumber));
      } catch (err) {
        if (isServiceBusError(err) && err.code === 'MessageNotFound') return false;
        throw err;
      }
      const [message] = found;
      if (message === undefined) return false;
      await held.receiver.completeMessage(message);
      return true;
    });
  }

  /** Runs a call on the held session; on any failure the session is dropped, to be accepted again. */
  private async on<T>(held: Held, name: string, fn: () => Promise<T>, timeoutMs?: number): Promise<T> {
    try {
      return await this.bus.op(name, fn, held.c, timeoutMs);
    } catch (err) {
      this.drop(held, err);
      throw err;
    }
  }

  private drop(held: Held, err: unknown): void {
    if (held.c.session !== held.receiver) return;
    held.c.session = undefined;
    this.receiving = false;
    this.log.info('commands-session-lost', { queue: this.queue, sessionId: this.sessionId, error: (err as Error).message });
    void held.receiver.close().catch(() => {});
  }

  private async mustHold(): Promise<Held> {
    const held = await this.hold(undefined);
    if (held === undefined) throw new Error(`the session ${this.sessionId} of ${this.queue} cannot be accepted now`);
    return held;
  }

  /**
   * The session on the current connection, accepted when needed. Undefined (after a wait, cut
   * short by `abort`; without one, at once) when it cannot be: held elsewhere, or no queue.
   */
  private async hold(abort: AbortSignal | undefined): Promise<Held | undefined> {
    const c = this.bus.current();
    if (c.session !== undefined && !c.session.isClosed) return { c, receiver: c.session };
    c.session = undefined;
    try {
      const receiver = await this.bus.op(
        'accept-session',
        () =>
          c.client.acceptSession(this.queue, this.sessionId, {
            receiveMode: 'peekLock',
            // Bodies are validated by the contract parser, which names what is wrong.
            skipParsingBodyAsJson: true,
            maxAutoLockRenewalDurationInMs: RENEW_FOR_MS,
          }),
        c,
      );
      if (this.bus.current() !== c) {
        void receiver.close().catch(() => {}); // the connection was replaced meanwhile
        return undefined;
      }
      c.session = receiver;
      this.log.info('commands-session-accepted', { queue: this.queue, sessionId: this.sessionId, ...(this.unavailable ? { wasUnavailable: true } : {}) });
      this.lockedMs = 0;
      this.unavailable = false;
      return { c, receiver };
    } catch (err) {
      if (!isServiceBusError(err) || err.code !== 'SessionCannotBeLocked') throw err;
    }
    if (await this.queueMissing(c)) {
      if (!this.unavailable) {
        this.unavailable = true;
        this.log.warn('commands-unavailable', {
          queue: this.queue,
          retryInMs: UNAVAILABLE_RETRY_MS,
          reason: 'the commands queue does not exist (a topic provisioned before per-node commands?); control messages on the shutdown subscription still work',
        });
      }
      if (abort) await pause(UNAVAILABLE_RETRY_MS, abort);
      return undefined;
    }
    this.lockedMs = this.lockedMs === 0 ? LOCKED_MIN_MS : Math.min(this.lockedMs * 2, LOCKED_MAX_MS);
    this.log.info('commands-session-locked', { queue: this.queue, sessionId: this.sessionId, retryInMs: this.lockedMs, reason: 'held by another receiver (a predecessor whose lock has not expired?)' });
    if (abort) await pause(this.lockedMs, abort);
    return undefined;
  }

  /**
   * True when a peek on the queue answers MessagingEntityNotFound. A peek refused for want of
   * Listen is thrown: the attach of the session was refused for that too, not held elsewhere.
   */
  private async queueMissing(c: SessionConnection): Promise<boolean> {
    try {
      c.probe ??= c.client.createReceiver(this.queue);
      const probe = c.probe;
      await this.bus.op('probe-commands-queue', () => probe.peekMessages(1), c);
      return false;
    } catch (err) {
      if (missingClaim(err) !== undefined) throw err;
      return isServiceBusError(err) && err.code === 'MessagingEntityNotFound';
    }
  }
}

function origin(message: BusMessage): [ServiceBusReceivedMessage, Held] {
  const m = message as Partial<Received>;
  if (m[RAW] === undefined || m[HOLDER] === undefined) throw new Error('message was not received through this session');
  return [m[RAW], m[HOLDER]];
}

function pause(ms: number, abort: AbortSignal): Promise<void> {
  if (abort.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      abort.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    abort.addEventListener('abort', done, { once: true });
  });
}
