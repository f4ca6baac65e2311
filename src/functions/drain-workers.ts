// GET /api/drains/{id}/workers: each node of a drain with its workers (pid, worker id, exited),
// while the drain runs too. The custom status is bounded and has no workers, so this folds the
// reports of the orchestration's current generation (its history) onto the state that
// continue-as-new carried (its input), with the same applyReport the orchestration uses. Once the
// drain ended, the output holds every node in full.

import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { parseAgentReport } from '@workforce/worker-agent/contract';
import * as df from 'durable-functions';
import type { DurableOrchestrationStatus } from 'durable-functions';
import { findDrain, raisedEventInputs } from '../adapters/durable.js';
import { parseDrainInput } from '../domain/drain-input.js';
import { applyReport, newProgress, type DrainProgress } from '../domain/drain-progress.js';
import { REPORT_EVENT, type DrainOutput } from '../domain/drain-protocol.js';
import { validateDrainId } from '../domain/drain-request.js';
import { fromJson, isObj } from '../domain/json.js';
import { drainNotFound } from '../domain/problem.js';
import { problemResponse, unexpected } from '../http/problem-response.js';

export interface NodeWorkers {
  nodeId: string;
  state: string;
  workers: DrainProgress['nodes'][string]['workers'];
}

/** The drain's progress with workers, from a status read with input and history. */
export function progressWithWorkers(status: DurableOrchestrationStatus): DrainProgress {
  const output = fromJson(status.output);
  if (isObj(output) && isObj(output.progress)) return (output as unknown as DrainOutput).progress;
  const input = parseDrainInput(fromJson(status.input));
  const progress: DrainProgress = input.progress ?? newProgress(input.spec.drainId, input.spec.topic, input.spec.mode, input.spec.count);
  for (const raised of raisedEventInputs(status, REPORT_EVENT)) {
    const report = parseAgentReport(raised);
    if (report.ok) applyReport(progress, report.value);
  }
  return progress;
}

export async function drainWorkers(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const id = validateDrainId(request.params.id ?? '');
  if (!id.ok) return problemResponse(id.problem);
  try {
    const status = await findDrain(df.getClient(context), id.value, { showInput: true, showHistory: true });
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
