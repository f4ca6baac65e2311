// Acting on control messages: the exactly-N protocol (README "Guarantees").
//
//   receive (peek-lock) ─ validate ─ dedupe ─ expiry ─ can this node act?
//     no  → abandon (the listener then pauses receiving: no hot loop)
//     yes → 1. persist `pending: accepting` with the message       (node state file)
//           2. defer the message, stamping `workforce-owner=<node>` (THE COMMIT POINT, on the bus)
//           3. scan the PID files, signal the workers (an intake stop raises its flag first)
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
//
// What follows a committed drain (late workers, exits, `drained`, the deadline) is in
// drain-progress.ts; signalling in signal-workers.ts; the intake flag in intake-stop.ts.

import type { BusMessage, ControlBus } from './bus.js';
import { OWNER_PROPERTY } from './bus.js';
import type { ListenConfig } from '../commands/config.js';
import { INVALID_CONTROL_MESSAGE, expiredBecause, parseControlMessage } from '../contract/control-message.js';
import type { WorkerReport } from '../contract/report.js';
import { crashPoint } from './crash-points.js';
import type { DrainProbe } from './drain-probe.js';
import { DrainProgress } from './drain-progress.js';
import { raiseIntakeFlag, resumeIntake } from './intake-stop.js';
import type { Logger } from '../common/log.js';
import { type ActedMessage, type NodeState, type PendingMessage, canActOn, remember, transition } from './node-state.js';
import { scanWorkers } from '../pid-files/registry.js';
import { readProcStat } from '../common/proc.js';
import { bestEffortDrainId, signalledReport, subjectOf, subjectOfActed, toWorkerReport } from './report-subject.js';
import { type ReportSubject, type Reporter, makeReport } from './reports.js';
import { sendSignal } from '../common/signals.js';
import { WorkerSignaller } from './signal-workers.js';
import type { SaveOptions } from './state-writer.js';

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
  /** Marks the start of each step (drain-probe.ts): a no-op unless the benchmark asks. */
  probe: DrainProbe;
}

export class Drainer {
  private readonly signaller: WorkerSignaller;
  private readonly progress: DrainProgress;

  constructor(private readonly ctx: DrainContext) {
    this.signaller = new WorkerSignaller(ctx);
    this.progress = new DrainProgress(ctx, this.signaller);
  }

  private get state(): NodeState {
    return this.ctx.state;
  }

  /** Handles one received message; settles it on the bus in every outcome. */
  async handle(msg: BusMessage): Promise<Outcome> {
    const { config, bus, log, probe } = this.ctx;
    probe.mark('received');
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

    // 1. Nothing is acted on that was not recorded first.
    probe.mark('persisting');
    this.state.pending = {
      messageId,
      sequenceNumber: msg.sequenceNumber,
      operation: message.operation,
      message,
      replyTo: config.reportsQueue,
      phase: 'accepting',
      receivedAt: this.ctx.now().toISOString(),
    };
    try {
      this.ctx.saveOrThrow();
    } catch (err) {
      // The message goes back for another node.
      delete this.state.pending;
      log.warn('message-not-accepted', { messageId, why: 'the node state cannot be written', error: (err as Error).message });
      await bus.abandon(msg);
      return 'released';
    }
    crashPoint(config.crashAt, 'after-state-write');
    // 2. The commit point.
    probe.mark('deferring');
    await bus.defer(msg, { [OWNER_PROPERTY]: config.nodeId });
    probe.mark('deferred');
    crashPoint(config.crashAt, 'after-defer');
    // 3–5.
    await this.commit(this.state.pending);
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
  private async commit(pending: PendingMessage): Promise<void> {
    const { config, log, probe } = this.ctx;
    const workers = this.signaller.scan();
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
        raiseIntakeFlag(acted, config.intakeFlag, now, log);
      }
      pending.phase = 'committed';
      remember(this.state, pending.messageId);
      this.enqueue(subjectOfActed(acted), 'accepted', workers.map(toWorkerReport));
    }
    // 3. Signal.
    const acted = this.actedFor(pending);
    probe.mark('signalling');
    const signalled = this.signaller.signal(acted, pending.operation, workers);
    crashPoint(config.crashAt, 'after-signal');
    // Retried while the bus is unreachable: report only what is new.
    if (first || signalled.length > 0) {
      this.enqueue(subjectOfActed(acted), pending.operation === 'graceful-downscale' ? 'signalled' : 'intake-stopped', signalledReport(signalled));
    }
    // 4. Record the commit.
    this.ctx.save({ durable: true });
    probe.mark('committed');
    crashPoint(config.crashAt, 'after-commit-write');
    // Off the hot path: a drain raises the intake flag too (a worker starting on a draining
    // node takes nothing); recovery raises it again (idempotent).
    if (pending.operation === 'graceful-downscale' || !first) raiseIntakeFlag(acted, config.intakeFlag, this.ctx.now(), log);
    if (first) log.info('message-accepted', { messageId: acted.messageId, operation: acted.operation, nodeState: this.state.state });
    void this.ctx.reporter.flush();
    this.ctx.changed();

    // 5. Complete the deferred message.
    const completed = await this.ctx.bus.completeDeferred(pending.sequenceNumber);
    crashPoint(config.crashAt, 'after-complete');
    if (!completed) {
      // "Not found" also answers a receive of a deferred message that is locked, for example by
      // the receive of an earlier agent of this node that reached the bus late. Still deferred
      // with our stamp, it is ours to complete: fail, and the listener tries again after a
      // back-off, instead of forgetting a message nobody else will complete.
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

  /** While draining: see DrainProgress.check. Returns true when drained. */
  checkDrain(): boolean {
    return this.progress.check();
  }

  /** The drain's deadline passed: SIGKILL to the process groups still alive. */
  escalate(): void {
    this.progress.escalate();
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
