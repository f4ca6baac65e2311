// The nodes a targeted drain or a resume names, checked against the fleet inventory. Pure.
//
// - `nodes`: 1-1,000 ids, each a valid Service Bus session id (`isCommandTarget`), unique as
//   Service Bus compares session ids (case-insensitively).
// - A named node the inventory has never seen is unknown (a typo guard, as `kubectl drain` of a
//   missing node): 400 unless `force`. An offline or stale one is unreachable: its command is
//   sent all the same and waits until `notAfter`, then expires.
// - Available now: standing `active`. Only those count against the budget (an intake-stopped
//   node is unavailable already).

import { isCommandTarget, MAX_NODE_ID_LENGTH } from '@workforce/worker-agent/contract';
import { standing, type NodeRow } from './node-view.js';
import { invalidField, ok, type Result } from './problem.js';

export const MAX_TARGETS = 1_000;

export interface Unreachable {
  nodeId: string;
  /** "offline since …" or "stale: last seen …". */
  why: string;
}

export interface TargetCheck {
  /** Named ids the inventory has never seen. */
  unknown: string[];
  unreachable: Unreachable[];
  /** Named nodes standing `active` now. */
  available: number;
}

/** Validates the `nodes` list of a drain or resume. */
export function parseNodeList(value: unknown, field = 'nodes'): Result<string[]> {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_TARGETS) {
    return invalidField(field, `${field} must be a list of 1 to ${MAX_TARGETS} node ids${Array.isArray(value) && value.length > MAX_TARGETS ? `, got ${value.length}` : ''}`);
  }
  const seen = new Map<string, string>();
  for (const [i, id] of value.entries()) {
    if (typeof id !== 'string' || !isCommandTarget(id)) {
      const shown = typeof id === 'string' ? JSON.stringify(id.length > 40 ? `${id.slice(0, 40)}…` : id) : String(id);
      return invalidField(`${field}[${i}]`, `${field}[${i}] ${shown} is not a node id: 1-${MAX_NODE_ID_LENGTH} characters, no control characters (a Service Bus session id)`);
    }
    const key = id.toLowerCase();
    const first = seen.get(key);
    if (first !== undefined) {
      return invalidField(field, `${field} names ${JSON.stringify(id)}${first === id ? ' twice' : ` and ${JSON.stringify(first)}, the same node (node ids are compared case-insensitively, as Service Bus compares session ids)`}`);
    }
    seen.set(key, id);
  }
  return ok(value as string[]);
}

/** The inventory's rows of a topic by lower-cased node id. */
export function rowsById(rows: Iterable<NodeRow>): Map<string, NodeRow> {
  const map = new Map<string, NodeRow>();
  for (const row of rows) map.set(row.nodeId.toLowerCase(), row);
  return map;
}

/** Where a node that cannot take its command now stands, or undefined when it can. */
export function unreachableWhy(row: NodeRow, now: Date): string | undefined {
  const where = standing(row, now);
  if (where === 'offline') return `offline since ${row.since ?? row.lastSeen}`;
  if (where === 'stale') return `stale: last seen ${row.lastSeen}`;
  return undefined;
}

export function checkTargets(nodes: readonly string[], rows: ReadonlyMap<string, NodeRow>, now: Date): TargetCheck {
  const check: TargetCheck = { unknown: [], unreachable: [], available: 0 };
  for (const nodeId of nodes) {
    const row = rows.get(nodeId.toLowerCase());
    if (!row) {
      check.unknown.push(nodeId);
      continue;
    }
    const why = unreachableWhy(row, now);
    if (why !== undefined) check.unreachable.push({ nodeId, why });
    else if (standing(row, now) === 'active') check.available++;
  }
  return check;
}

/**
 * Every node the inventory lists as intake-stopped (`resume` with `all`), as the inventory spells
 * them: where it stands, as GET /api/topics/{topic}/nodes?state=intake-stopped lists it.
 */
export function intakeStopped(rows: Iterable<NodeRow>, now: Date): string[] {
  const out: string[] = [];
  for (const row of rows) if (standing(row, now) === 'intake-stopped') out.push(row.nodeId);
  return out.sort();
}

/** "a, b and 3 more": a bounded list of ids for a sentence. */
export function listIds(ids: readonly string[], max = 10): string {
  const shown = ids.slice(0, max).map((id) => JSON.stringify(id)).join(', ');
  return ids.length > max ? `${shown} and ${ids.length - max} more` : shown;
}
