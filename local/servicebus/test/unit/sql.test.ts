// The SQL of Service Bus rules: what a filter selects (three-valued logic) and what an action
// changes, on plain message views; and the errors a bad expression gets.
import { describe, expect, it } from 'vitest';
import type { FilterView } from '../../src/broker/message.js';
import { actionChanges, matchesSql, scopeOf } from '../../src/broker/sql-evaluate.js';
import { parseSqlAction, parseSqlFilter } from '../../src/broker/sql-syntax.js';

const view = (applicationProperties: Record<string, unknown> = {}, system: Partial<FilterView> = {}): FilterView => ({
  messageId: 'm-1',
  subject: 'yellow',
  applicationProperties,
  ...system,
});

const matches = (sql: string, v: FilterView = view({ color: 'blue', quantity: 5, flag: true })) => matchesSql(parseSqlFilter(sql), scopeOf(v));

describe('SQL filters', () => {
  it('compares properties, constants and arithmetic', () => {
    expect(matches("color = 'blue' AND quantity >= 5")).toBe(true);
    expect(matches('quantity * 2 + 1 = 11 AND quantity % 2 = 1 AND -quantity < 0')).toBe(true);
    expect(matches("color + '-' + 'x' = 'blue-x'")).toBe(true);
    expect(matches("color <> 'red' AND color != 'green'")).toBe(true);
    expect(matches('flag = TRUE AND NOT flag = FALSE')).toBe(true);
    expect(matches('1=1')).toBe(true);
    expect(matches('1=0')).toBe(false);
    expect(matches('(1 + 2) * 3 = 9')).toBe(true);
    expect(matches('1.5e1 = 15')).toBe(true);
  });

  it('names system properties with sys. (case-insensitive) and user properties case-insensitively', () => {
    expect(matches("sys.Label = 'yellow' AND sys.MESSAGEID = 'm-1'")).toBe(true);
    expect(matches("sys.subject = 'yellow'")).toBe(true);
    expect(matches("COLOR = 'blue' AND user.Quantity = 5 AND [color] = 'blue' AND \"color\" = 'blue'")).toBe(true);
  });

  it('treats a missing property, and a comparison across types, as unknown: neither it nor its negation selects', () => {
    expect(matches("missing = 'x'")).toBe(false);
    expect(matches("NOT missing = 'x'")).toBe(false);
    expect(matches("missing = 'x' OR color = 'blue'")).toBe(true);
    expect(matches("missing = 'x' AND color = 'red'")).toBe(false);
    expect(matches("color = 5")).toBe(false);
    expect(matches("NOT color = 5")).toBe(false);
    expect(matches('missing IS NULL AND color IS NOT NULL')).toBe(true);
    expect(matches('EXISTS(color) AND NOT EXISTS(missing)')).toBe(true);
    expect(matches('quantity / 0 = 1 OR NOT quantity / 0 = 1')).toBe(false);
  });

  it('matches IN lists and LIKE patterns with ESCAPE', () => {
    expect(matches("color IN ('red', 'blue')")).toBe(true);
    expect(matches("color NOT IN ('red', 'green')")).toBe(true);
    expect(matches("color NOT IN ('red', missing)")).toBe(false); // unknown
    expect(matches("color LIKE 'b%'")).toBe(true);
    expect(matches("color LIKE 'b_ue' AND color NOT LIKE 'r%'")).toBe(true);
    expect(matches("name LIKE '50!%%' ESCAPE '!'", view({ name: '50% off' }))).toBe(true);
    expect(matches("name LIKE '50!%%' ESCAPE '!'", view({ name: '500 off' }))).toBe(false);
    expect(matches("name LIKE 'a.c'", view({ name: 'abc' }))).toBe(false);
  });

  it('refuses bad expressions, naming the position and what was expected', () => {
    expect(() => parseSqlFilter('color = ')).toThrow(/the end of the expression at position 8, expected a constant/);
    expect(() => parseSqlFilter("color = 'blue")).toThrow(/an unterminated string at position 8/);
    expect(() => parseSqlFilter("sys.colour = 'x'")).toThrow(/'colour' is not a system property/);
    expect(() => parseSqlFilter('color = 1 )')).toThrow(/expected the end of the expression/);
    expect(() => parseSqlFilter('color ~ 1')).toThrow(/the character '~' at position 6/);
    expect(() => parseSqlFilter('')).toThrow(/non-empty/);
    expect(() => parseSqlFilter(`a = '${'x'.repeat(1100)}'`)).toThrow(/at most 1024 characters/);
  });
});

describe('SQL actions', () => {
  it('sets and removes application properties, later statements seeing earlier ones', () => {
    const changes = actionChanges(parseSqlAction("SET Priority = 'high'; SET total = quantity * 2; SET double = total * 2; REMOVE color"), view({ priority: 'low', quantity: 3, color: 'blue' }));
    expect(changes).toEqual({ priority: 'high', total: 6, double: 12, color: null });
  });

  it('refuses statements that are not SET or REMOVE', () => {
    expect(() => parseSqlAction("DELETE color")).toThrow(/expected SET or REMOVE/);
    expect(() => parseSqlAction('SET x')).toThrow(/expected '='/);
  });
});
