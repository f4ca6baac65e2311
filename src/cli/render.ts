// Text views of drains: one summary line, the live progress block and the list table.

import { formatDuration } from '../domain/durations.js';
import { printable } from './printable.js';
import { unreachableLines } from './render-commands.js';

/** The fields of GET /api/drains/{id} the CLI reads (see src/http/drain-view.ts). */
export interface DrainJson {
  drainId: string;
  topic?: string;
  mode?: string;
  status: string;
  counts?: Record<string, number>;
  nodes?: Array<{ nodeId: string; state: string; since: string; inStateFor?: string; escalated?: boolean; reason?: string }>;
  nodesOmitted?: number;
  unfinished?: string[];
  deadline?: string;
  notAfter?: string;
  untakenExpireAt?: string;
  /** Why a running drain waits, from the fleet inventory (only while messages are untaken). */
  hint?: string;
  reason?: string;
  requestedBy?: string;
  requestedFor?: string;
  cancelledBy?: string;
  cancelledFor?: string;
  outcome?: string;
  failure?: string;
  createdTime?: string;
  anomalies?: string[];
  /** A targeted drain's or resume's named nodes (at most 60 listed; targetsOmitted more). */
  targets?: string[];
  targetsOmitted?: number;
  /** Named nodes (targeted drains and resumes) no agent could take a command from when it started. */
  unreachable?: Array<{ nodeId: string; why?: string }>;
  /** The safety budget was overridden (--force), and by whom. */
  forced?: boolean;
  forcedBy?: string;
}

const until = (iso: string | undefined, now: number): string | undefined => {
  if (iso === undefined) return undefined;
  const left = Date.parse(iso) - now;
  return left > 0 ? `in ${formatDuration(left)}` : `passed ${formatDuration(-left)} ago`;
};

/** The state each mode asks its nodes to reach. */
const TARGET: Record<string, string> = { 'graceful-downscale': 'drained', 'do-not-accept-new-tasks': 'intake-stopped', resume: 'resumed' };

export function countsLine(d: DrainJson): string {
  const c = d.counts ?? {};
  const target = TARGET[d.mode ?? ''] ?? 'drained';
  const parts = [`${c.done ?? 0}/${c.requested ?? '?'} ${target}`, `accepted ${c.accepted ?? 0}`];
  if (d.mode === 'graceful-downscale' || d.mode === undefined) parts.push(`draining ${c.draining ?? 0}`);
  for (const k of ['escalated', 'expired', 'rejected', 'refused'] as const) if (c[k]) parts.push(`${k} ${c[k]}`);
  if (c.killed) parts.push(`SIGKILLed ${c.killed} worker${c.killed === 1 ? '' : 's'}`);
  if (c.untaken && d.status === 'running') parts.push(`untaken ${c.untaken}${d.untakenExpireAt ? ` (expire ${d.untakenExpireAt})` : ''}`);
  return parts.join(' · ');
}

export function summaryLine(d: DrainJson, now: number): string {
  const deadline = d.deadline ? ` · deadline ${until(d.deadline, now)}` : '';
  return `${d.drainId} ${d.status} · ${countsLine(d)}${d.status === 'running' ? deadline : ''}`;
}

export interface WorkerJson {
  workerId?: string;
  pid: number;
  exited: boolean;
}

/** The live block: header, counts, deadline, each unfinished node with its time in state and running workers. */
export function progressBlock(d: DrainJson, now: number, workers?: Map<string, WorkerJson[]>): string[] {
  const lines = [`drain ${d.drainId} on ${d.topic ?? '?'} (${d.mode ?? '?'}): ${d.status}`, `  ${countsLine(d)}`];
  const asked = whoLine('requested', d.requestedBy, d.requestedFor, d.reason);
  if (asked) lines.push(`  ${asked}`);
  if (d.targets?.length) lines.push(`  named nodes: ${d.targets.map(printable).join(', ')}${d.targetsOmitted ? ` and ${d.targetsOmitted} more` : ''}`);
  if (d.status === 'running') {
    if (d.deadline) lines.push(`  deadline ${d.deadline} (${until(d.deadline, now)})`);
    else if (d.notAfter) lines.push(`  nodes may take it until ${d.notAfter} (${until(d.notAfter, now)})`);
    if (d.hint) lines.push(`  hint: ${printable(d.hint)}`);
    lines.push(...unreachableLines(d.unreachable, d.notAfter));
  }
  if (d.forced) lines.push(`  forced past the safety budget or the inventory's node ids${d.forcedBy ? ` by ${printable(d.forcedBy)}` : ''}`);
  const open = new Set(d.unfinished ?? []);
  for (const n of (d.nodes ?? []).filter((x) => open.has(x.nodeId))) {
    const inState = formatDuration(Math.max(0, now - Date.parse(n.since)));
    const running = workers?.get(n.nodeId)?.filter((w) => !w.exited) ?? [];
    const names = running.map((w) => `${printable(w.workerId ?? 'worker')} (pid ${w.pid})`).join(', ');
    lines.push(`  ${printable(n.nodeId).padEnd(20)} ${n.state.padEnd(15)} for ${inState.padEnd(8)}${n.escalated ? ' (escalated)' : ''}${names ? `  ${names}` : ''}`);
  }
  if (d.outcome) lines.push(`  ${d.outcome}`);
  const cancelled = whoLine('cancelled', d.cancelledBy, d.cancelledFor);
  if (cancelled) lines.push(`  ${cancelled}`);
  if (d.failure) lines.push(`  failed: ${d.failure}`);
  return lines;
}

/** "requested by alice@corp (for bob, as the caller said): why"; `for` is a claim, not an identity. */
function whoLine(what: string, by: string | undefined, forWhom: string | undefined, why?: string): string | undefined {
  if (by === undefined && why === undefined) return undefined;
  const who = by !== undefined ? `${what} by ${by}${forWhom !== undefined ? ` (for ${forWhom}, as the caller said)` : ''}` : what;
  return why !== undefined ? `${who}: ${why}` : who;
}

export function drainsTable(drains: DrainJson[]): string {
  if (drains.length === 0) return 'no drains\n';
  const rows = drains.map((d) => [d.drainId, d.topic ?? '', d.mode ?? '', d.status, countsLine(d), d.createdTime ?? '']);
  const head = ['DRAIN', 'TOPIC', 'MODE', 'STATUS', 'PROGRESS', 'CREATED'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}
