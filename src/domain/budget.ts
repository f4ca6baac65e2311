// A topic's safety budget (docs/DESIGN.md "Drain orchestration", budget): how many of its nodes
// may be unavailable at once, and whether a drain would take the topic past it. Pure.
//
// Unavailable = intake-stopped + draining + drained + stale nodes, plus the messages of running
// drains that no node has acted on yet (in flight: they will take a node each), plus the
// reservations of drains admitted but not yet counted among the running drains (reserved).
// Online = every node not offline. Allowed = the integer, or ceil(pct × online / 100), as
// Kubernetes rounds a PodDisruptionBudget's percentage `maxUnavailable`.

import type { DrainCounts } from './drain-progress.js';
import type { NodeCounts } from './node-view.js';
import { invalidField, ok, type Result } from './problem.js';

/** `{ maxUnavailable: 5 }` or `{ maxUnavailable: "20%" }`, as the operator gave it. */
export interface TopicPolicy {
  maxUnavailable: number | `${number}%`;
}

export interface BudgetFigures {
  /** Nodes not offline. */
  online: number;
  /** Nodes unavailable now, in-flight messages and reservations included. */
  unavailable: number;
  /** Of `unavailable`: messages of running drains no node has acted on yet. */
  inFlight: number;
  /** Of `unavailable`: nodes of drains admitted that do not show counts yet (their reservations). */
  reserved: number;
  /** Nodes the drain would make unavailable. */
  requested: number;
  /** How many may be unavailable. */
  allowed: number;
  maxUnavailable: TopicPolicy['maxUnavailable'];
}

export type BudgetVerdict = BudgetFigures & { exceeded: boolean };

const PERCENT = /^(\d{1,3})%$/;
const MAX_INTEGER = 1_000_000;

/** Validates a `maxUnavailable`: a whole number ≥ 0, or "<0-100>%". */
export function parseMaxUnavailable(value: unknown): Result<TopicPolicy['maxUnavailable']> {
  const rule = 'maxUnavailable must be a whole number of nodes ≥ 0 (such as 5) or a percentage from "0%" to "100%" (such as "20%")';
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) return invalidField('maxUnavailable', `${rule}; ${value} is not a whole number`);
    if (value < 0) return invalidField('maxUnavailable', `${rule}; ${value} is negative`);
    if (value > MAX_INTEGER) return invalidField('maxUnavailable', `${rule}; ${value} is more than ${MAX_INTEGER}`);
    return ok(value);
  }
  if (typeof value === 'string') {
    const m = PERCENT.exec(value);
    if (!m) return invalidField('maxUnavailable', `${rule}; ${JSON.stringify(value)} is not a percentage`);
    if (Number(m[1]) > 100) return invalidField('maxUnavailable', `${rule}; ${value} is over 100%`);
    return ok(`${Number(m[1])}%` as const);
  }
  return invalidField('maxUnavailable', rule);
}

/** The body of PUT /api/topics/{topic}/policy. */
export function parsePolicy(body: unknown): Result<TopicPolicy> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return invalidField('', 'the request body must be a JSON object such as {"maxUnavailable": "20%"}');
  }
  const input = body as Record<string, unknown>;
  const unknown = Object.keys(input).find((k) => k !== 'maxUnavailable');
  if (unknown !== undefined) return invalidField(unknown, `unknown field "${unknown}"; known fields: maxUnavailable`);
  if (input.maxUnavailable === undefined) return invalidField('maxUnavailable', 'maxUnavailable is required (DELETE the policy to remove it)');
  const max = parseMaxUnavailable(input.maxUnavailable);
  return max.ok ? ok({ maxUnavailable: max.value }) : max;
}

/** How many nodes of `online` may be unavailable under the policy. */
export function allowedUnavailable(policy: TopicPolicy, online: number): number {
  const max = policy.maxUnavailable;
  if (typeof max === 'number') return max;
  return Math.ceil((Number(max.slice(0, -1)) * online) / 100);
}

/** Online and unavailable nodes from a topic's counts by standing (offline nodes are neither). */
export function availability(counts: NodeCounts): { online: number; unavailable: number } {
  return {
    online: counts.total - counts.offline,
    unavailable: counts['intake-stopped'] + counts.draining + counts.drained + counts.stale,
  };
}

/**
 * A running drain's messages no node has acted on yet: untaken, or taken and only `accepted`
 * (the node's row is still `active`). Once a node acts, the inventory counts it instead.
 */
export function inFlightOf(counts: Pick<DrainCounts, 'untaken' | 'accepted' | 'intakeStopped' | 'draining' | 'drained'>): number {
  return counts.untaken + Math.max(0, counts.accepted - counts.intakeStopped - counts.draining - counts.drained);
}

/** What running and admitted drains will take besides the nodes' standings. */
export interface Pending {
  inFlight: number;
  reserved: number;
}

/** Whether a drain making `requested` more nodes unavailable stays within the policy. */
export function judgeBudget(policy: TopicPolicy, counts: NodeCounts, pending: Pending, requested: number): BudgetVerdict {
  const { online, unavailable } = availability(counts);
  const allowed = allowedUnavailable(policy, online);
  const total = unavailable + pending.inFlight + pending.reserved;
  return {
    online, unavailable: total, inFlight: pending.inFlight, reserved: pending.reserved, requested, allowed, maxUnavailable: policy.maxUnavailable,
    exceeded: requested > 0 && total + requested > allowed,
  };
}

/** "online 10, unavailable 3 (1 in flight, 1 reserved), requested 3, allowed 4 (maxUnavailable 40%)". */
export function describeBudget(v: BudgetFigures): string {
  const parts = [...(v.inFlight > 0 ? [`${v.inFlight} in flight`] : []), ...(v.reserved > 0 ? [`${v.reserved} reserved`] : [])];
  const pending = parts.length > 0 ? ` (${parts.join(', ')})` : '';
  return `online ${v.online}, unavailable ${v.unavailable}${pending}, requested ${v.requested}, allowed ${v.allowed} (maxUnavailable ${v.maxUnavailable})`;
}
