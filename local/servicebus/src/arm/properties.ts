// Entity properties as ARM and the config files spell them (`lockDuration: "PT1M"`,
// `maxMessageSizeInKilobytes`, ...) read into the catalogue's properties (milliseconds, bytes).
// One table per entity kind serves the ARM endpoint (camelCase, ISO-8601 durations), our own
// config file (camelCase, durations as ISO-8601 or milliseconds) and the official emulator's
// Config.json (PascalCase). Values the emulator cannot honour are refused, naming the field,
// rather than silently ignored.
import type {
  CorrelationFilter,
  QueueProperties,
  RuleAction,
  RuleDescription,
  RuleFilter,
  SubscriptionProperties,
  TopicProperties,
} from '../broker/catalogue.js';
import { parseSqlAction, parseSqlFilter } from '../broker/sql-syntax.js';
import { isEmulatorError } from '../errors.js';
import { parseIsoDuration } from './durations.js';

/** A bad value, with the path of the field (e.g. `properties.lockDuration`). */
export class PropertyError extends Error {
  readonly code = 'InvalidEntityProperties';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'PropertyError';
  }
}

export type EntityKind = 'queue' | 'topic' | 'subscription';
type AnyProperties = QueueProperties & TopicProperties & SubscriptionProperties;

interface Field {
  type: 'duration' | 'integer' | 'boolean' | 'string';
  /** Catalogue property it sets; none for accepted-but-not-modelled settings. */
  target?: keyof AnyProperties;
  scale?: number;
  /** Why this value cannot be honoured, or undefined when it can. */
  refuse?: (value: unknown) => string | undefined;
}

const refuseTrue = (what: string) => (value: unknown) =>
  value === true ? `${what} are not supported by the emulator` : undefined;
const refuseNonEmpty = (value: unknown) =>
  typeof value === 'string' && value !== '' ? 'auto-forwarding is not supported by the emulator' : undefined;
const refuseInactive = (value: unknown) =>
  value !== 'Active' ? `only "Active" is supported by the emulator (got ${JSON.stringify(value)})` : undefined;

/** Every field, by its ARM name (Config.json spells it in PascalCase). */
const FIELD = {
  defaultMessageTimeToLive: { type: 'duration', target: 'defaultMessageTimeToLiveMs' },
  maxSizeInMegabytes: { type: 'integer', target: 'maxSizeInMegabytes' },
  maxMessageSizeInKilobytes: { type: 'integer', target: 'maxMessageSizeInBytes', scale: 1024 },
  requiresDuplicateDetection: { type: 'boolean', target: 'requiresDuplicateDetection' },
  duplicateDetectionHistoryTimeWindow: { type: 'duration', target: 'duplicateDetectionHistoryTimeWindowMs' },
  lockDuration: { type: 'duration', target: 'lockDurationMs' },
  maxDeliveryCount: { type: 'integer', target: 'maxDeliveryCount' },
  deadLetteringOnMessageExpiration: { type: 'boolean', target: 'deadLetteringOnMessageExpiration' },
  requiresSession: { type: 'boolean', target: 'requiresSession' },
  forwardTo: { type: 'string', refuse: refuseNonEmpty },
  forwardDeadLetteredMessagesTo: { type: 'string', refuse: refuseNonEmpty },
  status: { type: 'string', refuse: refuseInactive },
  isClientAffine: { type: 'boolean', refuse: refuseTrue('client-affine subscriptions') },
  // Accepted and not modelled: they change placement or performance, not what a client sees
  // (autoDeleteOnIdle excepted: the emulator never deletes an idle entity; see the README).
  enableBatchedOperations: { type: 'boolean' },
  enablePartitioning: { type: 'boolean' },
  enableExpress: { type: 'boolean' },
  autoDeleteOnIdle: { type: 'duration' },
  // Accepted, not modelled.
  supportOrdering: { type: 'boolean' },
  // Accepted, not modelled: a SQL rule that cannot be evaluated is unknown (no match), never an exception.
  deadLetteringOnFilterEvaluationExceptions: { type: 'boolean' },
} satisfies Record<string, Field>;
type FieldName = keyof typeof FIELD;

