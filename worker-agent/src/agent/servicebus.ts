// ControlBus over @azure/service-bus: one client, one peek-lock receiver on the control
// subscription (one message at a time, no prefetch), one sender per reports queue, and on the
// same connection this node's session on its commands queue (commands-session.ts).
//
// Every call runs under a watchdog. The SDK's own operation timeout does not always fire for an
// operation in flight when the connection drops (amqp/rhea-promise#109; for example when the
// emulator stops): such a call would hang forever. On a watchdog timeout the call fails and the
// client is replaced, so the next attempt starts on a fresh connection.

import type { TokenCredential } from '@azure/identity';
import {
  type WebSocketOptions,
  type ServiceBusReceivedMessage,
  type ServiceBusReceiver,
  type ServiceBusSender,
  ServiceBusClient,
  isServiceBusError,
} from '@azure/service-bus';
import Long from 'long';
import type { BusConfig } from '../commands/config.js';
import { type BusTransport, webSocketOptions } from '../transport/index.js';
import type { PresenceReport } from '../contract/presence.js';
import type { AgentReport } from '../contract/report.js';
import { coalesceReports, reportKey } from '../contract/report.js';
import type { BusMessage, ControlBus, MessageSource, PeekedMessage } from './bus.js';
import { CommandSession, type SessionConnection } from './commands-session.js';
import type { Logger } from '../common/log.js';

export interface ServiceBusControlBusOptions {
  bus: BusConfig;
  /** AMQP over WebSockets, resolved by `create()` (default: AMQP). */
  transport?: BusTransport;
  topic: string;
  subscription: string;
  maxLockRenewalMs: number;
  /** How long one receive call waits before asking again (an idle agent's only traffic; default 30 s). */
  maxWaitMs?: number;
  /** Watchdog for one operation (default 15 s, above the SDK's own 10 s timeout). */
  operationTimeoutMs?: number;
}

const RAW = Symbol('raw');
type Received = BusMessage & { [RAW]: ServiceBusReceivedMessage; [CONNECTION]: Connection };
const CONNECTION = Symbol('connection');

/** One client with its links; replaced as a whole when it stops answering. */
interface Connection extends SessionConnection {
  client: ServiceBusClient;
  receiver: ServiceBusReceiver;
  senders: Map<string, ServiceBusSender>;
  /** A receive has returned on this connection: the receiver link is open. */
  receiving: boolean;
}

/**
 * How long the first receive on a connection waits for a message. The SDK opens the receiver
 * link inside that call, and a link caught opening by a connection drop never settles
 * (amqp/rhea-promise#109): only the watchdog, wait + 15 s, frees the agent. A short first
 * wait keeps an agent that starts during an outage deaf for 20 s instead of 45 s; the
 * receives after it wait the full time.
 */
const FIRST_RECEIVE_WAIT_MS = 5000;

class WatchdogTimeout extends Error {
  override readonly name = 'WatchdogTimeout';
}

export class ServiceBusControlBus implements ControlBus {
  private connection: Connection;
  private readonly maxWaitMs: number;
  private readonly operationTimeoutMs: number;
  private closed = false;

  /** Creates the bus; @azure/identity (and MSAL) is loaded only when a credential is needed. */
  static async create(options: ServiceBusControlBusOptions): Promise<ServiceBusControlBus> {
    const webSockets = options.transport ? await webSocketOptions(options.transport) : undefined;
    if (options.bus.kind === 'connection-string') return new ServiceBusControlBus(options, undefined, webSockets);
    const { DefaultAzureCredential } = await import('@azure/identity');
    const credential = new DefaultAzureCredential(options.bus.clientId ? { managedIdentityClientId: options.bus.clientId } : {});
    return new ServiceBusControlBus(options, credential, webSockets);
  }

  constructor(
    private readonly options: ServiceBusControlBusOptions,
    private readonly credential?: TokenCredential,
    private readonly webSocketOptions?: WebSocketOptions,
  ) {
    if (options.bus.kind === 'credential' && !credential) throw new Error('a credential is needed: use ServiceBusControlBus.create()');
    this.maxWaitMs = options.maxWaitMs ?? 30_000;
    this.operationTimeoutMs = options.operationTimeoutMs ?? 15_000;
    this.connection = this.connect();
  }

