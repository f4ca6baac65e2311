// Drain progress: agent reports folded into per-node state. Pure and deterministic, so the
// orchestration can replay it and the API can show it.
//
// Reports arrive at least once and in any order. Each node's state only moves forward
// (a report ranked at or below the node's current state is a duplicate or stale), which
// deduplicates by (messageId, state) without keeping a set of everything seen.
//
// Reports are untrusted (any node identity can send one): a report is folded only into the
// drain it names, only when it is about one of that drain's messages on its topic, and what one
// drain keeps is bounded (nodes, workers per node, anomalies), so no sender can grow it at will.

import { drainMessageNumber, reportSteps, type AgentReport, type ReportState, type WorkerReport } from '@workforce/worker-agent/contract';
import type { DrainMode } from './drain-request.js';

/** Nodes a drain keeps beyond its count: room for messages rejected by one node and taken by another. */
export const NODE_MARGIN = 10;
/** Workers kept per node; more are counted in an anomaly, not kept. */
export const MAX_WORKERS_PER_NODE = 256;
/** Anomalies kept per drain; the last one says that more were dropped. */
export const MAX_ANOMALIES = 20;

/** A node's place in a drain, as operators read it. */
export type NodeState = 'accepted' | 'intake-stopped' | 'draining' | 'drained' | 'expired' | 'rejected' | 'resumed' | 'refused';

// `resumed` (an operator undid the intake stop on the node itself) ends the node's part in
// the drain without reaching its target, like a rejection; in a drain of mode `resume` it is the
// target. `refused` (a command the addressed node cannot act on: already draining, drained) is
// that node's final answer: no other node can take a command.
const RANK: Record<NodeState, number> = {
  accepted: 1, 'intake-stopped': 2, draining: 3, drained: 4, expired: 4, rejected: 4, resumed: 4, refused: 4,
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
  /** Workers the node SIGKILLed at the deadline (their tasks may be lost). */
  killed?: number;
  /** Workers the node reported, with exit details once they exited. */
  workers: Array<WorkerReport & { exited: boolean }>;
  reason?: string;
}

export type DrainStatus = 'running' | 'completed' | 'timed-out' | 'cancelled' | 'failed';

export interface DrainProgress {
  drainId: string;
  topic: string;
  mode: DrainMode;
  requested: number;
  status: DrainStatus;
  nodes: Record<string, NodeProgress>;
  /** Reports that break "one message acts on one node" (kept so they are seen, never hidden). */
  anomalies: string[];
  finishedAt?: string;
}

export function targetState(mode: DrainMode): NodeState {
  return mode === 'graceful-downscale' ? 'drained' : mode === 'resume' ? 'resumed' : 'intake-stopped';
}

export function newProgress(drainId: string, topic: string, mode: DrainMode, requested: number): DrainProgress {
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
    case 'refused':
      return report;
  }
}

/** Records an anomaly once, keeping at most MAX_ANOMALIES. */
function note(progress: DrainProgress, text: string): void {
  if (progress.anomalies.includes(text) || progress.anomalies.length >= MAX_ANOMALIES) return;
  progress.anomalies.push(progress.anomalies.length === MAX_ANOMALIES - 1 ? `more than ${MAX_ANOMALIES - 1} anomalies; the rest were not kept` : text);
}

// Node ids are report data: read and write own properties only (a node called `__proto__` is a node).
function nodeOf(progress: DrainProgress, nodeId: string): NodeProgress | undefined {
  return Object.hasOwn(progress.nodes, nodeId) ? progress.nodes[nodeId] : undefined;
}

function setNode(progress: DrainProgress, node: NodeProgress): void {
  const previous = nodeOf(progress, node.nodeId);
  const index = indexOf(progress);
  Object.defineProperty(progress.nodes, node.nodeId, { value: node, enumerable: true, writable: true, configurable: true });
  if (previous === node) return;
  if (previous) index.holders.get(previous.messageId)?.delete(previous.nodeId);
  else index.size++;
  holdersOf(index, node.messageId).add(node.nodeId);
}

// How many nodes there are and which nodes reported each message, so a report is checked without
// a walk over every node (a 10,000-node drain folds its reports in batches of hundreds). Derived
// from `nodes` on first use, never stored: continue-as-new carries `nodes` only.
interface NodeIndex {
  size: number;
  holders: Map<string, Set<string>>;
}
const nodeIndex = new WeakMap<DrainProgress, NodeIndex>();