const FIELDS: Record<EntityKind, FieldName[]> = {
  queue: [
    'lockDuration',
    'maxDeliveryCount',
    'defaultMessageTimeToLive',
    'deadLetteringOnMessageExpiration',
    'requiresDuplicateDetection',
    'duplicateDetectionHistoryTimeWindow',
    'maxSizeInMegabytes',
    'maxMessageSizeInKilobytes',
    'requiresSession',
    'forwardTo',
    'forwardDeadLetteredMessagesTo',
    'status',
    'enableBatchedOperations',
    'enablePartitioning',
    'enableExpress',
    'autoDeleteOnIdle',
  ],
  topic: [
    'defaultMessageTimeToLive',
    'requiresDuplicateDetection',
    'duplicateDetectionHistoryTimeWindow',
    'maxSizeInMegabytes',
    'maxMessageSizeInKilobytes',
    'status',
    'enableBatchedOperations',
    'enablePartitioning',
    'enableExpress',
    'autoDeleteOnIdle',
    'supportOrdering',
  ],
  subscription: [
    'lockDuration',
    'maxDeliveryCount',
    'defaultMessageTimeToLive',
    'deadLetteringOnMessageExpiration',
    'requiresSession',
    'forwardTo',
    'forwardDeadLetteredMessagesTo',
    'status',
    'enableBatchedOperations',
    'autoDeleteOnIdle',
    'deadLetteringOnFilterEvaluationExceptions',
    'isClientAffine',
  ],
};

/** The ARM name of a catalogue property (`lockDurationMs` → `lockDuration`), if it has one. */
export function armFieldName(catalogueKey: string): string | undefined {
  return Object.entries<Field>(FIELD).find(([, field]) => field.target === catalogueKey)?.[0];
}

export interface ReadOptions {
  /** Path of the object read, for error messages (`properties`, `Queues[0].Properties`). */
  path: string;
  /** `camel` for ARM and our config file; `pascal` for the official Config.json. */
  keyCase: 'camel' | 'pascal';
  /** Whether a duration may also be a number of milliseconds (config files). */
  durationsAsMs: boolean;
  /** Unknown keys: ARM and the official file ignore them (read-only fields, `Logging`, ...). */
  unknownKeys: 'ignore' | 'error';
}

export function readEntityProperties(kind: 'queue', input: unknown, options: ReadOptions): Partial<QueueProperties>;
export function readEntityProperties(kind: 'topic', input: unknown, options: ReadOptions): Partial<TopicProperties>;
export function readEntityProperties(
  kind: 'subscription',
  input: unknown,
  options: ReadOptions,
): Partial<SubscriptionProperties>;
export function readEntityProperties(kind: EntityKind, input: unknown, options: ReadOptions): Partial<AnyProperties> {
  if (input === undefined || input === null) return {};
  const object = expectObject(input, options.path);
  const names = FIELDS[kind];
  const key = (name: FieldName) => (options.keyCase === 'pascal' ? pascal(name) : name);
  const out: Partial<Record<keyof AnyProperties, number | boolean>> = {};
  for (const name of names) {
    const field: Field = FIELD[name];
    const raw = object[key(name)];
    if (raw === undefined || raw === null) continue;
    const path = `${options.path}.${key(name)}`;
    const value = readValue(field, raw, path, options.durationsAsMs);
    const refusal = field.refuse?.(value);
    if (refusal) throw new PropertyError(path, refusal);
    if (field.target) out[field.target] = typeof value === 'number' && field.scale ? value * field.scale : (value as number);
  }
  if (options.unknownKeys === 'error') {
    const known = new Set(names.map(key));
    for (const name of Object.keys(object)) {
      if (!known.has(name)) {
        throw new PropertyError(`${options.path}.${name}`, `unknown ${kind} property; known: ${[...known].join(', ')}`);
      }
    }
  }
  return out as Partial<AnyProperties>;
}

