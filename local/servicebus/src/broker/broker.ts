// The broker: enqueue (with duplicate detection, scheduling, topic fan-out), delivery to
// competing consumers, peek-lock with timer-driven lock expiry, settlement, dead-lettering and
// TTL expiry. It holds the working state in memory and records each change in the store.
// One file of ~540 lines on purpose: every transition of a message's state is here, so that
// locks, settlements and timers read together.
import { randomFillSync } from 'node:crypto';
import { entityNotFound, invalidOperation, invalidRequest, lockLost, messageNotFound, messageTooLarge } from '../errors.js';
import type { Logger } from '../log.js';
import type { MessageRecord, MessageStore } from '../store/store.js';
import { normalise } from './address.js';
import { type Consumer, QueueEntity, type Subqueue, TopicEntity } from './entities.js';
import { copiesFor } from './filters.js';
import { MinHeap } from './heap.js';
import type { BrokerMessage, Lock, MessagePayload } from './message.js';
import { Namespace } from './namespace.js';
import { Sessions } from './sessions.js';

export interface BrokerOptions {
  store: MessageStore;
  /** Turns stored bytes back into a payload (the AMQP codec). */
  parse: (raw: Buffer) => MessagePayload;
  autoCreate: boolean;
  logger: Logger;
  now?: () => number;
}

/** How a peek-locked message is settled. */
export type Settlement =
  | { kind: 'complete' }
  | { kind: 'abandon'; properties?: Record<string, unknown> }
  | { kind: 'defer'; properties?: Record<string, unknown> }
  | { kind: 'deadLetter'; reason?: string; description?: string; properties?: Record<string, unknown> };

export type SendTarget = QueueEntity | TopicEntity;

/** Longest single setTimeout delay Node accepts. */
const MAX_TIMER = 2_147_483_647;

export class Broker {
  readonly namespace: Namespace;
  /** Session-enabled subqueues deliver through their sessions (sessions.ts). */
  readonly sessions: Sessions;
  private readonly store: MessageStore;
  private readonly now: () => number;
  /** Lock token (standard UUID string) → locked message. */
  private readonly locks = new Map<string, BrokerMessage>();
  private readonly scheduled = new MinHeap<{ at: number; m: BrokerMessage }>((a, b) => a.at < b.at);
  private readonly expiring = new MinHeap<{ at: number; m: BrokerMessage }>((a, b) => a.at < b.at);
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private closed = false;

  constructor(private readonly options: BrokerOptions) {
    this.store = options.store;
    this.now = options.now ?? Date.now;
    this.namespace = new Namespace(this.store, { removed: (sq) => this.dropSubqueue(sq) }, this.now);
    this.sessions = new Sessions({
      store: this.store,
      now: () => this.now(),
      lockUntil: (m, owner, until) => this.lock(m, owner, this.now(), until),
      release: (m) => {
        this.unlock(m);
        this.redeliver(m);
      },
      remove: (m) => this.remove(m),
      expire: (m) => this.expire(m),
      deadLetter: (m, reason, description) => this.deadLetter(m, reason, description),
    });
  }

  /** Loads entities and messages from the store. Locks are not stored: every message comes back unlocked. */
  restore(): void {
    const snapshot = this.store.load();
    this.sessions.restore(snapshot.sessionStates);
    const order = { queue: 0, topic: 0, subscription: 1 };
    for (const e of [...snapshot.entities].sort((a, b) => order[a.kind] - order[b.kind])) this.namespace.restore(e);
    for (const [key, seq] of snapshot.sequences) {
      const target = this.namespace.queues.get(key) ?? this.namespace.topics.get(key);
      if (target) target.lastSequence = Math.max(target.lastSequence, seq);
    }
    const now = this.now();
    for (const { entity, messageId, at } of snapshot.messageIds) {
      const target = this.namespace.queues.get(entity) ?? this.namespace.topics.get(entity);
      if (target && at + target.properties.duplicateDetectionHistoryTimeWindowMs > now) target.recentIds.set(messageId, at);
    }
    for (const r of snapshot.messages) {
      const sq = this.namespace.subqueues.get(r.subqueue);
      if (!sq) continue;
      const m: BrokerMessage = {
        subqueue: sq.key,
        seq: r.seq,
        payload: this.options.parse(r.raw),
        state: r.state,
        enqueuedAt: r.enqueuedAt,
        scheduledAt: r.scheduledAt,
        expiresAt: r.expiresAt,
        deliveryCount: r.deliveryCount,
        deadLetterSource: r.deadLetterSource,
        lock: undefined,
        readyIn: undefined,
        removed: false,
      };
      const target = sq.owner.kind === 'queue' ? sq.owner : sq.owner.topic;
      target.lastSequence = Math.max(target.lastSequence, r.seq);
      this.place(sq, m);
    }
    this.armTimer();
  }

