// The agent's side of an intake stop: it raises its own flag (never a path from a PID file), and
// `workforce-agent resume` or a `resume` command takes it down again and returns the node to `active`.

import { removeIntakeFlag, writeIntakeFlag } from '../common/intake-flag.js';
import type { Logger } from '../common/log.js';
import { type ActedMessage, type NodeState, transition } from './node-state.js';
import { subjectOfActed } from './report-subject.js';
import { makeReport } from './reports.js';

/** Raises the agent's flag (`flag`, from the configuration) for `acted`; a failure is logged. */
export function raiseIntakeFlag(acted: ActedMessage, flag: string, now: Date, log: Logger): void {
  logIgnoredFlags(acted, flag, log);
  try {
    writeIntakeFlag(flag, {
      messageId: acted.messageId,
      ...(acted.message.drainId !== undefined ? { drainId: acted.message.drainId } : {}),
      ...(acted.message.reason !== undefined ? { reason: acted.message.reason } : {}),
      at: now.toISOString(),
    });
  } catch (err) {
    log.error('intake-flag-not-written', { path: flag, error: (err as Error).message });
  }
}

/**
 * Undoes an intake stop in `state`: removes the agent's flag (`flag`, from the configuration),
 * back to `active`, and a `resumed` report about the intake stop's message in the outbox. The
 * caller persists. False if the node is not intake-stopped.
 */
export function resumeIntake(state: NodeState, flag: string, now: Date, log: Logger, reason = 'intake resumed locally'): boolean {
  const acted = state.intake;
  if (state.state !== 'intake-stopped' || !acted) return false;
  logIgnoredFlags(acted, flag, log);
  try {
    removeIntakeFlag(flag);
  } catch (err) {
    log.error('intake-flag-not-removed', { path: flag, error: (err as Error).message });
  }
  transition(state, 'active', now);
  delete state.intake;
  state.outbox.push({ queue: acted.replyTo, report: makeReport(state, subjectOfActed(acted), 'resumed', [], now, reason) });
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
