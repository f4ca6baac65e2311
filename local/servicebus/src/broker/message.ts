// What the broker knows about a message. The broker never parses AMQP itself: the AMQP layer
// turns bytes into a `MessagePayload` (see src/amqp/payload.ts) and back.

import type { CorrelationFilter } from './catalogue.js';

/** What a correlation filter can match: the message's system properties and application properties. */
export type FilterView = Omit<CorrelationFilter, 'applicationProperties'> & { applicationProperties: Record<string, unknown> };

export interface MessagePayload {
  /** The message as received (byte-for-byte), with a message id added when it had none. */
  readonly raw: Buffer;
  readonly messageId: string;
  /** Header time-to-live, when the sender set one. */
  readonly ttlMs?: number;
  /** `x-opt-scheduled-enqueue-time`, when set (ms since epoch). */
  readonly scheduledEnqueueTime?: number;
  readonly sessionId?: string;
  filterView(): FilterView;
  /** A copy whose application properties have these entries added or replaced. */
  withApplicationProperties(changes: Record<string, unknown>): MessagePayload;
}

export type MessageState = 'active' | 'deferred' | 'scheduled';

export interface Lock {
  /** Standard (RFC 4122) byte order. */
  readonly token: Buffer;
  readonly tokenString: string;
  lockedUntil: number;
  timer: NodeJS.Timeout | undefined;
  /** Identifies the connection holding the lock (for logs and clean-up). */
  readonly owner: string;
}

export interface BrokerMessage {
  /** Key of the subqueue that holds it (lower case path, e.g. `orders/$deadletterqueue`). */
  subqueue: string;
  readonly seq: number;
  payload: MessagePayload;
  state: MessageState;
  enqueuedAt: number;
  /** When a scheduled message becomes active. */
  scheduledAt: number | undefined;
  /** Absolute expiry time; `Infinity` when it never expires. */
  expiresAt: number;
  /** Prior delivery attempts (abandons, lock expiries and defers); the AMQP header's delivery-count. */
  deliveryCount: number;
  deadLetterSource: string | undefined;
  lock: Lock | undefined;
  /** Key of the subqueue whose ready heap holds it (heap entries are removed lazily). */
  readyIn: string | undefined;
  removed: boolean;
}
