// ControlBus over @azure/service-bus: one client, one peek-lock receiver on the control
// subscription (one message at a time, no prefetch), one sender per reports queue.

import { DefaultAzureCredential } from '@azure/identity';
import {
  type ServiceBusReceivedMessage,
  type ServiceBusReceiver,
  type ServiceBusSender,
  ServiceBusClient,
  isServiceBusError,
} from '@azure/service-bus';
import Long from 'long';
import type { BusConfig } from './config.js';
import type { AgentReport } from './contract/report.js';
import { reportKey } from './contract/report.js';
import type { BusMessage, ControlBus, PeekedMessage } from './bus.js';

export interface ServiceBusControlBusOptions {
  bus: BusConfig;
  topic: string;
  subscription: string;
  maxLockRenewalMs: number;
  /** How long one receive call waits before asking again (an idle agent's only traffic). */
  maxWaitMs?: number;
}

const RAW = Symbol('raw');
type Received = BusMessage & { [RAW]: ServiceBusReceivedMessage };

export class ServiceBusControlBus implements ControlBus {
  private readonly client: ServiceBusClient;
  private readonly receiver: ServiceBusReceiver;
  private readonly senders = new Map<string, ServiceBusSender>();
  private readonly maxWaitMs: number;

  constructor(options: ServiceBusControlBusOptions) {
    const retryOptions = { maxRetries: 3, retryDelayInMs: 200, maxRetryDelayInMs: 2000, timeoutInMs: 30_000 };
    this.client =
      options.bus.kind === 'connection-string'
        ? new ServiceBusClient(options.bus.connectionString, { retryOptions })
        : new ServiceBusClient(
            options.bus.namespace,
            new DefaultAzureCredential(options.bus.clientId ? { managedIdentityClientId: options.bus.clientId } : {}),
            { retryOptions },
          );
    this.receiver = this.client.createReceiver(options.topic, options.subscription, {
      receiveMode: 'peekLock',
      // Bodies are validated by the contract parser, which names what is wrong.
      skipParsingBodyAsJson: true,
      maxAutoLockRenewalDurationInMs: options.maxLockRenewalMs,
    });
    this.maxWaitMs = options.maxWaitMs ?? 60_000;
  }

  async receiveOne(abort: AbortSignal): Promise<BusMessage | undefined> {
    const [raw] = await this.receiver.receiveMessages(1, { maxWaitTimeInMs: this.maxWaitMs, abortSignal: abort });
    if (raw === undefined) return undefined;
    const message: Received = {
      messageId: raw.messageId === undefined ? undefined : String(raw.messageId),
      sequenceNumber: raw.sequenceNumber?.toString() ?? '',
      body: raw.body,
      deliveryCount: raw.deliveryCount ?? 0,
      [RAW]: raw,
    };
    return message;
  }

  complete(message: BusMessage): Promise<void> {
    return this.receiver.completeMessage(raw(message));
  }

  abandon(message: BusMessage): Promise<void> {
    return this.receiver.abandonMessage(raw(message));
  }

  defer(message: BusMessage, properties: Record<string, string>): Promise<void> {
    return this.receiver.deferMessage(raw(message), properties);
  }

  deadLetter(message: BusMessage, reason: string, description: string): Promise<void> {
    return this.receiver.deadLetterMessage(raw(message), { deadLetterReason: reason, deadLetterErrorDescription: description });
  }

  async peek(sequenceNumber: string): Promise<PeekedMessage | undefined> {
    const [found] = await this.receiver.peekMessages(1, { fromSequenceNumber: Long.fromString(sequenceNumber) });
    if (found === undefined || found.sequenceNumber?.toString() !== sequenceNumber) return undefined;
    return { sequenceNumber, state: found.state, applicationProperties: { ...(found.applicationProperties ?? {}) } };
  }

  async completeDeferred(sequenceNumber: string): Promise<boolean> {
    let found: ServiceBusReceivedMessage[];
    try {
      found = await this.receiver.receiveDeferredMessages(Long.fromString(sequenceNumber));
    } catch (err) {
      // Already completed (e.g. just before a crash): Service Bus answers MessageNotFound.
      if (isServiceBusError(err) && err.code === 'MessageNotFound') return false;
      throw err;
    }
    const [message] = found;
    if (message === undefined) return false;
    await this.receiver.completeMessage(message);
    return true;
  }

  async sendReports(queue: string, reports: readonly AgentReport[]): Promise<void> {
    let sender = this.senders.get(queue);
    if (sender === undefined) {
      sender = this.client.createSender(queue);
      this.senders.set(queue, sender);
    }
    await sender.sendMessages(
      reports.map((report) => ({
        body: report,
        contentType: 'application/json',
        subject: report.state,
        // Same report, same id: duplicate detection on the queue drops re-sends.
        messageId: reportKey(report).replaceAll('\u0000', '/').slice(0, 128),
      })),
    );
  }

  async close(): Promise<void> {
    for (const sender of this.senders.values()) {
      try {
        await sender.close();
      } catch {
        /* keep closing */
      }
    }
    try {
      await this.receiver.close();
    } catch {
      /* keep closing */
    }
    await this.client.close();
  }
}

function raw(message: BusMessage): ServiceBusReceivedMessage {
  const found = (message as Partial<Received>)[RAW];
  if (found === undefined) throw new Error('message was not received through this bus');
  return found;
}
