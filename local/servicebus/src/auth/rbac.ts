// Azure RBAC for Service Bus, as far as the emulator models it: the built-in data roles, each
// assigned to a principal (its object id, the token's `oid`) at a scope (the namespace, a queue,
// a topic or a subscription), and the claims (rights) they give on an entity. A topic scope
// covers the topic's subscriptions, as an ARM scope covers its child resources.
//
// | role                          | data plane ($cbs)      | ARM endpoint      |
// | Azure Service Bus Data Owner  | Manage, Send, Listen   | read, write       |
// | Azure Service Bus Data Sender | Send                   | read              |
// | Azure Service Bus Data Receiver | Listen               | read              |
// | Owner, Contributor            | none (no data actions) | read, write       |
// ARM rights need the role at namespace scope.
import { normalise } from '../broker/address.js';

export type Right = 'Manage' | 'Send' | 'Listen';

export const ROLES = {
  'Azure Service Bus Data Owner': { data: ['Manage', 'Send', 'Listen'], armWrite: true },
  'Azure Service Bus Data Sender': { data: ['Send'], armWrite: false },
  'Azure Service Bus Data Receiver': { data: ['Listen'], armWrite: false },
  Owner: { data: [], armWrite: true },
  Contributor: { data: [], armWrite: true },
} as const satisfies Record<string, { data: readonly Right[]; armWrite: boolean }>;

export type RoleName = keyof typeof ROLES;

export interface RoleAssignment {
  /** The principal's object id (the token's `oid`). */
  principalId: string;
  role: RoleName;
  /** `/` (the namespace), `queues/<q>`, `topics/<t>` or `topics/<t>/subscriptions/<s>`. */
  scope: string;
}

type Scope =
  | { kind: 'namespace' }
  | { kind: 'queue'; queue: string }
  | { kind: 'topic'; topic: string }
  | { kind: 'subscription'; topic: string; subscription: string };

/** Whether a name is a queue or a topic, to tell `queues/x` from `topics/x` on address `x`. */
export type EntityKind = (name: string) => 'queue' | 'topic' | undefined;

/**
 * Parses a scope; undefined when it is none of the four shapes. A leading slash is optional and
 * the fixed segments are matched case-insensitively, as ARM does.
 */
export function parseScope(scope: string): Scope | undefined {
  if (scope === '') return undefined;
  if (/^\/+$/.test(scope)) return { kind: 'namespace' };
  const parts = scope.replace(/^\/+|\/+$/g, '').split('/');
  const lower = parts.map((p) => p.toLowerCase());
  if (parts.some((p) => p === '')) return undefined;
  if (parts.length === 2 && lower[0] === 'queues') return { kind: 'queue', queue: lower[1]! };
  if (parts.length === 2 && lower[0] === 'topics') return { kind: 'topic', topic: lower[1]! };
  if (parts.length === 4 && lower[0] === 'topics' && lower[2] === 'subscriptions') {
    return { kind: 'subscription', topic: lower[1]!, subscription: lower[3]! };
  }
  return undefined;
}

/** Whether `scope` covers the entity at `address` (a queue, a topic or a subscription, with or without a sub-queue). */
function covers(scope: Scope, address: string, kindOf: EntityKind): boolean {
  if (scope.kind === 'namespace') return true;
  const [entity = '', second, subscription] = normalise(address).split('/');
  const underTopic = second === 'subscriptions';
  switch (scope.kind) {
    case 'queue':
      return entity === scope.queue && !underTopic && kindOf(entity) !== 'topic';
    case 'topic':
      return entity === scope.topic && (underTopic || kindOf(entity) !== 'queue');
    case 'subscription':
      return entity === scope.topic && underTopic && subscription === scope.subscription;
  }
}

/** The data-plane rights of `principalId` on the entity at `address`. */
export function dataRights(assignments: readonly RoleAssignment[], principalId: string, address: string, kindOf: EntityKind): Set<Right> {
  const rights = new Set<Right>();
  for (const a of assignments) {
    if (a.principalId.toLowerCase() !== principalId.toLowerCase()) continue;
    const scope = parseScope(a.scope);
    if (scope && covers(scope, address, kindOf)) for (const r of ROLES[a.role].data) rights.add(r);
  }
  return rights;
}

/** Whether `principalId` may read (any role) or write through ARM: only roles at namespace scope count. */
export function armAllows(assignments: readonly RoleAssignment[], principalId: string, write: boolean): boolean {
  return assignments.some(
    (a) => a.principalId.toLowerCase() === principalId.toLowerCase() && parseScope(a.scope)?.kind === 'namespace' && (!write || ROLES[a.role].armWrite),
  );
}

/** Validates one assignment from a config file; errors name `path` and the field. */
export function parseRoleAssignment(value: unknown, path: string): RoleAssignment {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${path}: expected an object { principalId, role, scope }.`);
  const { principalId, role, scope, ...rest } = value as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length) throw new Error(`${path}: unknown field '${extra[0]}' (expected principalId, role, scope).`);
  if (typeof principalId !== 'string' || principalId === '') throw new Error(`${path}.principalId: expected the principal's object id (the token's oid).`);
  if (typeof role !== 'string' || !(role in ROLES)) {
    throw new Error(`${path}.role: expected one of ${Object.keys(ROLES).map((r) => `'${r}'`).join(', ')}, got ${JSON.stringify(role)}.`);
  }
  if (typeof scope !== 'string' || !parseScope(scope)) {
    throw new Error(`${path}.scope: expected '/', 'queues/<queue>', 'topics/<topic>' or 'topics/<topic>/subscriptions/<subscription>', got ${JSON.stringify(scope)}.`);
  }
  return { principalId, role: role as RoleName, scope };
}
