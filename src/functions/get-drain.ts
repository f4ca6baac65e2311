// GET /api/drains/{id}: per-node progress, who asked and why, and how it ended.

import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { findDrain } from '../adapters/durable.js';
import { validateDrainId } from '../domain/drain-request.js';
import { drainNotFound } from '../domain/problem.js';
import { drainView, needsInput } from '../http/drain-view.js';
import { problemResponse, unexpected } from '../http/problem-response.js';

export async function getDrain(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const id = validateDrainId(request.params.id ?? '');
  if (!id.ok) return problemResponse(id.problem);
  try {
    const client = df.getClient(context);
    let status = await findDrain(client, id.value);
    if (!status) return problemResponse(drainNotFound(id.value));
    // A drain not yet started by its orchestration (Pending) shows who asked, for what and why from its input.
    if (needsInput(status)) status = (await findDrain(client, id.value, { showInput: true })) ?? status;
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
