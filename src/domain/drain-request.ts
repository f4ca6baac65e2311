// What an operator asks for (HTTP body, schedule entry, CLI flags) turned into a validated,
// absolute drain specification. Relative times (gracePeriod, ackTimeout) are resolved against
// the `now` the caller passes, so orchestrations and tests stay deterministic.

import { commandsQueueName, DRAIN_ID_RULE, type CommandOperation, isDrainId, isOperation, OPERATIONS, type Operation } from '@workforce/worker-agent/contract';
import { parseNodeList } from './drain-targets.js';
import { parseDuration } from './durations.js';
import { invalidField, ok, type Result } from './problem.js';

/** Nodes take a message only this long unless the request says otherwise (as Azure Batch's resize timeout). */
export const DEFAULT_ACK_TIMEOUT_MS = 15 * 60_000;
export const MAX_COUNT = 10_000;
const MAX_TEXT = 1_024;
const FIELDS = ['mode', 'count', 'nodes', 'deadline', 'gracePeriod', 'notAfter', 'ackTimeout', 'reason', 'requestedBy', 'drainId', 'force', 'dryRun'];

/** What a drain asks its nodes to do: a control-message operation, or (commands only) `resume`. */
export type DrainMode = CommandOperation;

/** A node the drain names that could not take its command when it was asked (offline, stale). */
export interface UnreachableNode {
  nodeId: string;
  why: string;
}

export interface DrainSpec {
  drainId?: string;
  topic: string;
  mode: DrainMode;
  /** Messages: the number asked for, or the number of `nodes`. */
  count: number;
  /** A targeted drain: one command per node, `<drainId>/<n>` to `nodes[n-1]` (absent: any `count` nodes). */
  nodes?: string[];
  /** Named nodes offline or stale when the drain was asked (their command waits until notAfter). */
  unreachable?: UnreachableNode[];
  /** `force: true`: unknown nodes and the budget were overridden. */
  forced?: true;
  /** Who forced it (the requester). */
  forcedBy?: string;
  /** ISO instant: workers still alive then are killed (graceful-downscale only). */
  deadline?: string;
  /** ISO instant: a node receiving the message later does not act on it. */
  notAfter: string;
  reason?: string;
  /** Who asked: the signed-in principal when there is one (see `requester`). */
  requestedBy?: string;
  /** Whom the caller said it asks for, when a signed-in principal asked: a claim, kept for audit. */
  requestedFor?: string;
  requestedAt: string;
}

/** A parsed request: the spec, and whether it is a dry run (the plan, nothing sent). */
export type DrainRequest = DrainSpec & { force?: true; dryRun?: true };

const TOPIC = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,258}[A-Za-z0-9])?$/;

export function validateTopicName(topic: string): Result<string> {
  return TOPIC.test(topic)
    ? ok(topic)
    : invalidField('topic', `topic "${topic}" is not a valid Service Bus topic name (letters, digits, ".", "-", "_"; 1-260 characters; starting and ending with a letter or digit)`);
}

/** Service Bus's limit on an entity name. */
const MAX_ENTITY_NAME = 260;

/**
 * A topic name PUT /api/topics may create: a topic name whose commands queue
 * (`commandsQueueName`) is a valid queue name too, and that is not itself some topic's
 * commands queue.
 */
export function validateProvisionedTopicName(topic: string): Result<string> {
  const valid = validateTopicName(topic);
  if (!valid.ok) return valid;
  if (/-commands$/i.test(topic)) {
    return invalidField('topic', `topic "${topic}" ends in "-commands": that name is kept for the commands queue of topic "${topic.slice(0, -'-commands'.length)}"`);
  }
  const longest = MAX_ENTITY_NAME - (commandsQueueName(topic).length - topic.length);
  if (topic.length > longest) {
    return invalidField('topic', `topic names are limited to ${longest} characters (this one has ${topic.length}), so that the topic's commands queue ${JSON.stringify(commandsQueueName('…'))} fits Service Bus's ${MAX_ENTITY_NAME}`);
  }
  return ok(topic);
}

/** The contract's one drain-id pattern (the id ends up in durable URLs). */
export function validateDrainId(drainId: string): Result<string> {
  return isDrainId(drainId) ? ok(drainId) : invalidField('drainId', `drainId ${JSON.stringify(drainId)} must be ${DRAIN_ID_RULE}`);
}

export function instant(field: string, value: unknown, nowMs: number): Result<number> {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}T/.test(value) || Number.isNaN(Date.parse(value))) {
    return invalidField(field, `${field} must be an ISO-8601 instant such as "2026-01-31T22:00:00Z"`);
  }
  const ms = Date.parse(value);
  return ms > nowMs ? ok(ms) : invalidField(field, `${field} ${value} is not in the future`);
}

function relative(field: string, value: unknown, nowMs: number): Result<number> {
  const ms = typeof value === 'string' ? parseDuration(value) : undefined;
  return ms === undefined
    ? invalidField(field, `${field} must be a positive duration such as "30m", "2h" or "PT2H"`)
    : ok(nowMs + ms);
}

/** Exactly one of an absolute and a relative field, or neither. */
export function eitherOr(body: Record<string, unknown>, absolute: string, rel: string, nowMs: number): Result<number | undefined> {
  if (body[absolute] !== undefined && body[rel] !== undefined) {
    return invalidField(rel, `give ${absolute} or ${rel}, not both`);
  }
  if (body[absolute] !== undefined) return instant(absolute, body[absolute], nowMs);
  if (body[rel] !== undefined) return relative(rel, body[rel], nowMs);
  return ok(undefined);
}