function indexOf(progress: DrainProgress): NodeIndex {
  let index = nodeIndex.get(progress);
  if (!index) {
    index = { size: 0, holders: new Map() };
    for (const n of Object.values(progress.nodes)) {
      holdersOf(index, n.messageId).add(n.nodeId);
      index.size++;
    }
    nodeIndex.set(progress, index);
  }
  return index;
}

function holdersOf(index: NodeIndex, messageId: string): Set<string> {
  let set = index.holders.get(messageId);
  if (!set) index.holders.set(messageId, (set = new Set()));
  return set;
}

/**
 * Why a report is not this drain's to fold (another drain, not one of its messages, another topic,
 * or, in a targeted drain, a node other than the one `<drainId>/<n>` was addressed to); undefined
 * when it is. `targets` is a targeted drain's `nodes` (Service Bus compares session ids, and the
 * agent node ids, case-insensitively).
 */
export function foreignReport(progress: DrainProgress, report: AgentReport, targets?: readonly string[]): string | undefined {
  if (report.drainId !== progress.drainId) return `it names drain ${report.drainId ?? '(none)'}, not ${progress.drainId}`;
  const n = drainMessageNumber(progress.drainId, report.messageId);
  if (n === undefined || n > progress.requested) return `${report.messageId} is not one of the drain's ${progress.requested} message(s)`;
  const addressed = targets?.[n - 1];
  if (addressed !== undefined && addressed.toLowerCase() !== report.nodeId.toLowerCase()) {
    return `node ${report.nodeId} reported ${report.messageId}, which was addressed to node ${addressed}`;
  }
  // Service Bus entity names are case-insensitive: an agent may spell its topic differently.
  if (report.topic.toLowerCase() !== progress.topic.toLowerCase()) return `topic ${report.topic} is not the drain's topic ${progress.topic}`;
  return undefined;
}

function mergeWorkers(progress: DrainProgress, node: NodeProgress, report: AgentReport): boolean {
  let changed = false;
  for (const worker of report.workers) {
    const known = node.workers.find((w) => w.pid === worker.pid && w.workerId === worker.workerId);
    const exited = report.state === 'worker-exited' || report.state === 'drained';
    if (!known) {
      if (node.workers.length >= MAX_WORKERS_PER_NODE) {
        note(progress, `node ${node.nodeId} reported more than ${MAX_WORKERS_PER_NODE} workers; the rest were not kept`);
        continue;
      }
      node.workers.push({ ...worker, exited });
      changed = true;
    } else if (exited && !known.exited) {
      Object.assign(known, worker, { exited: true });
      changed = true;
    }
  }
  return changed;
}

/** Folds one report in. Returns false when it changed nothing (duplicate, stale, foreign or over a bound). */
export function applyReport(progress: DrainProgress, report: AgentReport, targets?: readonly string[]): boolean {
  if (foreignReport(progress, report, targets) !== undefined) return false;
  const state = nodeStateOf(report.state);
  if (state === undefined) return false;
  const existing = nodeOf(progress, report.nodeId);
  if (!existing && indexOf(progress).size >= progress.requested + NODE_MARGIN) {
    note(progress, `more than ${progress.requested + NODE_MARGIN} nodes reported; reports of further nodes were not kept`);
    return false;
  }

  const gaveUp = (n: NodeProgress) => n.state === 'expired' || n.state === 'rejected' || n.state === 'refused';
  if (existing && existing.messageId !== report.messageId && !gaveUp(existing)) {
    note(progress, `node ${report.nodeId} reported ${report.state} for ${report.messageId} after acting on ${existing.messageId}`);
    return false;
  }
  let owner: NodeProgress | undefined;
  for (const id of holdersOf(indexOf(progress), report.messageId)) {
    const n = nodeOf(progress, id);
    if (n && id !== report.nodeId && n.messageId === report.messageId && !gaveUp(n)) {
      owner = n;
      break;
    }
  }
  if (owner && state !== 'expired' && state !== 'rejected' && state !== 'refused') {
    note(progress, `message ${report.messageId} acted on ${owner.nodeId} and ${report.nodeId}`);
  }

  const fresh = !existing || existing.messageId !== report.messageId;
  const node: NodeProgress = !fresh && existing ? existing : {
    nodeId: report.nodeId, messageId: report.messageId, state, since: report.at, escalated: false, workers: [],
  };
  setNode(progress, node);
  let changed = fresh;
  if (report.state === 'accepted' && node.acceptedAt === undefined) node.acceptedAt = report.at;
  if (report.state === 'escalated' && (!node.escalated || report.workers.length > (node.killed ?? 0))) {
    node.escalated = true;
    node.killed = Math.max(node.killed ?? 0, Math.min(report.workers.length, MAX_WORKERS_PER_NODE));
    changed = true;
  }
  if (RANK[state] > RANK[node.state]) {
    node.state = state;
    node.since = report.at;
    changed = true;
  }
  if (report.reason !== undefined && node.reason === undefined && (state === 'expired' || state === 'rejected' || state === 'refused' || state === 'resumed')) {
    node.reason = report.reason;
  }
  return mergeWorkers(progress, node, report) || changed;
}

