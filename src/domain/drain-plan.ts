// A drain spec with its id, and the control messages it publishes. Pure.

import { controlMessageEnvelope, type ControlMessageEnvelope } from '@workforce/worker-agent/contract';
import type { DrainSpec } from './drain-request.js';

export type DrainSpecWithId = DrainSpec & { drainId: string };

/**
 * The `count` control messages of a drain, messageIds `<drainId>/1..count`, TTL until notAfter.
 * Without `replyTo` (`workforce send`) agents report to their default queue.
 */
export function drainMessages(spec: DrainSpecWithId, replyTo: string | undefined, now: Date): ControlMessageEnvelope[] {
  const out: ControlMessageEnvelope[] = [];
  for (let n = 1; n <= spec.count; n++) {
    out.push(
      controlMessageEnvelope(
        {
          operation: spec.mode,
          drainId: spec.drainId,
          ...(spec.deadline !== undefined && { deadline: spec.deadline }),
          notAfter: spec.notAfter,
          ...(spec.reason !== undefined && { reason: spec.reason }),
          ...(spec.requestedBy !== undefined && { requestedBy: spec.requestedBy }),
          ...(replyTo !== undefined && { replyTo }),
        },
        n,
        now,
      ),
    );
  }
  return out;
}
