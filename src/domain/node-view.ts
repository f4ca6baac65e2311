// The fleet inventory's read side (docs/DESIGN.md "Fleet inventory"): a stored node row as the API
// shows it, whether it is stale (computed at read time, never written by a timer), counts by
// standing per topic, and the query of GET /api/topics/{topic}/nodes.

import { MAX_PRESENCE_WORKERS, type PresenceState, type PresenceWorker } from '@workforce/worker-agent/contract';
import { NODE_STATES, type NodeState, type PresenceColumns } from './node-inventory.js';
import { invalidField, ok, type Result } from './problem.js';

/** The interval assumed for a node whose agent does not say its own. */
export const DEFAULT_HEARTBEAT_SECONDS = 30;
/** A node is stale once its last report is older than this many of its heartbeat intervals. */
export const STALE_AFTER_HEARTBEATS = 3;
export const NODE_PAGE_DEFAULT = 500;
export const NODE_PAGE_MAX = 1000;
const MAX_TOKEN = 4096;

/** Where a node stands: offline (said so) before stale (silent too long) before its last state. */
export const STANDINGS = [...NODE_STATES, 'stale', 'offline'] as const;
export type Standing = (typeof STANDINGS)[number];

/** A node row as the table holds it (columns a batch never wrote are absent). */
export interface NodeRow extends PresenceColumns {
  nodeId: string;
  topic: string;
  lastSeen: string;
  lastReportAt?: string;
  state?: string;
  since?: string;
  drain?: string;
  presence?: string;
}

export interface NodeView {
  nodeId: string;
  state: NodeState;
  since: string;
  lastSeen: string;
  stale: boolean;
  /** Absent for a node known only from drain reports (an agent from before presence). */
  presence?: PresenceState;
  workers: PresenceWorker[];
  workerCount: number;
  drain?: { drainId?: string; messageId: string };
  agentVersion?: string;
  hostName?: string;
  startedAt?: string;
  heartbeatSeconds: number;
}

export type NodeCounts = Record<Standing, number> & { total: number };

export function isStale(row: Pick<NodeRow, 'lastSeen' | 'heartbeatSeconds' | 'presence'>, now: Date): boolean {
  if (row.presence === 'offline') return false;
  const interval = row.heartbeatSeconds ?? DEFAULT_HEARTBEAT_SECONDS;
  return now.getTime() - Date.parse(row.lastSeen) > STALE_AFTER_HEARTBEATS * interval * 1000;
}

export function standing(row: NodeRow, now: Date): Standing {
  if (row.presence === 'offline') return 'offline';
  if (isStale(row, now)) return 'stale';
  return nodeState(row.state);
}

function nodeState(value: unknown): NodeState {
  return (NODE_STATES as readonly unknown[]).includes(value) ? (value as NodeState) : 'active';
}

function parseJson<T>(text: string | undefined, fallback: T): T {
  if (!text) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

export function nodeView(row: NodeRow, now: Date): NodeView {
  const workers = parseJson<PresenceWorker[]>(row.workers, []).slice(0, MAX_PRESENCE_WORKERS);
  const drain = parseJson<NodeView['drain'] | undefined>(row.drain, undefined);
  return {
    nodeId: row.nodeId,
    state: nodeState(row.state),
    since: row.since ?? row.lastSeen,
    lastSeen: row.lastSeen,
    stale: isStale(row, now),
    ...(row.presence && { presence: row.presence as PresenceState }),
    workers,
    workerCount: row.workerCount ?? workers.length,
    ...(drain && { drain }),
    ...(row.agentVersion !== undefined && { agentVersion: row.agentVersion }),
    ...(row.hostName !== undefined && { hostName: row.hostName }),
    ...(row.startedAt !== undefined && { startedAt: row.startedAt }),
    heartbeatSeconds: row.heartbeatSeconds ?? DEFAULT_HEARTBEAT_SECONDS,
  };
}

export function emptyCounts(): NodeCounts {
  return { active: 0, 'intake-stopped': 0, draining: 0, drained: 0, stale: 0, offline: 0, total: 0 };
}

export function addToCounts(counts: NodeCounts, row: NodeRow, now: Date): NodeCounts {
  counts[standing(row, now)] += 1;
  counts.total += 1;
  return counts;
}

export interface NodeQuery {
  standing?: Standing;
  limit: number;
  continuationToken?: string;
}

/** The query string of GET /api/topics/{topic}/nodes; a bad parameter is named. */
export function parseNodeQuery(params: { get(name: string): string | null }): Result<NodeQuery> {
  const state = params.get('state');
  const limit = params.get('limit');
  const token = params.get('continuationToken');
  const query: NodeQuery = { limit: NODE_PAGE_DEFAULT };
  if (state !== null) {
    if (!(STANDINGS as readonly string[]).includes(state)) return invalidField('state', `state must be one of ${STANDINGS.join(', ')}`);
    query.standing = state as Standing;
  }
  if (limit !== null) {
    const n = /^\d{1,4}$/.test(limit) ? Number(limit) : NaN;
    if (!(n >= 1 && n <= NODE_PAGE_MAX)) return invalidField('limit', `limit must be a whole number from 1 to ${NODE_PAGE_MAX}`);
    query.limit = n;
  }
  if (token !== null) {
    if (!isContinuationToken(token)) return invalidField('continuationToken', 'continuationToken is not one this API gave out (pass the last page\'s continuationToken as it is)');
    query.continuationToken = token;
  }
  return ok(query);
}

/** A Table Storage continuation as @azure/data-tables gives it out: base64 of `{ nextPartitionKey, nextRowKey? }`. */
export function isContinuationToken(token: string): boolean {
  if (token.length === 0 || token.length > MAX_TOKEN || !/^[A-Za-z0-9+/]+={0,2}$/.test(token)) return false;
  try {
    const value = JSON.parse(atob(token)) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
    const { nextPartitionKey, nextRowKey, ...rest } = value as Record<string, unknown>;
    return typeof nextPartitionKey === 'string' && nextPartitionKey !== '' && (nextRowKey === undefined || typeof nextRowKey === 'string') && Object.keys(rest).length === 0;
  } catch {
    return false;
  }
}
