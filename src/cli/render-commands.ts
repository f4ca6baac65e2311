// Text views of per-node commands: a dry run's plan, the safety budget's figures (a plan's
// verdict, a 409 BudgetExceeded) and the named nodes no agent can take a command from now.
// Node ids come from the operator, but `unreachable` reasons from the inventory: all printable().

import { printable } from './printable.js';

/** The budget's figures as the API names them (a plan's `budget`, a BudgetExceeded problem). */
export interface BudgetJson {
  /** "ok", "exceeded" or "none" (no policy) in a plan; absent on a 409. */
  verdict?: string;
  maxUnavailable?: number | string;
  online?: number;
  unavailable?: number;
  /** Nodes this drain would add to the unavailable ones. */
  requested?: number;
  allowed?: number;
  forced?: boolean;
}

export interface UnreachableJson {
  nodeId: string;
  why?: string;
}

/** A dry run's answer: what would be sent, and what the budget says (fields the CLI reads). */
export interface PlanJson {
  dryRun?: boolean;
  mode?: string;
  messages?: Array<{ nodeId?: string; count?: number; messageId?: string; operation?: string; expiresAt?: string; notAfter?: string }>;
  inventory?: Record<string, number>;
  budget?: BudgetJson;
  unreachable?: UnreachableJson[];
  warnings?: string[];
  notAfter?: string;
}

const num = (v: unknown): string => (typeof v === 'number' ? String(v) : '?');

/** "3 of 10 online nodes unavailable; this drain adds 2; 4 allowed (maxUnavailable 40%)". */
export function budgetFigures(b: BudgetJson, adds = 'this drain adds'): string {
  const limit = b.maxUnavailable !== undefined ? ` (maxUnavailable ${printable(String(b.maxUnavailable))})` : '';
  return `${num(b.unavailable)} of ${num(b.online)} online nodes unavailable; ${adds} ${num(b.requested)}; ${num(b.allowed)} allowed${limit}`;
}

/** The message of a 409 BudgetExceeded: the figures, and what overrides it. */
export function budgetExceededMessage(problem: Record<string, unknown>, topic: string | undefined): string {
  const figures = budgetFigures(problem as BudgetJson, 'this drain would add');
  const on = topic !== undefined ? ` of ${printable(topic)}` : '';
  return `the safety budget${on} refuses this drain: ${figures} — wait for nodes to come back, drain fewer, or override it with --force (recorded in the drain)`;
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

function verdictLine(b: BudgetJson | undefined): string {
  if (b === undefined) return '  budget: not checked';
  if (b.verdict === 'none') return '  budget: the topic has no policy (workforce topic policy <topic> --max-unavailable N sets one)';
  if (b.verdict === 'resume') return '  budget: a resume never counts against it';
  const verdict = b.verdict === 'exceeded' ? (b.forced ? 'exceeded, overridden by --force' : 'EXCEEDED: the drain would be refused (409; --force overrides it)') : 'within';
  return `  budget: ${verdict} · ${budgetFigures(b)}`;
}

/** The plan of a dry run, as text: messages, inventory counts, budget verdict, unreachable nodes. */
export function planText(plan: PlanJson, what: string, topic: string): string {
  const lines = [`dry run: ${what} on ${printable(topic)}: nothing was sent`];
  const messages = plan.messages ?? [];
  if (messages.length > 0) lines.push(`  ${messages.length === 1 && messages[0]!.count !== undefined ? messages[0]!.count : messages.length} message${messages.length === 1 && (messages[0]!.count ?? 1) === 1 ? '' : 's'} would be sent:`);
  for (const m of messages) {
    const to = m.nodeId !== undefined ? `to ${printable(m.nodeId)}` : `${num(m.count)} x any node`;
    const expiry = m.expiresAt ?? m.notAfter;
    lines.push(`    ${to}: ${printable(m.operation ?? plan.mode ?? '?')}${expiry ? `, expires ${printable(expiry)}` : ''}`);
  }
  if (plan.inventory) {
    const counts = Object.entries(plan.inventory).filter(([, n]) => typeof n === 'number').map(([s, n]) => `${n} ${printable(s)}`);
    if (counts.length) lines.push(`  nodes now: ${counts.join(', ')}`);
  }
  lines.push(verdictLine(plan.budget));
  lines.push(...unreachableLines(plan.unreachable, plan.notAfter, 'now'));
  for (const w of plan.warnings ?? []) lines.push(`  warning: ${printable(w)}`);
  return `${lines.join('\n')}\n`;
}
