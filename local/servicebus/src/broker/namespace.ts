// The emulated namespace: the entity catalogue (create-or-update, list, delete) and the index of
// subqueues by address. Messaging itself lives in broker.ts.
import { entityAlreadyExists, entityNotFound, invalidProperty } from '../errors.js';
import type { EntityRecord, MessageStore } from '../store/store.js';
import type {
  EntityCatalogue,
  PutResult,
  QueueInfo,
  QueueProperties,
  RuleDescription,
  SubscriptionInfo,
  SubscriptionProperties,
  TopicInfo,
  TopicProperties,
} from './catalogue.js';
import { checkName, mergeProperties, queueDefaults, subscriptionDefaults, topicDefaults } from './defaults.js';
import { QueueEntity, type Subqueue, SubscriptionEntity, TopicEntity } from './entities.js';
import { DEFAULT_RULE_NAME, checkRule } from './filters.js';

export interface NamespaceHooks {
  /** A subqueue is being removed with its entity: release its locks and consumers. */
  removed(subqueue: Subqueue): void;
}

export class Namespace implements EntityCatalogue {
  readonly queues = new Map<string, QueueEntity>();
  readonly topics = new Map<string, TopicEntity>();
  /** Every subqueue by its lower-case address. */
  readonly subqueues = new Map<string, Subqueue>();

  constructor(
    private readonly store: MessageStore,
    private readonly hooks: NamespaceHooks,
    private readonly now: () => number = Date.now,
  ) {}

  // ---- queues ------------------------------------------------------------------------------

  putQueue(name: string, properties?: Partial<QueueProperties>): PutResult<QueueInfo> {
    checkName('name', name);
    const key = name.toLowerCase();
    if (this.topics.has(key)) throw entityAlreadyExists(`${name} (a topic has this name)`);
    const existing = this.queues.get(key);
    if (existing) keepRequiresSession(existing.properties, properties, 'queue');
    const merged = mergeProperties(existing?.properties ?? queueDefaults, properties);
    const now = this.now();
    let queue = existing;
    if (queue) {
      queue.properties = merged;
      queue.updatedAt = now;
    } else {
      queue = this.addQueue(name, merged, now, now);
    }
    this.store.saveEntity(queueRecord(queue));
    return { created: !existing, entity: this.queueInfo(queue) };
  }

  getQueue(name: string): QueueInfo | undefined {
    const q = this.queues.get(name.toLowerCase());
    return q && this.queueInfo(q);
  }

  listQueues(): QueueInfo[] {
    return [...this.queues.values()].map((q) => this.queueInfo(q));
  }

  deleteQueue(name: string): boolean {
    const q = this.queues.get(name.toLowerCase());
    if (!q) return false;
    this.removeSubqueues([q.main, q.dlq]);
    this.queues.delete(q.key);
    this.store.deleteEntity({ kind: 'queue', name: q.name }, [q.main.key, q.dlq.key]);
    return true;
  }

  // ---- topics ------------------------------------------------------------------------------

  putTopic(name: string, properties?: Partial<TopicProperties>): PutResult<TopicInfo> {
    checkName('name', name);
    const key = name.toLowerCase();
    if (this.queues.has(key)) throw entityAlreadyExists(`${name} (a queue has this name)`);
    const existing = this.topics.get(key);
    const merged = mergeProperties(existing?.properties ?? topicDefaults, properties);
    const now = this.now();
    let topic = existing;
    if (topic) {
      topic.properties = merged;
      topic.updatedAt = now;
    } else {
      topic = this.addTopic(name, merged, now, now);
    }
    this.store.saveEntity(topicRecord(topic));
    return { created: !existing, entity: this.topicInfo(topic) };
  }

  getTopic(name: string): TopicInfo | undefined {
    const t = this.topics.get(name.toLowerCase());
    return t && this.topicInfo(t);
  }

  listTopics(): TopicInfo[] {
    return [...this.topics.values()].map((t) => this.topicInfo(t));
  }

  deleteTopic(name: string): boolean {
    const t = this.topics.get(name.toLowerCase());
    if (!t) return false;
    for (const sub of [...t.subscriptions.values()]) this.deleteSubscription(t.name, sub.name);
    this.topics.delete(t.key);
    this.store.deleteEntity({ kind: 'topic', name: t.name }, []);
    return true;
  }

  // ---- subscriptions -----------------------------------------------------------------------

