import { describe, expect, it } from 'vitest';
import { checkRule, matchesAnyRule, matchesFilter } from '../../src/broker/filters.js';
import type { FilterView } from '../../src/broker/message.js';

const message = (over: Partial<FilterView> = {}): FilterView => ({
  messageId: 'm1',
  subject: 'graceful-downscale',
  correlationId: 'drain-7',
  contentType: 'application/json',
  applicationProperties: { region: 'eu-west', tier: 2, urgent: true },
  ...over,
});

describe('subscription filters', () => {
  it('true and false filters', () => {
    expect(matchesFilter({ kind: 'true' }, message())).toBe(true);
    expect(matchesFilter({ kind: 'false' }, message())).toBe(false);
  });

  it('correlation filter: every given system property must be equal', () => {
    expect(matchesFilter({ kind: 'correlation', subject: 'graceful-downscale' }, message())).toBe(true);
    expect(matchesFilter({ kind: 'correlation', subject: 'graceful-downscale', correlationId: 'drain-8' }, message())).toBe(false);
    expect(matchesFilter({ kind: 'correlation', to: 'x' }, message())).toBe(false);
    expect(matchesFilter({ kind: 'correlation' }, message())).toBe(true);
  });

  it('correlation filter: application properties match by value and type', () => {
    const f = { kind: 'correlation' as const, applicationProperties: { region: 'eu-west', tier: 2 } };
    expect(matchesFilter(f, message())).toBe(true);
    expect(matchesFilter(f, message({ applicationProperties: { region: 'eu-west', tier: '2' } }))).toBe(false);
    expect(matchesFilter(f, message({ applicationProperties: { region: 'eu-west' } }))).toBe(false);
    expect(matchesFilter({ kind: 'correlation', applicationProperties: { urgent: true } }, message())).toBe(true);
  });

  it('a subscription takes a message when any rule matches', () => {
    const rules = [
      { name: 'a', filter: { kind: 'correlation' as const, subject: 'other' } },
      { name: 'b', filter: { kind: 'correlation' as const, correlationId: 'drain-7' } },
    ];
    expect(matchesAnyRule(rules, message())).toBe(true);
    expect(matchesAnyRule([rules[0]!], message())).toBe(false);
    expect(matchesAnyRule([], message())).toBe(false);
  });

  it('validates rules with messages that name the field', () => {
    expect(() => checkRule({ name: '', filter: { kind: 'true' } })).toThrow(/rule.name/);
    expect(() => checkRule({ name: 'r', filter: { kind: 'sql' } as never })).toThrow(/'rule.filter.sqlExpression'.*expected a string/);
    expect(() => checkRule({ name: 'r', filter: { kind: 'sql', sqlExpression: 'a >' } })).toThrow(/'rule.filter.sqlExpression'.*position 3/);
    expect(() => checkRule({ name: 'r', filter: { kind: 'regex' } as never })).toThrow(/'rule.filter.kind'.*'sql'/);
    expect(() => checkRule({ name: 'r', filter: { kind: 'correlation', subject: 3 } as never })).toThrow(/rule.filter.subject/);
    expect(checkRule({ name: '$Default', filter: { kind: 'true' } })).toEqual({ name: '$Default', filter: { kind: 'true' } });
  });
});
