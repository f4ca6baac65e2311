// `@workforce/worker-agent/worker`: the Node worker library.
//
//   const worker = registerWorker({ topic: 'eu-west' });
//   while (!worker.signal.aborted) {
//     if (!worker.acceptingTasks()) { await sleep(1000); continue; }
//     await runOneTask();              // the task in flight always finishes
//   }
//   await worker.close();
//
// It writes this process's PID file (removed on exit), turns the declared drain signal into an
// AbortSignal and `onDrain` callbacks, and reads the intake flag in `acceptingTasks()`.

import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { defaultIntakeFlagPath, defaultPidDir, nonEmpty } from '../common/defaults.js';
import { isIntakeStopped } from '../common/intake-flag.js';
import { type DeclaredSignals, SIGNAL_OPERATIONS, type SignalName, isDeclarableSignal, isValidWorkerId } from '../pid-files/format.js';
import { removeOwnPidFile, writePidFile } from '../pid-files/store.js';
import { bootId, ownStartTime } from '../common/proc.js';

export type { DeclaredSignals, SignalName } from '../pid-files/format.js';

export interface RegisterWorkerOptions {
  /** The control topic this worker belongs to (the agent's `WORKFORCE_CONTROL_TOPIC_NAME`). */
  topic: string;
  /** Unique on the node; names the PID file. Default: `WORKFORCE_WORKER_ID`, else `<host>-<pid>`. */
  workerId?: string;
  /** Default: `WORKFORCE_PID_DIR`, else `JOBQ_PID_DIR`, else `$TMPDIR/workforce/pids`. */
  pidDir?: string;
  /**
   * The signals this worker handles. Default: `graceful-downscale` → SIGTERM,
   * `do-not-accept-new-tasks` → none (the intake flag alone), `resume` → none (sent when a
   * remote `resume` command takes the intake flag down; nothing is sent without one).
   */
  signals?: DeclaredSignals;
  /** Default: `WORKFORCE_INTAKE_FLAG`, else `<pidDir>/../intake/<topic>.intake-stopped` (the agent's convention). */
  intakeFlag?: string;
  /** Install handlers for the declared signals (default true). Turn off if the program has its own. */
  handleSignals?: boolean;
  /** Where defaults are read from (default `process.env`). */
  env?: Record<string, string | undefined>;
}

export interface DrainEvent {
  signal: SignalName;
  at: Date;
}

export interface WorkerRegistration {
  readonly workerId: string;
  readonly pidFile: string;
  readonly intakeFlag: string;
  /** Aborted when a drain is requested: finish the task in flight, take no other, exit. */
  readonly signal: AbortSignal;
  /** False once a drain was requested or while the node's intake is stopped. Cheap: one stat. */
  acceptingTasks(): boolean;
  /** Called once, when a drain is requested. Returns an unsubscribe function. */
  onDrain(handler: (event: DrainEvent) => void): () => void;
  /** Called on every declared intake signal (the flag is already written when it arrives). */
  onIntakeStop(handler: (event: DrainEvent) => void): () => void;
  /** Called on every declared resume signal (the flag is already gone when it arrives). */
  onResume(handler: (event: DrainEvent) => void): () => void;
  /** Removes the PID file and the signal handlers. Idempotent: returns the same promise. */
  close(): Promise<void>;
}

export class DrainRequested extends Error {
  override readonly name = 'DrainRequested';
  constructor(readonly signal: SignalName) {
    super(`drain requested (${signal})`);
  }
}

/**
 * A worker is told to drain once in its life. The first AbortController aborted in a process
 * loads Node's event dispatch (~0.3 ms, more than the rest of the signal handler): do that now,
 * at registration, rather than between the signal and the worker noticing it.
 */
function warmUpDrainPath(): void {
  const controller = new AbortController();
  controller.signal.addEventListener('abort', () => {});
  controller.abort(new DrainRequested('SIGTERM'));
}

