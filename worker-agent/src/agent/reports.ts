// Reports, at least once: a report enters the outbox in the same state write as the change it
// reports, and leaves it only after Service Bus accepted it. A crash in between re-sends it at
// start-up; consumers deduplicate (reportKey). Reports go to the configured reports queue only:
// a message's `replyTo` cannot send them anywhere else (drain.ts). The outbox is bounded
// (outbox.ts).

import type { ControlBus } from './bus.js';
import type { AgentReport, ReportState, WorkerReport } from '../contract/report.js';
import type { Logger } from '../common/log.js';
import type { NodeState, OutboxItem } from './node-state.js';
import { type OutboxLimits, boundOutbox } from './outbox.js';
import type { Refusals } from './refusals.js';

export interface ReportSubject {
  messageId: string;
  drainId?: string;
  reason?: string;
  requestedBy?: string;
}

export function makeReport(
  state: Pick<NodeState, 'nodeId' | 'topic'>,
  subject: ReportSubject,
  reportState: ReportState,
  workers: WorkerReport[],
  now: Date,
  reason?: string,
): AgentReport {
  const report: AgentReport = {
    messageId: subject.messageId,
    nodeId: state.nodeId,
    topic: state.topic,
    state: reportState,
    workers,
    at: now.toISOString(),
  };
  if (subject.drainId !== undefined) report.drainId = subject.drainId;
  const why = reason ?? subject.reason;
  if (why !== undefined) report.reason = why;
  if (subject.requestedBy !== undefined) report.requestedBy = subject.requestedBy;
  return report;
}

export interface ReporterDeps {
  bus: ControlBus;
  /** The one queue reports go to (configured; never taken from a message). */
  queue: string;
  limits: OutboxLimits;
  state: () => NodeState;
  /** Persists the state (after reports left the outbox). */
  save: () => void;
  log: Logger;
  now: () => Date;
  onSent?: (reports: AgentReport[]) => void;
  /** A refusal for want of a right is logged there, once, instead of at each retry. */
  refusals?: Refusals;
}

const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 10_000;
/** Reports per send (the bus splits them into as many Service Bus batches as their size needs). */
const SEND_CHUNK = 25;

export class Reporter {
  private running: Promise<void> | undefined;
  private again = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryMs = RETRY_MIN_MS;
  private closed = false;

  constructor(private readonly deps: ReporterDeps) {}

  /** Puts a report in the outbox, within its bounds. The caller persists and flushes. */
  enqueue(report: AgentReport): void {
    const state = this.deps.state();
    state.outbox.push({ queue: this.deps.queue, report });
    state.outbox = boundOutbox(state.outbox, this.deps.limits, this.deps.now(), this.deps.log);
  }

  /** Sends what is in the outbox; concurrent calls coalesce. Never rejects. */
  flush(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.drainOutbox()
      .catch((err: unknown) => {
        // Not a bus error (those are retried below): a bug. Logged; the next flush tries again.
        this.deps.log.error('reports-flush-failed', { error: err instanceof Error ? err.message : String(err) });
      })
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }

  private async drainOutbox(): Promise<void> {
    do {
      this.again = false;
      const state = this.deps.state();
      const bounded = boundOutbox(state.outbox, this.deps.limits, this.deps.now(), this.deps.log);
      let changed = bounded.length !== state.outbox.length;
      state.outbox = bounded;
      const sent: OutboxItem[] = [];
      // Everything goes to the configured queue, whatever an older state file recorded.
      const { queue } = this.deps;
      for (let i = 0; i < bounded.length; i += SEND_CHUNK) {
        const items = bounded.slice(i, i + SEND_CHUNK);
        try {
          await this.deps.bus.sendReports(queue, items.map((item) => item.report));
          sent.push(...items);
          this.deps.refusals?.answered(`queue '${queue}'`);
          this.deps.log.debug('reports-sent', { queue, reports: items.map((item) => `${item.report.messageId}:${item.report.state}`) });
        } catch (err) {
          const fields = { queue, count: bounded.length - i, error: (err as Error).message, retryInMs: this.retryMs };
          if (this.deps.refusals?.noted(err, `queue '${queue}'`)) this.deps.log.debug('reports-not-sent', fields);
          else this.deps.log.warn('reports-not-sent', fields);
          this.scheduleRetry();
          break;
        }
      }
      if (sent.length > 0) {
        const current = this.deps.state();
        current.outbox = current.outbox.filter((item) => !sent.includes(item));
        this.retryMs = RETRY_MIN_MS;
        changed = true;
      }
      if (changed) this.deps.save();
      if (sent.length > 0) this.deps.onSent?.(sent.map((item) => item.report));
      if (this.retryTimer) return;
    } while (this.again);
  }
  private scheduleRetry(): void {
    if (this.retryTimer || this.closed) return;
    const delay = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.flush();
    }, delay);
  }

  /** Waits for a flush in progress (bounded), then stops retrying. */
  async close(timeoutMs: number): Promise<void> {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const pending = this.flush();
    this.closed = true;
    await Promise.race([pending, new Promise((r) => setTimeout(r, timeoutMs).unref())]);
  }
}
