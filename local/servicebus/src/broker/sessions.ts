// Service Bus sessions on a session-enabled queue or subscription: its messages are grouped by
// session id; one receiver at a time holds a session's lock and gets that session's messages, in
// sequence-number order. A session lock lasts the entity's lock duration and is renewed by the
// holder; when it expires, or the holder's link closes, the session is released: the messages the
// holder had locked count a delivery attempt (as a lost message lock does) and become available,
// and the next `acceptNextSession` (or `acceptSession`) can take it. Messages of a locked session
// share its lock (their `lockedUntil` is the session's). Session state is kept per session id,
// whether the session has messages or not, and written to the store. Session ids are matched
// regardless of case, as Service Bus matches them.
import { invalidOperation, messageNotFound, sessionCannotBeLocked, sessionLockLost } from '../errors.js';
import type { MessageStore, SessionStateRecord } from '../store/store.js';
import type { Consumer, Subqueue } from './entities.js';
import { QueueEntity, type TopicEntity } from './entities.js';
import { MinHeap } from './heap.js';
import type { BrokerMessage, Lock, MessagePayload } from './message.js';

/** The broker's message transitions that sessions use. */
export interface SessionHost {
  readonly store: MessageStore;
  now(): number;
  /** Locks `m` for `owner` until `until`, with no timer of its own (the session's lock times it). */
  lockUntil(m: BrokerMessage, owner: string, until: number): Lock;
  /** Unlocks `m` and makes it available again, counting the attempt (a lost lock). */
  release(m: BrokerMessage): void;
  remove(m: BrokerMessage): void;
  expire(m: BrokerMessage): void;
  deadLetter(m: BrokerMessage, reason: string, description: string): void;
}

interface Session {
  /** As first seen (a message's, or the one accepted); `key` is its lower case. */
  readonly id: string;
  readonly key: string;
  /** Active messages by sequence number; entries are dropped lazily (see `live`). */
  readonly ready: MinHeap<BrokerMessage>;
  holder: Holder | undefined;
}

/** A session lock: who holds which session, until when, and the messages it locked. */
export class Holder {
  timer: NodeJS.Timeout | undefined;
  active = true;
  /** Messages delivered under this lock, with the lock each got (settled ones are pruned). */
  readonly locked = new Map<BrokerMessage, Lock>();
  pumping = false;

  constructor(
    readonly sq: Subqueue,
    readonly session: Session,
    readonly consumer: Consumer,
    public lockedUntil: number,
    /** The session id as the receiver named it (the SDK expects it back as it was), or the session's. */
    readonly sessionId: string = session.id,
  ) {}
}

/** How a receiver waiting for the next available session (`acceptNextSession`) is answered. */
export interface WaitOutcome {
  /** False once the receiver is gone without a word (its AMQP session ended, say). */
  stillWaiting(): boolean;
  granted(holder: Holder): void;
  /** No session within the wait (with a timeout error), or the wait ended otherwise. */
  ended(error?: Error): void;
}

interface Waiter {
  readonly consumer: Consumer;
  readonly outcome: WaitOutcome;
  readonly timer: NodeJS.Timeout;
}

interface SessionTable {
  readonly sessions: Map<string, Session>;
  readonly states: Map<string, Buffer>;
  readonly waiters: Waiter[];
}

export class Sessions {
  /** By subqueue key. */
  private readonly tables = new Map<string, SessionTable>();
  /** Every consumer that held a session, to tell a lost session lock from no session at all. */
  private readonly holders = new WeakMap<Consumer, Holder>();
  private readonly waiting = new WeakMap<Consumer, { sq: Subqueue; waiter: Waiter }>();

  constructor(private readonly host: SessionHost) {}

  restore(states: SessionStateRecord[]): void {
    for (const r of states) this.table(r.subqueue).states.set(sessionKey(r.sessionId), r.state);
  }

  // ---- sending -----------------------------------------------------------------------------

