// The message store: where the broker's state survives the process. The broker keeps its working
// state in memory and records every change here; a store decides how and when it becomes durable.
import type { QueueProperties, RuleDescription, SubscriptionProperties, TopicProperties } from '../broker/catalogue.js';
import type { BrokerMessage } from '../broker/message.js';

export type EntityRecord =
  | { kind: 'queue'; name: string; properties: QueueProperties; createdAt: number; updatedAt: number }
  | { kind: 'topic'; name: string; properties: TopicProperties; createdAt: number; updatedAt: number }
  | {
      kind: 'subscription';
      topicName: string;
      name: string;
      properties: SubscriptionProperties;
      rules: RuleDescription[];
      createdAt: number;
      updatedAt: number;
    };

/** What survives of a broker message: the message as received, and where and how it stands. */
export type MessageRecord = Pick<
  BrokerMessage,
  'subqueue' | 'seq' | 'state' | 'enqueuedAt' | 'scheduledAt' | 'expiresAt' | 'deliveryCount' | 'deadLetterSource'
> & { raw: Buffer };

/** The state a session receiver set on a session (`setSessionState`). */
export interface SessionStateRecord {
  subqueue: string;
  sessionId: string;
  state: Buffer;
}

export interface StoreSnapshot {
  entities: EntityRecord[];
  messages: MessageRecord[];
  /** Last sequence number handed out, per top-level entity key. */
  sequences: Map<string, number>;
  /** Duplicate-detection history (message ids accepted, per top-level entity key), oldest first. */
  messageIds: Array<{ entity: string; messageId: string; at: number }>;
  sessionStates: SessionStateRecord[];
}

export interface MessageStore {
  /** True when the store survives the process (SQLite); false for memory. */
  readonly persistent: boolean;
  load(): StoreSnapshot;
  /** Entity changes are rare; they are written before these calls return. */
  saveEntity(record: EntityRecord): void;
  /** Deletes the entity record and every message under the given subqueue key prefixes. */
  deleteEntity(record: Pick<EntityRecord, 'kind' | 'name'> & { topicName?: string }, subqueuePrefixes: string[]): void;
  insertMessage(record: MessageRecord): void;
  /** Replaces the stored record of (`previousSubqueue` ?? record.subqueue, record.seq). */
  updateMessage(record: MessageRecord, previousSubqueue?: string): void;
  deleteMessage(subqueue: string, seq: number): void;
  setSequence(entityKey: string, seq: number): void;
  /** Duplicate detection must survive a restart, as it does in Azure: recorded with the send. */
  rememberMessageId(entityKey: string, messageId: string, at: number): void;
  /** Drops the history entries of an entity older than `before` (out of its window). */
  forgetMessageIds(entityKey: string, before: number): void;
  /** Sets (or, with `undefined`, clears) a session's state; deleted with its subqueue. */
  setSessionState(subqueue: string, sessionId: string, state: Buffer | undefined): void;
  /** Calls `done` once every change recorded so far is durable (or failed to be). */
  afterCommit(done: (error?: Error) => void): void;
  close(): void;
}
