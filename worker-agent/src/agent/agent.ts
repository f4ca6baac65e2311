// The node agent: one per node (and topic). Wires the state store, the Service Bus receive loop,
// the drain logic, the reports outbox and the watchers; lifecycle after BullMQ's Worker:
// `start()` and `close()` are idempotent (each returns the same promise) and every cleanup step
// runs in its own try/catch.

import { EventEmitter } from 'node:events';
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { ControlBus } from './bus.js';
import type { ListenConfig } from '../commands/config.js';
import type { AgentReport } from '../contract/report.js';
import { Drainer } from './drain.js';
import { NO_PROBE, timingProbe } from './drain-probe.js';
import { checkPidDir, ensureOwnDir } from '../common/directories.js';
import { AgentError, errnoCode } from '../common/errors.js';
import { ensureIntakeDir } from '../common/intake-flag.js';
import { Receivers } from './receivers.js';
import { type Logger, createLogger } from '../common/log.js';
import { type NodeState, NodeStateStore, STATE_DIR } from './node-state.js';
import { bootId, isLive, ownStartTime, readProcStat } from '../common/proc.js';
import { Presence } from './presence.js';
import { Reporter } from './reports.js';
import { RESET_HINT, RESET_REQUEST, resetDrained, resetRefusal } from './reset.js';
import { type SaveOptions, StateWriter } from './state-writer.js';
import { BackoffPoller, PidDirWatcher } from './watch.js';
import { Refusals } from './refusals.js';

export type AgentStatus = 'created' | 'starting' | 'running' | 'closing' | 'closed';

export interface AgentDeps {
  /** Default: Service Bus from the configuration. */
  bus?: ControlBus;
  log?: Logger;
  now?: () => Date;
}