function readValue(field: Field, raw: unknown, path: string, durationsAsMs: boolean): number | boolean | string {
  switch (field.type) {
    case 'boolean':
      if (typeof raw !== 'boolean') throw new PropertyError(path, `must be true or false (got ${JSON.stringify(raw)})`);
      return raw;
    case 'string':
      if (typeof raw !== 'string') throw new PropertyError(path, `must be a string (got ${JSON.stringify(raw)})`);
      return raw;
    case 'integer':
      if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 0) {
        throw new PropertyError(path, `must be a non-negative integer (got ${JSON.stringify(raw)})`);
      }
      return raw;
    case 'duration':
      return readDuration(raw, path, durationsAsMs);
  }
}

export function readDuration(raw: unknown, path: string, durationsAsMs: boolean): number {
  if (durationsAsMs && typeof raw === 'number' && Number.isFinite(raw) && raw >= 0) return raw;
  if (typeof raw === 'string') {
    const ms = parseIsoDuration(raw);
    if (ms !== undefined) return ms;
  }
  const expected = durationsAsMs
    ? 'an ISO-8601 duration such as "PT1M" or a number of milliseconds'
    : 'an ISO-8601 duration such as "PT1M"';
  throw new PropertyError(path, `must be ${expected} (got ${JSON.stringify(raw)})`);
}

// ----- rules -----------------------------------------------------------------------------------

const CORRELATION_FIELDS = [
  // [ARM / Config.json name, catalogue name]
  ['correlationId', 'correlationId'],
  ['messageId', 'messageId'],
  ['to', 'to'],
  ['replyTo', 'replyTo'],
  ['label', 'subject'],
  ['sessionId', 'sessionId'],
  ['replyToSessionId', 'replyToSessionId'],
  ['contentType', 'contentType'],
] as const satisfies ReadonlyArray<readonly [string, keyof CorrelationFilter]>;

/** The catalogue's names of the correlation filter's system-property fields. */
export const CORRELATION_FILTER_FIELDS = CORRELATION_FIELDS.map(([, name]) => name);

const TRUE_SQL = /^\s*(?:1\s*=\s*1|true)\s*$/i;
const FALSE_SQL = /^\s*(?:1\s*=\s*0|false)\s*$/i;

/**
 * An ARM rule resource's `properties` (or a Config.json rule's `Properties`, with `keyCase:
 * 'pascal'`) as a catalogue filter. The constant SQL filters Azure itself uses (`1=1`, `1=0`)
 * become true and false filters; other SQL is parsed here, so that an error names the field.
 */
export function readRuleFilter(input: unknown, path: string, keyCase: 'camel' | 'pascal'): RuleFilter {
  const k = (name: string) => (keyCase === 'pascal' ? pascal(name) : name);
  const object = expectObject(input ?? {}, path);
  const filterType = object[k('filterType')];
  const sqlKey = k('sqlFilter');
  const correlationKey = k('correlationFilter');
  let kind: 'sql' | 'correlation';
  if (filterType === undefined || filterType === null) {
    if (object[correlationKey] !== undefined) kind = 'correlation';
    else if (object[sqlKey] !== undefined) kind = 'sql';
    else throw new PropertyError(`${path}.${k('filterType')}`, 'is required ("CorrelationFilter" or "SqlFilter")');
  } else if (typeof filterType === 'string' && /^(correlation|correlationfilter)$/i.test(filterType)) {
    kind = 'correlation';
  } else if (typeof filterType === 'string' && /^(sql|sqlfilter)$/i.test(filterType)) {
    kind = 'sql';
  } else {
    throw new PropertyError(
      `${path}.${k('filterType')}`,
      `must be "CorrelationFilter" or "SqlFilter" (got ${JSON.stringify(filterType)})`,
    );
  }

  if (kind === 'sql') {
    const sqlPath = `${path}.${sqlKey}`;
    const expression = expectObject(object[sqlKey] ?? {}, sqlPath)[k('sqlExpression')];
    if (typeof expression !== 'string') throw new PropertyError(`${sqlPath}.${k('sqlExpression')}`, 'is required');
    return sqlFilterOf(expression, `${sqlPath}.${k('sqlExpression')}`);
  }

  const corrPath = `${path}.${correlationKey}`;
  const corr = expectObject(object[correlationKey] ?? {}, corrPath);
  const filter: { kind: 'correlation' } & CorrelationFilter = { kind: 'correlation' };
  for (const [armName, name] of CORRELATION_FIELDS) {
    const value = corr[k(armName)];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string') throw new PropertyError(`${corrPath}.${k(armName)}`, 'must be a string');
    filter[name] = value;
  }
  const properties = corr[k('properties')];
  if (properties !== undefined && properties !== null) {
    const propsPath = `${corrPath}.${k('properties')}`;
    const applicationProperties: Record<string, string | number | boolean> = {};
    for (const [name, value] of Object.entries(expectObject(properties, propsPath))) {
      if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
        throw new PropertyError(`${propsPath}.${name}`, 'must be a string, number or boolean');
      }
      applicationProperties[name] = value;
    }
    if (Object.keys(applicationProperties).length > 0) filter.applicationProperties = applicationProperties;
  }
  if (Object.keys(filter).length === 1) {
    throw new PropertyError(corrPath, 'a correlation filter needs at least one property to match');
  }
  return filter;
}

