// After a drain is committed: workers that register later are signalled too, exits are
// recorded, the node is `drained` once every signalled worker has exited, and at the deadline
// the process groups still alive get SIGKILL. Each change is reported.

import type { WorkerReport } from '../contract/report.js';
import type { DrainContext } from './drain.js';
import { transition } from './node-state.js';
import { signalledReport, subjectOfActed } from './report-subject.js';
import { type ReportSubject, makeReport } from './reports.js';
import { type WorkerSignaller, isSameProcess } from './signal-workers.js';

export class DrainProgress {
  constructor(
    private readonly ctx: DrainContext,
    private readonly signaller: WorkerSignaller,
  ) {}

  /**
   * While draining: signals workers that registered since, records exits, and moves the node
   * to `drained` once every registered worker has exited. Returns true when drained.
   */
  check(): boolean {
    const { state, log } = this.ctx;
    if (state.state === 'drained') return true;
    const acted = state.drain;
    // A drain whose message is committed but not yet completed on the bus (say, the bus is
    // down) still progresses: only completing the message waits for the bus.
    if (state.state !== 'draining' || !acted || state.pending?.phase === 'accepting') return false;
    let changed = false;
    const fresh = this.signaller.signal(acted, 'graceful-downscale', this.signaller.scan());
    if (fresh.length) {
      this.report(subjectOfActed(acted), 'signalled', signalledReport(fresh));
      changed = true;
    }
    const now = this.ctx.now();
    for (const record of acted.workers) {
      if (record.exitedAt !== undefined || isSameProcess(record)) continue;
      record.exitedAt = now.toISOString();
      this.report(subjectOfActed(acted), 'worker-exited', [{ workerId: record.workerId, pid: record.pid }]);
      log.info('worker-exited', { workerId: record.workerId, pid: record.pid });
      changed = true;
    }
    const done = acted.workers.every((r) => r.exitedAt !== undefined);
    if (done) {
      transition(state, 'drained', now);
      acted.drainedAt = now.toISOString();
      this.report(subjectOfActed(acted), 'drained', acted.workers.map((r) => ({ workerId: r.workerId, pid: r.pid })));
      log.info('node-drained', { messageId: acted.messageId, workers: acted.workers.length });
      changed = true;
    }
    if (changed) {
      this.ctx.save();
      void this.ctx.reporter.flush();
      if (done) this.ctx.changed();
    }
    return done;
  }

  /** The drain's deadline passed: SIGKILL to the process groups still alive. */
  escalate(): void {
    const { state } = this.ctx;
    const acted = state.drain;
    if (state.state !== 'draining' || !acted || acted.escalatedAt !== undefined) return;
    const now = this.ctx.now().toISOString();
    const killed = this.signaller.killRemaining(acted, now);
    acted.escalatedAt = now;
    this.report(subjectOfActed(acted), 'escalated', killed, `deadline ${acted.message.deadline} passed`);
    this.ctx.log.warn('drain-escalated', { messageId: acted.messageId, deadline: acted.message.deadline, killed: killed.length });
    this.ctx.save();
    void this.ctx.reporter.flush();
  }

  private report(subject: ReportSubject, state: Parameters<typeof makeReport>[2], workers: WorkerReport[], reason?: string): void {
    this.ctx.reporter.enqueue(makeReport(this.ctx.state, subject, state, workers, this.ctx.now(), reason));
  }
}