  putSubscription(
    topicName: string,
    name: string,
    properties?: Partial<SubscriptionProperties>,
    rules?: RuleDescription[],
  ): PutResult<SubscriptionInfo> {
    const topic = this.requireTopic(topicName);
    checkName('name', name, 50);
    const checkedRules = rules?.map(checkRule);
    const existing = topic.subscriptions.get(name.toLowerCase());
    if (existing) keepRequiresSession(existing.properties, properties, 'subscription');
    const merged = mergeProperties(existing?.properties ?? subscriptionDefaults, properties);
    const now = this.now();
    let sub = existing;
    if (sub) {
      sub.properties = merged;
      sub.updatedAt = now;
    } else {
      sub = this.addSubscription(topic, name, merged, now, now);
    }
    if (checkedRules) {
      sub.rules.clear();
      for (const r of checkedRules) sub.rules.set(r.name.toLowerCase(), r);
    } else if (!existing) {
      sub.rules.set(DEFAULT_RULE_NAME.toLowerCase(), { name: DEFAULT_RULE_NAME, filter: { kind: 'true' } });
    }
    this.store.saveEntity(subscriptionRecord(sub));
    return { created: !existing, entity: this.subscriptionInfo(sub) };
  }

  getSubscription(topicName: string, name: string): SubscriptionInfo | undefined {
    const sub = this.topics.get(topicName.toLowerCase())?.subscriptions.get(name.toLowerCase());
    return sub && this.subscriptionInfo(sub);
  }

  listSubscriptions(topicName: string): SubscriptionInfo[] {
    const topic = this.requireTopic(topicName);
    return [...topic.subscriptions.values()].map((s) => this.subscriptionInfo(s));
  }

  deleteSubscription(topicName: string, name: string): boolean {
    const topic = this.topics.get(topicName.toLowerCase());
    const sub = topic?.subscriptions.get(name.toLowerCase());
    if (!topic || !sub) return false;
    this.removeSubqueues([sub.main, sub.dlq]);
    topic.subscriptions.delete(sub.name.toLowerCase());
    this.store.deleteEntity({ kind: 'subscription', topicName: topic.name, name: sub.name }, [sub.main.key, sub.dlq.key]);
    return true;
  }

  // ---- rules -------------------------------------------------------------------------------

  putRule(topicName: string, subscriptionName: string, rule: RuleDescription): PutResult<RuleDescription> {
    const sub = this.requireSubscription(topicName, subscriptionName);
    const checked = checkRule(rule);
    const key = checked.name.toLowerCase();
    const created = !sub.rules.has(key);
    sub.rules.set(key, checked);
    sub.updatedAt = this.now();
    this.store.saveEntity(subscriptionRecord(sub));
    return { created, entity: checked };
  }

  getRule(topicName: string, subscriptionName: string, ruleName: string): RuleDescription | undefined {
    return this.requireSubscription(topicName, subscriptionName).rules.get(ruleName.toLowerCase());
  }

  listRules(topicName: string, subscriptionName: string): RuleDescription[] {
    return [...this.requireSubscription(topicName, subscriptionName).rules.values()];
  }

  deleteRule(topicName: string, subscriptionName: string, ruleName: string): boolean {
    const sub = this.requireSubscription(topicName, subscriptionName);
    if (!sub.rules.delete(ruleName.toLowerCase())) return false;
    sub.updatedAt = this.now();
    this.store.saveEntity(subscriptionRecord(sub));
    return true;
  }

  // ---- internals used by the broker and at start-up ----------------------------------------

  requireTopic(name: string): TopicEntity {
    const topic = this.topics.get(name.toLowerCase());
    if (!topic) throw entityNotFound(name);
    return topic;
  }

  requireSubscription(topicName: string, name: string): SubscriptionEntity {
    const sub = this.requireTopic(topicName).subscriptions.get(name.toLowerCase());
    if (!sub) throw entityNotFound(`${topicName}/Subscriptions/${name}`);
    return sub;
  }

  /** Rebuilds an entity from its stored record (no store write). */
  restore(record: EntityRecord): void {
    switch (record.kind) {
      case 'queue':
        this.addQueue(record.name, Object.freeze({ ...queueDefaults, ...record.properties }), record.createdAt, record.updatedAt);
        return;
      case 'topic':
        this.addTopic(record.name, Object.freeze({ ...topicDefaults, ...record.properties }), record.createdAt, record.updatedAt);
        return;
      case 'subscription': {
        const topic = this.topics.get(record.topicName.toLowerCase());
        if (!topic) return; // orphan: its topic was deleted
        const sub = this.addSubscription(
          topic,
          record.name,
          Object.freeze({ ...subscriptionDefaults, ...record.properties }),
          record.createdAt,
          record.updatedAt,
        );
        for (const r of record.rules) sub.rules.set(r.name.toLowerCase(), r);
      }
    }
  }

