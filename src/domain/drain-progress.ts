// Drain progress: agent reports folded into per-node state. Pure and deterministic, so the
// orchestration can replay it and the API can show it.
//
// Reports arrive at least once and in any order. Each node's state only moves forward
// (a report ranked at or below the node's current state is a duplicate or stale), which
// deduplicates by (messageId, state) without keeping a set of everything seen.

import type { AgentReport, Operation, ReportState, WorkerReport } from '@workforce/worker-agent/contract';

/** A node's place in a drain, as operators read it. */
export type NodeState = 'accepted' | 'intake-stopped' | 'draining' | 'drained' | 'expired' | 'rejected' | 'resumed';

// `resumed` (an operator undid the intake stop on the node itself) ends the node's part in
// the drain without reaching its target, like a rejection.
const RANK: Record<NodeState, number> = {
  accepted: 1, 'intake-stopped': 2, draining: 3, drained: 4, expired: 4, rejected: 4, resumed: 4,
};

export interface NodeProgress {
  nodeId: string;
  messageId: string;
  state: NodeState;
  /** When the node entered its current state (the report's `at`). */
  since: string;
  acceptedAt?: string;
  /** Deadline reached and SIGKILL sent to what was left. */
  escalated: boolean;
  /** Workers the node reported, with exit details once they exited. */
  workers: Array<WorkerReport & { exited: boolean }>;
  reason?: string;
}

export type DrainStatus = 'running' | 'completed' | 'timed-out' | 'cancelled' | 'failed';

export interface DrainProgress {
  drainId: string;
  topic: string;
  mode: Operation;
  requested: number;
  status: DrainStatus;
  nodes: Record<string, NodeProgress>;
  /** Reports that break "one message acts on one node" (kept so they are seen, never hidden). */
  anomalies: string[];
  finishedAt?: string;
}

export function targetState(mode: Operation): NodeState {
  return mode === 'graceful-downscale' ? 'drained' : 'intake-stopped';
}

export function newProgress(drainId: string, topic: string, mode: Operation, requested: number): DrainProgress {
  return { drainId, topic, mode, requested, status: 'running', nodes: {}, anomalies: [] };
}

function nodeStateOf(report: ReportState): NodeState | undefined {
  switch (report) {
    case 'signalled':
    case 'worker-exited':
    case 'escalated':
      return 'draining';
    case 'accepted':
    case 'intake-stopped':
    case 'drained':
    case 'expired':
    case 'rejected':
    case 'resumed':
      return report;
  }
}

function mergeWorkers(node: NodeProgress, report: AgentReport): boolean {
  let changed = false;
  for (const worker of report.workers) {
    const known = node.workers.find((w) => w.pid === worker.pid && w.workerId === worker.workerId);
    const exited = report.state === 'worker-exited' || report.state === 'drained';
    if (!known) {
      node.workers.push({ ...worker, exited });
      changed = true;
    } else if (exited && !known.exited) {
      Object.assign(known, worker, { exited: true });
      changed = true;
    }
  }
  return changed;
}

/** Folds one report in. Returns false when it changed nothing (duplicate, stale or foreign). */
export function applyReport(progress: DrainProgress, report: AgentReport): boolean {
  if (report.drainId !== undefined && report.drainId !== progress.drainId) return false;
  const state = nodeStateOf(report.state);
  if (state === undefined) return false;
  const existing = progress.nodes[report.nodeId];

  const gaveUp = (n: NodeProgress) => n.state === 'expired' || n.state === 'rejected';
  if (existing && existing.messageId !== report.messageId && !gaveUp(existing)) {
    const note = `node ${report.nodeId} reported ${report.state} for ${report.messageId} after acting on ${existing.messageId}`;
    if (!progress.anomalies.includes(note)) progress.anomalies.push(note);
    return false;
  }
  const owner = Object.values(progress.nodes).find(
    (n) => n.messageId === report.messageId && n.nodeId !== report.nodeId && !gaveUp(n),
  );
  if (owner && state !== 'expired' && state !== 'rejected') {
    const note = `message ${report.messageId} acted on ${owner.nodeId} and ${report.nodeId}`;
    if (!progress.anomalies.includes(note)) progress.anomalies.push(note);
  }

  const fresh = !existing || existing.messageId !== report.messageId;
  const node: NodeProgress = !fresh && existing ? existing : {
    nodeId: report.nodeId, messageId: report.messageId, state, since: report.at, escalated: false, workers: [],
  };
  progress.nodes[report.nodeId] = node;
  let changed = fresh;
  if (report.state === 'accepted' && node.acceptedAt === undefined) node.acceptedAt = report.at;
  if (report.state === 'escalated' && !node.escalated) {
    node.escalated = true;
    changed = true;
  }
  if (RANK[state] > RANK[node.state]) {
    node.state = state;
    node.since = report.at;
    changed = true;
  }
  if (report.reason !== undefined && node.reason === undefined && (state === 'expired' || state === 'rejected')) {
    node.reason = report.reason;
  }
  return mergeWorkers(node, report) || changed;
}

export interface DrainCounts {
  requested: number;
  accepted: number;
  intakeStopped: number;
  draining: number;
  drained: number;
  escalated: number;
  expired: number;
  rejected: number;
  /** Nodes at the drain's target state. */
  done: number;
  /** How many more nodes must reach the target state. */
  shortfall: number;
}

export function countNodes(progress: DrainProgress): DrainCounts {
  const nodes = Object.values(progress.nodes);
  const inState = (s: NodeState) => nodes.filter((n) => n.state === s).length;
  const target = targetState(progress.mode);
  const done = nodes.filter((n) => n.state === target || (target === 'intake-stopped' && n.state === 'drained')).length;
  return {
    requested: progress.requested,
    accepted: nodes.filter((n) => RANK[n.state] < 4 || n.state === 'drained').length,
    intakeStopped: inState('intake-stopped'),
    draining: inState('draining'),
    drained: inState('drained'),
    escalated: nodes.filter((n) => n.escalated).length,
    expired: inState('expired'),
    rejected: inState('rejected'),
    done,
    shortfall: Math.max(0, progress.requested - done),
  };
}

/**
 * Every message has a final answer (acted on to the target state, or expired unread), so
 * nothing more can happen without a new drain. A rejection is not final: the message went
 * back for another node.
 */
export function allMessagesSettled(progress: DrainProgress): boolean {
  const target = targetState(progress.mode);
  const settled = new Set(
    Object.values(progress.nodes)
      .filter((n) => n.state === target || n.state === 'drained' || n.state === 'expired')
      .map((n) => n.messageId),
  );
  return settled.size >= progress.requested;
}

/** Nodes that took the drain but have not reached its target state, oldest first. */
export function unfinishedNodes(progress: DrainProgress): NodeProgress[] {
  const target = targetState(progress.mode);
  return Object.values(progress.nodes)
    .filter((n) => n.state !== target && n.state !== 'drained' && n.state !== 'expired' && n.state !== 'rejected')
    .sort((a, b) => a.since.localeCompare(b.since));
}
