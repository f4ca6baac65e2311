// The fleet inventory's write side (docs/DESIGN.md "Fleet inventory"): a batch of agent reports,
// presence and drain reports alike, becomes one update per node. Pure: the adapter reads what is
// stored, asks `foldNode` for the update and writes it.
//
// Order: a node's reports are ordered by their own time (`sentAt` of a presence report, `at` of a
// drain report). The stored row keeps the time of the newest report folded into it
// (`lastReportAt`); a report no newer than that is dropped, so an older report (redelivered, or
// late from another instance) never overwrites a newer row. `lastSeen` is when Service Bus took
// the newest report (its enqueued time), so staleness does not rest on the agent's clock.

import type { AgentReport, PresenceReport, PresenceState, PresenceWorker, ReportState } from '@workforce/worker-agent/contract';

export const NODE_STATES = ['active', 'intake-stopped', 'draining', 'drained'] as const;
export type NodeState = (typeof NODE_STATES)[number];

/** A report dated further ahead of the time Service Bus took it is refused: it would pin the node's row. */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;
/** The workers column holds at most this many characters of JSON (a Table property holds 64 KiB). */
export const MAX_WORKERS_JSON = 30_000;
/** The longest row key, once escaped (a Table key holds 1 KiB). */
export const MAX_ROW_KEY = 512;

const TOPIC = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,258}[A-Za-z0-9])?$/;

/** A valid report with when Service Bus took it. */
export interface ReceivedReport {
  report: PresenceReport | AgentReport;
  receivedAt: Date;
}

export interface Rejection {
  /** Index of the report in the batch. */
  index: number;
  field: string;
  reason: string;
}

/** The reports of one node in a batch, oldest first. */
export interface NodeReports {
  partitionKey: string;
  rowKey: string;
  topic: string;
  nodeId: string;
  reports: ReceivedReport[];
}

/** The columns only a presence report writes, as the row holds them. */
export interface PresenceColumns {
  /** JSON of the listed workers, bounded by MAX_WORKERS_JSON. */
  workers?: string;
  workerCount?: number;
  agentVersion?: string;
  hostName?: string;
  startedAt?: string;
  heartbeatSeconds?: number;
}

/** The columns one batch writes for a node (merged into its row; absent ones are left as they are). */
export interface NodeUpdate extends PresenceColumns {
  partitionKey: string;
  rowKey: string;
  topic: string;
  nodeId: string;
  lastReportAt: string;
  lastSeen: string;
  state?: NodeState;
  since?: string;
  /** JSON of `{ drainId?, messageId }`; '' when the node acts on none. */
  drain?: string;
  /** '' for a node known only from drain reports (an agent from before presence). */
  presence?: PresenceState | '';
}

/** Entity names are case-insensitive: one partition per topic, whatever the spelling. */
export function topicPartition(topic: string): string {
  return topic.toLowerCase();
}

