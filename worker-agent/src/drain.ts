// Acting on control messages: the exactly-N protocol (README "Guarantees").
//
//   receive (peek-lock) ─ validate ─ dedupe ─ expiry ─ can this node act?
//     no  → abandon (the listener then pauses receiving: no hot loop)
//     yes → 1. persist `pending: accepting` with the message       (node state file)
//           2. defer the message, stamping `workforce-owner=<node>` (THE COMMIT POINT, on the bus);
//              while it is on the wire, scan the PID files
//           3. signal the workers (an intake stop raises its flag first)
//           4. persist: `committed`, the new node state, who was signalled, the reports
//           5. receive the deferred message and complete it; persist `pending` gone
//
// Deferral is the commit because it is atomic on the broker and final: a deferred message is
// never delivered to any receiver again, and the owner stamp survives in it. After a crash,
// a `pending: accepting` is resolved by peeking the message by sequence number:
//   deferred with our stamp → we committed: continue at 3;
//   anything else (still active, gone, stamped by another node) → we did not: forget it.
// Only the owner completes a deferred message, and only after step 4, so "gone" can never
// hide our own commit. Step 5 ends only when the message is gone: one that is still deferred
// with our stamp but cannot be received (locked by a late receive) is tried again later.

import type { BusMessage, ControlBus } from './bus.js';
import { OWNER_PROPERTY } from './bus.js';
import type { ListenConfig } from './config.js';
import {
  type ControlMessage,
  INVALID_CONTROL_MESSAGE,
  type Operation,
  decodeJsonBody,
  expiredBecause,
  parseControlMessage,
} from './contract/control-message.js';
import { isDrainId } from './contract/drain-id.js';
import type { WorkerReport } from './contract/report.js';
import { crashPoint } from './crash-points.js';
import { removeIntakeFlag as removeFlag, writeIntakeFlag } from './intake-flag.js';
import type { Logger } from './log.js';
import {
  type ActedMessage,
  type NodeState,
  type PendingMessage,
  type WorkerRecord,
  canActOn,
  remember,
  transition,
} from './node-state.js';
import { type RegisteredWorker, scanWorkers } from './pid-files/registry.js';
import { type ProcStat, isLive, readProcStat } from './proc.js';
import { type ReportSubject, type Reporter, makeReport } from './reports.js';
import type { SaveOptions } from './state-writer.js';
import { killProcessGroup, sendSignal } from './signals.js';
import { type VerifiedWorker, WorkerScanner } from './worker-scan.js';

export type Outcome = 'acted' | 'released' | 'duplicate' | 'expired' | 'invalid';

export interface DrainContext {
  config: Pick<
    ListenConfig,
    'nodeId' | 'topic' | 'pidDir' | 'intakeFlag' | 'legacySignals' | 'reportsQueue' | 'crashAt'
  >;
  bus: ControlBus;
  state: NodeState;
  /** Persists the node state; never throws (a failed write is logged and retried). `durable` for the write that records a commit (step 4). */
  save: (options?: SaveOptions) => void;
  /** Persists the node state or throws: the write before the commit point. */
  saveOrThrow: () => void;
  reporter: Reporter;
  log: Logger;
  now: () => Date;
  /** Called after the node state changed (the agent re-arms timers and watchers). */
  changed: () => void;
}

export class Drainer {
  /**
   * Where the time went for the last message acted on (logged with `message-accepted`; the
   * benchmark reads it): when it was received (CLOCK_MONOTONIC, ns) and µs per step.
   */
  private timings: Record<string, number | string> = {};
  private readonly scanner: WorkerScanner;

  constructor(private readonly ctx: DrainContext) {
    this.scanner = new WorkerScanner(ctx.config, ctx.log);
  }

  private get state(): NodeState {
    return this.ctx.state;
  }

