// Reports, at least once: a report enters the outbox in the same state write as the change it
// reports, and leaves it only after Service Bus accepted it. A crash in between re-sends it at
// start-up; consumers deduplicate (reportKey).

import type { ControlBus } from './bus.js';
import type { AgentReport, ReportState, WorkerReport } from './contract/report.js';
import type { Logger } from './log.js';
import type { NodeState, OutboxItem } from './node-state.js';

export interface ReportSubject {
  messageId: string;
  replyTo: string;
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
): OutboxItem {
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
  return { queue: subject.replyTo, report };
}

export interface ReporterDeps {
  bus: ControlBus;
  state: () => NodeState;
  /** Persists the state (after reports left the outbox). */
  save: () => void;
  log: Logger;
  onSent?: (reports: AgentReport[]) => void;
}

const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 10_000;

export class Reporter {
  private running: Promise<void> | undefined;
  private again = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryMs = RETRY_MIN_MS;
  private closed = false;

  constructor(private readonly deps: ReporterDeps) {}

  /** Sends what is in the outbox; concurrent calls coalesce. Never rejects. */
  flush(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.drainOutbox().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async drainOutbox(): Promise<void> {
    do {
      this.again = false;
      const outbox = this.deps.state().outbox;
      if (outbox.length === 0) return;
      const byQueue = new Map<string, OutboxItem[]>();
      for (const item of outbox) byQueue.set(item.queue, [...(byQueue.get(item.queue) ?? []), item]);
      const sent = new Set<OutboxItem>();
      for (const [queue, items] of byQueue) {
        try {
          await this.deps.bus.sendReports(queue, items.map((i) => i.report));
          for (const item of items) sent.add(item);
          this.deps.log.debug('reports-sent', { queue, reports: items.map((i) => `${i.report.messageId}:${i.report.state}`) });
        } catch (err) {
          this.deps.log.warn('reports-not-sent', { queue, count: items.length, error: (err as Error).message, retryInMs: this.retryMs });
          this.scheduleRetry();
        }
      }
      if (sent.size > 0) {
        const state = this.deps.state();
        state.outbox = state.outbox.filter((item) => !sent.has(item));
        this.deps.save();
        this.retryMs = RETRY_MIN_MS;
        this.deps.onSent?.([...sent].map((i) => i.report));
      }
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
