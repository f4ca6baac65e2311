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
// Per-node commands (this node's session on the commands queue) take the same steps, deferred
// within the session; what differs is the decision before step 1 (command-rules.ts: a command
// this node cannot act on is answered, never abandoned) and `resume` (resume.ts).
//
// What follows a committed drain (late workers, exits, `drained`, the deadline) is in
// drain-progress.ts; signalling in signal-workers.ts; the intake flag in intake-stop.ts.

import type { BusMessage, ControlBus, MessageSource } from './bus.js';
import { OWNER_PROPERTY } from './bus.js';
import type { ListenConfig } from '../commands/config.js';
import { type ControlMessage, INVALID_CONTROL_MESSAGE, expiredBecause, parseControlMessage } from '../contract/control-message.js';
import { type CommandMessage, isSameNode, parseCommandMessage } from '../contract/command.js';
import type { ParseResult } from '../contract/result.js';
import { fail } from '../contract/result.js';
import type { WorkerReport } from '../contract/report.js';
import { decideCommand } from './command-rules.js';
import { applyResume } from './resume.js';
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

/** `answered`: a command this node cannot (or need not) act on got its final report. */
export type Outcome = 'acted' | 'released' | 'duplicate' | 'expired' | 'invalid' | 'answered';
/** Where a message came from: the `shutdown` subscription, or this node's commands session. */
export type Channel = 'control' | 'command';

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
  /** Messages whose "state reached" report this process has enqueued (see commit, step 3). */
  private readonly reachedReported = new Set<string>();

  constructor(private readonly ctx: DrainContext) {
    this.signaller = new WorkerSignaller(ctx);
    this.progress = new DrainProgress(ctx, this.signaller);
  }

  private get state(): NodeState {
    return this.ctx.state;
  }

  /** Handles one received message; settles it in every outcome, through `source`. */
  async handle(msg: BusMessage, channel: Channel = 'control', source: MessageSource = this.ctx.bus): Promise<Outcome> {
    const { config, log, probe } = this.ctx;
    probe.mark('received');
    log.debug('message-received', { messageId: msg.messageId, sequenceNumber: msg.sequenceNumber, ...(channel === 'command' ? { channel } : {}) });
    crashPoint(config.crashAt, 'after-receive');
    const messageId = msg.messageId ?? `sequence-${msg.sequenceNumber}`;
    const parsed = channel === 'command' ? this.parseCommand(msg.body) : parseControlMessage(msg.body);
    if (!parsed.ok) {
      const description = parsed.error.message;
      log.warn('message-invalid', { messageId, sequenceNumber: msg.sequenceNumber, field: parsed.error.field, reason: description });
      const subject: ReportSubject = { messageId, ...bestEffortDrainId(msg.body) };
      this.enqueue(subject, 'rejected', [], `${INVALID_CONTROL_MESSAGE}: ${description}`);
      this.ctx.save();
      await source.deadLetter(msg, INVALID_CONTROL_MESSAGE, description);
      void this.ctx.reporter.flush();
      return 'invalid';
    }
    const message: ControlMessage | CommandMessage = parsed.value;
    if (this.state.seen.includes(messageId)) {
      log.info('message-duplicate', { messageId, sequenceNumber: msg.sequenceNumber });
      await source.complete(msg);
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
      return this.answer(msg, source, subject, 'expired', expired);
    }
    if (channel === 'command') {
      const decision = decideCommand(this.state, message as CommandMessage, config);
      if (decision.kind === 'answer') {
        log.info('command-answered', { messageId, operation: message.operation, nodeState: this.state.state, report: decision.state, reason: decision.reason });
        return this.answer(msg, source, subject, decision.state, decision.reason);
      }
    } else if (!canActOn(this.state.state, message.operation)) {
      log.info('message-released', { messageId, operation: message.operation, nodeState: this.state.state });
      await source.abandon(msg);
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
      ...(channel === 'command' ? { source: 'commands' as const } : {}),
    };
    try {
      this.ctx.saveOrThrow();
    } catch (err) {
      // The message goes back: for another node, or (a command) for this one, later.
      delete this.state.pending;
      log.warn('message-not-accepted', { messageId, why: 'the node state cannot be written', error: (err as Error).message });
      await source.abandon(msg);
      return 'released';
    }
    crashPoint(config.crashAt, 'after-state-write');
    // 2. The commit point.
    probe.mark('deferring');
    await source.defer(msg, { [OWNER_PROPERTY]: config.nodeId });
    probe.mark('deferred');
    crashPoint(config.crashAt, 'after-defer');
    // 3–5.
    await this.commit(this.state.pending, source);
    return 'acted';
  }

  /** A command's body, and the rule that it names this node (as Service Bus compares session ids). */
  private parseCommand(body: unknown): ParseResult<CommandMessage> {
    const parsed = parseCommandMessage(body);
    if (parsed.ok && !isSameNode(parsed.value.nodeId, this.ctx.config.nodeId)) {
      return fail(INVALID_CONTROL_MESSAGE, 'nodeId', `nodeId ${JSON.stringify(parsed.value.nodeId)} is not this node (${this.ctx.config.nodeId})`);
    }
    return parsed;
  }

  /** Settles a message without acting on it: remembered, reported, completed. */
  private async answer(msg: BusMessage, source: MessageSource, subject: ReportSubject, state: 'expired' | 'refused' | 'intake-stopped' | 'resumed', reason: string): Promise<Outcome> {
    remember(this.state, subject.messageId);
    this.enqueue(subject, state, [], reason);
    this.ctx.save();
    await source.complete(msg);
    void this.ctx.reporter.flush();
    return state === 'expired' ? 'expired' : 'answered';
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

  /** Resolves a message left pending by a crash or a failed settlement (asks `source`, where it came from). */
  async recover(source: MessageSource = this.ctx.bus): Promise<void> {
    const pending = this.state.pending;
    if (!pending) return;
    if (pending.phase === 'committed') {
      this.ctx.log.info('recover-committed', { messageId: pending.messageId });
      await this.commit(pending, source);
      return;
    }
    const peeked = await source.peek(pending.sequenceNumber);
    const owner = peeked?.applicationProperties[OWNER_PROPERTY];
    if (peeked !== undefined && owner === this.ctx.config.nodeId) {
      this.ctx.log.info('recover-commit', { messageId: pending.messageId, sequenceNumber: pending.sequenceNumber });
      await this.commit(pending, source);
      return;
    }
    const why = peeked === undefined ? 'no longer in the subscription' : owner === undefined ? `still ${peeked.state}` : `owned by ${String(owner)}`;
    this.ctx.log.info('recover-rollback', { messageId: pending.messageId, sequenceNumber: pending.sequenceNumber, why });
    delete this.state.pending;
    this.ctx.save();
  }

  /** Steps 3–5: idempotent, so recovery can run it again from any point. */
  private async commit(pending: PendingMessage, source: MessageSource): Promise<void> {
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
      } else if (pending.operation === 'do-not-accept-new-tasks') {
        transition(this.state, 'intake-stopped', now);
        this.state.intake = acted;
        // The flag goes up before the intake signals, so a worker that gets one already sees it.
        raiseIntakeFlag(acted, config.intakeFlag, now, log);
      } else {
        // The flag goes down before the resume signals, so a worker that gets one takes tasks.
        acted.reason = applyResume(this.state, acted, config.intakeFlag, now, log);
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
    // Retried while the bus is unreachable: report only what is new, and the state reached once
    // per agent life: a restart may have nothing new to signal although that report was never
    // written (a legacy worker's record is saved before its signal, and the agent died right
    // after), and without it an intake stop or a resume never completes. Reports fold idempotently.
    if (first || signalled.length > 0 || !this.reachedReported.has(pending.messageId)) {
      this.reachedReported.add(pending.messageId);
      const reached = pending.operation === 'graceful-downscale' ? 'signalled' : pending.operation === 'resume' ? 'resumed' : 'intake-stopped';
      this.enqueue(subjectOfActed(acted), reached, signalledReport(signalled), acted.reason);
    }
    // 4. Record the commit.
    this.ctx.save({ durable: true });
    probe.mark('committed');
    crashPoint(config.crashAt, 'after-commit-write');
    // Off the hot path: a drain raises the intake flag too (a worker starting on a draining
    // node takes nothing); recovery raises it again (idempotent).
    if (pending.operation === 'graceful-downscale' || (pending.operation === 'do-not-accept-new-tasks' && !first)) raiseIntakeFlag(acted, config.intakeFlag, this.ctx.now(), log);
    if (first) log.info('message-accepted', { messageId: acted.messageId, operation: acted.operation, nodeState: this.state.state });
    void this.ctx.reporter.flush();
    this.ctx.changed();

    // 5. Complete the deferred message.
    const completed = await source.completeDeferred(pending.sequenceNumber);
    crashPoint(config.crashAt, 'after-complete');
    if (!completed) {
      // "Not found" also answers a receive of a deferred message that is locked, for example by
      // the receive of an earlier agent of this node that reached the bus late. Still deferred
      // with our stamp, it is ours to complete: fail, and the listener tries again after a
      // back-off, instead of forgetting a message nobody else will complete.
      const peeked = await source.peek(pending.sequenceNumber);
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
    const acted = pending.operation === 'graceful-downscale' ? this.state.drain : pending.operation === 'resume' ? this.state.resumed : this.state.intake;
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
