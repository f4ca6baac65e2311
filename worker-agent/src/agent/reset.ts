// `workforce-agent reset` (and a `resume` command on a drained node): re-arms a drained node
// (drained → active) so that it takes control messages again. A drained node's workers are gone; one that still lives means the node is not
// done, so the reset is refused with its name. Like `resume`, a running agent does it itself
// (request file + SIGHUP), so that one process owns the state.

import type { LocalConfig } from '../commands/config.js';
import { removeIntakeFlag } from '../common/intake-flag.js';
import type { Logger } from '../common/log.js';
import { isLive, readProcStat } from '../common/proc.js';
import { scanWorkers } from '../pid-files/registry.js';
import { type NodeState, transition } from './node-state.js';

export const RESET_REQUEST = 'reset.request';
export const RESET_HINT = 'workforce-agent reset';

/** Why the node cannot be reset now; undefined when it can. */
export function resetRefusal(state: NodeState | undefined, config: Pick<LocalConfig, 'pidDir' | 'topic' | 'legacySignals'>): string | undefined {
  if (!state || state.state !== 'drained') return `nothing to reset: the node is ${state?.state ?? 'active'}; reset re-arms a drained node only`;
  if (state.pending) return `message ${state.pending.messageId} is being handled`;
  const registered = scanWorkers(config.pidDir, { topic: config.topic, legacyConvention: config.legacySignals }).mine;
  const alive = registered.find((w) => w.verification.status === 'verified');
  if (alive) return `worker ${alive.workerId} (pid ${alive.pid}, PID file in ${config.pidDir}) is still alive: stop it, or let it finish, first`;
  const signalled = state.drain?.workers.find((w) => {
    const stat = readProcStat(w.pid);
    return isLive(stat) && stat.startTime === w.startTime;
  });
  if (signalled) return `worker ${signalled.workerId} (pid ${signalled.pid}), signalled by the drain, is still alive: stop it first`;
  return undefined;
}

/** drained → active: the drain (and an intake stop before it) forgotten, the intake flag down. The caller persists. */
export function resetDrained(state: NodeState, intakeFlag: string, now: Date, log: Logger): void {
  const drain = state.drain;
  // A drain raises the flag too (drain.ts), intake stop or not: a re-armed node takes tasks again.
  try {
    removeIntakeFlag(intakeFlag);
  } catch (err) {
    log.error('intake-flag-not-removed', { path: intakeFlag, error: (err as Error).message });
  }
  transition(state, 'active', now);
  delete state.drain;
  delete state.intake;
  log.info('node-reset', { nodeState: state.state, drainedBy: drain?.messageId, drainId: drain?.message.drainId });
}
