// The entities of the namespace and the subqueues that hold their messages. A queue and a
// subscription each own two subqueues: the main one and `$DeadLetterQueue`.
import type { QueueProperties, RuleDescription, SubscriptionProperties, TopicProperties } from './catalogue.js';
import { MinHeap } from './heap.js';
import type { BrokerMessage } from './message.js';

/** A receiver link attached to a subqueue, as the broker sees it. */
export interface Consumer {
  readonly owner: string;
  readonly receiveAndDelete: boolean;
  /** How many more messages the consumer accepts now. */
  credit(): number;
  deliver(message: BrokerMessage): void;
  /** The subqueue is going away (entity deleted). */
  detach(reason: Error): void;
}

export interface DeliverySettings {
  lockDurationMs: number;
  maxDeliveryCount: number;
  deadLetteringOnMessageExpiration: boolean;
}

export class Subqueue {
  readonly messages = new Map<number, BrokerMessage>();
  readonly ready = new MinHeap<BrokerMessage>((a, b) => a.seq < b.seq);
  readonly consumers: Consumer[] = [];
  nextConsumer = 0;
  pumping = false;

  constructor(
    /** Lower-case path; the address the SDK uses, matched case-insensitively. */
    readonly key: string,
    /** Path with the entity's own casing, for messages and logs. */
    readonly path: string,
    readonly owner: QueueEntity | SubscriptionEntity,
    readonly isDeadLetter: boolean,
  ) {}

  get settings(): DeliverySettings {
    return this.owner.properties;
  }

  /** Receivers must accept a session (see sessions.ts); dead-letter queues never require one. */
  get requiresSession(): boolean {
    return !this.isDeadLetter && this.owner.properties.requiresSession;
  }

  /** Where dead-lettered messages of this subqueue go; none for a dead-letter subqueue. */
  get deadLetterQueue(): Subqueue | undefined {
    return this.isDeadLetter ? undefined : this.owner.dlq;
  }

  get maxMessageSizeInBytes(): number {
    return this.owner.kind === 'queue' ? this.owner.properties.maxMessageSizeInBytes : this.owner.topic.properties.maxMessageSizeInBytes;
  }

  counts(): { active: number; scheduled: number } {
    let active = 0;
    let scheduled = 0;
    for (const m of this.messages.values()) {
      if (m.state === 'scheduled') scheduled++;
      else active++;
    }
    return { active, scheduled };
  }
}

/** What queues and topics share as the entities senders address: they number and deduplicate what is sent. */
abstract class SendEntity<Properties> {
  /** Last sequence number handed out. */
  lastSequence = 0;
  /** Duplicate detection: message id → time it was first accepted. */
  readonly recentIds = new Map<string, number>();

  constructor(
    readonly name: string,
    public properties: Properties,
    readonly createdAt: number,
    public updatedAt: number,
  ) {}
}

export class QueueEntity extends SendEntity<QueueProperties> {
  readonly kind = 'queue';
  readonly main = new Subqueue(this.name.toLowerCase(), this.name, this, false);
  readonly dlq = new Subqueue(`${this.main.key}/$deadletterqueue`, `${this.name}/$DeadLetterQueue`, this, true);

  get key(): string {
    return this.main.key;
  }
}

export class TopicEntity extends SendEntity<TopicProperties> {
  readonly kind = 'topic';
  readonly subscriptions = new Map<string, SubscriptionEntity>();

  get key(): string {
    return this.name.toLowerCase();
  }
}

export class SubscriptionEntity {
  readonly kind = 'subscription';
  readonly main: Subqueue;
  readonly dlq: Subqueue;
  /** Rule name (lower case) → rule. */
  readonly rules = new Map<string, RuleDescription>();

  constructor(
    readonly topic: TopicEntity,
    readonly name: string,
    public properties: SubscriptionProperties,
    readonly createdAt: number,
    public updatedAt: number,
  ) {
    const key = `${topic.key}/subscriptions/${name.toLowerCase()}`;
    const path = `${topic.name}/Subscriptions/${name}`;
    this.main = new Subqueue(key, path, this, false);
    this.dlq = new Subqueue(`${key}/$deadletterqueue`, `${path}/$DeadLetterQueue`, this, true);
  }
}
