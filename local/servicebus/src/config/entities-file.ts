// Entities to create at start-up (--config FILE), in one of two shapes:
//  - ours: { "queues": [...], "topics": [{ ..., "subscriptions": [{ ..., "rules": [...] }] }] }
//    with the ARM property names and durations as ISO-8601 strings or milliseconds;
//  - the official Service Bus emulator's Config.json: { "UserConfig": { "Namespaces": [{
//    "Queues": [...], "Topics": [{ "Subscriptions": [{ "Rules": [...] }] }] }] } }.
// Both are documented in the README ("Provisioning and TLS"). Errors name the file, the JSON
// path and the field. Applying a file is create-or-update: it can run on every start.
import { readFile } from 'node:fs/promises';
import {
  CORRELATION_FILTER_FIELDS,
  PropertyError,
  describeJson,
  expectObject,
  readEntityProperties,
  readRuleAction,
  readRuleFilter,
  sqlFilterOf,
} from '../arm/properties.js';
import type {
  EntityCatalogue,
  QueueProperties,
  RuleDescription,
  RuleFilter,
  SubscriptionProperties,
  TopicProperties,
} from '../broker/catalogue.js';
import { invalidConfiguration, isEmulatorError, type EmulatorError } from '../errors.js';

export interface EntitiesConfig {
  /** `ours` or `official` (Config.json). */
  shape: 'ours' | 'official';
  queues: QueueEntry[];
  topics: TopicEntry[];
  /** `"entra"` of our shape, unparsed: the Entra ID settings (auth/entra.ts parses them). */
  entra?: unknown;
}

interface Entry {
  name: string;
  /** JSON path of the entry, for errors raised when it is applied. */
  path: string;
}
export interface QueueEntry extends Entry {
  properties: Partial<QueueProperties>;
}
export interface TopicEntry extends Entry {
  properties: Partial<TopicProperties>;
  subscriptions: SubscriptionEntry[];
}
export interface SubscriptionEntry extends Entry {
  properties: Partial<SubscriptionProperties>;
  /** Undefined (or empty in the file): a new subscription gets the `$Default` true rule. */
  rules?: RuleDescription[];
}