/** Longest setTimeout Node accepts; longer deadlines are re-armed in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const CLOSE_FLUSH_MS = 2000;
const CLOSE_BUS_MS = 2000;

export interface AgentEvents {
  state: [NodeState['state']];
  reports: [AgentReport[]];
  closed: [];
}

export class Agent extends EventEmitter<AgentEvents> {
  private status: AgentStatus = 'created';
  private starting: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private readonly log: Logger;
  private readonly now: () => Date;
  private readonly store: NodeStateStore;
  private readonly lockPath: string;
  private state!: NodeState;
  private bus!: ControlBus;
  private reporter!: Reporter;
  private presence!: Presence;
  private drainedLogged = false;
  private writer!: StateWriter;
  private drainer!: Drainer;
  private receivers!: Receivers;
  private refusals!: Refusals;
  private watcher!: PidDirWatcher;
  private poller!: BackoffPoller;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private keepAlive: NodeJS.Timeout | undefined;
  private lastState: NodeState['state'] | undefined;

  constructor(
    readonly config: ListenConfig,
    private readonly deps: AgentDeps = {},
  ) {
    super();
    this.log = deps.log ?? createLogger(config.logLevel);
    this.now = deps.now ?? (() => new Date());
    this.store = new NodeStateStore(config.stateDir);
    this.lockPath = join(config.stateDir, 'agent.lock');
  }

  get lifecycle(): AgentStatus {
    return this.status;
  }

  /** A copy of the node state. */
  snapshot(): NodeState {
    return structuredClone(this.state);
  }

  start(): Promise<void> {
    this.starting ??= this.doStart();
    return this.starting;
  }

  private async doStart(): Promise<void> {
    this.status = 'starting';
    const { config } = this;
    // Checked before anything is written: the directories it owns, and the one it shares.
    // Start-up needs a writable state directory: the lock keeps a second agent off it, and a
    // message is never taken without a record of it. (A running agent outlives a failing disk.)
    const unwritable = (err: unknown) =>
      err instanceof AgentError ? err : new AgentError('Internal', `cannot write the state directory ${config.stateDir}: ${(err as Error).message}`, { cause: err });
    try {
      ensureOwnDir(config.stateDir, STATE_DIR);
      acquireLock(this.lockPath);
    } catch (err) {
      throw unwritable(err);
    }
    ensureIntakeDir(config.intakeFlag);
    checkPidDir(config.pidDir);
    try {
      this.state = this.store.load(config.nodeId, config.topic, this.now());
      if (this.state.nodeId !== config.nodeId) {
        this.log.warn('node-id-changed', { was: this.state.nodeId, now: config.nodeId });
        this.state.nodeId = config.nodeId;
      }
      try {
        this.store.save(this.state);
      } catch (err) {
        throw unwritable(err);
      }
      this.bus = this.deps.bus ?? (await this.createBus());
    } catch (err) {
      releaseLock(this.lockPath);
      this.status = 'closed';
      throw err;
    }
    this.writer = new StateWriter(this.store, () => this.state, this.log);
    const save = (options?: SaveOptions) => void this.writer.save(options);
    this.refusals = new Refusals(this.log, config.bus.kind, config.stateDir);
    const { refusals } = this;
    this.reporter = new Reporter({
      refusals,
      bus: this.bus,
      queue: config.reportsQueue,
      limits: config.outbox,
      state: () => this.state,
      save,
      log: this.log,
      now: this.now,
      onSent: (reports) => this.emit('reports', reports),
    });
    this.presence = new Presence({ bus: this.bus, config, state: () => this.state, log: this.log, now: this.now, startedAt: this.now(), refusals });
    this.drainer = new Drainer({
      config,
      bus: this.bus,
      state: this.state,
      save,
      saveOrThrow: () => this.writer.saveOrThrow(),
      reporter: this.reporter,
      log: this.log,
      now: this.now,
      changed: () => this.stateChanged(),
      probe: config.timings ? timingProbe(this.log) : NO_PROBE,
    });
    this.poller = new BackoffPoller(() => this.drainer.checkDrain());
    this.watcher = new PidDirWatcher(config.pidDir, () => this.pidDirChanged(), this.log);
    this.receivers = new Receivers({ bus: this.bus, drainer: this.drainer, state: () => this.state, config, log: this.log, refusals });
    this.drainer.warmUp();
    this.keepAlive = setInterval(() => {}, MAX_TIMER_MS);
    this.watcher.start();
    this.receivers.start();
    this.stateChanged();
    // Presence starts once the links are open: `online` means connected.
    void (this.bus.prepare?.([config.reportsQueue]) ?? Promise.resolve()).then(() => {
      void this.reporter.flush();
      this.presence.start();
    });
    void this.reporter.flush();
    this.status = 'running';
    this.log.info('listening', {
      nodeId: config.nodeId,
      topic: config.topic,
      subscription: config.subscription,
      ...(this.receivers.hasCommands ? { commandsQueue: config.commandsQueue } : {}),
      pidDir: config.pidDir,
      stateDir: config.stateDir,
      nodeState: this.state.state,
      pending: this.state.pending?.messageId,
    });
  }

  private async createBus(): Promise<ControlBus> {
    const { ServiceBusControlBus } = await import('./servicebus.js');
    return ServiceBusControlBus.create({
      bus: this.config.bus,
      transport: this.config.transport,
      topic: this.config.topic,
      subscription: this.config.subscription,
      maxLockRenewalMs: this.config.maxLockRenewalMs,
    });
  }

  /** Re-arms what depends on the node state: receiving, drain watching, the deadline. */
  private stateChanged(): void {
    const state = this.state.state;
    if (state !== this.lastState) {
      this.lastState = state;
      this.emit('state', state);
      this.presence.post('heartbeat');
    }
    if (state === 'drained' && !this.drainedLogged) {
      this.drainedLogged = true;
      this.log.warn('drained-until-reset', { message: `this node takes no control messages until reset (${RESET_HINT}, or a resume command)`, since: this.state.since });
    } else if (state !== 'drained') {
      this.drainedLogged = false;
    }
    this.receivers.wake();
    if (state === 'draining') {
      this.poller.start();
      this.armDeadline();
    } else {
      this.poller.stop();
      clearTimeout(this.deadlineTimer);
      this.deadlineTimer = undefined;
    }
  }

  private pidDirChanged(): void {
    if (this.state.state === 'draining') this.poller.poke();
  }

  private armDeadline(): void {
    const drain = this.state.drain;
    if (this.deadlineTimer || !drain?.message.deadline || drain.escalatedAt) return;
    const wait = Date.parse(drain.message.deadline) - this.now().getTime();
    this.deadlineTimer = setTimeout(
      () => {
        this.deadlineTimer = undefined;
        if (wait > MAX_TIMER_MS) return this.armDeadline();
        this.drainer.escalate();
        this.poller.poke();
      },
      Math.max(0, Math.min(wait, MAX_TIMER_MS)),
    );
  }

  /** Undoes an intake stop locally (`workforce-agent resume`). */
  resume(): boolean {
    if (this.status !== 'running') return false;
    return this.drainer.resume();
  }

  /** Re-arms a drained node (`workforce-agent reset`); the reason when it cannot. */
  reset(): string | undefined {
    if (this.status !== 'running') return `the agent is ${this.status}`;
    const refusal = resetRefusal(this.state, this.config);
    if (refusal !== undefined) return refusal;
    resetDrained(this.state, this.config.intakeFlag, this.now(), this.log);
    this.writer.save();
    this.stateChanged();
    return undefined;
  }

  /** Handles requests dropped in the state directory by `workforce-agent resume` and `reset` (SIGHUP). */
  processRequests(): void {
    // Each request file is removed after it was acted on (and the state saved): its CLI waits for that.
    answerRequest(join(this.config.stateDir, RESUME_REQUEST), () => {
      const resumed = this.resume();
      this.log.info('resume-request', { resumed, nodeState: this.state.state });
    });
    answerRequest(join(this.config.stateDir, RESET_REQUEST), () => {
      const refused = this.reset();
      if (refused === undefined) this.log.info('reset-request', { reset: true, nodeState: this.state.state });
      else this.log.warn('reset-request', { reset: false, reason: refused, nodeState: this.state.state });
    });
  }

  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    try {
      await this.starting;
    } catch {
      return; // start failed and cleaned up after itself
    }
    if (this.status === 'created') {
      this.status = 'closed';
      return;
    }
    this.status = 'closing';
    const step = async (name: string, fn: () => unknown) => {
      try {
        await fn();
      } catch (err) {
        this.log.warn('close-step-failed', { step: name, error: (err as Error).message });
      }
    };
    // The message in hand is finished first: a drain in progress stays recorded for the restart.
    await step('listener', () => this.receivers.close());
    await step('timers', () => {
      clearTimeout(this.deadlineTimer);
      clearInterval(this.keepAlive);
      this.poller.stop();
    });
    await step('watcher', () => this.watcher.close());
    await step('reports', () => this.reporter.close(CLOSE_FLUSH_MS));
    await step('presence', () => this.presence.close(CLOSE_FLUSH_MS));
    await step('state', () => this.writer.close());
    // Bounded: closing a link that is still opening can wait for the SDK's own timeouts.
    await step('bus', () => Promise.race([this.bus.close(), new Promise((r) => setTimeout(r, CLOSE_BUS_MS).unref())]));
    await step('lock', () => releaseLock(this.lockPath));
    this.status = 'closed';
    this.log.info('closed', { nodeState: this.state.state, pending: this.state.pending?.messageId });
    this.emit('closed');
  }
}

