// The rule manager over AMQP: `com.microsoft:add-rule`, `remove-rule` and `enumerate-rules` on a
// subscription's `$management` link, as `ServiceBusRuleManager` (createRuleManager) sends them,
// with Azure's encodings (described lists for rule descriptions) and errors (a rule that exists
// is `MessagingEntityAlreadyExists`, a missing one `MessagingEntityNotFound`).
import rhea from 'rhea';
import type { Broker } from '../broker/broker.js';
import type { CorrelationFilter, RuleDescription, RuleFilter } from '../broker/catalogue.js';
import { entityAlreadyExists, entityNotFound, invalidRequest } from '../errors.js';

const { types } = rhea;

/** Descriptor codes of the Service Bus rule types (com.microsoft:…:list). */
const DESCRIPTOR = {
  ruleDescription: 0x0000013700000004,
  emptyRuleAction: 0x0000013700000005,
  sqlRuleAction: 0x0000013700000006,
  sqlFilter: 0x0000001370000006,
  trueFilter: 0x0000001370000007,
  falseFilter: 0x0000001370000008,
  correlationFilter: 0x0000001370000009,
} as const;

/** SQL compatibility level Azure reports for filters and actions. */
const COMPATIBILITY_LEVEL = 20;

/** The correlation filter's fields, in the order of the AMQP list, with their map keys. */
const CORRELATION_FIELDS: ReadonlyArray<readonly [string, keyof Omit<CorrelationFilter, 'applicationProperties'>]> = [
  ['correlation-id', 'correlationId'],
  ['message-id', 'messageId'],
  ['to', 'to'],
  ['reply-to', 'replyTo'],
  ['label', 'subject'],
  ['session-id', 'sessionId'],
  ['reply-to-session-id', 'replyToSessionId'],
  ['content-type', 'contentType'],
];

export interface RuleReply {
  status: number;
  body: unknown;
}