  // ---- addresses ---------------------------------------------------------------------------

  /** The queue or topic a sender link addresses. */
  sendTarget(address: string): SendTarget {
    const path = normalise(address);
    const target = this.namespace.queues.get(path) ?? this.namespace.topics.get(path);
    if (target) return target;
    if (this.options.autoCreate && !path.includes('/')) {
      this.namespace.putQueue(address.replace(/^\/+|\/+$/g, ''));
      this.options.logger.info('auto-created queue', { queue: path });
      return this.namespace.queues.get(path)!;
    }
    throw entityNotFound(address);
  }

  /** The subqueue a receiver link (or a management request) addresses. */
  subqueue(address: string): Subqueue {
    const path = normalise(address);
    const sq = this.namespace.subqueues.get(path);
    if (sq) return sq;
    if (this.options.autoCreate) {
      const m = /^([^/]+)(?:\/subscriptions\/([^/]+))?(\/\$deadletterqueue)?$/.exec(path);
      const original = address.replace(/^\/+|\/+$/g, '').split('/');
      if (m && m[2] === undefined) {
        this.namespace.putQueue(original[0]!);
        this.options.logger.info('auto-created queue', { queue: original[0] });
      } else if (m) {
        if (!this.namespace.topics.has(m[1]!)) this.namespace.putTopic(original[0]!);
        this.namespace.putSubscription(original[0]!, original[2]!);
        this.options.logger.info('auto-created subscription', { topic: original[0], subscription: original[2] });
      }
      const created = this.namespace.subqueues.get(path);
      if (created) return created;
    }
    throw entityNotFound(address);
  }

  maxMessageSize(target: SendTarget | Subqueue): number {
    return target instanceof QueueEntity || target instanceof TopicEntity ? target.properties.maxMessageSizeInBytes : target.maxMessageSizeInBytes;
  }

  /** Throws `MessageSizeExceeded` when `size` is over the entity's limit. */
  checkSize(target: SendTarget, size: number): void {
    const limit = this.maxMessageSize(target);
    if (size > limit) throw messageTooLarge(size, limit, target.name);
  }

  // ---- enqueue -----------------------------------------------------------------------------

  /** Accepts messages sent to a queue or topic. Returns the sequence numbers assigned (duplicates get none). */
  send(target: SendTarget, payloads: MessagePayload[]): number[] {
    this.sessions.checkSend(target, payloads);
    const now = this.now();
    const seqs: number[] = [];
    for (const payload of payloads) {
      if (this.isDuplicate(target, payload.messageId, now)) continue;
      const seq = ++target.lastSequence;
      const at = payload.scheduledEnqueueTime;
      const scheduledAt = at !== undefined && at > now ? at : undefined;
      const enqueuedAt = scheduledAt ?? now;
      const ttl = Math.min(payload.ttlMs ?? Infinity, target.properties.defaultMessageTimeToLiveMs);
      const base = { seq, payload, enqueuedAt, scheduledAt, expiresAt: enqueuedAt + ttl };
      if (target instanceof QueueEntity) {
        this.insert(target.main, base);
      } else {
        const view = payload.filterView();
        for (const sub of target.subscriptions.values()) {
          let copySeq = seq;
          for (const changes of copiesFor(sub.rules.values(), view)) {
            // A further copy (a rule with an action) is a message of its own: its own number.
            this.insert(sub.main, { ...base, seq: copySeq, payload: changes ? payload.withApplicationProperties(changes) : payload });
            copySeq = ++target.lastSequence;
          }
        }
      }
      seqs.push(seq);
    }
    if (seqs.length) this.store.setSequence(target.key, target.lastSequence);
    this.armTimer();
    return seqs;
  }

