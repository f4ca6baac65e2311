// Presence (DESIGN "Agent report", presence): `online` once connected, a `heartbeat` every
// interval and at every node state change, `offline` on a clean stop. Unlike drain reports it is
// not queued: only the latest one is kept (built when it is sent, so it carries the state of that
// moment) and retried with backoff, so it is bounded by construction. It never goes ahead of a
// drain: while a message is in hand or drain reports wait in the outbox, it waits.

import { hostname } from 'node:os';
import type { ControlBus } from './bus.js';
import type { ListenConfig } from '../commands/config.js';
import { MAX_PRESENCE_WORKERS, PRESENCE_KIND, type PresenceReport, type PresenceState } from '../contract/presence.js';
import type { Logger } from '../common/log.js';
import { VERSION } from '../common/version.js';
import type { NodeState } from './node-state.js';
import { scanWorkers } from '../pid-files/registry.js';
import type { Refusals } from './refusals.js';

/** While a drain is busy: checked again after 100 ms, doubling to 2 s (a stuck outbox is not polled hot). */
const BUSY_MIN_MS = 100;
const BUSY_MAX_MS = 2000;
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 30_000;

export interface PresenceDeps {
  bus: ControlBus;
  config: Pick<ListenConfig, 'reportsQueue' | 'heartbeatMs' | 'pidDir' | 'topic' | 'legacySignals'>;
  state: () => NodeState;
  log: Logger;
  now: () => Date;
  startedAt: Date;
  /** A refusal for want of a right is logged there, once, instead of at each retry. */
  refusals?: Refusals;
}

export class Presence {
  /** What to send next; undefined when nothing waits. */
  private next: PresenceState | undefined;
  private sending: Promise<void> | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private retryMs = RETRY_MIN_MS;
  private busyMs = BUSY_MIN_MS;
  private started = false;
  private stopped = false;
  private readonly host = hostname();

  constructor(private readonly deps: PresenceDeps) {}

  /** Sends `online`, then a heartbeat every interval. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.post('online');
    this.heartbeat = setInterval(() => this.post('heartbeat'), this.deps.config.heartbeatMs);
    this.heartbeat.unref();
  }

  /** Asks for a heartbeat now (the node state changed). An unsent `online` stays `online`. */
  post(presence: PresenceState): void {
    if (!this.started || this.stopped) return;
    if (!(this.next === 'online' && presence === 'heartbeat')) this.next = presence;
    if (!this.retry) void this.send();
  }

  private send(force = false): Promise<void> {
    if (this.sending || this.next === undefined) return this.sending ?? Promise.resolve();
    const state = this.deps.state();
    if (!force && (state.pending !== undefined || state.outbox.length > 0)) {
      this.schedule(this.busyMs);
      this.busyMs = Math.min(this.busyMs * 2, BUSY_MAX_MS);
      return Promise.resolve();
    }
    this.busyMs = BUSY_MIN_MS;
    const presence = this.next;
    let report: PresenceReport;
    try {
      report = this.build(presence);
    } catch (err) {
      // Called from timers: a throw would end the agent. Tried again later.
      this.deps.log.warn('presence-not-sent', { presence, error: (err as Error).message, retryInMs: this.retryMs });
      this.schedule(this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
      return Promise.resolve();
    }
    this.next = undefined;
    this.sending = this.deps.bus
      .sendPresence(this.deps.config.reportsQueue, report)
      .then(
        () => {
          this.retryMs = RETRY_MIN_MS;
          this.deps.refusals?.answered(`queue '${this.deps.config.reportsQueue}'`);
          this.deps.log.debug('presence-sent', { presence, nodeState: report.nodeState });
        },
        (err: unknown) => {
          // A newer request wins, except that an `online` never sent stays `online`.
          if (this.next === undefined || (presence === 'online' && this.next === 'heartbeat')) this.next = presence;
          const fields = { presence, error: (err as Error).message, retryInMs: this.retryMs };
          if (this.deps.refusals?.noted(err, `queue '${this.deps.config.reportsQueue}'`)) this.deps.log.debug('presence-not-sent', fields);
          else this.deps.log.warn('presence-not-sent', fields);
          this.schedule(this.retryMs);
          this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
        },
      )
      .finally(() => {
        this.sending = undefined;
        if (!this.retry && !this.stopped) void this.send();
      });
    return this.sending;
  }

  private schedule(ms: number): void {
    if (this.retry || this.stopped) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.send();
    }, ms);
  }

  /** The report of this moment: node state, workers registered now, the drain acted on. */
  build(presence: PresenceState): PresenceReport {
    const { config } = this.deps;
    const state = this.deps.state();
    const scan = scanWorkers(config.pidDir, { topic: config.topic, legacyConvention: config.legacySignals });
    const report: PresenceReport = {
      kind: PRESENCE_KIND,
      presence,
      nodeId: state.nodeId,
      topic: state.topic,
      nodeState: state.state,
      since: state.since,
      workers: scan.mine.slice(0, MAX_PRESENCE_WORKERS).map((w) => {
        // A resume signal only when declared: a control plane before per-node commands refuses
        // a presence report naming an operation it does not know.
        const { resume, ...signals } = w.signals;
        return { workerId: w.workerId, pid: w.pid, signals: resume === null ? signals : { ...signals, resume }, alive: w.verification.status === 'verified' };
      }),
      workerCount: scan.mine.length,
      agentVersion: VERSION,
      hostName: this.host.slice(0, 255) || 'unknown',
      startedAt: this.deps.startedAt.toISOString(),
      sentAt: this.deps.now().toISOString(),
      heartbeatSeconds: config.heartbeatMs / 1000,
    };
    const acted = state.state === 'active' ? undefined : state.state === 'intake-stopped' ? state.intake : state.drain;
    if (acted) report.drain = acted.message.drainId === undefined ? { messageId: acted.messageId } : { drainId: acted.message.drainId, messageId: acted.messageId };
    return report;
  }

  /** Stops the heartbeat and sends `offline` (bounded): the drain reports were flushed before. */
  async close(timeoutMs: number): Promise<void> {
    clearInterval(this.heartbeat);
    clearTimeout(this.retry);
    this.retry = undefined;
    this.stopped = true;
    if (!this.started) return; // never online: nothing to take back
    const bounded = (p: Promise<void>) => Promise.race([p, new Promise<void>((r) => setTimeout(r, timeoutMs).unref())]);
    await bounded(this.sending ?? Promise.resolve());
    this.next = 'offline';
    await bounded(this.send(true));
  }
}