  /** As in Azure, a session-enabled queue refuses a message without a session id. */
  checkSend(target: QueueEntity | TopicEntity, payloads: MessagePayload[]): void {
    if (!(target instanceof QueueEntity) || !target.main.requiresSession) return;
    if (payloads.some((p) => p.sessionId === undefined)) {
      throw invalidOperation(
        `The SessionId was not set on a message, and it cannot be sent to the entity '${target.name}'. Entities that have session support enabled can only receive messages that have the SessionId set to a valid value.`,
      );
    }
  }

  /** An active message of a session subqueue: into its session's queue, and to its holder. */
  makeReady(sq: Subqueue, m: BrokerMessage): void {
    const id = m.payload.sessionId;
    if (id === undefined) {
      // A topic message without a session id, matched by a session-enabled subscription.
      this.host.deadLetter(m, 'Session id is null.', "Session enabled entity doesn't allow a message whose session identifier is null.");
      return;
    }
    const session = this.session(sq, id);
    if (m.readyIn !== sq.key) {
      m.readyIn = sq.key;
      session.ready.push(m);
    }
    if (session.holder) this.pump(session.holder);
    else this.offer(sq, session);
  }

  // ---- accepting and releasing -------------------------------------------------------------

  /** `acceptSession(id)`: locks the session (with or without messages) for `consumer`. */
  accept(sq: Subqueue, sessionId: string, consumer: Consumer): Holder {
    const session = this.session(sq, sessionId);
    if (session.holder) throw sessionCannotBeLocked(sessionId, sq.path);
    return this.lock(sq, session, consumer, sessionId);
  }

  /** `acceptNextSession()`: locks the unlocked session with the oldest available message, if any. */
  acceptNext(sq: Subqueue, consumer: Consumer): Holder | undefined {
    const session = this.nextAvailable(sq);
    return session && this.lock(sq, session, consumer);
  }

  /** Waits up to `timeoutMs` for a session to become available, then ends with `timeout`. */
  wait(sq: Subqueue, consumer: Consumer, timeoutMs: number, timeout: Error, outcome: WaitOutcome): void {
    const timer = setTimeout(() => {
      this.unwait(consumer);
      outcome.ended(timeout);
    }, timeoutMs);
    timer.unref?.();
    const waiter: Waiter = { consumer, outcome, timer };
    this.table(sq.key).waiters.push(waiter);
    this.waiting.set(consumer, { sq, waiter });
  }

  /** The consumer is gone (link detached, connection lost): release its session or stop waiting. */
  closed(consumer: Consumer): void {
    this.unwait(consumer)?.outcome.ended();
    const holder = this.holders.get(consumer);
    if (holder?.active) this.release(holder);
  }

  /** The session lock `consumer` holds (or held), if it is a session receiver. */
  holderOf(consumer: Consumer): Holder | undefined {
    return this.holders.get(consumer);
  }

  /** Throws `SessionLockLost` when `consumer` held a session whose lock it no longer holds. */
  assertHolds(consumer: Consumer): void {
    const holder = this.holders.get(consumer);
    if (holder) this.checkHolder(holder);
  }

  /** The holder of a session for a management request, which must come from its connection. */
  held(sq: Subqueue, sessionId: string, owner: string): Holder {
    const holder = this.tables.get(sq.key)?.sessions.get(sessionKey(sessionId))?.holder;
    if (!holder || holder.consumer.owner !== owner) throw sessionLockLost(sessionId, sq.path);
    this.checkHolder(holder);
    return holder;
  }

  renew(holder: Holder): number {
    const until = this.host.now() + holder.sq.settings.lockDurationMs;
    holder.lockedUntil = until;
    for (const [m, lock] of holder.locked) {
      if (m.lock === lock) lock.lockedUntil = until;
      else holder.locked.delete(m);
    }
    this.arm(holder);
    return until;
  }

  // ---- delivery ----------------------------------------------------------------------------

