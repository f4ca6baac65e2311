// Subscription rules: which topic messages a subscription receives. Pure functions.
import { invalidProperty } from '../errors.js';
import type { CorrelationFilter, RuleDescription, RuleFilter } from './catalogue.js';
import type { FilterView } from './message.js';

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
  }
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

function sameValue(actual: unknown, expected: string | number | boolean): boolean {
  if (actual === expected) return true;
  // Numbers may arrive as longs encoded in a Buffer, or as Date for timestamps; compare by value.
  if (typeof expected === 'number' && actual instanceof Date) return actual.getTime() === expected;
  return false;
}

/** A message goes to a subscription when any of its rules matches (Service Bus semantics). */
export function matchesAnyRule(rules: Iterable<RuleDescription>, message: FilterView): boolean {
  for (const rule of rules) if (matchesFilter(rule.filter, message)) return true;
  return false;
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
      return Object.freeze({ name: rule.name, filter: { kind: filter.kind } });
    case 'correlation': {
      const copy: { kind: 'correlation' } & CorrelationFilter = { kind: 'correlation' };
      for (const field of systemFields) {
        const v = filter[field];
        if (v === undefined) continue;
        if (typeof v !== 'string') throw invalidProperty(`rule.filter.${field}`, 'expected a string');
        copy[field] = v;
      }
      if (filter.applicationProperties !== undefined) {
        const props: Record<string, string | number | boolean> = {};
        for (const [k, v] of Object.entries(filter.applicationProperties)) {
          if (!['string', 'number', 'boolean'].includes(typeof v)) {
            throw invalidProperty(`rule.filter.applicationProperties.${k}`, 'expected a string, number or boolean');
          }
          props[k] = v;
        }
        copy.applicationProperties = props;
      }
      return Object.freeze({ name: rule.name, filter: copy });
    }
    default:
      throw invalidProperty(
        'rule.filter.kind',
        `${JSON.stringify((filter as { kind?: unknown }).kind)} is not supported; use 'true', 'false' or 'correlation' (SQL filters are not implemented)`,
      );
  }
}
