// Subscription rules: which topic messages a subscription receives, and what actions do to its
// copies. Pure functions.
import { invalidProperty, isEmulatorError } from '../errors.js';
import type { CorrelationFilter, RuleDescription, RuleFilter } from './catalogue.js';
import type { FilterView } from './message.js';
import { actionChanges, matchesSql, scopeOf } from './sql-evaluate.js';
import { parseSqlAction, parseSqlFilter, type SqlNode, type SqlStatement } from './sql-syntax.js';

export const DEFAULT_RULE_NAME = '$Default';

const systemFields = ['correlationId', 'messageId', 'to', 'replyTo', 'subject', 'sessionId', 'replyToSessionId', 'contentType'] as const;

/** True when the message matches the filter. */
export function matchesFilter(filter: RuleFilter, message: FilterView): boolean {
  switch (filter.kind) {
    case 'true':
      return true;
    case 'false':
      return false;
    case 'correlation':
      return matchesCorrelation(filter, message);
    case 'sql':
      return matchesSql(compiledFilter(filter), scopeOf(message));
  }
}

// Parsed once per rule object (rules are frozen; a restored rule is parsed on first use).
const parsedFilters = new WeakMap<object, SqlNode>();
const parsedActions = new WeakMap<object, SqlStatement[]>();

function compiledFilter(filter: { sqlExpression: string }): SqlNode {
  let node = parsedFilters.get(filter);
  if (!node) parsedFilters.set(filter, (node = parseSqlFilter(filter.sqlExpression)));
  return node;
}

function compiledAction(action: { sqlExpression: string }): SqlStatement[] {
  let statements = parsedActions.get(action);
  if (!statements) parsedActions.set(action, (statements = parseSqlAction(action.sqlExpression)));
  return statements;
}

function matchesCorrelation(filter: CorrelationFilter, message: FilterView): boolean {
  for (const field of systemFields) {
    const expected = filter[field];
    if (expected !== undefined && expected !== message[field]) return false;
  }
  for (const [key, expected] of Object.entries(filter.applicationProperties ?? {})) {
    if (!sameValue(message.applicationProperties[key], expected)) return false;
  }
  return true;
}

function sameValue(actual: unknown, expected: string | number | boolean | Date): boolean {
  if (actual === expected) return true;
  // Timestamps arrive as Date; compare by value.
  if (actual instanceof Date) return actual.getTime() === (expected instanceof Date ? expected.getTime() : expected);
  return false;
}

/** A message goes to a subscription when any of its rules matches (Service Bus semantics). */
export function matchesAnyRule(rules: Iterable<RuleDescription>, message: FilterView): boolean {
  for (const rule of rules) if (matchesFilter(rule.filter, message)) return true;
  return false;
}

/**
 * What a subscription gets of a topic message, as in Azure: one copy when any rule without an
 * action matches, plus one copy per matching rule with an action, whose application-property
 * changes (and `RuleName`) are returned here. Undefined entries stand for the plain copy.
 */
export function copiesFor(rules: Iterable<RuleDescription>, message: FilterView): Array<Record<string, unknown> | undefined> {
  const copies: Array<Record<string, unknown> | undefined> = [];
  let plain = false;
  for (const rule of rules) {
    if (!matchesFilter(rule.filter, message)) continue;
    if (!rule.action) plain = true;
    else copies.push({ ...actionChanges(compiledAction(rule.action), message), RuleName: rule.name });
  }
  if (plain) copies.unshift(undefined);
  return copies;
}

/** Validates a rule given through the catalogue; returns a frozen copy. */
export function checkRule(rule: RuleDescription): RuleDescription {
  if (!rule || typeof rule.name !== 'string' || !/^\$?[A-Za-z0-9][A-Za-z0-9._-]{0,49}$/.test(rule.name)) {
    throw invalidProperty('rule.name', `${JSON.stringify(rule?.name)} is not a valid rule name (1-50 letters, digits, '.', '-', '_')`);
  }
  const filter = rule.filter;
  if (!filter || typeof filter !== 'object') throw invalidProperty('rule.filter', 'a filter is required');
  switch (filter.kind) {
    case 'true':
    case 'false':
      return withAction(rule, { kind: filter.kind });
    case 'sql': {
      if (typeof filter.sqlExpression !== 'string') throw invalidProperty('rule.filter.sqlExpression', 'expected a string');
      checkSql('rule.filter.sqlExpression', () => parseSqlFilter(filter.sqlExpression));
      return withAction(rule, { kind: 'sql', sqlExpression: filter.sqlExpression });
    }
    case 'correlation': {
      const copy: { kind: 'correlation' } & CorrelationFilter = { kind: 'correlation' };
      for (const field of systemFields) {
        const v = filter[field];
        if (v === undefined) continue;
        if (typeof v !== 'string') throw invalidProperty(`rule.filter.${field}`, 'expected a string');
        copy[field] = v;
      }
      if (filter.applicationProperties !== undefined) {
        const props: Record<string, string | number | boolean | Date> = {};
        for (const [k, v] of Object.entries(filter.applicationProperties)) {
          if (!['string', 'number', 'boolean'].includes(typeof v) && !(v instanceof Date && Number.isFinite(v.getTime()))) {
            throw invalidProperty(`rule.filter.applicationProperties.${k}`, 'expected a string, number, boolean or Date');
          }
          props[k] = v;
        }
        copy.applicationProperties = props;
      }
      return withAction(rule, copy);
    }
    default:
      throw invalidProperty(
        'rule.filter.kind',
        `${JSON.stringify((filter as { kind?: unknown }).kind)} is not supported; use 'true', 'false', 'correlation' or 'sql'`,
      );
  }
}

function withAction(rule: RuleDescription, filter: RuleFilter): RuleDescription {
  const action = rule.action;
  if (action === undefined || action === null) return Object.freeze({ name: rule.name, filter: Object.freeze(filter) });
  if (typeof action !== 'object' || typeof action.sqlExpression !== 'string') {
    throw invalidProperty('rule.action.sqlExpression', 'expected a string');
  }
  const statements = checkSql('rule.action.sqlExpression', () => parseSqlAction(action.sqlExpression));
  const sys = statements.find((s) => s.ref.scope === 'sys');
  if (sys) {
    throw invalidProperty('rule.action.sqlExpression', `actions on system properties (sys.${sys.ref.name}) are not supported by the emulator; set application properties`);
  }
  return Object.freeze({ name: rule.name, filter: Object.freeze(filter), action: Object.freeze({ sqlExpression: action.sqlExpression }) });
}

/** Runs a parse and reports a syntax error as an invalid property of the rule. */
function checkSql<T>(field: string, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (isEmulatorError(e)) throw invalidProperty(field, e.message);
    throw e;
  }
}