/** A SQL filter expression as a catalogue filter (`1=1` and `1=0` as true and false filters). */
export function sqlFilterOf(expression: string, field: string): RuleFilter {
  if (TRUE_SQL.test(expression)) return { kind: 'true' };
  if (FALSE_SQL.test(expression)) return { kind: 'false' };
  checkSql(field, () => parseSqlFilter(expression));
  return { kind: 'sql', sqlExpression: expression };
}

/** The rule's SQL action (`action.sqlExpression`), if any; application properties only. */
export function readRuleAction(input: unknown, path: string, keyCase: 'camel' | 'pascal'): RuleAction | undefined {
  const k = (name: string) => (keyCase === 'pascal' ? pascal(name) : name);
  const action = expectObject(input ?? {}, path)[k('action')];
  if (action === undefined || action === null) return undefined;
  const actionPath = `${path}.${k('action')}`;
  const expression = expectObject(action, actionPath)[k('sqlExpression')];
  if (expression === undefined || expression === null || (typeof expression === 'string' && expression.trim() === '')) return undefined;
  if (typeof expression !== 'string') throw new PropertyError(`${actionPath}.${k('sqlExpression')}`, 'must be a string');
  const statements = checkSql(`${actionPath}.${k('sqlExpression')}`, () => parseSqlAction(expression));
  const sys = statements.find((st) => st.ref.scope === 'sys');
  if (sys) throw new PropertyError(`${actionPath}.${k('sqlExpression')}`, `actions on system properties (sys.${sys.ref.name}) are not supported by the emulator`);
  return { sqlExpression: expression };
}

/** Runs a SQL parse, reporting a syntax error against `field`. */
function checkSql<T>(field: string, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (isEmulatorError(e)) throw new PropertyError(field, e.message);
    throw e;
  }
}

/** The ARM `properties` of a rule. */
export function ruleToArmProperties(rule: RuleDescription): Record<string, unknown> {
  const { filter } = rule;
  const action = rule.action ? { sqlExpression: rule.action.sqlExpression, compatibilityLevel: 20 } : {};
  if (filter.kind !== 'correlation') {
    const sqlExpression = filter.kind === 'sql' ? filter.sqlExpression : filter.kind === 'true' ? '1=1' : '1=0';
    return { action, filterType: 'SqlFilter', sqlFilter: { sqlExpression, compatibilityLevel: 20 } };
  }
  const correlationFilter: Record<string, unknown> = {};
  for (const [armName, name] of CORRELATION_FIELDS) {
    if (filter[name] !== undefined) correlationFilter[armName] = filter[name];
  }
  correlationFilter.properties = { ...(filter.applicationProperties ?? {}) };
  return { action, filterType: 'CorrelationFilter', correlationFilter };
}

// ----- helpers ---------------------------------------------------------------------------------

export function expectObject(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new PropertyError(path, `must be a JSON object (got ${describeJson(value)})`);
  }
  return value as Record<string, unknown>;
}

export function describeJson(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'an object' : JSON.stringify(value);
}

function pascal(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}
