// Text views of the fleet inventory: the topics with their nodes by state, and a topic's nodes.
// Node ids, host names, worker ids and versions come from agents' reports: shown printable().

import { formatDuration } from '../domain/durations.js';
import { STANDINGS, type NodeCounts } from '../domain/node-view.js';
import { printable } from './printable.js';

/** The fields of GET /api/topics the CLI reads. */
export interface TopicJson {
  name: string;
  subscriptionCount?: number;
  nodes?: NodeCounts;
  runningDrains?: Array<{ drainId: string; mode?: string; requested?: number; createdAt?: string }>;
  /** The topic's safety budget, when it has one, and its figures now. */
  policy?: { maxUnavailable: number | string };
  budget?: { online?: number; unavailable?: number; inFlight?: number; reserved?: number; allowed?: number };
  /** Scheduled runs the budget skipped, newest first. */
  skippedRuns?: Array<{ at: string; schedule: string; why?: string }>;
}

/** The fields of GET /api/topics/{topic}/nodes the CLI reads. */
export interface NodeJson {
  nodeId: string;
  state: string;
  since?: string;
  lastSeen?: string;
  stale?: boolean;
  presence?: string;
  workers?: Array<{ workerId: string; pid: number; alive?: boolean }>;
  workerCount?: number;
  drain?: { drainId?: string; messageId?: string };
  agentVersion?: string;
  hostName?: string;
}

const YELLOW = '\x1b[33m';
const RESET = '\x1b[0m';

/** Columns padded to their widest cell; `highlight(row)` colours a whole row (ANSI) on a terminal. */
function table(head: string[], rows: string[][], highlight?: (i: number) => boolean): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(head), ...rows.map((r, i) => (highlight?.(i) ? `${YELLOW}${line(r)}${RESET}` : line(r)))].join('\n') + '\n';
}

export function topicsTable(topics: TopicJson[]): string {
  if (topics.length === 0) return 'no topics: create one with `workforce topic ensure <topic>`\n';
  const head = ['TOPIC', ...STANDINGS.map((s) => s.toUpperCase()), 'TOTAL', 'BUDGET', 'RUNNING DRAINS'];
  const rows = topics.map((t) => [
    printable(t.name),
    ...STANDINGS.map((s) => (t.nodes ? String(t.nodes[s] ?? 0) : '-')),
    t.nodes ? String(t.nodes.total ?? 0) : '-',
    budgetCell(t),
    (t.runningDrains ?? []).map((d) => `${d.drainId} (${d.mode ?? '?'} x${d.requested ?? '?'})`).join(', ') || '-',
  ]);
  // The newest run each topic's budget skipped: a scheduled drain that did not happen is news.
  const skipped = topics.flatMap((t) => (t.skippedRuns?.[0] ? [`${printable(t.name)}: scheduled run ${printable(t.skippedRuns[0].schedule)} at ${printable(t.skippedRuns[0].at)} skipped by the budget${t.skippedRuns[0].why ? `: ${printable(t.skippedRuns[0].why)}` : ''}`] : []));
  return table(head, rows) + skipped.map((l) => `${l}\n`).join('');
}

/** "2/3 (max 20%)": unavailable (in-flight messages included) of allowed, or "-" without a policy. */
function budgetCell(t: TopicJson): string {
  if (!t.policy) return '-';
  return `${t.budget?.unavailable ?? '?'}/${t.budget?.allowed ?? '?'} (max ${printable(String(t.policy.maxUnavailable))})`;
}

const ago = (iso: string | undefined, now: number) => (iso ? `${formatDuration(Math.max(0, now - Date.parse(iso)))} ago` : '-');

/** What a node is now: its state, or stale / offline with the last state it reported. */
export function nodeStatus(n: NodeJson): string {
  if (n.presence === 'offline') return `offline (was ${n.state})`;
  if (n.stale) return `stale (was ${n.state})`;
  return n.state;
}

function workersCell(n: NodeJson): string {
  const listed = n.workers ?? [];
  const total = Math.max(n.workerCount ?? listed.length, listed.length);
  if (total === 0) return 'none';
  const alive = listed.filter((w) => w.alive !== false).length;
  const more = total > listed.length ? ` (+${total - listed.length} not listed)` : '';
  return `${alive}/${listed.length} alive${more}: ${listed.slice(0, 3).map((w) => `${printable(w.workerId)} (pid ${w.pid})`).join(', ')}${listed.length > 3 ? ', …' : ''}`;
}

/** Every node; stale ones in yellow when `colour` (a terminal), always marked "stale" in the text. */
export function nodesTable(topic: string, nodes: NodeJson[], now: number, colour: boolean): string {
  if (nodes.length === 0) return `no nodes on ${printable(topic)}\n`;
  const head = ['NODE', 'STATE', 'FOR', 'LAST SEEN', 'DRAIN', 'AGENT', 'HOST', 'WORKERS'];
  const rows = nodes.map((n) => [
    printable(n.nodeId),
    nodeStatus(n),
    n.since ? formatDuration(Math.max(0, now - Date.parse(n.since))) : '-',
    ago(n.lastSeen, now),
    printable(n.drain?.drainId ?? n.drain?.messageId) || '-',
    printable(n.agentVersion) || '-',
    printable(n.hostName) || '-',
    workersCell(n),
  ]);
  return table(head, rows, colour ? (i) => nodes[i]!.stale === true && nodes[i]!.presence !== 'offline' : undefined);
}
