// GET /api/drains/{id}/workers: each node of a drain with its workers (pid, worker id, exited),
// while the drain runs too. The custom status is bounded and has no workers; the orchestration
// continues as new after every episode that folded reports, so the running generation's input
// holds every folded report: this reads it, never the history (one read, whatever the number of
// reports). Once the drain ended, the output holds every node in full.

import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import type { DurableOrchestrationStatus } from 'durable-functions';
import { findDrain } from '../adapters/durable.js';
import { parseDrainInput } from '../domain/drain-input.js';
import { newProgress, type DrainProgress } from '../domain/drain-progress.js';
import type { DrainOutput } from '../domain/drain-protocol.js';
import { validateDrainId } from '../domain/drain-request.js';
import { fromJson, isObj } from '../domain/json.js';
import { drainNotFound } from '../domain/problem.js';
import { problemResponse, unexpected } from '../http/problem-response.js';

export interface NodeWorkers {
  nodeId: string;
  state: string;
  workers: DrainProgress['nodes'][string]['workers'];
}

/** The drain's progress with workers, from a status read with its input. */
export function progressWithWorkers(status: DurableOrchestrationStatus): DrainProgress {
  const output = fromJson(status.output);
  if (isObj(output) && isObj(output.progress)) return (output as unknown as DrainOutput).progress;
  const input = parseDrainInput(fromJson(status.input));
  return input.progress ?? newProgress(input.spec.drainId, input.spec.topic, input.spec.mode, input.spec.count);
}

export async function drainWorkers(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const id = validateDrainId(request.params.id ?? '');
  if (!id.ok) return problemResponse(id.problem);
  try {
    const status = await findDrain(df.getClient(context), id.value, { showInput: true });
    if (!status) return problemResponse(drainNotFound(id.value));
    const progress = progressWithWorkers(status);
    const nodes: NodeWorkers[] = Object.values(progress.nodes).map((n) => ({ nodeId: n.nodeId, state: n.state, workers: n.workers }));
    return { status: 200, jsonBody: { drainId: id.value, nodes } };
  } catch (err) {
    return unexpected(err, context, `reading the workers of drain ${id.value}`);
  }
}

app.http('drainWorkers', {
  route: 'drains/{id}/workers',
  methods: ['GET'],
  authLevel: 'function',
  extraInputs: [df.input.durableClient()],
  handler: drainWorkers,
});
