// Azure's defaults for new entities (Standard tier) and the validation of property values.
import { invalidProperty } from '../errors.js';
import type { QueueProperties, SubscriptionProperties, TopicProperties } from './catalogue.js';

/** Azure's "never expires" TTL: TimeSpan.MaxValue, in milliseconds. */
export const MAX_TTL_MS = 922_337_203_685_477;

export const DEFAULT_MAX_MESSAGE_SIZE = 256 * 1024;

export const queueDefaults: QueueProperties = Object.freeze({
  lockDurationMs: 60_000,
  maxDeliveryCount: 10,
  defaultMessageTimeToLiveMs: MAX_TTL_MS,
  deadLetteringOnMessageExpiration: false,
  requiresDuplicateDetection: false,
  duplicateDetectionHistoryTimeWindowMs: 600_000,
  maxSizeInMegabytes: 1024,
  maxMessageSizeInBytes: DEFAULT_MAX_MESSAGE_SIZE,
  requiresSession: false,
});

export const topicDefaults: TopicProperties = Object.freeze({
  defaultMessageTimeToLiveMs: MAX_TTL_MS,
  requiresDuplicateDetection: false,
  duplicateDetectionHistoryTimeWindowMs: 600_000,
  maxSizeInMegabytes: 1024,
  maxMessageSizeInBytes: DEFAULT_MAX_MESSAGE_SIZE,
});

export const subscriptionDefaults: SubscriptionProperties = Object.freeze({
  lockDurationMs: 60_000,
  maxDeliveryCount: 10,
  defaultMessageTimeToLiveMs: MAX_TTL_MS,
  deadLetteringOnMessageExpiration: false,
  requiresSession: false,
});

// Azure allows lock durations of 5 s to 5 min; the emulator accepts shorter ones so that tests
// of lock expiry run quickly (a documented difference).
const FIVE_MINUTES = 300_000;
const SEVEN_DAYS = 7 * 24 * 3600_000;

type Check = (value: unknown) => string | undefined;

const int = (min: number, max: number): Check => (v) =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? undefined : `expected an integer from ${min} to ${max}, got ${JSON.stringify(v)}`;
const bool: Check = (v) => (typeof v === 'boolean' ? undefined : `expected true or false, got ${JSON.stringify(v)}`);

const checks: Record<string, Check> = {
  lockDurationMs: int(100, FIVE_MINUTES),
  maxDeliveryCount: int(1, 2_147_483_647),
  defaultMessageTimeToLiveMs: int(1, MAX_TTL_MS),
  deadLetteringOnMessageExpiration: bool,
  requiresDuplicateDetection: bool,
  duplicateDetectionHistoryTimeWindowMs: int(1_000, SEVEN_DAYS),
  maxSizeInMegabytes: int(1, 81_920),
  maxMessageSizeInBytes: int(1_024, 100 * 1024 * 1024),
  requiresSession: bool,
};

/**
 * Merges `given` over `base`, keeping only the keys of `base`; throws `InvalidEntityProperties`
 * naming the first bad or unknown field.
 */
export function mergeProperties<T extends object>(base: T, given: Partial<T> | undefined): T {
  const result = { ...base } as Record<string, unknown>;
  for (const [key, value] of Object.entries(given ?? {})) {
    if (value === undefined) continue;
    if (!(key in base)) throw invalidProperty(key, `unknown property; known: ${Object.keys(base).join(', ')}`);
    const problem = checks[key]?.(value);
    if (problem) throw invalidProperty(key, problem);
    result[key] = value;
  }
  return Object.freeze(result) as T;
}

const NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,258}[A-Za-z0-9_])?$/;

/** Entity names: letters, digits, '.', '-', '_'; start and end with a letter or digit (or '_' at the end). */
export function checkName(field: string, name: unknown, maxLength = 260): string {
  if (typeof name !== 'string' || !NAME.test(name) || name.length > maxLength) {
    throw invalidProperty(
      field,
      `${JSON.stringify(name)} is not a valid name: use 1-${maxLength} letters, digits, '.', '-' or '_', starting with a letter or digit`,
    );
  }
  return name;
}
