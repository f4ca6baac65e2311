// POST /api/topics/{topic}/resume: undo intake stops (and re-arm drained nodes) remotely, as a
// drain of mode `resume` (target `resumed`) with one command per node. `nodes` names them, or
// `all: true` takes every node the inventory lists as intake-stopped (resolved by the caller).

import { DEFAULT_ACK_TIMEOUT_MS, auditFields, eitherOr, flag, validateTopicName, type DrainRequest } from './drain-request.js';
import { parseNodeList } from './drain-targets.js';
import { invalidField, ok, type Result } from './problem.js';

const FIELDS = ['nodes', 'all', 'reason', 'notAfter', 'ackTimeout', 'requestedBy', 'dryRun', 'drainId'];

/** A resume request; with `all`, `nodes` is filled in from the inventory before it starts. */
export type ResumeRequest = Omit<DrainRequest, 'nodes'> & { mode: 'resume'; nodes?: string[]; all?: true };

export function parseResumeRequest(topic: string, body: unknown, now: Date): Result<ResumeRequest> {
  const topicOk = validateTopicName(topic);
  if (!topicOk.ok) return topicOk;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return invalidField('', 'the request body must be a JSON object such as {"nodes": ["node-1"]} or {"all": true}');
  }
  const input = body as Record<string, unknown>;
  const unknown = Object.keys(input).find((key) => !FIELDS.includes(key));
  if (unknown !== undefined) return invalidField(unknown, `unknown field "${unknown}"; known fields: ${FIELDS.join(', ')}`);

  const all = flag('all', input.all);
  if (!all.ok) return all;
  if ((input.nodes !== undefined) === (all.value === true)) {
    return invalidField('nodes', 'give nodes (a list of node ids) or all: true (every intake-stopped node), one of the two');
  }
  let nodes: string[] | undefined;
  if (input.nodes !== undefined) {
    const list = parseNodeList(input.nodes);
    if (!list.ok) return list;
    nodes = list.value;
  }
  const nowMs = now.getTime();
  const notAfter = eitherOr(input, 'notAfter', 'ackTimeout', nowMs);
  if (!notAfter.ok) return notAfter;
  const audit = auditFields(input);
  if (!audit.ok) return audit;
  const dryRun = flag('dryRun', input.dryRun);
  if (!dryRun.ok) return dryRun;
  return ok({
    ...(audit.value.drainId !== undefined && { drainId: audit.value.drainId }),
    topic,
    mode: 'resume',
    count: nodes?.length ?? 0,
    ...(nodes !== undefined && { nodes }),
    ...(all.value && { all: true as const }),
    notAfter: new Date(notAfter.value ?? nowMs + DEFAULT_ACK_TIMEOUT_MS).toISOString(),
    ...(audit.value.reason !== undefined && { reason: audit.value.reason }),
    ...(audit.value.requestedBy !== undefined && { requestedBy: audit.value.requestedBy }),
    requestedAt: now.toISOString(),
    ...(dryRun.value && { dryRun: true as const }),
  });
}
