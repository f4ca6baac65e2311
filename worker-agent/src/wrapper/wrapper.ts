// `workforce-agent run -- <command…>`: wrapper mode for workers that cannot be changed, after
// tini: spawn the command, write its PID file, forward signals, reap it, pass its exit status
// through, remove the PID file.
//
// The PID file names the command itself (not this wrapper), so the agent signals the real
// worker and a deadline's SIGKILL reaches its process group; this wrapper only observes the
// exit. The command runs in its own process group, so that SIGKILL spares the wrapper, which
// then reports the exit status like any other.
//
// It refuses to start the command (exit status RUN_REFUSED, as `env` and `timeout` use 125 for
// their own failures) rather than run it in a way the agent cannot drain or that leaks:
// - when the PID file cannot be written: an unregistered worker is never drained;
// - when it is PID 1 of its PID namespace: orphans would be re-parented to it, and Node cannot
//   reap them (it has no waitpid(-1); libuv waits for its own children only), so they would
//   stay zombies. Run it under an init that reaps (`docker run --init`, tini, dumb-init).

import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { constants } from 'node:os';
import { ensureDir } from '../common/atomic-file.js';
import type { RunConfig } from '../commands/config.js';
import { AgentError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { type PidFileRecord, type SignalName } from '../pid-files/format.js';
import { pidFilePath, removeOwnPidFile, writePidFile } from '../pid-files/store.js';
import { bootId, readProcStat } from '../common/proc.js';
import { sendSignal } from '../common/signals.js';

/** Forwarded to the command, as tini does (Node cannot catch SIGKILL/SIGSTOP; faults are not forwarded). */
export const FORWARDED_SIGNALS: SignalName[] = ['SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGTERM', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGALRM', 'SIGCONT'];

/** Exit status of `run` when it does not start the command, or stops it at once (see above). */
export const RUN_REFUSED = 125;

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Why the command must not be started, as an AgentError (SpawnFailed); checked before spawning. */
export function checkCanRun(config: RunConfig, pid = process.pid): void {
  if (pid === 1) {
    throw new AgentError(
      'SpawnFailed',
      'run is PID 1 of its PID namespace, and Node cannot reap the orphaned processes an init must reap (they would stay zombies): ' +
        'start it under an init that does, e.g. `docker run --init`, or `tini -- workforce-agent run …`',
    );
  }
  // A file of a PID file's size, created where the PID file will go, then removed: the same
  // directory, permissions and free space. Hidden (`.`), so no agent ever reads it as a worker.
  const probe = join(config.pidDir, `.run-probe-${randomUUID()}`);
  try {
    ensureDir(config.pidDir);
    const fd = openSync(probe, 'wx', 0o600);
    try {
      writeSync(fd, Buffer.alloc(512, 0x20));
    } finally {
      closeSync(fd);
      unlinkSync(probe);
    }
  } catch (err) {
    throw new AgentError('SpawnFailed', `cannot register the command: the PID file cannot be written in ${config.pidDir} (${(err as Error).message}); not starting it, as the agent would never drain it`, { cause: err });
  }
}

/**
 * Runs the command to completion; resolves with how it ended. Never rejects for the child's
 * sake; throws (SpawnFailed) before starting it when checkCanRun says no.
 */
export function runWrapped(config: RunConfig, env: Record<string, string | undefined>, log: Logger): Promise<ChildExit> {
  checkCanRun(config);
  return new Promise((resolvePromise) => {
    const [file, ...args] = config.command as [string, ...string[]];
    const child = spawn(file, args, {
      stdio: 'inherit',
      detached: true,
      env: { ...env, WORKFORCE_INTAKE_FLAG: config.intakeFlag },
    });
    let pidFile: string | undefined;
    const forwarders = new Map<SignalName, () => void>();
    const cleanup = () => {
      for (const [sig, fn] of forwarders) process.off(sig, fn);
      if (pidFile !== undefined && child.pid !== undefined) removeOwnPidFile(pidFile, child.pid);
    };

    child.once('error', (err: NodeJS.ErrnoException) => {
      // Not found → 127, not executable → 126, as shells and tini report.
      cleanup();
      log.error('spawn-failed', { command: file, error: err.message });
      resolvePromise({ code: err.code === 'ENOENT' ? 127 : 126, signal: null });
    });
    if (child.pid === undefined) return; // the 'error' event follows

    const pid = child.pid;
    for (const sig of FORWARDED_SIGNALS) {
      const fn = () => {
        log.debug('forward-signal', { pid, signal: sig });
        sendSignal(pid, sig, log);
      };
      forwarders.set(sig, fn);
      process.on(sig, fn);
    }

    const workerId = config.workerId ?? `${hostname().replace(/[^A-Za-z0-9._-]/g, '-')}-${pid}`;
    const stat = readProcStat(pid);
    if (stat) {
      const record: PidFileRecord = {
        pid,
        startTime: stat.startTime,
        bootId: bootId(),
        topic: config.topic,
        workerId,
        signals: {
          'graceful-downscale': config.gracefulSignal,
          'do-not-accept-new-tasks': config.intakeSignal,
          ...(config.resumeSignal !== null ? { resume: config.resumeSignal } : {}),
        },
        intakeFile: config.intakeFlag,
      };
      try {
        pidFile = writePidFile(config.pidDir, record);
      } catch (err) {
        // The check above passed a moment ago (the disk filled since): stop the command now,
        // before it does any work, rather than let it run undrainable.
        log.error('pid-file-not-written', { path: pidFilePath(config.pidDir, workerId), error: (err as Error).message, pid });
        sendSignal(-pid, 'SIGKILL', log);
        for (const [sig, fn] of forwarders) process.off(sig, fn);
        child.once('exit', () => resolvePromise({ code: RUN_REFUSED, signal: null }));
        return;
      }
      log.debug('pid-file-written', { path: pidFile, pid });
    } else {
      pidFile = pidFilePath(config.pidDir, workerId);
    }

    child.once('exit', (code, signal) => {
      cleanup();
      resolvePromise({ code, signal });
    });
  });
}

/** Ends this process the way the child ended: same exit code, or the same signal. */
export function exitLike(exit: ChildExit): never {
  if (exit.signal !== null) {
    // No listener is left for it, so the default action applies: we die of the same signal.
    process.kill(process.pid, exit.signal);
    // A signal whose default action is to continue (SIGCHLD, SIGWINCH…): exit as shells report it.
    process.exit(128 + (constants.signals[exit.signal] ?? 0));
  }
  process.exit(exit.code ?? 1);
}
