// A drain spec with its id, and the control messages it publishes. Pure.

import {
  commandEnvelope, commandsQueueName, controlMessageEnvelope, DEFAULT_SUBSCRIPTION, drainMessageId, EXPIRY_MARGIN_MS,
  type CommandEnvelope, type ControlMessageEnvelope, type Operation,
} from '@workforce/worker-agent/contract';
import type { DrainMode, DrainSpec } from './drain-request.js';

export type DrainSpecWithId = DrainSpec & { drainId: string };

/**
 * The `count` control messages of a drain, messageIds `<drainId>/1..count`, TTL until notAfter.
 * Without `replyTo` (`workforce send`) agents report to their default queue.
 */
export function drainMessages(spec: DrainSpecWithId, replyTo: string | undefined, now: Date): ControlMessageEnvelope[] {
  if (spec.mode === 'resume' || spec.nodes !== undefined) throw new Error(`drain ${spec.drainId} names its nodes: its messages are commands (commandMessages)`);
  const mode: Operation = spec.mode;
  const out: ControlMessageEnvelope[] = [];
  for (let n = 1; n <= spec.count; n++) {
    out.push(
      controlMessageEnvelope(
        {
          operation: mode,
          ...messageFields(spec, replyTo),
        },
        n,
        now,
      ),
    );
  }
  return out;
}

/**
 * The commands of a targeted drain: `<drainId>/<n>` to `nodes[n-1]`, with `sessionId` the node id,
 * TTL until notAfter + EXPIRY_MARGIN_MS, as a control message.
 */
export function commandMessages(spec: DrainSpecWithId, replyTo: string | undefined, now: Date): CommandEnvelope[] {
  if (spec.nodes === undefined) throw new Error(`drain ${spec.drainId} names no nodes: its messages are control messages (drainMessages)`);
  return spec.nodes.map((nodeId, i) =>
    commandEnvelope(
      {
        operation: spec.mode,
        nodeId,
        ...messageFields(spec, replyTo),
      },
      i + 1,
      now,
    ),
  );
}

/** One entry of a dry run's plan: a command to a node, or `count` control messages to any nodes. */
export type PlannedMessages =
  | { nodeId: string; messageId: string; operation: DrainMode; expiresAt: string }
  | { count: number; operation: DrainMode; messageIds: string; expiresAt: string };

/** What a drain would send, and where (a dry run): nothing is sent. */
export function plannedMessages(spec: DrainSpec & { drainId?: string }): { entity: string; messages: PlannedMessages[] } {
  const id = spec.drainId ?? '<drainId>';
  const expiresAt = new Date(Date.parse(spec.notAfter) + EXPIRY_MARGIN_MS).toISOString();
  if (spec.nodes === undefined) {
    return { entity: `${spec.topic}/subscriptions/${DEFAULT_SUBSCRIPTION}`, messages: [{ count: spec.count, operation: spec.mode, messageIds: `${id}/1..${spec.count}`, expiresAt }] };
  }
  return {
    entity: commandsQueueName(spec.topic),
    messages: spec.nodes.map((nodeId, i) => ({ nodeId, messageId: drainMessageId(id, i + 1), operation: spec.mode, expiresAt })),
  };
}

/** What a control message and a command of one drain carry alike. */
function messageFields(spec: DrainSpecWithId, replyTo: string | undefined) {
  return {
    drainId: spec.drainId,
    ...(spec.deadline !== undefined && { deadline: spec.deadline }),
    notAfter: spec.notAfter,
    ...(spec.reason !== undefined && { reason: spec.reason }),
    ...(spec.requestedBy !== undefined && { requestedBy: spec.requestedBy }),
    ...(replyTo !== undefined && { replyTo }),
  };
}
