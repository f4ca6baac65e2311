// GET /api/drains/{id}: per-node progress, who asked and why, and how it ended.

import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { findDrain } from '../adapters/durable.js';
import { validateDrainId } from '../domain/drain-request.js';
import { drainView } from '../http/drain-view.js';
import { problem, problemResponse, unexpected } from '../http/problem-response.js';
import { DRAIN_ORCHESTRATOR } from './drain-orchestrator.js';

export async function getDrain(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const id = validateDrainId(request.params.id ?? '');
  if (!id.ok) return problemResponse(id.problem);
  try {
    const status = await findDrain(df.getClient(context), id.value);
    if (!status || status.name !== DRAIN_ORCHESTRATOR) {
      return problemResponse(problem('DrainNotFound', 404, 'Drain not found', `no drain with id ${id.value}`, 'id'));
    }
    return { status: 200, jsonBody: drainView(status, { full: true }) };
  } catch (err) {
    return unexpected(err, context, `reading drain ${id.value}`);
  }
}

app.http('getDrain', {
  route: 'drains/{id}',
  methods: ['GET'],
  authLevel: 'function',
  extraInputs: [df.input.durableClient()],
  handler: getDrain,
});
