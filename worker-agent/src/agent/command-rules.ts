// What a node does with a per-node command in each state (DESIGN "Per-node commands"). A
// command is addressed to this node, so "another node will take it" (the control message's
// abandon) does not apply: a command this node cannot act on gets a final answer instead, a
// report and a completed message. `refused` is never abandoned: that would only bring the
// command back to the same node.
//
//   operation                active         intake-stopped          draining   drained
//   graceful-downscale       act            act                     refused    refused
//   do-not-accept-new-tasks  act            intake-stopped (noop)   refused    refused
//   resume                   resumed (noop) act                     refused    act (re-arm) or refused

import type { LocalConfig } from '../commands/config.js';
import type { CommandMessage } from '../contract/command.js';
import type { ReportState } from '../contract/report.js';
import type { NodeState } from './node-state.js';
import { resetRefusal } from './reset.js';

export type CommandDecision =
  /** The five steps (drain.ts); the commit makes the change. */
  | { kind: 'act' }
  /** No change: this report, and the command is completed. */
  | { kind: 'answer'; state: Extract<ReportState, 'refused' | 'intake-stopped' | 'resumed'>; reason: string };

export function decideCommand(state: NodeState, command: CommandMessage, config: Pick<LocalConfig, 'pidDir' | 'topic' | 'legacySignals'>): CommandDecision {
  const node = state.state;
  if (node === 'draining') {
    const reason = command.operation === 'graceful-downscale' ? `already draining for ${drainOf(state)}` : `draining for ${drainOf(state)}: a drain cannot be undone`;
    return refused(reason);
  }
  switch (command.operation) {
    case 'graceful-downscale':
      return node === 'drained' ? refused('drained: resume it first') : { kind: 'act' };
    case 'do-not-accept-new-tasks':
      if (node === 'drained') return refused('drained: resume it first');
      if (node === 'intake-stopped') return { kind: 'answer', state: 'intake-stopped', reason: `already intake-stopped by ${stoppedBy(state)}` };
      return { kind: 'act' };
    case 'resume': {
      if (node === 'active') return { kind: 'answer', state: 'resumed', reason: 'already active' };
      if (node === 'intake-stopped') return { kind: 'act' };
      // Drained: re-armed only when `workforce-agent reset` would be allowed.
      const refusal = resetRefusal(state, config);
      return refusal === undefined ? { kind: 'act' } : refused(refusal);
    }
  }
}

function refused(reason: string): CommandDecision {
  return { kind: 'answer', state: 'refused', reason };
}

function drainOf(state: NodeState): string {
  const drain = state.drain;
  if (drain === undefined) return 'a drain';
  return drain.message.drainId !== undefined ? `drain ${drain.message.drainId}` : `message ${drain.messageId}`;
}

function stoppedBy(state: NodeState): string {
  const intake = state.intake;
  if (intake === undefined) return 'an earlier message';
  return intake.message.drainId ?? intake.messageId;
}