/**
 * Folds a batch of reports in order, each coalesced report as its states one by one. Returns how
 * many single states were folded (changed or not), for the status figures.
 */
export function applyReports(progress: DrainProgress, reports: readonly AgentReport[], targets?: readonly string[]): number {
  let states = 0;
  for (const report of reports) {
    for (const step of reportSteps(report)) {
      applyReport(progress, step, targets);
      states++;
    }
  }
  return states;
}

export interface DrainCounts {
  requested: number;
  accepted: number;
  intakeStopped: number;
  draining: number;
  drained: number;
  /** Nodes that reached the deadline and SIGKILLed what was left. */
  escalated: number;
  /** Workers SIGKILLed at the deadline, over all nodes. */
  killed: number;
  expired: number;
  rejected: number;
  /** Addressed nodes that refused their command (final: no other node can take it). */
  refused: number;
  /** Nodes at the drain's target state. */
  done: number;
  /** How many more nodes must reach the target state. */
  shortfall: number;
  /** Messages no node holds (see untakenMessages). */
  untaken: number;
}

export function countNodes(progress: DrainProgress): DrainCounts {
  const nodes = Object.values(progress.nodes);
  const inState = (s: NodeState) => nodes.filter((n) => n.state === s).length;
  const target = targetState(progress.mode);
  const done = nodes.filter((n) => n.state === target || (target === 'intake-stopped' && n.state === 'drained')).length;
  return {
    requested: progress.requested,
    accepted: nodes.filter((n) => RANK[n.state] < 4 || n.state === 'drained' || n.state === target).length,
    intakeStopped: inState('intake-stopped'),
    draining: inState('draining'),
    drained: inState('drained'),
    escalated: nodes.filter((n) => n.escalated).length,
    killed: nodes.reduce((sum, n) => sum + (n.killed ?? 0), 0),
    expired: inState('expired'),
    rejected: inState('rejected'),
    refused: inState('refused'),
    done,
    shortfall: Math.max(0, progress.requested - done),
    untaken: untakenMessages(progress),
  };
}

/**
 * Published messages no node holds: never taken, or rejected by every node that took them (a
 * rejection puts the message back on the subscription for another node). They expire with their
 * TTL (notAfter + EXPIRY_MARGIN_MS); no report ever says so, hence this count.
 */
export function untakenMessages(progress: DrainProgress): number {
  const held = new Set(Object.values(progress.nodes).filter((n) => n.state !== 'rejected').map((n) => n.messageId));
  return Math.max(0, progress.requested - held.size);
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
      .filter((n) => n.state === target || n.state === 'drained' || n.state === 'expired' || n.state === 'refused')
      .map((n) => n.messageId),
  );
  return settled.size >= progress.requested;
}

/** Nodes that took the drain but have not reached its target state, oldest first. */
export function unfinishedNodes(progress: DrainProgress): NodeProgress[] {
  const target = targetState(progress.mode);
  return Object.values(progress.nodes)
    .filter((n) => n.state !== target && n.state !== 'drained' && n.state !== 'expired' && n.state !== 'rejected' && n.state !== 'refused')
    .sort((a, b) => (a.since < b.since ? -1 : a.since > b.since ? 1 : 0)); // ISO-8601 instants: text order is time order
}
