// What the parsed SQL of a rule means for one message: a filter matches only when its predicate
// is true (SQL's three-valued logic: a missing user property is unknown, and so is any
// comparison with it); an action gives the application-property changes it makes.
import { randomUUID } from 'node:crypto';
import type { FilterView } from './message.js';
import type { PropertyRef, SqlNode, SqlStatement } from './sql-syntax.js';

/** A value during evaluation; `undefined` is SQL's unknown (and NULL). */
type Value = string | number | boolean | undefined;

/** The message as rules see it. */
export interface SqlScope {
  read(ref: PropertyRef): Value;
  has(ref: PropertyRef): boolean;
}

const SYSTEM_FIELDS: Record<string, keyof FilterView> = {
  messageid: 'messageId',
  correlationid: 'correlationId',
  to: 'to',
  replyto: 'replyTo',
  label: 'subject',
  subject: 'subject',
  sessionid: 'sessionId',
  replytosessionid: 'replyToSessionId',
  contenttype: 'contentType',
};

/**
 * The scope of a topic message when it is matched: its system properties (those correlation
 * filters see; the broker-set ones, such as the sequence number, are not assigned yet and
 * evaluate as unknown) and its application properties, with `changes` laid over them.
 */
export function scopeOf(view: FilterView, changes: Record<string, Value | null> = {}): SqlScope {
  return {
    read(ref) {
      if (ref.scope === 'sys') {
        const field = SYSTEM_FIELDS[ref.name];
        return field ? normalise(view[field]) : undefined;
      }
      const changed = userKey(changes, ref.name);
      if (changed !== undefined) return changes[changed] ?? undefined;
      const key = userKey(view.applicationProperties, ref.name);
      return key === undefined ? undefined : normalise(view.applicationProperties[key]);
    },
    has(ref) {
      if (ref.scope === 'sys') return this.read(ref) !== undefined;
      const changed = userKey(changes, ref.name);
      if (changed !== undefined) return changes[changed] !== null;
      return userKey(view.applicationProperties, ref.name) !== undefined;
    },
  };
}

/** The key of `properties` that a user property name refers to: names are case-insensitive in rules. */
function userKey(properties: Record<string, unknown>, name: string): string | undefined {
  if (Object.hasOwn(properties, name)) return name;
  const lower = name.toLowerCase();
  for (const key of Object.keys(properties)) if (key.toLowerCase() === lower) return key;
  return undefined;
}

function normalise(v: unknown): Value {
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  if (v instanceof Date) return v.getTime();
  if (typeof v === 'bigint') return Number(v);
  return undefined;
}

/** True when the predicate holds for the message (unknown and false do not match). */
export function matchesSql(node: SqlNode, scope: SqlScope): boolean {
  return evaluate(node, scope) === true;
}

/**
 * The application-property changes of an action: name → new value, or null for a removal
 * (what `MessagePayload.withApplicationProperties` takes). Later statements see earlier ones.
 */
export function actionChanges(statements: readonly SqlStatement[], view: FilterView): Record<string, Value | null> {
  const changes: Record<string, Value | null> = {};
  const scope = scopeOf(view, changes);
  for (const s of statements) {
    // SET on an existing property replaces it under its own name.
    const name = userKey(changes, s.ref.name) ?? userKey(view.applicationProperties, s.ref.name) ?? s.ref.name;
    changes[name] = s.kind === 'remove' ? null : (evaluate(s.value, scope) ?? null);
  }
  return changes;
}

function evaluate(node: SqlNode, scope: SqlScope): Value {
  switch (node.kind) {
    case 'constant':
      return node.value ?? undefined;
    case 'property':
      return scope.read(node.ref);
    case 'newid':
      return randomUUID();
    case 'exists':
      return scope.has(node.ref);
    case 'isNull':
      return (scope.read(node.ref) === undefined) !== node.negated;
    case 'unary': {
      const v = evaluate(node.operand, scope);
      if (node.op === 'not') return typeof v === 'boolean' ? !v : undefined;
      if (typeof v !== 'number') return undefined;
      return node.op === '-' ? -v : v;
    }
    case 'in': {
      const v = evaluate(node.operand, scope);
      if (v === undefined) return undefined;
      let unknown = false;
      for (const item of node.list) {
        const w = evaluate(item, scope);
        if (w === undefined) unknown = true;
        else if (compare(v, w) === 0) return !node.negated;
      }
      return unknown ? undefined : node.negated;
    }
    case 'like': {
      const v = evaluate(node.operand, scope);
      if (typeof v !== 'string') return undefined;
      return likePattern(node.pattern, node.escape).test(v) !== node.negated;
    }
    case 'binary':
      return binary(node.op, node.left, node.right, scope);
  }
}

function binary(op: Extract<SqlNode, { kind: 'binary' }>['op'], leftNode: SqlNode, rightNode: SqlNode, scope: SqlScope): Value {
  if (op === 'and' || op === 'or') {
    const l = asLogical(evaluate(leftNode, scope));
    // Short-circuit as SQL may: false AND x is false, true OR x is true.
    if (op === 'and' && l === false) return false;
    if (op === 'or' && l === true) return true;
    const r = asLogical(evaluate(rightNode, scope));
    if (op === 'and') return r === false ? false : l === undefined || r === undefined ? undefined : true;
    return r === true ? true : l === undefined || r === undefined ? undefined : false;
  }
  const l = evaluate(leftNode, scope);
  const r = evaluate(rightNode, scope);
  if (l === undefined || r === undefined) return undefined;
  switch (op) {
    case '+':
      if (typeof l === 'string' && typeof r === 'string') return l + r;
      return typeof l === 'number' && typeof r === 'number' ? l + r : undefined;
    case '-':
    case '*':
    case '/':
    case '%':
      if (typeof l !== 'number' || typeof r !== 'number') return undefined;
      if ((op === '/' || op === '%') && r === 0) return undefined;
      return op === '-' ? l - r : op === '*' ? l * r : op === '/' ? l / r : l % r;
    default: {
      const c = compare(l, r);
      if (c === undefined) return undefined;
      if (op === '=') return c === 0;
      if (op === '<>') return c !== 0;
      // Booleans are equal or not, never ordered.
      if (typeof l === 'boolean') return undefined;
      return op === '<' ? c < 0 : op === '<=' ? c <= 0 : op === '>' ? c > 0 : c >= 0;
    }
  }
}

function asLogical(v: Value): boolean | undefined {
  return typeof v === 'boolean' ? v : undefined;
}

/** -1, 0 or 1 for values of one type; undefined for values of different types. */
function compare(l: Exclude<Value, undefined>, r: Exclude<Value, undefined>): number | undefined {
  if (typeof l !== typeof r) return undefined;
  return l < r ? -1 : l > r ? 1 : 0;
}

const likeCache = new Map<string, RegExp>();

/** A LIKE pattern (`%` any run, `_` one character, `escape` quoting the next one) as a RegExp. */
function likePattern(pattern: string, escape: string | undefined): RegExp {
  const key = `${escape ?? ''}\u0000${pattern}`;
  let re = likeCache.get(key);
  if (re) return re;
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (escape !== undefined && c === escape && i + 1 < pattern.length) source += escapeRegExp(pattern[++i]!);
    else if (c === '%') source += '[\\s\\S]*';
    else if (c === '_') source += '[\\s\\S]';
    else source += escapeRegExp(c);
  }
  re = new RegExp(`^${source}$`, 'u');
  if (likeCache.size > 1000) likeCache.clear();
  likeCache.set(key, re);
  return re;
}

function escapeRegExp(c: string): string {
  return c.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}