  /** Cancels scheduled messages by sequence number; unknown numbers are ignored. */
  cancelScheduled(target: SendTarget, seqs: number[]): void {
    const subqueues = target instanceof QueueEntity ? [target.main] : [...target.subscriptions.values()].map((s) => s.main);
    for (const seq of seqs) {
      for (const sq of subqueues) {
        const m = sq.messages.get(seq);
        if (m && m.state === 'scheduled') this.remove(m);
      }
    }
  }

  private isDuplicate(target: SendTarget, messageId: string, now: number): boolean {
    if (!target.properties.requiresDuplicateDetection) return false;
    const window = target.properties.duplicateDetectionHistoryTimeWindowMs;
    let pruned = false;
    for (const [id, at] of target.recentIds) {
      if (at + window > now) break; // insertion order = time order
      target.recentIds.delete(id);
      pruned = true;
    }
    if (pruned) this.store.forgetMessageIds(target.key, now - window);
    if (target.recentIds.has(messageId)) return true;
    target.recentIds.set(messageId, now);
    this.store.rememberMessageId(target.key, messageId, now);
    return false;
  }

  private insert(
    sq: Subqueue,
    base: { seq: number; payload: MessagePayload; enqueuedAt: number; scheduledAt: number | undefined; expiresAt: number },
  ): void {
    const m: BrokerMessage = {
      subqueue: sq.key,
      seq: base.seq,
      payload: base.payload,
      state: base.scheduledAt !== undefined ? 'scheduled' : 'active',
      enqueuedAt: base.enqueuedAt,
      scheduledAt: base.scheduledAt,
      expiresAt: base.expiresAt,
      deliveryCount: 0,
      deadLetterSource: undefined,
      lock: undefined,
      readyIn: undefined,
      removed: false,
    };
    this.store.insertMessage(record(m));
    this.place(sq, m);
  }

  /** Puts a message into its subqueue's structures (not the store). */
  private place(sq: Subqueue, m: BrokerMessage): void {
    sq.messages.set(m.seq, m);
    if (m.state === 'scheduled' && m.scheduledAt !== undefined) this.scheduled.push({ at: m.scheduledAt, m });
    if (Number.isFinite(m.expiresAt) && !sq.isDeadLetter) this.expiring.push({ at: m.expiresAt, m });
    if (m.state === 'active') this.makeReady(sq, m);
  }

  private makeReady(sq: Subqueue, m: BrokerMessage): void {
    if (sq.requiresSession) {
      this.sessions.makeReady(sq, m);
      return;
    }
    if (m.readyIn !== sq.key) {
      m.readyIn = sq.key;
      sq.ready.push(m);
    }
    this.pump(sq);
  }

  // ---- delivery ----------------------------------------------------------------------------

  addConsumer(sq: Subqueue, consumer: Consumer): void {
    sq.consumers.push(consumer);
    this.pump(sq);
  }

  removeConsumer(sq: Subqueue, consumer: Consumer): void {
    const i = sq.consumers.indexOf(consumer);
    if (i >= 0) sq.consumers.splice(i, 1);
    this.sessions.closed(consumer);
  }

  /** The consumer got credit: deliver what its session, or its subqueue, has for it. */
  pumpFor(sq: Subqueue, consumer: Consumer): void {
    const holder = this.sessions.holderOf(consumer);
    if (holder) this.sessions.pump(holder);
    else this.pump(sq);
  }

