// When a drain ends, decided from the folded progress and the time. Pure.
//
// - completed: `count` nodes reached the target state (drained / intake-stopped).
// - timed-out at the deadline (+ REPORT_GRACE_MS, so the reports of nodes killed at the deadline
//   arrive): the shortfall and the unfinished nodes are in the status.
// - no deadline: nodes may take hours to finish their task, so the drain waits for every node
//   that accepted. It times out only when notAfter (+ grace) has passed (no node can accept any
//   more) and no accepted node is still on its way.
// - every message has a final answer but too few reached the target (some expired unread):
//   timed-out at once, nothing more can happen.

import type { DrainSpecWithId } from './drain-plan.js';
import { allMessagesSettled, countNodes, unfinishedNodes, type DrainProgress } from './drain-progress.js';

export const REPORT_GRACE_MS = 60_000;

export type Verdict =
  | { end: 'completed' | 'timed-out'; outcome: string }
  | { end: false; /** When to look again without news; undefined = only news can end it. */ wakeAt?: string };

export function judge(spec: DrainSpecWithId, progress: DrainProgress, now: Date): Verdict {
  const counts = countNodes(progress);
  if (counts.done >= spec.count) return { end: 'completed', outcome: `${counts.done} of ${spec.count} nodes reached the target state` };
  const shortfall = `${counts.shortfall} of ${spec.count} nodes did not reach the target state`;
  if (allMessagesSettled(progress)) return { end: 'timed-out', outcome: `every message has a final answer; ${shortfall} (${counts.expired} expired unread)` };
  const nowMs = now.getTime();
  if (spec.deadline !== undefined) {
    const endMs = Date.parse(spec.deadline) + REPORT_GRACE_MS;
    if (nowMs >= endMs) return { end: 'timed-out', outcome: `deadline ${spec.deadline} passed; ${shortfall}` };
    return { end: false, wakeAt: new Date(endMs).toISOString() };
  }
  const endMs = Date.parse(spec.notAfter) + REPORT_GRACE_MS;
  if (nowMs < endMs) return { end: false, wakeAt: new Date(endMs).toISOString() };
  if (unfinishedNodes(progress).length > 0) return { end: false };
  return { end: 'timed-out', outcome: `notAfter ${spec.notAfter} passed and no node is still draining; ${shortfall}` };
}