  /** Hands the session's available messages to its holder, in order, as its credit allows. */
  pump(holder: Holder): void {
    if (holder.pumping || !holder.active) return;
    holder.pumping = true;
    try {
      const { consumer, session, sq } = holder;
      const now = this.host.now();
      if (holder.lockedUntil <= now) {
        this.expired(holder); // its timer is late: deliver nothing under a lapsed lock
        return;
      }
      while (session.ready.size > 0 && consumer.credit() > 0) {
        const m = session.ready.pop()!;
        if (!live(sq, m)) continue;
        m.readyIn = undefined;
        if (m.expiresAt <= now) {
          this.host.expire(m);
          continue;
        }
        if (consumer.receiveAndDelete) this.host.remove(m);
        else this.track(holder, m, this.host.lockUntil(m, consumer.owner, holder.lockedUntil));
        consumer.deliver(m);
      }
    } finally {
      holder.pumping = false;
    }
  }

  /** Deferred messages of the holder's session, by sequence number, locked under the session. */
  receiveDeferred(holder: Holder, seqs: number[], receiveAndDelete: boolean): BrokerMessage[] {
    const { sq } = holder;
    const found = seqs.map((seq) => {
      const m = sq.messages.get(seq);
      if (!m || m.state !== 'deferred' || m.lock || !inSession(m, holder.session.key)) {
        throw messageNotFound(`No deferred message with sequence number ${seq} is available in session '${holder.sessionId}' of '${sq.path}'.`);
      }
      return m;
    });
    for (const m of found) {
      if (receiveAndDelete) this.host.remove(m);
      else this.track(holder, m, this.host.lockUntil(m, holder.consumer.owner, holder.lockedUntil));
    }
    return found;
  }

  /** Messages of one session with sequence number ≥ `from`, in order, without locking them. */
  peek(sq: Subqueue, sessionId: string, from: number, count: number): BrokerMessage[] {
    const out: BrokerMessage[] = [];
    const key = sessionKey(sessionId);
    for (const m of sq.messages.values()) if (m.seq >= from && inSession(m, key)) out.push(m);
    out.sort((a, b) => a.seq - b.seq);
    return out.slice(0, count);
  }

  // ---- session state -----------------------------------------------------------------------

  getState(holder: Holder): Buffer | undefined {
    return this.tables.get(holder.sq.key)?.states.get(holder.session.key);
  }

