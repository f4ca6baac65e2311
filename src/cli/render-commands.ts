// Text views of per-node commands: a dry run's plan, the safety budget's figures (a plan's
// verdict, a 409 BudgetExceeded) and the named nodes no agent can take a command from now.
// Node ids come from the operator, but `unreachable` reasons from the inventory: all printable().

import { printable } from './printable.js';

/** The budget's figures as the API names them (a plan's or a start's `budget`, a BudgetExceeded problem). */
export interface BudgetJson {
  maxUnavailable?: number | string;
  /** Nodes not offline. */
  online?: number;
  /** Nodes unavailable now, the running drains' in-flight messages and the admitted drains' reservations included. */
  unavailable?: number;
  inFlight?: number;
  /** Nodes of drains admitted that do not show counts yet. */
  reserved?: number;
  /** Nodes this drain would make unavailable. */
  requested?: number;
  allowed?: number;
  exceeded?: boolean;
}

export interface UnreachableJson {
  nodeId: string;
  why?: string;
}

/** A dry run's answer (POST …/drains or …/resume with dryRun: true), the fields the CLI reads. */
export interface DryRunJson {
  spec?: { mode?: string; notAfter?: string; forced?: boolean };
  plan?: {
    entity?: string;
    messages?: Array<{ nodeId?: string; count?: number; messageId?: string; messageIds?: string; operation?: string; expiresAt?: string }>;
  };
  /** The topic's nodes by standing, from the fleet inventory. */
  inventory?: Record<string, number>;
  /** Absent when the topic has no policy, and for a resume (it never counts). */
  budget?: BudgetJson;
  unreachable?: UnreachableJson[];
  unknownNodes?: string[];
  warnings?: string[];
}

const num = (v: unknown): string => (typeof v === 'number' ? String(v) : '?');

/** " (1 in flight, 1 reserved)" of `unavailable`, or '' when neither. */
export function pendingNote(b: Pick<BudgetJson, 'inFlight' | 'reserved'>): string {
  const parts = [...(b.inFlight ? [`${num(b.inFlight)} in flight`] : []), ...(b.reserved ? [`${num(b.reserved)} reserved`] : [])];
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

/** "online 10, unavailable 3 (1 in flight, 1 reserved), this drain adds 3, allowed 4 (maxUnavailable 40%)". */
export function budgetFigures(b: BudgetJson, adds = 'this drain adds'): string {
  const flight = pendingNote(b);
  const limit = b.maxUnavailable !== undefined ? ` (maxUnavailable ${printable(String(b.maxUnavailable))})` : '';
  return `online ${num(b.online)}, unavailable ${num(b.unavailable)}${flight}, ${adds} ${num(b.requested)}, allowed ${num(b.allowed)}${limit}`;
}

/** The message of a 409 BudgetExceeded: the figures, and what overrides it. */
export function budgetExceededMessage(problem: Record<string, unknown>, topic: string | undefined): string {
  const on = topic !== undefined ? ` of ${printable(topic)}` : '';
  return `the safety budget${on} refuses this drain: ${budgetFigures(problem as BudgetJson, 'this drain would add')}; nothing was sent — wait for nodes to come back, drain fewer, or override it with --force (recorded in the drain)`;
}

/** Named nodes offline or stale: `when` is "now" (a plan) or "when sent" (a started drain). */
export function unreachableLines(list: UnreachableJson[] | undefined, notAfter?: string, when = 'when sent'): string[] {
  if (!list?.length) return [];
  const until = notAfter ? ` until ${printable(notAfter)}` : ' until its not-after';
  return [
    `  not reachable ${when} (each command waits${until}, then expires):`,
    ...list.map((u) => `    ${printable(u.nodeId)}${u.why ? `: ${printable(u.why)}` : ''}`),
  ];
}

/** Node ids the inventory has never seen, sent to all the same (--force). */
export function unknownLine(ids: string[] | undefined): string[] {
  return ids?.length ? [`  never seen by the fleet inventory, sent all the same (--force): ${ids.map(printable).join(', ')}`] : [];
}

function verdictLine(answer: DryRunJson): string {
  if (answer.spec?.mode === 'resume') return '  budget: a resume never counts against it';
  const b = answer.budget;
  if (b === undefined) return '  budget: none (the topic has no policy, or the app no inventory)';
  const verdict = !b.exceeded ? 'within' : answer.spec?.forced ? 'exceeded, overridden by --force' : 'EXCEEDED: the drain would be refused (exit 8; --force overrides it)';
  return `  budget: ${verdict} · ${budgetFigures(b)}`;
}

const STANDINGS = ['active', 'intake-stopped', 'draining', 'drained', 'stale', 'offline'];

/** The plan of a dry run, as text: messages, inventory counts, budget verdict, unreachable nodes. */
export function planText(answer: DryRunJson, what: string, topic: string): string {
  const lines = [`dry run: ${what} on ${printable(topic)}; nothing was sent`];
  const messages = answer.plan?.messages ?? [];
  const total = messages.reduce((n, m) => n + (m.count ?? 1), 0);
  lines.push(`  would send ${total} message${total === 1 ? '' : 's'}${answer.plan?.entity ? ` to ${printable(answer.plan.entity)}` : ''}:`);
  for (const m of messages.slice(0, 20)) {
    const to = m.nodeId !== undefined ? `to ${printable(m.nodeId)}` : `${num(m.count)} x to any node`;
    lines.push(`    ${to}: ${printable(m.operation ?? '?')}${m.expiresAt ? `, expires ${printable(m.expiresAt)}` : ''}`);
  }
  if (messages.length > 20) lines.push(`    and ${messages.length - 20} more`);
  if (answer.inventory) {
    const counts = STANDINGS.filter((s) => answer.inventory![s]).map((s) => `${answer.inventory![s]} ${s}`);
    lines.push(`  nodes now: ${counts.length ? counts.join(', ') : 'none'}`);
  }
  lines.push(verdictLine(answer));
  lines.push(...unreachableLines(answer.unreachable, answer.spec?.notAfter, 'now'));
  lines.push(...unknownLine(answer.unknownNodes));
  for (const w of answer.warnings ?? []) lines.push(`  warning: ${printable(w)}`);
  return `${lines.join('\n')}\n`;
}