  private connect(): Connection {
    const { bus, topic, subscription, maxLockRenewalMs } = this.options;
    // Every operation here is tiny: a short SDK timeout bounds retries after a connection loss.
    const retryOptions = { maxRetries: 3, retryDelayInMs: 200, maxRetryDelayInMs: 2000, timeoutInMs: 10_000 };
    const clientOptions = { retryOptions, ...(this.webSocketOptions ? { webSocketOptions: this.webSocketOptions } : {}) };
    const client =
      bus.kind === 'connection-string'
        ? new ServiceBusClient(bus.connectionString, clientOptions)
        : new ServiceBusClient(bus.namespace, this.credential as TokenCredential, clientOptions);
    const receiver = client.createReceiver(topic, subscription, {
      receiveMode: 'peekLock',
      // Bodies are validated by the contract parser, which names what is wrong.
      skipParsingBodyAsJson: true,
      maxAutoLockRenewalDurationInMs: maxLockRenewalMs,
    });
    return { client, receiver, senders: new Map(), receiving: false };
  }

  /** Runs `fn` on the current connection under the watchdog; a hung connection is replaced. */
  private async op<T>(name: string, fn: (c: Connection) => Promise<T>, on: Connection = this.connection, timeoutMs = this.operationTimeoutMs): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const watchdog = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new WatchdogTimeout(`Service Bus did not answer ${name} within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([fn(on), watchdog]);
    } catch (err) {
      if (err instanceof WatchdogTimeout) this.replace(on);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  private replace(stale: Connection): void {
    if (this.closed || this.connection !== stale) return;
    this.connection = this.connect();
    void closeConnection(stale);
  }

  async receiveOne(abort: AbortSignal): Promise<BusMessage | undefined> {
    const on = this.connection;
    const waitMs = on.receiving ? this.maxWaitMs : Math.min(this.maxWaitMs, FIRST_RECEIVE_WAIT_MS);
    const [raw] = await this.op(
      'receive',
      (c) => c.receiver.receiveMessages(1, { maxWaitTimeInMs: waitMs, abortSignal: abort }),
      on,
      waitMs + this.operationTimeoutMs,
    );
    on.receiving = true;
    if (raw === undefined) return undefined;
    const message: Received = {
      messageId: raw.messageId === undefined ? undefined : String(raw.messageId),
      sequenceNumber: decimal(raw.sequenceNumber),
      body: raw.body,
      deliveryCount: raw.deliveryCount ?? 0,
      [RAW]: raw,
      [CONNECTION]: on,
    };
    return message;
  }

  // A received message is settled through the receiver that received it.
  complete(message: BusMessage): Promise<void> {
    const [raw, on] = origin(message);
    return this.op('complete', (c) => c.receiver.completeMessage(raw), on);
  }

  abandon(message: BusMessage): Promise<void> {
    const [raw, on] = origin(message);
    return this.op('abandon', (c) => c.receiver.abandonMessage(raw), on);
  }

  defer(message: BusMessage, properties: Record<string, string>): Promise<void> {
    const [raw, on] = origin(message);
    return this.op('defer', (c) => c.receiver.deferMessage(raw, properties), on);
  }

  deadLetter(message: BusMessage, reason: string, description: string): Promise<void> {
    const [raw, on] = origin(message);
    return this.op('dead-letter', (c) => c.receiver.deadLetterMessage(raw, { deadLetterReason: reason, deadLetterErrorDescription: description }), on);
  }

  async peek(sequenceNumber: string): Promise<PeekedMessage | undefined> {
    const [found] = await this.op('peek', (c) => c.receiver.peekMessages(1, { fromSequenceNumber: Long.fromString(sequenceNumber) }));
    if (found === undefined || found.sequenceNumber?.toString() !== sequenceNumber) return undefined;
    return { sequenceNumber, state: found.state, applicationProperties: { ...(found.applicationProperties ?? {}) } };
  }

  async completeDeferred(sequenceNumber: string): Promise<boolean> {
    return this.op('complete-deferred', async (c) => {
      let found: ServiceBusReceivedMessage[];
      try {
        found = await c.receiver.receiveDeferredMessages(Long.fromString(sequenceNumber));
      } catch (err) {
        // Already completed (e.g. just before a crash): Service Bus answers MessageNotFound.
        if (isServiceBusError(err) && err.code === 'MessageNotFound') return false;
        throw err;
      }
      const [message] = found;
      if (message === undefined) return false;
      await c.receiver.completeMessage(message);
      return true;
    });
  }

  async prepare(reportQueues: readonly string[]): Promise<void> {
    try {
      await this.op('prepare', async (c) => {
        // A batch needs the link's maximum message size, so creating one opens the link.
        await Promise.all(reportQueues.map((q) => sender(c, q).createMessageBatch()));
        await c.receiver.peekMessages(1); // opens the management link (peek, receive-deferred)
      });
    } catch {
      /* the links open on first use instead */
    }
  }

  async sendReports(queue: string, reports: readonly AgentReport[]): Promise<void> {
    await this.op('send-reports', async (c) => {
      // States of one message that wait together travel in one message (`earlier`): fewer
      // messages for the queue and fewer reports for the control plane to fold.
      const messages = coalesceReports(reports).map((report) => ({
        body: report,
        contentType: 'application/json',
        subject: report.state,
        // Same report, same id: duplicate detection on the queue drops re-sends.
        messageId: [...(report.earlier ?? []).map((step) => step.state), reportKey(report).replaceAll('\u0000', '/')].join('+').slice(0, 128),
      }));
      // As many batches as the queue's message size needs (reports with long worker lists add
      // up): one oversized send would fail every time and hold the outbox back.
      const s = sender(c, queue);
      let batch = await s.createMessageBatch();
      for (const message of messages) {
        if (batch.tryAddMessage(message)) continue;
        if (batch.count > 0) {
          await s.sendMessages(batch);
          batch = await s.createMessageBatch();
        }
        if (!batch.tryAddMessage(message)) throw new Error(`report ${message.messageId} is larger than a message on ${queue} may be (${batch.maxSizeInBytes} bytes)`);
      }
      if (batch.count > 0) await s.sendMessages(batch);
    });
  }

  async sendPresence(queue: string, report: PresenceReport): Promise<void> {
    // No messageId: every presence report is new, and only a node's latest one counts.
    await this.op('send-presence', (c) => sender(c, queue).sendMessages({ body: report, contentType: 'application/json', subject: report.kind }));
  }

  async close(): Promise<void> {
    this.closed = true;
    await closeConnection(this.connection);
  }

  /** This node's commands session, on this bus's connection (commands-session.ts). */
  commands(queue: string, sessionId: string, log: Logger): MessageSource {
    return new CommandSession(
      {
        current: () => this.connection,
        op: (name, fn, on, timeoutMs) => this.op(name, fn, on as Connection, timeoutMs),
        maxWaitMs: this.maxWaitMs,
        operationTimeoutMs: this.operationTimeoutMs,
      },
      queue,
      sessionId,
      log,
    );
  }
}

/**
 * A Service Bus sequence number in decimal. Long's own toString divides through its WebAssembly
 * module (0.4 ms on the first call in a CPU profile of a fresh agent, on the hot path); one below
 * 2^53 (every one in practice) is exact as a double.
 */
function decimal(sequenceNumber: Long | undefined): string {
  if (sequenceNumber === undefined) return '';
  const n = sequenceNumber.toNumber();
  return Number.isSafeInteger(n) ? String(n) : sequenceNumber.toString();
}

function sender(c: Connection, queue: string): ServiceBusSender {
  let found = c.senders.get(queue);
  if (found === undefined) {
    found = c.client.createSender(queue);
    c.senders.set(queue, found);
  }
  return found;
}

async function closeConnection(c: Connection): Promise<void> {
  // Closing the session receiver releases the session at once for the next holder.
  for (const link of [...c.senders.values(), c.receiver, ...(c.session ? [c.session] : []), ...(c.probe ? [c.probe] : [])]) {
    try {
      await link.close();
    } catch {
      /* keep closing */
    }
  }
  try {
    await c.client.close();
  } catch {
    /* closed enough */
  }
}

function origin(message: BusMessage): [ServiceBusReceivedMessage, Connection] {
  const m = message as Partial<Received>;
  if (m[RAW] === undefined || m[CONNECTION] === undefined) throw new Error('message was not received through this bus');
  return [m[RAW], m[CONNECTION]];
}