export async function loadEntitiesFile(file: string): Promise<EntitiesConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw invalidConfiguration(`${file}: cannot read the config file (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    throw invalidConfiguration(`${file}: not valid JSON: ${(error as Error).message}`);
  }
  return parseEntitiesConfig(json, file);
}

/** Validates a parsed config file; `file` only labels the errors. */
export function parseEntitiesConfig(json: unknown, file: string): EntitiesConfig {
  try {
    const root = expectObject(json, '$');
    return 'UserConfig' in root ? parseOfficial(root) : parseOurs(root);
  } catch (error) {
    throw asConfigError(error, file);
  }
}

export interface AppliedCounts {
  queues: number;
  topics: number;
  subscriptions: number;
  rules: number;
}

/**
 * Creates or updates every entity of the file. A subscription whose rules are listed ends up
 * with exactly those rules (the catalogue replaces them, also when it existed already in a data
 * directory); one without rules keeps its rules, or gets `$Default` when new.
 */
export function applyEntitiesConfig(catalogue: EntityCatalogue, config: EntitiesConfig, file: string): AppliedCounts {
  const counts: AppliedCounts = { queues: 0, topics: 0, subscriptions: 0, rules: 0 };
  const at = <T>(path: string, action: () => T): T => {
    try {
      return action();
    } catch (error) {
      throw asConfigError(error, file, path);
    }
  };
  for (const queue of config.queues) {
    at(queue.path, () => catalogue.putQueue(queue.name, queue.properties));
    counts.queues++;
  }
  for (const topic of config.topics) {
    const topicName = at(topic.path, () => catalogue.putTopic(topic.name, topic.properties).entity.name);
    counts.topics++;
    for (const sub of topic.subscriptions) {
      at(sub.path, () => catalogue.putSubscription(topicName, sub.name, sub.properties, sub.rules));
      counts.subscriptions++;
      counts.rules += sub.rules?.length ?? 0;
    }
  }
  return counts;
}

// ----- our shape -------------------------------------------------------------------------------

const OURS_TOP = ['$schema', 'queues', 'topics', 'entra'];
const ourRead = { keyCase: 'camel', durationsAsMs: true, unknownKeys: 'error' } as const;

function parseOurs(root: Record<string, unknown>): EntitiesConfig {
  rejectUnknown(root, '$', OURS_TOP, 'expected "queues", "topics" and/or "entra", or the official emulator\'s "UserConfig"');
  return {
    shape: 'ours',
    ...(root.entra !== undefined ? { entra: root.entra } : {}),
    queues: array(root.queues, '$.queues').map((item, i) => {
      const path = `$.queues[${i}]`;
      const { name, props } = splitName(item, path);
      return { name, path, properties: readEntityProperties('queue', props, { path, ...ourRead }) };
    }),
    topics: array(root.topics, '$.topics').map((item, i) => {
      const path = `$.topics[${i}]`;
      const { name, props } = splitName(item, path);
      const { subscriptions, ...topicProps } = props;
      return {
        name,
        path,
        properties: readEntityProperties('topic', topicProps, { path, ...ourRead }),
        subscriptions: array(subscriptions, `${path}.subscriptions`).map((subItem, j) => {
          const subPath = `${path}.subscriptions[${j}]`;
          const sub = splitName(subItem, subPath);
          const { rules, ...subProps } = sub.props;
          const parsedRules = array(rules, `${subPath}.rules`).map((rule, k) => ourRule(rule, `${subPath}.rules[${k}]`));
          return {
            name: sub.name,
            path: subPath,
            properties: readEntityProperties('subscription', subProps, { path: subPath, ...ourRead }),
            ...(parsedRules.length > 0 ? { rules: parsedRules } : {}),
          };
        }),
      };
    }),
  };
}

/**
 * `{ "name", "filter": { "kind": "true" | "false" | "correlation", ...correlation fields } |
 * { "kind": "sql", "sqlExpression" }, "action"?: { "sqlExpression" } }`
 */
function ourRule(item: unknown, path: string): RuleDescription {
  const { name, props } = splitName(item, path);
  rejectUnknown(props, path, ['filter', 'action'], 'a rule has "name", "filter" and "action"');
  const action = readRuleAction(props, path, 'camel');
  const withAction = (rule: RuleDescription): RuleDescription => (action ? { ...rule, action } : rule);
  const filterPath = `${path}.filter`;
  const filter = expectObject(props.filter, filterPath);
  const { kind, ...fields } = filter;
  if (kind === 'true' || kind === 'false') {
    rejectUnknown(fields, filterPath, [], `a "${kind}" filter has no other fields`);
    return withAction({ name, filter: { kind } });
  }
  if (kind === 'sql') {
    rejectUnknown(fields, filterPath, ['sqlExpression'], 'a "sql" filter has "sqlExpression"');
    if (typeof fields.sqlExpression !== 'string') {
      throw new PropertyError(`${filterPath}.sqlExpression`, `must be a string (got ${describeJson(fields.sqlExpression)})`);
    }
    return withAction({ name, filter: sqlFilterOf(fields.sqlExpression, `${filterPath}.sqlExpression`) });
  }
  if (kind !== 'correlation') {
    throw new PropertyError(`${filterPath}.kind`, `must be "true", "false", "correlation" or "sql" (got ${describeJson(kind)})`);
  }
  rejectUnknown(fields, filterPath, [...CORRELATION_FILTER_FIELDS, 'applicationProperties'], 'unknown correlation filter field');
  const result: RuleFilter & { kind: 'correlation' } = { kind: 'correlation' };
  for (const field of CORRELATION_FILTER_FIELDS) {
    const value = fields[field];
    if (value === undefined) continue;
    if (typeof value !== 'string') throw new PropertyError(`${filterPath}.${field}`, `must be a string (got ${describeJson(value)})`);
    result[field] = value;
  }
  if (fields.applicationProperties !== undefined) {
    const appPath = `${filterPath}.applicationProperties`;
    const app = expectObject(fields.applicationProperties, appPath);
    for (const [key, value] of Object.entries(app)) {
      if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
        throw new PropertyError(`${appPath}.${key}`, `must be a string, number or boolean (got ${describeJson(value)})`);
      }
    }
    result.applicationProperties = app as Record<string, string | number | boolean>;
  }
  if (Object.keys(result).length === 1) throw new PropertyError(filterPath, 'a correlation filter needs at least one field to match');
  return withAction({ name, filter: result });
}

// ----- the official emulator's Config.json -----------------------------------------------------

const officialRead = { keyCase: 'pascal', durationsAsMs: true, unknownKeys: 'ignore' } as const;

function parseOfficial(root: Record<string, unknown>): EntitiesConfig {
  const userConfig = expectObject(root.UserConfig, '$.UserConfig');
  const config: EntitiesConfig = { shape: 'official', queues: [], topics: [] };
  // The emulator has one namespace; the official emulator allows exactly one as well.
  array(userConfig.Namespaces, '$.UserConfig.Namespaces').forEach((nsItem, n) => {
    const nsPath = `$.UserConfig.Namespaces[${n}]`;
    const ns = expectObject(nsItem, nsPath);
    array(ns.Queues, `${nsPath}.Queues`).forEach((item, i) => {
      const path = `${nsPath}.Queues[${i}]`;
      const queue = expectObject(item, path);
      config.queues.push({
        name: officialName(queue, path),
        path,
        properties: readEntityProperties('queue', queue.Properties, { path: `${path}.Properties`, ...officialRead }),
      });
    });
    array(ns.Topics, `${nsPath}.Topics`).forEach((item, t) => {
      const path = `${nsPath}.Topics[${t}]`;
      const topic = expectObject(item, path);
      config.topics.push({
        name: officialName(topic, path),
        path,
        properties: readEntityProperties('topic', topic.Properties, { path: `${path}.Properties`, ...officialRead }),
        subscriptions: array(topic.Subscriptions, `${path}.Subscriptions`).map((subItem, s) => {
          const subPath = `${path}.Subscriptions[${s}]`;
          const sub = expectObject(subItem, subPath);
          const rules = array(sub.Rules, `${subPath}.Rules`).map((ruleItem, r) => {
            const rulePath = `${subPath}.Rules[${r}]`;
            const rule = expectObject(ruleItem, rulePath);
            const action = readRuleAction(rule.Properties, `${rulePath}.Properties`, 'pascal');
            return {
              name: officialName(rule, rulePath),
              filter: readRuleFilter(rule.Properties, `${rulePath}.Properties`, 'pascal'),
              ...(action ? { action } : {}),
            };
          });
          return {
            name: officialName(sub, subPath),
            path: subPath,
            properties: readEntityProperties('subscription', sub.Properties, { path: `${subPath}.Properties`, ...officialRead }),
            ...(rules.length > 0 ? { rules } : {}),
          };
        }),
      });
    });
  });
  return config;
}

function officialName(object: Record<string, unknown>, path: string): string {
  if (typeof object.Name !== 'string' || object.Name === '') {
    throw new PropertyError(`${path}.Name`, `is required and must be a non-empty string (got ${describeJson(object.Name)})`);
  }
  return object.Name;
}

// ----- helpers ---------------------------------------------------------------------------------

function array(value: unknown, path: string): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new PropertyError(path, `must be an array (got ${describeJson(value)})`);
  return value;
}

function splitName(item: unknown, path: string): { name: string; props: Record<string, unknown> } {
  const { name, ...props } = expectObject(item, path);
  if (typeof name !== 'string' || name === '') {
    throw new PropertyError(`${path}.name`, `is required and must be a non-empty string (got ${describeJson(name)})`);
  }
  return { name, props };
}

function rejectUnknown(object: Record<string, unknown>, path: string, known: readonly string[], hint: string): void {
  for (const key of Object.keys(object)) {
    if (!known.includes(key)) throw new PropertyError(`${path}.${key}`, `unknown field (${hint})`);
  }
}

function asConfigError(error: unknown, file: string, path?: string): EmulatorError {
  if (error instanceof PropertyError) return invalidConfiguration(`${file}: ${error.message}`);
  if (isEmulatorError(error)) return invalidConfiguration(`${file}: ${path ? `${path}: ` : ''}${error.message}`);
  throw error;
}
