// The change a `resume` command commits (drain.ts, step 3): an intake-stopped node takes its
// flag down and goes back to `active` (as `workforce-agent resume`), a drained node is re-armed
// (as `workforce-agent reset`, whose checks command-rules.ts made before the commit). The
// workers' resume signals are sent by the caller, like any other signal.

import type { Logger } from '../common/log.js';
import { resumeIntake } from './intake-stop.js';
import type { ActedMessage, NodeState } from './node-state.js';
import { resetDrained } from './reset.js';

/** Applies a resume to `state`; returns the reason its `resumed` report gives. The caller persists. */
export function applyResume(state: NodeState, acted: ActedMessage, intakeFlag: string, now: Date, log: Logger): string {
  state.resumed = acted;
  if (state.state === 'intake-stopped') {
    resumeIntake(state, intakeFlag, now, log, `intake resumed by command ${acted.messageId}`);
    return 'intake resumed';
  }
  if (state.state === 'drained') {
    resetDrained(state, intakeFlag, now, log);
    return 're-armed';
  }
  // Decided before the commit; nothing else changes the state of a node with a message pending.
  return 'already active';
}