export function text(field: string, value: unknown): Result<string | undefined> {
  if (value === undefined) return ok(undefined);
  if (typeof value !== 'string' || value.length > MAX_TEXT) {
    return invalidField(field, `${field} must be a string of at most ${MAX_TEXT} characters`);
  }
  return ok(value);
}

/**
 * Who asked, for the audit trail: the signed-in principal wins when there is one, and what the
 * body claims (`requestedBy`) is kept only as `requestedFor`. Without a principal (function keys
 * only) the claim is all there is, and it stays `requestedBy`.
 */
export function requester(principal: string | undefined, claimed: string | undefined): { requestedBy?: string; requestedFor?: string } {
  if (principal === undefined || principal === '') return claimed !== undefined ? { requestedBy: claimed } : {};
  return { requestedBy: principal, ...(claimed !== undefined && claimed !== principal && { requestedFor: claimed }) };
}

/** `force` and `dryRun`: true or absent. */
export function flag(field: string, value: unknown): Result<true | undefined> {
  if (value === undefined || value === false) return ok(undefined);
  return value === true ? ok(true) : invalidField(field, `${field} must be true or false`);
}

/** The fields every request carries for audit and identity: `reason`, `requestedBy`, `drainId`. */
export function auditFields(input: Record<string, unknown>): Result<{ reason?: string; requestedBy?: string; drainId?: string }> {
  const reason = text('reason', input.reason);
  if (!reason.ok) return reason;
  const requestedBy = text('requestedBy', input.requestedBy);
  if (!requestedBy.ok) return requestedBy;
  if (input.drainId !== undefined) {
    if (typeof input.drainId !== 'string') return invalidField('drainId', 'drainId must be a string');
    const id = validateDrainId(input.drainId);
    if (!id.ok) return id;
  }
  return ok({
    ...(reason.value !== undefined && { reason: reason.value }),
    ...(requestedBy.value !== undefined && { requestedBy: requestedBy.value }),
    ...(input.drainId !== undefined && { drainId: input.drainId as string }),
  });
}

export function parseDrainRequest(topic: string, body: unknown, now: Date): Result<DrainRequest> {
  const topicOk = validateTopicName(topic);
  if (!topicOk.ok) return topicOk;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return invalidField('', 'the request body must be a JSON object such as {"count": 2}');
  }
  const input = body as Record<string, unknown>;
  const unknown = Object.keys(input).find((key) => !FIELDS.includes(key));
  if (unknown !== undefined) {
    return invalidField(unknown, `unknown field "${unknown}"; known fields: ${FIELDS.join(', ')}`);
  }

  const mode = input.mode ?? 'graceful-downscale';
  if (!isOperation(mode)) {
    return invalidField('mode', `mode must be one of ${OPERATIONS.join(', ')}`);
  }
  if (input.nodes !== undefined && input.count !== undefined) {
    return invalidField('nodes', 'give nodes (these nodes) or count (any that many nodes), not both');
  }
  let nodes: string[] | undefined;
  if (input.nodes !== undefined) {
    const list = parseNodeList(input.nodes);
    if (!list.ok) return list;
    nodes = list.value;
  }
  const count = nodes?.length ?? input.count;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > MAX_COUNT) {
    return invalidField('count', `count must be a whole number from 1 to ${MAX_COUNT} (or give nodes: a list of node ids)`);
  }
  const nowMs = now.getTime();
  const deadline = eitherOr(input, 'deadline', 'gracePeriod', nowMs);
  if (!deadline.ok) return deadline;
  if (deadline.value !== undefined && mode !== 'graceful-downscale') {
    const field = input.deadline !== undefined ? 'deadline' : 'gracePeriod';
    return invalidField(field, `${field} applies only to graceful-downscale (it is when remaining workers are killed)`);
  }
  const notAfterGiven = eitherOr(input, 'notAfter', 'ackTimeout', nowMs);
  if (!notAfterGiven.ok) return notAfterGiven;
  // The default never outlives the deadline: only a notAfter the caller gave can be refused.
  const notAfter = notAfterGiven.value ?? Math.min(nowMs + DEFAULT_ACK_TIMEOUT_MS, deadline.value ?? Infinity);
  if (deadline.value !== undefined && notAfter > deadline.value) {
    const field = input.notAfter !== undefined ? 'notAfter' : 'ackTimeout';
    return invalidField(field, `${field} must not end after the deadline: a node could otherwise accept a drain that is already over`);
  }
  const audit = auditFields(input);
  if (!audit.ok) return audit;
  const force = flag('force', input.force);
  if (!force.ok) return force;
  const dryRun = flag('dryRun', input.dryRun);
  if (!dryRun.ok) return dryRun;

  return ok({
    ...(audit.value.drainId !== undefined && { drainId: audit.value.drainId }),
    topic,
    mode,
    count,
    ...(nodes !== undefined && { nodes }),
    ...(deadline.value !== undefined && { deadline: new Date(deadline.value).toISOString() }),
    notAfter: new Date(notAfter).toISOString(),
    ...(audit.value.reason !== undefined && { reason: audit.value.reason }),
    ...(audit.value.requestedBy !== undefined && { requestedBy: audit.value.requestedBy }),
    requestedAt: now.toISOString(),
    ...(force.value && { force: true as const }),
    ...(dryRun.value && { dryRun: true as const }),
  });
}
