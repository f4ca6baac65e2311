// An in-memory ControlBus with the Service Bus semantics the agent relies on: peek-lock,
// abandon (delivery count + 1), defer with properties (never delivered again), dead-letter,
// peek by sequence number, receive-deferred + complete. No lock expiry: tests move messages.

import type { BusMessage, ControlBus, PeekedMessage } from '../src/agent/bus.js';
import type { PresenceReport } from '../src/contract/presence.js';
import type { AgentReport } from '../src/contract/report.js';

export interface StoredMessage {
  messageId: string | undefined;
  sequenceNumber: string;
  body: unknown;
  deliveryCount: number;
  state: 'active' | 'locked' | 'deferred' | 'completed' | 'dead-lettered';
  applicationProperties: Record<string, unknown>;
  deadLetterReason?: string;
  deadLetterDescription?: string;
}

export class FakeBus implements ControlBus {
  readonly messages: StoredMessage[] = [];
  readonly reports: Array<{ queue: string; report: AgentReport }> = [];
  readonly presence: Array<{ queue: string; report: PresenceReport }> = [];
  readonly settlements: string[] = [];
  private seq = 0;
  private waiters: Array<() => void> = [];
  /** Make the next calls of a method throw (an outage). */
  failing = new Set<keyof ControlBus>();
  /** Deferred messages that someone else's receive holds locked: receiving them finds nothing (as Service Bus answers MessageNotFound). */
  lockedDeferred = new Set<string>();
  /** How long the answer to a defer takes (a slow link), and when each answer arrived (epoch ms). */
  deferAnswerMs = 0;
  readonly deferAnsweredAt: number[] = [];

  send(body: unknown, messageId?: string): StoredMessage {
    const m: StoredMessage = { messageId, sequenceNumber: String(++this.seq), body, deliveryCount: 0, state: 'active', applicationProperties: {} };
    this.messages.push(m);
    for (const w of this.waiters.splice(0)) w();
    return m;
  }

  private check(name: keyof ControlBus): void {
    if (this.failing.has(name)) throw new Error(`fake outage: ${name}`);
  }

  private find(message: BusMessage): StoredMessage {
    const m = this.messages.find((x) => x.sequenceNumber === message.sequenceNumber);
    if (!m || m.state !== 'locked') throw new Error(`message ${message.sequenceNumber} is not locked`);
    return m;
  }

  async receiveOne(abort: AbortSignal): Promise<BusMessage | undefined> {
    this.check('receiveOne');
    const next = this.messages.find((m) => m.state === 'active');
    if (!next) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          abort.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, 50);
        this.waiters.push(done);
        abort.addEventListener('abort', done, { once: true });
      });
      return undefined;
    }
    next.state = 'locked';
    next.deliveryCount++;
    return { messageId: next.messageId, sequenceNumber: next.sequenceNumber, body: next.body, deliveryCount: next.deliveryCount };
  }

  async complete(message: BusMessage): Promise<void> {
    this.check('complete');
    this.find(message).state = 'completed';
    this.settlements.push(`complete:${message.sequenceNumber}`);
  }

  async abandon(message: BusMessage): Promise<void> {
    this.check('abandon');
    this.find(message).state = 'active';
    this.settlements.push(`abandon:${message.sequenceNumber}`);
  }

  async defer(message: BusMessage, properties: Record<string, string>): Promise<void> {
    this.check('defer');
    const m = this.find(message);
    m.state = 'deferred';
    Object.assign(m.applicationProperties, properties);
    this.settlements.push(`defer:${message.sequenceNumber}`);
    if (this.deferAnswerMs > 0) await new Promise((r) => setTimeout(r, this.deferAnswerMs));
    this.deferAnsweredAt.push(Date.now());
  }

  async deadLetter(message: BusMessage, reason: string, description: string): Promise<void> {
    this.check('deadLetter');
    const m = this.find(message);
    m.state = 'dead-lettered';
    m.deadLetterReason = reason;
    m.deadLetterDescription = description;
    this.settlements.push(`dead-letter:${message.sequenceNumber}`);
  }

  async peek(sequenceNumber: string): Promise<PeekedMessage | undefined> {
    this.check('peek');
    const m = this.messages.find((x) => x.sequenceNumber === sequenceNumber);
    if (!m || m.state === 'completed' || m.state === 'dead-lettered') return undefined;
    return { sequenceNumber, state: m.state === 'deferred' ? 'deferred' : 'active', applicationProperties: { ...m.applicationProperties } };
  }

  async completeDeferred(sequenceNumber: string): Promise<boolean> {
    this.check('completeDeferred');
    const m = this.messages.find((x) => x.sequenceNumber === sequenceNumber);
    if (!m || m.state !== 'deferred' || this.lockedDeferred.has(sequenceNumber)) return false;
    m.state = 'completed';
    this.settlements.push(`complete-deferred:${sequenceNumber}`);
    return true;
  }

  async sendReports(queue: string, reports: readonly AgentReport[]): Promise<void> {
    this.check('sendReports');
    for (const report of reports) this.reports.push({ queue, report });
  }

  async sendPresence(queue: string, report: PresenceReport): Promise<void> {
    this.check('sendPresence');
    this.presence.push({ queue, report });
  }

  async close(): Promise<void> {}

  states(): string[] {
    return this.reports.map((r) => r.report.state);
  }
}
