// When a drain ends, decided from the folded progress and the time. Pure.
//
// - completed: `count` nodes reached the target state (drained / intake-stopped). When workers
//   were SIGKILLed at the deadline the outcome says how many: their tasks may be lost. A node
//   that drained after the deadline was escalated, but its `escalated` report may be folded after
//   its `drained` one (the trigger takes reports concurrently): completion waits for it, until the
//   deadline + REPORT_GRACE_MS at most.
// - every message has a final answer but too few reached the target (some expired unread):
//   timed-out at once, nothing more can happen.
// - untaken messages expire at notAfter + EXPIRY_MARGIN_MS (their TTL). At notAfter +
//   REPORT_GRACE_MS (so the reports of nodes that took one at the last moment arrive) no node can
//   take a message any more: the drain times out then unless a node that took one is still on
//   its way, deadline or not, with the shortfall and how many messages expired untaken.
// - with a deadline, a node still on its way is waited for until the deadline (+ REPORT_GRACE_MS,
//   so the reports of nodes killed at the deadline arrive); without one, for as long as it takes
//   (a task may take hours).

import type { DrainSpecWithId } from './drain-plan.js';
import { allMessagesSettled, countNodes, unfinishedNodes, type DrainCounts, type DrainProgress, type NodeState } from './drain-progress.js';
import { listIds } from './drain-targets.js';

export const REPORT_GRACE_MS = 60_000;

export type Verdict =
  | { end: 'completed' | 'timed-out'; outcome: string }
  | { end: false; /** When to look again without news; undefined = only news can end it. */ wakeAt?: string };

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** "; 2 workers on 1 node were SIGKILLed at the deadline (their tasks may be lost)", or nothing. */
function killedNote(counts: DrainCounts): string {
  if (counts.escalated === 0) return '';
  return `; ${plural(counts.killed, 'worker', 'workers')} on ${plural(counts.escalated, 'node', 'nodes')} ${counts.killed === 1 ? 'was' : 'were'} SIGKILLed at the deadline (their tasks may be lost)`;
}

/**
 * A targeted drain's final answers short of the target, by node: "; refused by "a"; expired on "b";
 * never answered: "c"" (a node that never answered was offline, or its command expired unread).
 */
function answersNote(spec: DrainSpecWithId, progress: DrainProgress): string {
  if (spec.nodes === undefined) return '';
  const nodes = Object.values(progress.nodes);
  const inState = (state: NodeState) => nodes.filter((n) => n.state === state).map((n) => n.nodeId);
  const answered = new Set(nodes.map((n) => n.messageId));
  const silent = spec.nodes.filter((_, i) => !answered.has(`${spec.drainId}/${i + 1}`));
  const parts = [
    ['refused by', inState('refused')],
    ['expired on', inState('expired')],
    ['never answered', silent],
  ] as const;
  return parts.filter(([, ids]) => ids.length > 0).map(([what, ids]) => `; ${what}: ${listIds(ids)}`).join('');
}

/** A node reached the target after the deadline, so it was escalated, and that report is not folded yet. */
function escalationInFlight(spec: DrainSpecWithId, progress: DrainProgress): boolean {
  if (spec.deadline === undefined) return false;
  const deadlineMs = Date.parse(spec.deadline);
  return Object.values(progress.nodes).some((n) => n.state === 'drained' && !n.escalated && Date.parse(n.since) >= deadlineMs);
}

export function judge(spec: DrainSpecWithId, progress: DrainProgress, now: Date): Verdict {
  const counts = countNodes(progress);
  const killed = killedNote(counts);
  const nowMs = now.getTime();
  const deadlineEnd = spec.deadline !== undefined ? Date.parse(spec.deadline) + REPORT_GRACE_MS : undefined;
  if (counts.done >= spec.count && deadlineEnd !== undefined && nowMs < deadlineEnd && escalationInFlight(spec, progress)) {
    return { end: false, wakeAt: new Date(deadlineEnd).toISOString() };
  }
  if (counts.done >= spec.count) return { end: 'completed', outcome: `${counts.done} of ${spec.count} nodes reached the target state${killed}` };
  const shortfall = `${counts.shortfall} of ${spec.count} nodes did not reach the target state`;
  const answers = answersNote(spec, progress);
  if (allMessagesSettled(progress)) {
    const refused = counts.refused > 0 ? `, ${counts.refused} refused` : '';
    return { end: 'timed-out', outcome: `every message has a final answer; ${shortfall} (${counts.expired} expired unread${refused})${answers}${killed}` };
  }
  if (deadlineEnd !== undefined && nowMs >= deadlineEnd) return { end: 'timed-out', outcome: `deadline ${spec.deadline} passed; ${shortfall}${answers}${killed}` };
  const expiredEnd = Date.parse(spec.notAfter) + REPORT_GRACE_MS;
  if (nowMs < expiredEnd) return { end: false, wakeAt: new Date(Math.min(expiredEnd, deadlineEnd ?? expiredEnd)).toISOString() };
  if (unfinishedNodes(progress).length === 0) {
    const untaken = counts.untaken > 0 ? `; ${plural(counts.untaken, 'message', 'messages')} expired untaken` : '';
    return { end: 'timed-out', outcome: `notAfter ${spec.notAfter} passed and no node is still draining; ${shortfall}${untaken}${answers}${killed}` };
  }
  return deadlineEnd !== undefined ? { end: false, wakeAt: new Date(deadlineEnd).toISOString() } : { end: false };
}