  /** Handles one received message; settles it on the bus in every outcome. */
  async handle(msg: BusMessage): Promise<Outcome> {
    const { config, bus, log } = this.ctx;
    const received = process.hrtime.bigint();
    log.debug('message-received', { messageId: msg.messageId, sequenceNumber: msg.sequenceNumber });
    crashPoint(config.crashAt, 'after-receive');
    const messageId = msg.messageId ?? `sequence-${msg.sequenceNumber}`;
    const parsed = parseControlMessage(msg.body);
    if (!parsed.ok) {
      const description = parsed.error.message;
      log.warn('message-invalid', { messageId, sequenceNumber: msg.sequenceNumber, field: parsed.error.field, reason: description });
      const subject: ReportSubject = { messageId, ...bestEffortDrainId(msg.body) };
      this.enqueue(subject, 'rejected', [], `${INVALID_CONTROL_MESSAGE}: ${description}`);
      this.ctx.save();
      await bus.deadLetter(msg, INVALID_CONTROL_MESSAGE, description);
      void this.ctx.reporter.flush();
      return 'invalid';
    }
    const message = parsed.value;
    if (this.state.seen.includes(messageId)) {
      log.info('message-duplicate', { messageId, sequenceNumber: msg.sequenceNumber });
      await bus.complete(msg);
      return 'duplicate';
    }
    if (message.replyTo !== undefined && message.replyTo !== config.reportsQueue) {
      // A sender may not pick where this agent sends: its reports go to its own queue only.
      log.warn('reply-to-ignored', { messageId, replyTo: message.replyTo, reportsQueue: config.reportsQueue });
    }
    const subject = subjectOf(messageId, message);
    const expired = expiredBecause(message, this.ctx.now());
    if (expired !== undefined) {
      log.info('message-expired', { messageId, notAfter: message.notAfter, deadline: message.deadline });
      remember(this.state, messageId);
      this.enqueue(subject, 'expired', [], expired);
      this.ctx.save();
      await bus.complete(msg);
      void this.ctx.reporter.flush();
      return 'expired';
    }
    if (!canActOn(this.state.state, message.operation)) {
      log.info('message-released', { messageId, operation: message.operation, nodeState: this.state.state });
      await bus.abandon(msg);
      return 'released';
    }

    this.state.pending = {
      messageId,
      sequenceNumber: msg.sequenceNumber,
      operation: message.operation,
      message,
      replyTo: config.reportsQueue,
      phase: 'accepting',
      receivedAt: this.ctx.now().toISOString(),
    };
    const t0 = process.hrtime.bigint();
    try {
      this.ctx.saveOrThrow();
    } catch (err) {
      // Nothing is acted on that was not recorded first: the message goes back for another node.
      delete this.state.pending;
      log.warn('message-not-accepted', { messageId, why: 'the node state cannot be written', error: (err as Error).message });
      await bus.abandon(msg);
      return 'released';
    }
    crashPoint(config.crashAt, 'after-state-write');
    const t1 = process.hrtime.bigint();
    const deferred = bus.defer(msg, { [OWNER_PROPERTY]: config.nodeId });
    deferred.catch(() => {}); // awaited below; a rejection meanwhile is not "unhandled"
    // While the defer is on the wire: scan the PID files. The SDK hands the disposition to
    // rhea a few promise jobs later and rhea writes it on the next tick: wait for that first,
    // or a synchronous scan here would hold the disposition back.
    await new Promise<void>((resolve) => setImmediate(resolve));
    let workers: VerifiedWorker[] | undefined;
    try {
      workers = this.scan();
    } catch {
      // commit() scans again, and reports what fails there
    }
    await deferred;
    crashPoint(config.crashAt, 'after-defer');
    this.timings = { receivedMono: received.toString(), persistUs: Number(t1 - t0) / 1e3, deferUs: Number(process.hrtime.bigint() - t1) / 1e3 };
    await this.commit(this.state.pending, workers);
    return 'acted';
  }

  /**
   * Runs the hot path's own code once at start-up, without effects: an agent acts on one message
   * in its life, and that message should not pay for compiling the code it runs.
   */
  warmUp(): void {
    const parsed = parseControlMessage(new TextEncoder().encode('{"operation":"graceful-downscale","drainId":"warm-up"}'));
    if (parsed.ok) expiredBecause(parsed.value, this.ctx.now());
    const { config } = this.ctx;
    scanWorkers(config.pidDir, { topic: config.topic, legacyConvention: config.legacySignals });
    makeReport(this.state, { messageId: 'warm-up' }, 'accepted', [], this.ctx.now());
    sendSignal(process.pid, 0);
    readProcStat(process.pid);
  }

  /** Resolves a message left pending by a crash or a failed settlement (asks the bus). */
  async recover(): Promise<void> {
    const pending = this.state.pending;
    if (!pending) return;
    if (pending.phase === 'committed') {
      this.ctx.log.info('recover-committed', { messageId: pending.messageId });
      await this.commit(pending);
      return;
    }
    const peeked = await this.ctx.bus.peek(pending.sequenceNumber);
    const owner = peeked?.applicationProperties[OWNER_PROPERTY];
    if (peeked !== undefined && owner === this.ctx.config.nodeId) {
      this.ctx.log.info('recover-commit', { messageId: pending.messageId, sequenceNumber: pending.sequenceNumber });
      await this.commit(pending);
      return;
    }
    const why = peeked === undefined ? 'no longer in the subscription' : owner === undefined ? `still ${peeked.state}` : `owned by ${String(owner)}`;
    this.ctx.log.info('recover-rollback', { messageId: pending.messageId, sequenceNumber: pending.sequenceNumber, why });
    delete this.state.pending;
    this.ctx.save();
  }