/** A node id as a row key: `%XX` for what a key forbids (`/ \ # ?`, control characters) and for `%`. */
export function nodeRowKey(nodeId: string): string {
  // eslint-disable-next-line no-control-regex
  return nodeId.replace(/[/\\#?%\u0000-\u001f\u007f-\u009f]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

const reportTime = (r: PresenceReport | AgentReport): string => ('kind' in r ? r.sentAt : r.at);

/** Groups a batch's valid reports by node; reports the inventory cannot take are rejected, naming the field. */
export function groupByNode(batch: readonly ReceivedReport[]): { nodes: NodeReports[]; rejected: Rejection[] } {
  const nodes = new Map<string, NodeReports>();
  const rejected: Rejection[] = [];
  batch.forEach((entry, index) => {
    const { report, receivedAt } = entry;
    if (!TOPIC.test(report.topic)) {
      rejected.push({ index, field: 'topic', reason: 'topic is not a Service Bus topic name (letters, digits, ".", "-", "_"; 1-260 characters)' });
      return;
    }
    const rowKey = nodeRowKey(report.nodeId);
    if (rowKey.length > MAX_ROW_KEY) {
      rejected.push({ index, field: 'nodeId', reason: `nodeId is longer than ${MAX_ROW_KEY} characters once escaped for the inventory` });
      return;
    }
    if (Date.parse(reportTime(report)) > receivedAt.getTime() + MAX_CLOCK_SKEW_MS) {
      const field = 'kind' in report ? 'sentAt' : 'at';
      rejected.push({ index, field, reason: `${field} is more than ${MAX_CLOCK_SKEW_MS / 60_000} minutes after Service Bus took the report` });
      return;
    }
    const partitionKey = topicPartition(report.topic);
    const key = `${partitionKey}\u0000${rowKey}`;
    let node = nodes.get(key);
    if (!node) nodes.set(key, (node = { partitionKey, rowKey, topic: report.topic, nodeId: report.nodeId, reports: [] }));
    node.reports.push(entry);
  });
  for (const node of nodes.values()) node.reports.sort((a, b) => Date.parse(reportTime(a.report)) - Date.parse(reportTime(b.report)));
  return { nodes: [...nodes.values()], rejected };
}

/** The node state a drain report moves a node to; undefined: it leaves the state as it is. */
const DRAIN_REPORT_STATE: Partial<Record<ReportState, NodeState>> = {
  'intake-stopped': 'intake-stopped',
  signalled: 'draining',
  'worker-exited': 'draining',
  drained: 'drained',
  escalated: 'drained',
  resumed: 'active',
};
/** Drain reports that mark the start of their state (the others come while the node is in it). */
const ENTERS_STATE: ReadonlySet<ReportState> = new Set(['intake-stopped', 'signalled', 'drained', 'resumed']);

/**
 * The update of one node from its reports (oldest first), leaving out those no newer than the
 * stored row's `lastReportAt`; undefined when nothing is newer. `stored` is undefined when the
 * node has no row yet: a new row gets every column the read side filters on (`state`, `since`,
 * `presence`, '' when only drain reports are known).
 */
export function foldNode(node: NodeReports, stored: { lastReportAt?: string } | undefined): NodeUpdate | undefined {
  const storedReportAt = stored?.lastReportAt;
  const after = storedReportAt === undefined ? -Infinity : Date.parse(storedReportAt);
  const fresh = node.reports.filter((r) => Date.parse(reportTime(r.report)) > after);
  if (fresh.length === 0) return undefined;
  const update: NodeUpdate = { partitionKey: node.partitionKey, rowKey: node.rowKey, topic: node.topic, nodeId: node.nodeId, lastReportAt: '', lastSeen: '' };
  let lastSeen = -Infinity;
  for (const { report, receivedAt } of fresh) {
    update.lastReportAt = new Date(reportTime(report)).toISOString();
    lastSeen = Math.max(lastSeen, receivedAt.getTime());
    if ('kind' in report) applyPresence(update, report);
    else applyDrainReport(update, report, stored === undefined && update.state === undefined);
  }
  update.lastSeen = new Date(lastSeen).toISOString();
  if (stored === undefined) {
    update.state ??= 'active';
    update.since ??= update.lastReportAt;
    update.presence ??= '';
  }
  return update;
}

function applyPresence(update: NodeUpdate, p: PresenceReport): void {
  update.presence = p.presence;
  update.state = p.nodeState;
  update.since = p.since;
  update.drain = p.drain ? JSON.stringify(p.drain) : '';
  update.workers = workersJson(p.workers);
  update.workerCount = p.workerCount;
  update.agentVersion = p.agentVersion;
  update.hostName = p.hostName;
  update.startedAt = p.startedAt;
  if (p.heartbeatSeconds !== undefined) update.heartbeatSeconds = p.heartbeatSeconds;
}

function applyDrainReport(update: NodeUpdate, r: AgentReport, firstOfNewRow: boolean): void {
  const state = DRAIN_REPORT_STATE[r.state];
  if (r.state === 'resumed') update.drain = '';
  else if (r.state !== 'expired' && r.state !== 'rejected' && r.state !== 'refused') update.drain = JSON.stringify(r.drainId === undefined ? { messageId: r.messageId } : { drainId: r.drainId, messageId: r.messageId });
  if (state === undefined) return;
  if (ENTERS_STATE.has(r.state) || firstOfNewRow || (update.state !== undefined && update.state !== state)) update.since = r.at;
  update.state = state;
}

/** The listed workers as JSON, cut to whole entries within MAX_WORKERS_JSON (workerCount still counts all). */
export function workersJson(workers: readonly PresenceWorker[]): string {
  let kept = workers.length;
  let json = JSON.stringify(workers);
  while (json.length > MAX_WORKERS_JSON && kept > 0) {
    kept = Math.floor(kept / 2);
    json = JSON.stringify(workers.slice(0, kept));
  }
  return json;
}
