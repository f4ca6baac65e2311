// Signalling the workers of a message acted on: each verified worker of the topic gets the
// signal it declared for the operation, once (recorded with its start time, so a restart or a
// rescan never signals it again), and at the deadline SIGKILL goes to the process groups still
// alive. Stale and gone PID files are removed by the scan (worker-scan.ts).

import type { ListenConfig } from '../commands/config.js';
import type { CommandOperation } from '../contract/command.js';
import type { WorkerReport } from '../contract/report.js';
import type { Logger } from '../common/log.js';
import type { ActedMessage, WorkerRecord } from './node-state.js';
import { type ProcStat, isLive, readProcStat } from '../common/proc.js';
import { killProcessGroup, sendSignal } from '../common/signals.js';
import { type VerifiedWorker, WorkerScanner } from './worker-scan.js';

export interface SignalContext {
  config: Pick<ListenConfig, 'pidDir' | 'topic' | 'legacySignals' | 'intakeFlag'>;
  log: Logger;
  now: () => Date;
  /** Persists the node state; never throws. */
  save: () => void;
}

export class WorkerSignaller {
  private readonly scanner: WorkerScanner;

  constructor(private readonly ctx: SignalContext) {
    this.scanner = new WorkerScanner(ctx.config, ctx.log);
  }

  /** Verified workers of this topic. */
  scan(): VerifiedWorker[] {
    return this.scanner.scan();
  }

  /**
   * Sends each worker not yet recorded for `acted` its declared signal for the operation (none if
   * it declared none) and records it. Returns the new records.
   */
  signal(acted: ActedMessage, operation: CommandOperation, workers: VerifiedWorker[]): WorkerRecord[] {
    const fresh = workers
      .filter((w) => !acted.workers.some((r) => r.pid === w.pid && r.startTime === w.verification.stat.startTime))
      .map((worker) => ({ worker, record: { workerId: worker.workerId, pid: worker.pid, startTime: worker.verification.stat.startTime, signal: worker.signals[operation] } as WorkerRecord }));
    // ai4s-jobq takes a second SIGUSR2 as a hard stop (the task in flight is lost), so a legacy
    // worker is signalled at most once: its record is written before its signal, and a crash in
    // between leaves it unsignalled (`status` shows it) rather than signalled twice after the
    // restart. Our libraries ignore a repeated signal, so other workers need no extra write.
    const once = fresh.filter(({ worker, record }) => worker.format === 'legacy' && record.signal !== null);
    if (once.length > 0) {
      acted.workers.push(...once.map((o) => o.record));
      this.ctx.save();
    }
    for (const { worker, record } of fresh) {
      const at = this.ctx.now().toISOString();
      const signal = worker.signals[operation];
      if (signal === null) continue;
      // The scan may be older than this moment (a write came between): make sure the PID is
      // still the process the scan verified right before signalling it.
      const stat = readProcStat(worker.pid);
      if (!isSameProcess(record, stat)) {
        record.exitedAt = at;
        this.ctx.log.warn('signal-target-gone', { pid: worker.pid, signal, ...(isLive(stat) ? { reason: 'the PID now belongs to another process' } : {}) });
        continue;
      }
      try {
        if (sendSignal(worker.pid, signal, this.ctx.log) === 'sent') record.signalledAt = at;
        else record.exitedAt = at;
      } catch (err) {
        this.ctx.log.error('signal-failed', { pid: worker.pid, signal, error: (err as Error).message });
      }
    }
    acted.workers.push(...fresh.filter((f) => !once.includes(f)).map((f) => f.record));
    const added = fresh.map((f) => f.record);
    if (added.length) {
      this.ctx.log.info('workers-signalled', { messageId: acted.messageId, operation, workers: added.map((r) => `${r.workerId}:${r.pid}:${r.signal ?? '-'}`) });
    }
    return added;
  }

  /** SIGKILL to the process group of each recorded worker still alive; returns those killed. */
  killRemaining(acted: ActedMessage, at: string): WorkerReport[] {
    const killed: WorkerReport[] = [];
    for (const record of acted.workers) {
      if (record.exitedAt !== undefined || !isSameProcess(record)) continue;
      try {
        if (killProcessGroup(record.pid, this.scanner.protectedProcesses, this.ctx.log).result === 'sent') {
          record.escalatedAt = at;
          killed.push({ workerId: record.workerId, pid: record.pid, signal: 'SIGKILL' });
        }
      } catch (err) {
        this.ctx.log.error('escalation-failed', { pid: record.pid, error: (err as Error).message });
      }
    }
    return killed;
  }
}

/** Whether the recorded worker's PID is still that process: alive, with the start time recorded. */
export function isSameProcess(record: Pick<WorkerRecord, 'pid' | 'startTime'>, stat: ProcStat | undefined = readProcStat(record.pid)): boolean {
  return isLive(stat) && stat.startTime === record.startTime;
}
