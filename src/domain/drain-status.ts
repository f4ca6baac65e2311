// What operators see of a drain: a compact, bounded summary of the folded progress. It is the
// orchestration's custom status (Azure caps custom status at 16 KB of JSON), so it lists at most
// NODE_LIMIT nodes: the unfinished ones first (oldest first, with time in state), then the rest.

import { EXPIRY_MARGIN_MS } from '@workforce/worker-agent/contract';
import type { DrainSpecWithId } from './drain-plan.js';
import { countNodes, targetState, unfinishedNodes, type DrainCounts, type DrainProgress, type DrainStatus, type NodeState } from './drain-progress.js';
import { formatDuration } from './durations.js';

export const NODE_LIMIT = 60;
const ANOMALY_LIMIT = 5;
/**
 * Azure caps a custom status at 16 KB of UTF-16 JSON text, 8,192 characters: the summary stays
 * within this many, whatever the node ids (report data, up to 1,024 characters each) hold.
 */
export const STATUS_MAX_CHARS = 7_500;

export interface NodeSummary {
  nodeId: string;
  state: NodeState;
  since: string;
  /** Time in the current state when the status was written, e.g. "12m30s". */
  inStateFor: string;
  escalated?: true;
  reason?: string;
}

/** How a drain ended, when it did. */
export interface DrainEnd {
  /** Why the drain ended. */
  outcome?: string;
  /** Messages taken back from the subscription by a cancel. */
  withdrawn?: number;
  cancelledBy?: string;
  cancelledFor?: string;
}

/** Named nodes listed in a summary at most; `counts.requested` says how many there are. */
export const TARGET_LIMIT = 60;

export interface DrainSummary extends DrainEnd {
  drainId: string;
  topic: string;
  mode: DrainSpecWithId['mode'];
  /** A targeted drain's named nodes (the request's `nodes`), at most TARGET_LIMIT; `targetsOmitted` says how many more. */
  targets?: string[];
  targetsOmitted?: number;
  /** Named nodes offline or stale when the drain was asked. */
  unreachable?: DrainSpecWithId['unreachable'];
  /** Unknown nodes or the budget were overridden with `force`, by `forcedBy`. */
  forced?: true;
  forcedBy?: string;
  status: DrainStatus;
  requestedAt: string;
  requestedBy?: string;
  requestedFor?: string;
  reason?: string;
  deadline?: string;
  notAfter: string;
  counts: DrainCounts;
  /** When the untaken messages (`counts.untaken`) expire: their TTL, notAfter + EXPIRY_MARGIN_MS. Only while some are untaken. */
  untakenExpireAt?: string;
  /** Nodes listed below, at most NODE_LIMIT; `nodesOmitted` says how many more there are. */
  nodes: NodeSummary[];
  nodesOmitted: number;
  /** Unfinished nodes, oldest first (ids only; details are in `nodes` when within the limit). */
  unfinished: string[];
  anomalies: string[];
  updatedAt: string;
  finishedAt?: string;
}

function summaryOf(node: DrainProgress['nodes'][string], nowMs: number): NodeSummary {
  return {
    nodeId: node.nodeId,
    state: node.state,
    since: node.since,
    inStateFor: formatDuration(Math.max(0, nowMs - Date.parse(node.since))),
    ...(node.escalated && { escalated: true as const }),
    ...(node.reason !== undefined && { reason: node.reason }),
  };
}

export function summarize(spec: DrainSpecWithId, progress: DrainProgress, now: Date, end: DrainEnd = {}): DrainSummary {
  const nowMs = now.getTime();
  const unfinished = unfinishedNodes(progress);
  const target = targetState(progress.mode);
  // Only the first NODE_LIMIT are listed: sort the rest only when the unfinished leave room.
  const room = NODE_LIMIT - Math.min(NODE_LIMIT, unfinished.length);
  const open = new Set(unfinished);
  const rest = room === 0 ? [] : Object.values(progress.nodes)
    .filter((n) => !open.has(n))
    .sort((a, b) => (a.state === target ? 0 : 1) - (b.state === target ? 0 : 1) || (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
  const listed = [...unfinished.slice(0, NODE_LIMIT), ...rest.slice(0, room)];
  const total = Object.keys(progress.nodes).length;
  const counts = countNodes(progress);
  return trimToStatusLimit({
    drainId: spec.drainId,
    topic: spec.topic,
    mode: spec.mode,
    ...(spec.nodes !== undefined && { targets: spec.nodes.slice(0, TARGET_LIMIT), targetsOmitted: Math.max(0, spec.nodes.length - TARGET_LIMIT) }),
    ...(spec.unreachable !== undefined && spec.unreachable.length > 0 && { unreachable: spec.unreachable.slice(0, TARGET_LIMIT) }),
    ...(spec.forced && { forced: true as const }),
    ...(spec.forcedBy !== undefined && { forcedBy: spec.forcedBy }),
    status: progress.status,
    requestedAt: spec.requestedAt,
    ...(spec.requestedBy !== undefined && { requestedBy: spec.requestedBy }),
    ...(spec.requestedFor !== undefined && { requestedFor: spec.requestedFor }),
    ...(spec.reason !== undefined && { reason: spec.reason }),
    ...(spec.deadline !== undefined && { deadline: spec.deadline }),
    notAfter: spec.notAfter,
    counts,
    ...(counts.untaken > 0 && { untakenExpireAt: new Date(Date.parse(spec.notAfter) + EXPIRY_MARGIN_MS).toISOString() }),
    nodes: listed.map((n) => summaryOf(n, nowMs)),
    nodesOmitted: total - listed.length,
    unfinished: unfinished.slice(0, NODE_LIMIT).map((n) => n.nodeId),
    anomalies: progress.anomalies.slice(0, ANOMALY_LIMIT),
    ...end,
    updatedAt: now.toISOString(),
    ...(progress.finishedAt !== undefined && { finishedAt: progress.finishedAt }),
  });
}

/** Drops unfinished ids and listed nodes (alternately, from the end), then anomalies, until the summary fits STATUS_MAX_CHARS. */
function trimToStatusLimit(summary: DrainSummary): DrainSummary {
  let size = JSON.stringify(summary).length;
  const cost = (item: unknown) => JSON.stringify(item).length + 1;
  while (size > STATUS_MAX_CHARS && (summary.nodes.length > 0 || summary.unfinished.length > 0)) {
    if (summary.unfinished.length >= summary.nodes.length) {
      size -= cost(summary.unfinished.pop());
    } else {
      size -= cost(summary.nodes.pop());
      summary.nodesOmitted++;
    }
  }
  while (size > STATUS_MAX_CHARS && summary.anomalies.length > 0) size -= cost(summary.anomalies.pop());
  // Long node ids: the named nodes and the unreachable ones go last (counts.requested stays exact).
  while (size > STATUS_MAX_CHARS && (summary.targets?.length ?? 0) > 0) {
    size -= cost(summary.targets!.pop());
    summary.targetsOmitted = (summary.targetsOmitted ?? 0) + 1;
  }
  while (size > STATUS_MAX_CHARS && (summary.unreachable?.length ?? 0) > 0) size -= cost(summary.unreachable!.pop());
  return summary;
}