  /** Hands ready messages to consumers with credit, round-robin, so competing receivers get distinct messages. */
  pump(sq: Subqueue): void {
    if (sq.pumping || this.closed) return;
    sq.pumping = true;
    try {
      const now = this.now();
      while (sq.ready.size > 0) {
        const consumer = nextConsumer(sq);
        if (!consumer) break;
        const m = sq.ready.pop()!;
        if (m.readyIn !== sq.key) continue; // stale entry: the message moved on
        m.readyIn = undefined;
        if (m.removed || m.subqueue !== sq.key || m.state !== 'active' || m.lock) continue;
        if (m.expiresAt <= now && !sq.isDeadLetter) {
          this.expire(m);
          continue;
        }
        if (consumer.receiveAndDelete) {
          this.remove(m);
        } else {
          this.lock(m, consumer.owner, now);
        }
        consumer.deliver(m);
      }
    } finally {
      sq.pumping = false;
    }
  }

  /** A message lock with a timer of its own; or until `until` without one (a session's lock times it). */
  private lock(m: BrokerMessage, owner: string, now: number, until?: number): Lock {
    const sq = this.sq(m);
    const { token, tokenString } = newLockToken();
    const duration = sq.settings.lockDurationMs;
    const lock: Lock = { token, tokenString, lockedUntil: until ?? now + duration, timer: undefined, owner };
    if (until === undefined) {
      lock.timer = setTimeout(() => this.lockExpired(m, lock), duration);
      lock.timer.unref?.();
    }
    m.lock = lock;
    this.locks.set(tokenString, m);
    return lock;
  }

  private unlock(m: BrokerMessage): void {
    const lock = m.lock;
    if (!lock) return;
    clearTimeout(lock.timer);
    this.locks.delete(lock.tokenString);
    m.lock = undefined;
  }

  private lockExpired(m: BrokerMessage, lock: Lock): void {
    if (m.lock !== lock || m.removed) return;
    this.unlock(m);
    this.redeliver(m);
  }

  /**
   * After an abandon or a lost lock: count the attempt, then dead-letter or make available
   * again. In a dead-letter queue attempts are not counted (as in Azure: nothing follows from
   * the count there).
   */
  private redeliver(m: BrokerMessage, properties?: Record<string, unknown>): void {
    const sq = this.sq(m);
    if (!sq.isDeadLetter) m.deliveryCount++;
    if (properties && Object.keys(properties).length) m.payload = m.payload.withApplicationProperties(properties);
    if (m.deliveryCount >= sq.settings.maxDeliveryCount && sq.deadLetterQueue) {
      this.deadLetter(m, 'MaxDeliveryCountExceeded', `Message could not be consumed after ${sq.settings.maxDeliveryCount} delivery attempts.`);
      return;
    }
    this.store.updateMessage(record(m));
    if (m.state === 'active') {
      if (m.expiresAt <= this.now() && !sq.isDeadLetter) this.expire(m);
      else this.makeReady(sq, m);
    }
  }

  // ---- settlement --------------------------------------------------------------------------

  /** The message locked under `token`; throws `MessageLockLost` when the lock is gone or expired. */
  locked(token: string, scope?: Subqueue): BrokerMessage {
    const m = this.locks.get(token);
    if (!m || !m.lock || (scope && m.subqueue !== scope.key)) throw lockLost(token);
    if (m.lock.lockedUntil < this.now()) {
      this.lockExpired(m, m.lock);
      throw lockLost(token);
    }
    return m;
  }

  settle(token: string, settlement: Settlement, scope?: Subqueue): void {
    const m = this.locked(token, scope);
    this.unlock(m);
    switch (settlement.kind) {
      case 'complete':
        this.remove(m);
        return;
      case 'abandon':
        this.redeliver(m, settlement.properties);
        return;
      case 'defer':
        if (settlement.properties && Object.keys(settlement.properties).length) {
          m.payload = m.payload.withApplicationProperties(settlement.properties);
        }
        // The delivery that ended in defer() counts, as in Azure: a deferred message received
        // by sequence number reports one more delivery than the receive that deferred it.
        m.deliveryCount++;
        m.state = 'deferred';
        this.store.updateMessage(record(m));
        return;
      case 'deadLetter':
        this.deadLetter(m, settlement.reason, settlement.description, settlement.properties);
    }
  }