  setState(holder: Holder, state: Buffer | undefined): void {
    const states = this.table(holder.sq.key).states;
    const key = holder.session.key;
    if (state && state.length > 0) states.set(key, state);
    else states.delete(key);
    this.host.store.setSessionState(holder.sq.key, key, state && state.length > 0 ? state : undefined);
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  /** The subqueue is deleted: its sessions, states and waiters go with it. */
  drop(sq: Subqueue, reason: Error): void {
    const table = this.tables.get(sq.key);
    if (!table) return;
    this.tables.delete(sq.key);
    for (const waiter of [...table.waiters]) {
      this.unwait(waiter.consumer);
      waiter.outcome.ended(reason);
    }
    for (const session of table.sessions.values()) {
      const holder = session.holder;
      if (!holder) continue;
      holder.active = false;
      clearTimeout(holder.timer);
      holder.consumer.detach(reason);
    }
  }

  close(): void {
    for (const table of this.tables.values()) {
      for (const waiter of table.waiters) clearTimeout(waiter.timer);
      for (const session of table.sessions.values()) clearTimeout(session.holder?.timer);
    }
  }

  // ---- internals ---------------------------------------------------------------------------

  private table(key: string): SessionTable {
    let table = this.tables.get(key);
    if (!table) {
      table = { sessions: new Map(), states: new Map(), waiters: [] };
      this.tables.set(key, table);
    }
    return table;
  }

  private session(sq: Subqueue, id: string): Session {
    const sessions = this.table(sq.key).sessions;
    const key = sessionKey(id);
    let session = sessions.get(key);
    if (!session) {
      session = { id, key, ready: new MinHeap<BrokerMessage>((a, b) => a.seq < b.seq), holder: undefined };
      sessions.set(key, session);
    }
    return session;
  }

  private lock(sq: Subqueue, session: Session, consumer: Consumer, requested?: string): Holder {
    const holder = new Holder(sq, session, consumer, this.host.now() + sq.settings.lockDurationMs, requested);
    session.holder = holder;
    this.holders.set(consumer, holder);
    this.arm(holder);
    return holder;
  }

  private arm(holder: Holder): void {
    clearTimeout(holder.timer);
    holder.timer = setTimeout(() => this.expired(holder), Math.max(holder.lockedUntil - this.host.now(), 0));
    holder.timer.unref?.();
  }

  private expired(holder: Holder): void {
    if (!holder.active) return;
    if (holder.lockedUntil > this.host.now()) {
      this.arm(holder); // renewed meanwhile
      return;
    }
    this.release(holder);
    holder.consumer.detach(sessionLockLost(holder.sessionId, holder.sq.path));
  }

  private checkHolder(holder: Holder): void {
    if (!holder.active) throw sessionLockLost(holder.sessionId, holder.sq.path);
    if (holder.lockedUntil <= this.host.now()) {
      this.expired(holder);
      throw sessionLockLost(holder.sessionId, holder.sq.path);
    }
  }

  /** Ends a session lock: its locked messages become available again, then the session is offered. */
  private release(holder: Holder): void {
    holder.active = false;
    clearTimeout(holder.timer);
    const { session, sq } = holder;
    // Still the (inactive) holder while its messages come back: they are offered once, in order.
    for (const [m, lock] of holder.locked) if (m.lock === lock && !m.removed) this.host.release(m);
    holder.locked.clear();
    if (session.holder === holder) session.holder = undefined;
    this.offer(sq, session);
  }

  private track(holder: Holder, m: BrokerMessage, lock: Lock): void {
    if (holder.locked.size >= 64) for (const [k, l] of holder.locked) if (k.lock !== l) holder.locked.delete(k);
    holder.locked.set(m, lock);
  }

  /** A session with available messages and no holder: to the first waiting receiver, if any. */
  private offer(sq: Subqueue, session: Session): void {
    const table = this.tables.get(sq.key);
    if (!table || session.holder) return;
    if (!hasAvailable(sq, session)) {
      if (table.sessions.get(session.key) === session) table.sessions.delete(session.key);
      return;
    }
    let waiter = table.waiters[0];
    while (waiter && !waiter.outcome.stillWaiting()) {
      this.unwait(waiter.consumer);
      waiter.outcome.ended();
      waiter = table.waiters[0];
    }
    if (!waiter) return;
    this.unwait(waiter.consumer);
    waiter.outcome.granted(this.lock(sq, session, waiter.consumer));
  }

  private nextAvailable(sq: Subqueue): Session | undefined {
    const table = this.tables.get(sq.key);
    if (!table) return undefined;
    let best: Session | undefined;
    for (const session of table.sessions.values()) {
      if (session.holder || !hasAvailable(sq, session)) continue;
      if (!best || session.ready.peek()!.seq < best.ready.peek()!.seq) best = session;
    }
    return best;
  }

  private unwait(consumer: Consumer): Waiter | undefined {
    const wait = this.waiting.get(consumer);
    if (!wait) return undefined;
    this.waiting.delete(consumer);
    clearTimeout(wait.waiter.timer);
    const waiters = this.tables.get(wait.sq.key)?.waiters;
    const i = waiters?.indexOf(wait.waiter) ?? -1;
    if (i >= 0) waiters!.splice(i, 1);
    return wait.waiter;
  }
}

function sessionKey(id: string): string {
  return id.toLowerCase();
}

function inSession(m: BrokerMessage, key: string): boolean {
  const id = m.payload.sessionId;
  return id !== undefined && sessionKey(id) === key;
}

/** Whether a ready-queue entry is still an available message of this subqueue. */
function live(sq: Subqueue, m: BrokerMessage): boolean {
  return m.readyIn === sq.key && !m.removed && m.subqueue === sq.key && m.state === 'active' && !m.lock;
}

/** Drops stale entries from the top of the session's queue; true when a message is available. */
function hasAvailable(sq: Subqueue, session: Session): boolean {
  while (session.ready.size > 0 && !live(sq, session.ready.peek()!)) session.ready.pop();
  return session.ready.size > 0;
}