  /** Steps 3–5: idempotent, so recovery can run it again from any point. */
  private async commit(pending: PendingMessage, scanned?: VerifiedWorker[]): Promise<void> {
    const { config, log } = this.ctx;
    const tc = process.hrtime.bigint();
    const scan = scanned ?? this.scan();
    const first = pending.phase === 'accepting';
    if (first) {
      // The commit happened on the bus (step 2); this records it, in memory first: the write
      // below follows the signals. A crash before that write is recovered like one before
      // this point: the pending message is still `accepting`, the peek finds our stamp.
      // Accepted now, when the bus answered: the defer can take seconds on a slow link, and
      // what a worker does until then happens before the intake stop or the drain.
      const now = this.ctx.now();
      const acted: ActedMessage = {
        messageId: pending.messageId,
        sequenceNumber: pending.sequenceNumber,
        operation: pending.operation,
        message: pending.message,
        replyTo: config.reportsQueue,
        acceptedAt: now.toISOString(),
        flags: [config.intakeFlag],
        workers: [],
      };
      if (pending.operation === 'graceful-downscale') {
        transition(this.state, 'draining', now);
        this.state.drain = acted;
      } else {
        transition(this.state, 'intake-stopped', now);
        this.state.intake = acted;
        // The flag goes up before the intake signals, so a worker that gets one already sees it.
        this.writeFlags(acted);
      }
      pending.phase = 'committed';
      remember(this.state, pending.messageId);
      this.enqueue(subjectOfActed(acted), 'accepted', scan.map(toWorkerReport));
    }
    const acted = this.actedFor(pending);
    const ts = process.hrtime.bigint();
    const signalled = this.signal(acted, pending.operation, scan);
    crashPoint(config.crashAt, 'after-signal');
    // Retried while the bus is unreachable: report only what is new.
    if (first || signalled.length > 0) {
      this.enqueue(
        subjectOfActed(acted),
        pending.operation === 'graceful-downscale' ? 'signalled' : 'intake-stopped',
        signalled.map((w) => ({ workerId: w.workerId, pid: w.pid, ...(w.signal ? { signal: w.signal } : {}) })),
      );
    }
    this.ctx.save({ durable: true });
    crashPoint(config.crashAt, 'after-commit-write');
    this.timings['commitUs'] = Number(ts - tc) / 1e3;
    this.timings['signalAndSaveUs'] = Number(process.hrtime.bigint() - ts) / 1e3;
    // Off the hot path: a drain raises the intake flag too (a worker starting on a draining
    // node takes nothing); recovery raises it again (idempotent).
    if (pending.operation === 'graceful-downscale' || !first) this.writeFlags(acted);
    if (first) log.info('message-accepted', { messageId: acted.messageId, operation: acted.operation, nodeState: this.state.state, ...this.timings });
    void this.ctx.reporter.flush();
    this.ctx.changed();

    const completed = await this.ctx.bus.completeDeferred(pending.sequenceNumber);
    crashPoint(config.crashAt, 'after-complete');
    if (!completed) {
      // "Not found" also answers a receive of a deferred message that is locked, for example by
      // the receive of an earlier agent of this node that reached the bus late (chaos finding 7).
      // Still deferred with our stamp, it is ours to complete: fail, and the listener tries
      // again after a back-off, instead of forgetting a message nobody else will complete.
      const peeked = await this.ctx.bus.peek(pending.sequenceNumber);
      if (peeked?.state === 'deferred' && peeked.applicationProperties[OWNER_PROPERTY] === config.nodeId) {
        throw new Error(`deferred message ${pending.messageId} (sequence number ${pending.sequenceNumber}) is still ours but locked; completing it again later`);
      }
      log.debug('deferred-already-completed', { messageId: pending.messageId });
    }
    delete this.state.pending;
    this.ctx.save();
    this.ctx.changed();
  }

  private actedFor(pending: PendingMessage): ActedMessage {
    const acted = pending.operation === 'graceful-downscale' ? this.state.drain : this.state.intake;
    if (!acted || acted.messageId !== pending.messageId) {
      throw new Error(`state has no acted message ${pending.messageId} for a committed pending message`);
    }
    return acted;
  }