/** The topic and subscription a `$management` link addresses; rules exist on subscriptions only. */
function subscriptionOf(broker: Broker, entity: string): { topic: string; subscription: string } {
  const m = /^\/*([^/]+)\/subscriptions\/([^/]+?)\/*$/i.exec(entity);
  if (!m) throw invalidRequest(`Rules belong to subscriptions: '${entity}' is not a subscription (<topic>/Subscriptions/<name>).`);
  const topic = broker.namespace.requireSubscription(m[1]!, m[2]!);
  return { topic: topic.topic.name, subscription: topic.name };
}

const rulePath = (topic: string, subscription: string, rule: string) => `${topic}/Subscriptions/${subscription}/Rules/${rule}`;

export function addRule(broker: Broker, entity: string, body: Record<string, unknown>): RuleReply {
  const { topic, subscription } = subscriptionOf(broker, entity);
  const name = ruleName(body);
  if (broker.namespace.getRule(topic, subscription, name)) throw entityAlreadyExists(rulePath(topic, subscription, name));
  const description = body['rule-description'];
  if (!isMap(description)) throw invalidRequest("add-rule needs a 'rule-description' map.");
  const rule: RuleDescription = { name, filter: filterOf(description) };
  const action = description['sql-rule-action'];
  if (action !== undefined && action !== null) rule.action = { sqlExpression: expressionOf(action, 'sql-rule-action') };
  broker.namespace.putRule(topic, subscription, rule);
  return { status: 200, body: {} };
}

export function removeRule(broker: Broker, entity: string, body: Record<string, unknown>): RuleReply {
  const { topic, subscription } = subscriptionOf(broker, entity);
  const name = ruleName(body);
  if (!broker.namespace.deleteRule(topic, subscription, name)) throw entityNotFound(rulePath(topic, subscription, name));
  return { status: 200, body: {} };
}

export function enumerateRules(broker: Broker, entity: string, body: Record<string, unknown>): RuleReply {
  const { topic, subscription } = subscriptionOf(broker, entity);
  const skip = count(body.skip, 'skip', 0);
  const top = count(body.top, 'top', 2 ** 31 - 1);
  // Azure lists rules by name.
  const rules = broker.namespace
    .listRules(topic, subscription)
    .sort((a, b) => (a.name.toLowerCase() < b.name.toLowerCase() ? -1 : a.name.toLowerCase() > b.name.toLowerCase() ? 1 : 0))
    .slice(skip, skip + top);
  if (rules.length === 0) return { status: 204, body: { rules: [] } };
  return { status: 200, body: { rules: rules.map((r) => ({ 'rule-description': encodeRule(r) })) } };
}

function ruleName(body: Record<string, unknown>): string {
  const name = body['rule-name'];
  if (typeof name !== 'string' || name === '') throw invalidRequest("The request needs a non-empty 'rule-name'.");
  return name;
}

function filterOf(description: Record<string, unknown>): RuleFilter {
  const sql = description['sql-filter'];
  const correlation = description['correlation-filter'];
  if (sql !== undefined && sql !== null) return { kind: 'sql', sqlExpression: expressionOf(sql, 'sql-filter') };
  if (!isMap(correlation)) throw invalidRequest("A rule description needs a 'sql-filter' or a 'correlation-filter'.");
  const filter: { kind: 'correlation' } & CorrelationFilter = { kind: 'correlation' };
  for (const [key, field] of CORRELATION_FIELDS) {
    const v = correlation[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string') throw invalidRequest(`The correlation filter's '${key}' must be a string.`);
    filter[field] = v;
  }
  const properties = correlation.properties;
  if (properties !== undefined && properties !== null) {
    if (!isMap(properties)) throw invalidRequest("The correlation filter's 'properties' must be a map.");
    const props: Record<string, string | number | boolean | Date> = {};
    for (const [k, v] of Object.entries(properties)) {
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean' && !(v instanceof Date)) {
        throw invalidRequest(`The correlation filter's property '${k}' must be a string, number, boolean or timestamp.`);
      }
      props[k] = v;
    }
    filter.applicationProperties = props;
  }
  return filter;
}

function expressionOf(value: unknown, what: string): string {
  const expression = isMap(value) ? value.expression : undefined;
  if (typeof expression !== 'string') throw invalidRequest(`The '${what}' needs a string 'expression'.`);
  return expression;
}

function count(v: unknown, field: string, fallback: number): number {
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw invalidRequest(`'${field}' must be a non-negative integer.`);
  return v;
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

// ---- encoding ------------------------------------------------------------------------------

function described(code: number, fields: unknown[]): unknown {
  return types.described(types.wrap_ulong(code), types.wrap_list(fields as never));
}

const text = (v: string | undefined) => (v === undefined ? types.wrap(null as never) : types.wrap_string(v));

/** A rule as Azure lists it: described(rule-description, [filter, action, name]). */
function encodeRule(rule: RuleDescription): unknown {
  return described(DESCRIPTOR.ruleDescription, [encodeFilter(rule.filter), encodeAction(rule), types.wrap_string(rule.name)]);
}

function encodeFilter(filter: RuleFilter): unknown {
  switch (filter.kind) {
    case 'true':
      return described(DESCRIPTOR.trueFilter, [types.wrap_string('1=1'), types.wrap_int(COMPATIBILITY_LEVEL)]);
    case 'false':
      return described(DESCRIPTOR.falseFilter, [types.wrap_string('1=0'), types.wrap_int(COMPATIBILITY_LEVEL)]);
    case 'sql':
      return described(DESCRIPTOR.sqlFilter, [types.wrap_string(filter.sqlExpression), types.wrap_int(COMPATIBILITY_LEVEL)]);
    case 'correlation':
      return described(DESCRIPTOR.correlationFilter, [
        ...CORRELATION_FIELDS.map(([, field]) => text(filter[field])),
        types.wrap_map(filter.applicationProperties ?? {}),
      ]);
  }
}

function encodeAction(rule: RuleDescription): unknown {
  if (!rule.action) return described(DESCRIPTOR.emptyRuleAction, []);
  return described(DESCRIPTOR.sqlRuleAction, [types.wrap_string(rule.action.sqlExpression), types.wrap_int(COMPATIBILITY_LEVEL)]);
}