  private addQueue(name: string, properties: QueueProperties, createdAt: number, updatedAt: number): QueueEntity {
    const q = new QueueEntity(name, properties, createdAt, updatedAt);
    this.queues.set(q.key, q);
    this.subqueues.set(q.main.key, q.main);
    this.subqueues.set(q.dlq.key, q.dlq);
    return q;
  }

  private addTopic(name: string, properties: TopicProperties, createdAt: number, updatedAt: number): TopicEntity {
    const t = new TopicEntity(name, properties, createdAt, updatedAt);
    this.topics.set(t.key, t);
    return t;
  }

  private addSubscription(
    topic: TopicEntity,
    name: string,
    properties: SubscriptionProperties,
    createdAt: number,
    updatedAt: number,
  ): SubscriptionEntity {
    const sub = new SubscriptionEntity(topic, name, properties, createdAt, updatedAt);
    topic.subscriptions.set(name.toLowerCase(), sub);
    this.subqueues.set(sub.main.key, sub.main);
    this.subqueues.set(sub.dlq.key, sub.dlq);
    return sub;
  }

  private removeSubqueues(subqueues: Subqueue[]): void {
    for (const sq of subqueues) {
      this.hooks.removed(sq);
      this.subqueues.delete(sq.key);
    }
  }

  private queueInfo(q: QueueEntity): QueueInfo {
    const main = q.main.counts();
    const dead = q.dlq.messages.size;
    return {
      name: q.name,
      properties: q.properties,
      createdAt: new Date(q.createdAt),
      updatedAt: new Date(q.updatedAt),
      messageCount: main.active + main.scheduled + dead,
      activeMessageCount: main.active,
      deadLetterMessageCount: dead,
      scheduledMessageCount: main.scheduled,
    };
  }

  private topicInfo(t: TopicEntity): TopicInfo {
    let scheduled = 0;
    let total = 0;
    for (const sub of t.subscriptions.values()) {
      const c = sub.main.counts();
      scheduled += c.scheduled;
      total += c.active + c.scheduled + sub.dlq.messages.size;
    }
    return {
      name: t.name,
      properties: t.properties,
      createdAt: new Date(t.createdAt),
      updatedAt: new Date(t.updatedAt),
      messageCount: total,
      scheduledMessageCount: scheduled,
      subscriptionCount: t.subscriptions.size,
    };
  }

  private subscriptionInfo(s: SubscriptionEntity): SubscriptionInfo {
    const main = s.main.counts();
    const dead = s.dlq.messages.size;
    return {
      topicName: s.topic.name,
      name: s.name,
      properties: s.properties,
      createdAt: new Date(s.createdAt),
      updatedAt: new Date(s.updatedAt),
      messageCount: main.active + main.scheduled + dead,
      activeMessageCount: main.active,
      deadLetterMessageCount: dead,
      scheduledMessageCount: main.scheduled,
    };
  }
}

/** As in Azure, an entity is created with or without sessions and stays so. */
function keepRequiresSession(current: { requiresSession: boolean }, given: { requiresSession?: boolean } | undefined, kind: string): void {
  const wanted = given?.requiresSession;
  if (wanted !== undefined && wanted !== current.requiresSession) {
    throw invalidProperty('requiresSession', `cannot be changed on an existing ${kind} (it is ${current.requiresSession}); delete the ${kind} and create it again`);
  }
}

function queueRecord(q: QueueEntity): EntityRecord {
  return { kind: 'queue', name: q.name, properties: q.properties, createdAt: q.createdAt, updatedAt: q.updatedAt };
}

function topicRecord(t: TopicEntity): EntityRecord {
  return { kind: 'topic', name: t.name, properties: t.properties, createdAt: t.createdAt, updatedAt: t.updatedAt };
}

function subscriptionRecord(s: SubscriptionEntity): EntityRecord {
  return {
    kind: 'subscription',
    topicName: s.topic.name,
    name: s.name,
    properties: s.properties,
    rules: [...s.rules.values()],
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
  };
}