export function registerWorker(options: RegisterWorkerOptions): WorkerRegistration {
  const env = options.env ?? process.env;
  if (typeof options.topic !== 'string' || options.topic === '') throw new TypeError('registerWorker: topic is required');
  // Absolute: the PID file names the flag's path, and the agent runs in another directory.
  const pidDir = resolve(options.pidDir ?? defaultPidDir(env));
  const workerId =
    options.workerId ?? nonEmpty(env['WORKFORCE_WORKER_ID']) ?? `${hostname().replace(/[^A-Za-z0-9._-]/g, '-')}-${process.pid}`;
  if (!isValidWorkerId(workerId)) {
    throw new TypeError(`registerWorker: workerId ${JSON.stringify(workerId)} must be letters, digits and . _ : @ - (≤ 128)`);
  }
  const signals: DeclaredSignals = {
    'graceful-downscale': 'SIGTERM',
    'do-not-accept-new-tasks': null,
    ...options.signals,
  };
  const graceful = signals['graceful-downscale'] ?? null;
  const intake = signals['do-not-accept-new-tasks'] ?? null;
  const resume = signals.resume ?? null;
  for (const [op, sig] of Object.entries(signals)) {
    if (!(SIGNAL_OPERATIONS as readonly string[]).includes(op)) {
      throw new TypeError(`registerWorker: signals.${op}: unknown operation; expected ${SIGNAL_OPERATIONS.join(', ')}`);
    }
    if (sig !== null && sig !== undefined && !isDeclarableSignal(sig)) {
      throw new TypeError(`registerWorker: signals.${op} = ${String(sig)} is not a signal a process can handle`);
    }
  }
  if (graceful !== null && graceful === intake) {
    throw new TypeError(`registerWorker: ${graceful} cannot mean both graceful-downscale and do-not-accept-new-tasks`);
  }
  if (resume !== null && (resume === graceful || resume === intake)) {
    throw new TypeError(`registerWorker: ${resume} cannot mean resume and ${resume === graceful ? 'graceful-downscale' : 'do-not-accept-new-tasks'}`);
  }
  const intakeFlag = resolve(options.intakeFlag ?? nonEmpty(env['WORKFORCE_INTAKE_FLAG']) ?? defaultIntakeFlagPath(pidDir, options.topic));

  const controller = new AbortController();
  const drainHandlers = new Set<(e: DrainEvent) => void>();
  const intakeHandlers = new Set<(e: DrainEvent) => void>();
  const resumeHandlers = new Set<(e: DrainEvent) => void>();

  const requestDrain = (sig: SignalName) => {
    if (controller.signal.aborted) return; // a repeated signal changes nothing
    const event = { signal: sig, at: new Date() };
    controller.abort(new DrainRequested(sig));
    for (const handler of drainHandlers) handler(event);
  };
  const stopIntake = (sig: SignalName) => {
    const event = { signal: sig, at: new Date() };
    for (const handler of intakeHandlers) handler(event);
  };
  warmUpDrainPath();
  const listeners: Array<[SignalName, () => void]> = [];
  if (options.handleSignals !== false) {
    if (graceful) listeners.push([graceful, () => requestDrain(graceful)]);
    if (intake) listeners.push([intake, () => stopIntake(intake)]);
    if (resume) listeners.push([resume, () => resumeHandlers.forEach((handler) => handler({ signal: resume, at: new Date() }))]);
    for (const [sig, fn] of listeners) process.on(sig, fn);
  }

  const pidFile = writePidFile(pidDir, {
    pid: process.pid,
    startTime: ownStartTime(),
    bootId: bootId(),
    topic: options.topic,
    workerId,
    signals,
    intakeFile: intakeFlag,
  });
  // A worker that exits without close() still removes its file (not on SIGKILL: the agent
  // then finds the process gone and removes the file itself).
  const onExit = () => removeOwnPidFile(pidFile, process.pid);
  process.on('exit', onExit);

  let closing: Promise<void> | undefined;
  return {
    workerId,
    pidFile,
    intakeFlag,
    signal: controller.signal,
    acceptingTasks: () => !controller.signal.aborted && !isIntakeStopped(intakeFlag),
    onDrain(handler) {
      drainHandlers.add(handler);
      return () => drainHandlers.delete(handler);
    },
    onIntakeStop(handler) {
      intakeHandlers.add(handler);
      return () => intakeHandlers.delete(handler);
    },
    onResume(handler) {
      resumeHandlers.add(handler);
      return () => resumeHandlers.delete(handler);
    },
    close() {
      closing ??= (async () => {
        for (const [sig, fn] of listeners) {
          try {
            process.off(sig, fn);
          } catch {
            /* keep closing */
          }
        }
        try {
          removeOwnPidFile(pidFile, process.pid);
        } finally {
          process.off('exit', onExit);
        }
      })();
      return closing;
    },
  };
}