  /** Extends locks by the entity's lock duration; returns the new expiry of each. */
  renewLocks(sq: Subqueue, tokens: string[]): number[] {
    // A session's messages share its lock: renew-session-lock renews them (the SDK refuses too).
    if (sq.requiresSession) throw invalidOperation(`The messages of '${sq.path}' are locked by their session: renew the session lock instead.`);
    const now = this.now();
    return tokens.map((token) => {
      const m = this.locked(token, sq);
      const lock = m.lock!;
      clearTimeout(lock.timer);
      const duration = sq.settings.lockDurationMs;
      lock.lockedUntil = now + duration;
      lock.timer = setTimeout(() => this.lockExpired(m, lock), duration);
      lock.timer.unref?.();
      return lock.lockedUntil;
    });
  }

  private deadLetter(m: BrokerMessage, reason?: string, description?: string, properties?: Record<string, unknown>): void {
    const from = this.sq(m);
    const dlq = from.deadLetterQueue;
    if (!dlq) {
      // Azure refuses to dead-letter a message of a dead-letter queue; the message stays there,
      // available again at once, and the refused delivery does not count.
      this.makeReady(from, m);
      throw invalidOperation(`The message ${m.seq} is in the dead-letter queue '${from.path}' and cannot be dead-lettered again; complete it to remove it.`);
    }
    const changes: Record<string, unknown> = { ...properties };
    if (reason !== undefined && reason !== null) changes.DeadLetterReason = reason;
    if (description !== undefined && description !== null) changes.DeadLetterErrorDescription = description;
    if (Object.keys(changes).length) m.payload = m.payload.withApplicationProperties(changes);
    from.messages.delete(m.seq);
    const previous = m.subqueue;
    m.subqueue = dlq.key;
    m.state = 'active';
    m.scheduledAt = undefined;
    m.expiresAt = Infinity; // dead-lettered messages do not expire
    dlq.messages.set(m.seq, m);
    this.store.updateMessage(record(m), previous);
    this.makeReady(dlq, m);
  }

  private expire(m: BrokerMessage): void {
    const sq = this.sq(m);
    if (sq.settings.deadLetteringOnMessageExpiration && sq.deadLetterQueue) {
      this.deadLetter(m, 'TTLExpiredException', 'The message expired and was dead lettered.');
    } else {
      this.remove(m);
    }
  }

  private remove(m: BrokerMessage): void {
    this.unlock(m);
    m.removed = true;
    this.namespace.subqueues.get(m.subqueue)?.messages.delete(m.seq);
    this.store.deleteMessage(m.subqueue, m.seq);
  }

  // ---- management reads --------------------------------------------------------------------

  /** Messages with sequence number ≥ `from`, in order, without locking them. */
  peek(sq: Subqueue, from: number, count: number): BrokerMessage[] {
    const out: BrokerMessage[] = [];
    for (const m of sq.messages.values()) if (m.seq >= from) out.push(m);
    out.sort((a, b) => a.seq - b.seq);
    return out.slice(0, count);
  }

  /** Receives deferred messages by sequence number (locks them, or removes them in receive-and-delete mode). */
  receiveDeferred(sq: Subqueue, seqs: number[], receiveAndDelete: boolean, owner: string): BrokerMessage[] {
    const found = seqs.map((seq) => {
      const m = sq.messages.get(seq);
      if (!m || m.state !== 'deferred' || m.lock) {
        throw messageNotFound(`No deferred message with sequence number ${seq} is available in '${sq.path}'.`);
      }
      return m;
    });
    const now = this.now();
    for (const m of found) {
      if (receiveAndDelete) this.remove(m);
      else this.lock(m, owner, now);
    }
    return found;
  }