export const RESUME_REQUEST = 'resume.request';

function answerRequest(path: string, act: () => void): void {
  try {
    readFileSync(path);
  } catch {
    return;
  }
  act();
  try {
    unlinkSync(path);
  } catch {
    /* already gone */
  }
}

interface LockContent {
  pid: number;
  startTime: number;
  bootId: string;
}

/** The running agent of a state directory, if any (verified like a PID file). */
export function runningAgent(stateDir: string): LockContent | undefined {
  let lock: LockContent;
  try {
    lock = JSON.parse(readFileSync(join(stateDir, 'agent.lock'), 'utf8')) as LockContent;
  } catch {
    return undefined;
  }
  const stat = readProcStat(lock.pid);
  return lock.bootId === bootId() && isLive(stat) && stat.startTime === lock.startTime ? lock : undefined;
}

/** One agent per state directory: a second one would break "one message, one node". */
function acquireLock(path: string): void {
  const content = JSON.stringify({ pid: process.pid, startTime: ownStartTime(), bootId: bootId() });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, content);
      closeSync(fd);
      return;
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
    }
    const other = runningAgent(path.slice(0, path.lastIndexOf('/')));
    if (other) {
      throw new AgentError(
        'AgentAlreadyRunning',
        `another agent (pid ${other.pid}) is running with state directory ${path.slice(0, path.lastIndexOf('/'))}; ` +
          'a second agent on this machine needs its own --state-dir, and its own --pid-dir for its workers',
      );
    }
    try {
      unlinkSync(path); // left by an agent that died
    } catch {
      /* raced with another starter: try again */
    }
  }
  throw new AgentError('AgentAlreadyRunning', `could not take ${path}`);
}

function releaseLock(path: string): void {
  try {
    const lock = JSON.parse(readFileSync(path, 'utf8')) as LockContent;
    if (lock.pid === process.pid) unlinkSync(path);
  } catch {
    /* nothing to release */
  }
}
