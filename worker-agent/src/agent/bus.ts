// What the agent needs from Service Bus, as an interface: the Service Bus implementation is in
// servicebus.ts; tests of the decision logic use an in-memory one.

import type { PresenceReport } from '../contract/presence.js';
import type { AgentReport } from '../contract/report.js';
import type { Logger } from '../common/log.js';

export interface BusMessage {
  /** Undefined when the sender set none. */
  messageId: string | undefined;
  /** Decimal string (Service Bus sequence numbers are 64-bit). */
  sequenceNumber: string;
  /** Raw body: bytes of a data section, or the value of a value section. */
  body: unknown;
  deliveryCount: number;
}

export interface PeekedMessage {
  sequenceNumber: string;
  state: 'active' | 'deferred' | 'scheduled';
  applicationProperties: Record<string, unknown>;
}

/** The application property a node stamps on a message when it defers (commits) it. */
export const OWNER_PROPERTY = 'workforce-owner';

/** Where messages come from and are settled: the `shutdown` subscription, or this node's commands session. */
export interface MessageSource {
  /** Receives one message in peek-lock mode; undefined when none came in time or on abort. */
  receiveOne(abort: AbortSignal): Promise<BusMessage | undefined>;
  complete(message: BusMessage): Promise<void>;
  /** Back to the subscription for any receiver (delivery count + 1). */
  abandon(message: BusMessage): Promise<void>;
  /** Settles the message as deferred and stamps `properties` on it: the commit point. */
  defer(message: BusMessage, properties: Record<string, string>): Promise<void>;
  deadLetter(message: BusMessage, reason: string, description: string): Promise<void>;
  /** The message with exactly this sequence number, if it is still in the subscription. */
  peek(sequenceNumber: string): Promise<PeekedMessage | undefined>;
  /** Receives the deferred message and completes it; false if it is no longer there. */
  completeDeferred(sequenceNumber: string): Promise<boolean>;
}

export interface ControlBus extends MessageSource {
  /** Opens, in the background, the links the hot path and the reports will need. Never rejects. */
  prepare?(reportQueues: readonly string[]): Promise<void>;
  /** Sends reports to one queue in one batch. */
  sendReports(queue: string, reports: readonly AgentReport[]): Promise<void>;
  /** Sends one presence report to the reports queue. */
  sendPresence(queue: string, report: PresenceReport): Promise<void>;
  close(): Promise<void>;
  /**
   * This node's session on its commands queue (DESIGN "Per-node commands"), on the same
   * connection; absent in buses that have no commands queue.
   */
  commands?(queue: string, sessionId: string, log: Logger): MessageSource;
}
