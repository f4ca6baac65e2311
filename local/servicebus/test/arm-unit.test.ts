// The ARM layer's pure parts: ISO-8601 durations, route parsing, property and rule mapping.
// Opens no sockets.
import { describe, expect, it } from 'vitest';
import { MAX_TIMESPAN_MS, formatIsoDuration, parseIsoDuration } from '../src/arm/durations.js';
import { toArmError } from '../src/arm/errors.js';
import { PropertyError, readEntityProperties, readRuleAction, readRuleFilter, ruleToArmProperties } from '../src/arm/properties.js';
import { parseRoute } from '../src/arm/routes.js';
import { invalidProperty, entityNotFound } from '../src/errors.js';

const armRead = { path: 'properties', keyCase: 'camel', durationsAsMs: false, unknownKeys: 'ignore' } as const;

describe('ISO-8601 durations', () => {
  it.each([
    ['PT1M', 60_000],
    ['PT30S', 30_000],
    ['PT0.5S', 500],
    ['P14D', 14 * 86_400_000],
    ['P1DT2H3M4.5S', 86_400_000 + 2 * 3_600_000 + 3 * 60_000 + 4_500],
    ['P1W', 7 * 86_400_000],
    ['P10675199DT2H48M5.4775807S', MAX_TIMESPAN_MS],
  ])('parses %s', (text, ms) => {
    expect(parseIsoDuration(text)).toBe(ms);
  });

  it.each(['', 'P', 'PT', 'P1DT', '1M', 'PT-1S', 'PT1X', 'one minute'])('rejects %j', (text) => {
    expect(parseIsoDuration(text)).toBeUndefined();
  });

  it.each([
    [60_000, 'PT1M'],
    [90_000, 'PT1M30S'],
    [500, 'PT0.5S'],
    [0, 'PT0S'],
    [14 * 86_400_000, 'P14D'],
    [86_400_000 + 3_600_000, 'P1DT1H'],
    [MAX_TIMESPAN_MS, 'P10675199DT2H48M5.4775807S'],
  ])('formats %d ms as %s', (ms, text) => {
    expect(formatIsoDuration(ms)).toBe(text);
    expect(parseIsoDuration(text)).toBe(ms);
  });
});

describe('ARM routes', () => {
  const ns = '/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.ServiceBus/namespaces/ns-1';
  const ref = { subscriptionId: 'sub-1', resourceGroup: 'rg-1', namespace: 'ns-1' };

  it('parses every resource path, fixed segments case-insensitively', () => {
    expect(parseRoute(ns)).toEqual({ kind: 'namespace', ref });
    expect(parseRoute(`${ns}/queues`)).toEqual({ kind: 'queues', ref });
    expect(parseRoute(`${ns}/queues/orders`)).toEqual({ kind: 'queue', ref, queue: 'orders' });
    expect(parseRoute(`${ns}/Topics/t1/Subscriptions`)).toEqual({ kind: 'subscriptions', ref, topic: 't1' });
    expect(parseRoute(`${ns}/topics/t1/subscriptions/s1/rules/r1`)).toEqual({
      kind: 'rule',
      ref,
      topic: 't1',
      subscription: 's1',
      rule: 'r1',
    });
    expect(parseRoute(ns.toLowerCase().replace('sub-1', 'sub-1'))).toMatchObject({ kind: 'namespace' });
    expect(parseRoute('/subscriptions/s/resourceGroups/r/providers/Microsoft.ServiceBus/namespaces')).toEqual({
      kind: 'namespaces',
      subscriptionId: 's',
      resourceGroup: 'r',
    });
  });

  it('decodes names per segment', () => {
    expect(parseRoute(`${ns}/queues/a%2Fb`)).toMatchObject({ queue: 'a/b' });
  });

  it('refuses other paths', () => {
    expect(parseRoute('/')).toBeUndefined();
    expect(parseRoute(`${ns}/queues/q/extra`)).toBeUndefined();
    expect(parseRoute(`${ns}/authorizationRules/RootManageSharedAccessKey`)).toBeUndefined();
    expect(parseRoute('/subscriptions/s/resourceGroups/r/providers/Microsoft.EventHub/namespaces/n')).toBeUndefined();
    expect(parseRoute(`${ns}/queues/%E0%A4%A`)).toBeUndefined();
  });
});