  /** Verified workers of this topic; stale and gone PID files are removed (DESIGN). */
  scan(): VerifiedWorker[] {
    return this.scanner.scan();
  }

  /** Raises the agent's own flag; never a path from a PID file or an older state file's list. */
  private writeFlags(acted: ActedMessage): void {
    const path = this.ctx.config.intakeFlag;
    logIgnoredFlags(acted, path, this.ctx.log);
    try {
      writeIntakeFlag(path, {
        messageId: acted.messageId,
        ...(acted.message.drainId !== undefined ? { drainId: acted.message.drainId } : {}),
        ...(acted.message.reason !== undefined ? { reason: acted.message.reason } : {}),
        at: this.ctx.now().toISOString(),
      });
    } catch (err) {
      this.ctx.log.error('intake-flag-not-written', { path, error: (err as Error).message });
    }
  }

  /**
   * Sends each verified worker not yet recorded for `acted` its declared signal for the
   * operation (none if it declared none) and records it. Returns the new records.
   */
  private signal(acted: ActedMessage, operation: Operation, workers: VerifiedWorker[]): WorkerRecord[] {
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
    let firstSignalMono: bigint | undefined; // when the first kill() began (logged: the benchmark's "signal → worker")
    for (const { worker, record } of fresh) {
      const at = this.ctx.now().toISOString();
      const signal = worker.signals[operation];
      if (signal !== null) {
        // The scan verified this process before the defer was answered, which a slow link can
        // delay by seconds: make sure the PID is still that process right before signalling it.
        const stat = readProcStat(worker.pid);
        if (!isSameProcess(record, stat)) {
          record.exitedAt = at;
          this.ctx.log.warn('signal-target-gone', { pid: worker.pid, signal, ...(isLive(stat) ? { reason: 'the PID now belongs to another process' } : {}) });
          continue;
        }
        try {
          firstSignalMono ??= process.hrtime.bigint();
          if (sendSignal(worker.pid, signal, this.ctx.log) === 'sent') record.signalledAt = at;
          else record.exitedAt = at;
        } catch (err) {
          this.ctx.log.error('signal-failed', { pid: worker.pid, signal, error: (err as Error).message });
        }
      }
    }
    acted.workers.push(...fresh.filter((f) => !once.includes(f)).map((f) => f.record));
    const added = fresh.map((f) => f.record);
    if (added.length) {
      this.ctx.log.info('workers-signalled', { messageId: acted.messageId, operation, workers: added.map((r) => `${r.workerId}:${r.pid}:${r.signal ?? '-'}`), mono: (firstSignalMono ?? process.hrtime.bigint()).toString() });
    }
    return added;
  }