  /** Calls `done` when every change so far is durable. */
  afterCommit(done: (error?: Error) => void): void {
    this.store.afterCommit(done);
  }

  // ---- timers: scheduled activation and TTL expiry -----------------------------------------

  private armTimer(): void {
    if (this.closed) return;
    const next = Math.min(this.scheduled.peek()?.at ?? Infinity, this.expiring.peek()?.at ?? Infinity);
    if (next === Infinity || next >= this.timerAt) return;
    clearTimeout(this.timer);
    this.timerAt = next;
    this.timer = setTimeout(() => this.onTimer(), Math.min(Math.max(next - this.now(), 0), MAX_TIMER));
    this.timer.unref?.();
  }

  private onTimer(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = this.now();
    while ((this.scheduled.peek()?.at ?? Infinity) <= now) {
      const { at, m } = this.scheduled.pop()!;
      if (m.removed || m.state !== 'scheduled' || m.scheduledAt !== at) continue;
      m.state = 'active';
      m.scheduledAt = undefined;
      this.store.updateMessage(record(m));
      this.makeReady(this.sq(m), m);
    }
    while ((this.expiring.peek()?.at ?? Infinity) <= now) {
      const { at, m } = this.expiring.pop()!;
      if (m.removed || m.expiresAt !== at || m.state === 'scheduled' || m.lock) continue; // locked: checked when released
      if (this.sq(m).isDeadLetter) continue;
      this.expire(m);
    }
    this.armTimer();
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  private sq(m: BrokerMessage): Subqueue {
    const sq = this.namespace.subqueues.get(m.subqueue);
    if (!sq) throw invalidRequest(`internal: subqueue ${m.subqueue} is gone`);
    return sq;
  }

  private dropSubqueue(sq: Subqueue): void {
    this.sessions.drop(sq, entityNotFound(sq.path, 'It was deleted.'));
    for (const c of [...sq.consumers]) c.detach(entityNotFound(sq.path, 'It was deleted.'));
    sq.consumers.length = 0;
    for (const m of sq.messages.values()) {
      this.unlock(m);
      m.removed = true;
    }
    sq.messages.clear();
    sq.ready.clear();
  }

  /** Stops timers; the store is closed by the owner. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    for (const m of this.locks.values()) clearTimeout(m.lock?.timer);
    this.locks.clear();
    this.sessions.close();
  }
}

/** Random bytes for lock tokens, drawn 16 at a time. */
let entropy = Buffer.alloc(0);
let entropyAt = 0;

/** A new lock token: a random (version 4) UUID, as bytes in standard order and as a string. */
function newLockToken(): { token: Buffer; tokenString: string } {
  if (entropyAt + 16 > entropy.length) {
    entropy = randomFillSync(Buffer.allocUnsafe(4096));
    entropyAt = 0;
  }
  const token = Buffer.from(entropy.subarray(entropyAt, entropyAt + 16));
  entropyAt += 16;
  token[6] = (token[6]! & 0x0f) | 0x40;
  token[8] = (token[8]! & 0x3f) | 0x80;
  const h = token.toString('hex');
  return { token, tokenString: `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}` };
}

function nextConsumer(sq: Subqueue): Consumer | undefined {
  const n = sq.consumers.length;
  for (let i = 0; i < n; i++) {
    const idx = (sq.nextConsumer + i) % n;
    const c = sq.consumers[idx]!;
    if (c.credit() > 0) {
      sq.nextConsumer = (idx + 1) % n;
      return c;
    }
  }
  return undefined;
}

function record(m: BrokerMessage): MessageRecord {
  return {
    subqueue: m.subqueue,
    seq: m.seq,
    raw: m.payload.raw,
    state: m.state,
    enqueuedAt: m.enqueuedAt,
    scheduledAt: m.scheduledAt,
    expiresAt: m.expiresAt,
    deliveryCount: m.deliveryCount,
    deadLetterSource: m.deadLetterSource,
  };
}

