// The entity catalogue: what exists in the emulated namespace and with which settings.
// It is the seam between the provisioning surfaces (config file at start-up, the ARM endpoint)
// and the broker that delivers messages. Durations are milliseconds; the ARM layer converts
// to and from ISO-8601 durations.

export interface QueueProperties {
  lockDurationMs: number;
  maxDeliveryCount: number;
  defaultMessageTimeToLiveMs: number;
  deadLetteringOnMessageExpiration: boolean;
  requiresDuplicateDetection: boolean;
  duplicateDetectionHistoryTimeWindowMs: number;
  maxSizeInMegabytes: number;
  /** Largest message accepted, in bytes (Standard tier: 256 KiB). */
  maxMessageSizeInBytes: number;
  /** Messages carry a session id and are received through session receivers; fixed at creation. */
  requiresSession: boolean;
}

export interface TopicProperties {
  defaultMessageTimeToLiveMs: number;
  requiresDuplicateDetection: boolean;
  duplicateDetectionHistoryTimeWindowMs: number;
  maxSizeInMegabytes: number;
  maxMessageSizeInBytes: number;
}

export interface SubscriptionProperties {
  lockDurationMs: number;
  maxDeliveryCount: number;
  defaultMessageTimeToLiveMs: number;
  deadLetteringOnMessageExpiration: boolean;
  /** As for queues; a topic message without a session id is dead-lettered here. Fixed at creation. */
  requiresSession: boolean;
}

/** Matches when every given field equals the message's (Service Bus correlation filter). */
export interface CorrelationFilter {
  correlationId?: string;
  messageId?: string;
  to?: string;
  replyTo?: string;
  subject?: string;
  sessionId?: string;
  replyToSessionId?: string;
  contentType?: string;
  /** Application properties that must be present with these exact values (a Date: a timestamp). */
  applicationProperties?: Record<string, string | number | boolean | Date>;
}

/** A SQL filter: the SQL-92 subset of Service Bus (src/broker/sql-syntax.ts). */
export interface SqlFilter {
  sqlExpression: string;
}

export type RuleFilter = { kind: 'true' } | { kind: 'false' } | ({ kind: 'correlation' } & CorrelationFilter) | ({ kind: 'sql' } & SqlFilter);

/** `SET`/`REMOVE` statements applied to the copy of a message that the rule selects. */
export interface RuleAction {
  sqlExpression: string;
}

export interface RuleDescription {
  name: string;
  filter: RuleFilter;
  /** With an action, the rule gives the subscription a copy of its own (as in Azure). */
  action?: RuleAction;
}

export interface EntityRuntimeInfo {
  createdAt: Date;
  updatedAt: Date;
  /** Active + scheduled + dead-lettered, as Azure counts `messageCount`. */
  messageCount: number;
  activeMessageCount: number;
  deadLetterMessageCount: number;
  scheduledMessageCount: number;
}

export interface QueueInfo extends EntityRuntimeInfo {
  name: string;
  properties: QueueProperties;
}

export interface TopicInfo extends Omit<EntityRuntimeInfo, 'activeMessageCount' | 'deadLetterMessageCount'> {
  name: string;
  properties: TopicProperties;
  subscriptionCount: number;
}

export interface SubscriptionInfo extends EntityRuntimeInfo {
  topicName: string;
  name: string;
  properties: SubscriptionProperties;
}

export interface PutResult<T> {
  /** true when the entity did not exist before this call. */
  created: boolean;
  entity: T;
}

/**
 * Create-or-update semantics follow ARM: `put*` creates the entity, or updates the given
 * properties of an existing one (unspecified properties keep their value, or the default
 * when created). Names are matched case-insensitively and keep the casing they were created
 * with. A new subscription gets a `$Default` rule with a true filter unless rules are given.
 * Invalid values throw an `EmulatorError` with code `InvalidEntityProperties` naming the field;
 * a missing parent (topic of a subscription) throws `MessagingEntityNotFound` (so do the
 * subscription and rule methods, `listSubscriptions` included, when the topic or subscription is
 * missing); a queue and a topic cannot share a name (`MessagingEntityAlreadyExists`).
 * Deleting an entity detaches its receivers and drops its messages.
 */
export interface EntityCatalogue {
  putQueue(name: string, properties?: Partial<QueueProperties>): PutResult<QueueInfo>;
  getQueue(name: string): QueueInfo | undefined;
  listQueues(): QueueInfo[];
  /** Deletes the queue and its messages; false when it did not exist. */
  deleteQueue(name: string): boolean;

  putTopic(name: string, properties?: Partial<TopicProperties>): PutResult<TopicInfo>;
  getTopic(name: string): TopicInfo | undefined;
  listTopics(): TopicInfo[];
  /** Deletes the topic, its subscriptions and their messages. */
  deleteTopic(name: string): boolean;

  putSubscription(
    topicName: string,
    name: string,
    properties?: Partial<SubscriptionProperties>,
    rules?: RuleDescription[],
  ): PutResult<SubscriptionInfo>;
  getSubscription(topicName: string, name: string): SubscriptionInfo | undefined;
  listSubscriptions(topicName: string): SubscriptionInfo[];
  deleteSubscription(topicName: string, name: string): boolean;

  putRule(topicName: string, subscriptionName: string, rule: RuleDescription): PutResult<RuleDescription>;
  getRule(topicName: string, subscriptionName: string, ruleName: string): RuleDescription | undefined;
  listRules(topicName: string, subscriptionName: string): RuleDescription[];
  deleteRule(topicName: string, subscriptionName: string, ruleName: string): boolean;
}