describe('ARM properties', () => {
  it('reads ARM properties into catalogue properties', () => {
    expect(
      readEntityProperties(
        'queue',
        {
          lockDuration: 'PT30S',
          maxDeliveryCount: 5,
          defaultMessageTimeToLive: 'P1D',
          deadLetteringOnMessageExpiration: true,
          requiresDuplicateDetection: true,
          duplicateDetectionHistoryTimeWindow: 'PT10M',
          maxSizeInMegabytes: 2048,
          maxMessageSizeInKilobytes: 512,
          requiresSession: false,
          enablePartitioning: false,
          messageCount: 12, // read-only fields of a GET result are ignored
        },
        armRead,
      ),
    ).toEqual({
      lockDurationMs: 30_000,
      maxDeliveryCount: 5,
      defaultMessageTimeToLiveMs: 86_400_000,
      deadLetteringOnMessageExpiration: true,
      requiresDuplicateDetection: true,
      duplicateDetectionHistoryTimeWindowMs: 600_000,
      maxSizeInMegabytes: 2048,
      maxMessageSizeInBytes: 512 * 1024,
      requiresSession: false,
    });
  });

  it('names the field of a bad value', () => {
    expect(() => readEntityProperties('queue', { lockDuration: 60 }, armRead)).toThrow(
      /properties\.lockDuration: must be an ISO-8601 duration/,
    );
    expect(() => readEntityProperties('subscription', { maxDeliveryCount: 'ten' }, armRead)).toThrow(
      /properties\.maxDeliveryCount: must be a non-negative integer/,
    );
    expect(() => readEntityProperties('queue', { requiresSession: 'yes' }, armRead)).toThrow(/properties\.requiresSession: must be true or false/);
    expect(() => readEntityProperties('queue', { forwardTo: 'other' }, armRead)).toThrow(/properties\.forwardTo/);
  });

  it('accepts milliseconds and refuses unknown keys when reading config files', () => {
    const fileRead = { path: '$.queues[0]', keyCase: 'camel', durationsAsMs: true, unknownKeys: 'error' } as const;
    expect(readEntityProperties('queue', { lockDuration: 5000 }, fileRead)).toEqual({ lockDurationMs: 5000 });
    expect(() => readEntityProperties('queue', { lockDurationMs: 5000 }, fileRead)).toThrow(
      /\$\.queues\[0\]\.lockDurationMs: unknown queue property/,
    );
  });

  it('turns catalogue errors into ARM errors naming the ARM field', () => {
    const bad = toArmError(invalidProperty('lockDurationMs', 'expected an integer from 100 to 300000, got 600000'));
    expect(bad.status).toBe(400);
    expect(bad.toJSON().error).toMatchObject({ code: 'BadRequest', target: 'properties.lockDuration' });
    expect(bad.message).toContain("'properties.lockDuration'");
    const missing = toArmError(entityNotFound('t1'));
    expect([missing.status, missing.code]).toEqual([404, 'NotFound']);
    expect(toArmError(new PropertyError('properties.x', 'bad')).toJSON().error.target).toBe('properties.x');
  });
});

describe('ARM rules', () => {
  it('reads correlation filters, with label as subject and properties as application properties', () => {
    expect(
      readRuleFilter(
        {
          filterType: 'CorrelationFilter',
          correlationFilter: { label: 'shutdown', correlationId: 'c1', properties: { region: 'eu' } },
        },
        'properties',
        'camel',
      ),
    ).toEqual({ kind: 'correlation', subject: 'shutdown', correlationId: 'c1', applicationProperties: { region: 'eu' } });
  });

  it('reads SQL filters (the constant ones as true and false) and refuses bad SQL, naming the field', () => {
    expect(readRuleFilter({ filterType: 'SqlFilter', sqlFilter: { sqlExpression: '1=1' } }, 'properties', 'camel')).toEqual({ kind: 'true' });
    expect(readRuleFilter({ sqlFilter: { sqlExpression: ' 1 = 0 ' } }, 'properties', 'camel')).toEqual({ kind: 'false' });
    expect(readRuleFilter({ filterType: 'SqlFilter', sqlFilter: { sqlExpression: "region = 'eu'" } }, 'properties', 'camel')).toEqual({
      kind: 'sql',
      sqlExpression: "region = 'eu'",
    });
    expect(() =>
      readRuleFilter({ filterType: 'SqlFilter', sqlFilter: { sqlExpression: "region = 'eu" } }, 'properties', 'camel'),
    ).toThrow(/properties\.sqlFilter\.sqlExpression: .*an unterminated string at position 9/);
    expect(() => readRuleFilter({ filterType: 'CorrelationFilter', correlationFilter: {} }, 'properties', 'camel')).toThrow(
      /at least one property/,
    );
    expect(readRuleAction({ sqlFilter: { sqlExpression: '1=1' }, action: { sqlExpression: 'SET x = 1' } }, 'properties', 'camel')).toEqual({
      sqlExpression: 'SET x = 1',
    });
    expect(readRuleAction({ action: {} }, 'properties', 'camel')).toBeUndefined();
    expect(() => readRuleAction({ action: { sqlExpression: 'SET x' } }, 'properties', 'camel')).toThrow(/properties\.action\.sqlExpression: .*expected '='/);
    expect(() => readRuleFilter({}, 'properties', 'camel')).toThrow(/properties\.filterType: is required/);
  });

  it('writes rules back in the ARM shape', () => {
    expect(ruleToArmProperties({ name: '$Default', filter: { kind: 'true' } })).toMatchObject({
      filterType: 'SqlFilter',
      sqlFilter: { sqlExpression: '1=1' },
    });
    expect(
      ruleToArmProperties({ name: 'r', filter: { kind: 'correlation', subject: 's', applicationProperties: { a: 1 } } }),
    ).toEqual({ action: {}, filterType: 'CorrelationFilter', correlationFilter: { label: 's', properties: { a: 1 } } });
  });
});