  /**
   * While draining: signals workers that registered since, records exits, and moves the node
   * to `drained` once every registered worker has exited. Returns true when drained.
   */
  checkDrain(): boolean {
    if (this.state.state === 'drained') return true;
    const acted = this.state.drain;
    // A drain whose message is committed but not yet completed on the bus (say, the bus is
    // down) still progresses: only completing the message waits for the bus.
    if (this.state.state !== 'draining' || !acted || this.state.pending?.phase === 'accepting') return false;
    let changed = false;
    const fresh = this.signal(acted, 'graceful-downscale', this.scan());
    if (fresh.length) {
      this.enqueue(subjectOfActed(acted), 'signalled', fresh.map((w) => ({ workerId: w.workerId, pid: w.pid, ...(w.signal ? { signal: w.signal } : {}) })));
      changed = true;
    }
    const now = this.ctx.now();
    for (const record of acted.workers) {
      if (record.exitedAt !== undefined) continue;
      if (isSameProcess(record)) continue;
      record.exitedAt = now.toISOString();
      this.enqueue(subjectOfActed(acted), 'worker-exited', [{ workerId: record.workerId, pid: record.pid }]);
      this.ctx.log.info('worker-exited', { workerId: record.workerId, pid: record.pid });
      changed = true;
    }
    const done = acted.workers.every((r) => r.exitedAt !== undefined);
    if (done) {
      transition(this.state, 'drained', now);
      acted.drainedAt = now.toISOString();
      this.enqueue(subjectOfActed(acted), 'drained', acted.workers.map((r) => ({ workerId: r.workerId, pid: r.pid })));
      this.ctx.log.info('node-drained', { messageId: acted.messageId, workers: acted.workers.length });
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
    const acted = this.state.drain;
    if (this.state.state !== 'draining' || !acted || acted.escalatedAt !== undefined) return;
    const now = this.ctx.now().toISOString();
    const killed: WorkerReport[] = [];
    for (const record of acted.workers) {
      if (record.exitedAt !== undefined) continue;
      if (!isSameProcess(record)) continue;
      try {
        if (killProcessGroup(record.pid, this.scanner.protectedProcesses, this.ctx.log).result === 'sent') {
          record.escalatedAt = now;
          killed.push({ workerId: record.workerId, pid: record.pid, signal: 'SIGKILL' });
        }
      } catch (err) {
        this.ctx.log.error('escalation-failed', { pid: record.pid, error: (err as Error).message });
      }
    }
    acted.escalatedAt = now;
    this.enqueue(subjectOfActed(acted), 'escalated', killed, `deadline ${acted.message.deadline} passed`);
    this.ctx.log.warn('drain-escalated', { messageId: acted.messageId, deadline: acted.message.deadline, killed: killed.length });
    this.ctx.save();
    void this.ctx.reporter.flush();
  }

  /** A local undo of an intake stop (`workforce-agent resume`). Returns false if not intake-stopped. */
  resume(): boolean {
    if (this.state.pending || !resumeIntake(this.state, this.ctx.config.intakeFlag, this.ctx.now(), this.ctx.log)) return false;
    this.ctx.save();
    void this.ctx.reporter.flush();
    this.ctx.changed();
    return true;
  }

  private enqueue(subject: ReportSubject, state: Parameters<typeof makeReport>[2], workers: WorkerReport[], reason?: string): void {
    this.ctx.reporter.enqueue(makeReport(this.state, subject, state, workers, this.ctx.now(), reason));
  }
}


/**
 * Undoes an intake stop in `state`: removes the agent's flag (`flag`, from the configuration),
 * back to `active`, and a `resumed` report in the outbox. The caller persists. False if the node
 * is not intake-stopped.
 */
export function resumeIntake(state: NodeState, flag: string, now: Date, log: Logger): boolean {
  const acted = state.intake;
  if (state.state !== 'intake-stopped' || !acted) return false;
  logIgnoredFlags(acted, flag, log);
  try {
    removeFlag(flag);
  } catch (err) {
    log.error('intake-flag-not-removed', { path: flag, error: (err as Error).message });
  }
  transition(state, 'active', now);
  delete state.intake;
  state.outbox.push({ queue: acted.replyTo, report: makeReport(state, subjectOfActed(acted), 'resumed', [], now, 'intake resumed locally') });
  log.info('intake-resumed', { messageId: acted.messageId });
  return true;
}

/**
 * State files of earlier versions list the flag paths workers declared in their PID files too:
 * a worker could name any file there, so those are logged and left alone.
 */
function logIgnoredFlags(acted: ActedMessage, own: string, log: Logger): void {
  const ignored = acted.flags.filter((path) => path !== own);
  if (ignored.length > 0) log.warn('intake-flags-ignored', { messageId: acted.messageId, paths: ignored, reason: 'listed by an earlier version from PID files; the agent writes and removes only its own flag' });
}

/** Whether the recorded worker's PID is still that process: alive, with the start time recorded. */
function isSameProcess(record: Pick<WorkerRecord, 'pid' | 'startTime'>, stat: ProcStat | undefined = readProcStat(record.pid)): boolean {
  return isLive(stat) && stat.startTime === record.startTime;
}

function toWorkerReport(w: RegisteredWorker): WorkerReport {
  return { workerId: w.workerId, pid: w.pid };
}

function subjectOf(messageId: string, message: ControlMessage): ReportSubject {
  const subject: ReportSubject = { messageId };
  if (message.drainId !== undefined) subject.drainId = message.drainId;
  if (message.reason !== undefined) subject.reason = message.reason;
  if (message.requestedBy !== undefined) subject.requestedBy = message.requestedBy;
  return subject;
}

function subjectOfActed(acted: ActedMessage): ReportSubject {
  return subjectOf(acted.messageId, acted.message);
}

/** An invalid message may still name its drain; the report carries it only if it is a valid drain id. */
function bestEffortDrainId(body: unknown): { drainId?: string } {
  const decoded = decodeJsonBody(body);
  if (!decoded.ok || typeof decoded.value !== 'object' || decoded.value === null) return {};
  const drainId = (decoded.value as Record<string, unknown>)['drainId'];
  return isDrainId(drainId) ? { drainId } : {};
}
