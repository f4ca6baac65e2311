// POST /api/topics/{topic}/drains: validates the request (any `count` nodes, or the named `nodes`),
// checks it against the fleet inventory and the topic's budget, and starts the drain orchestration
// (instance id = drainId): 202 with the drain id and its status URLs, or with `dryRun` the plan
// (200, nothing sent). The signed-in principal, when there is one, is who asked; the body's
// `requestedBy` is then `requestedFor`.

import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { parseDrainRequest } from '../domain/drain-request.js';
import { jsonBody, problemResponse } from '../http/problem-response.js';
import { startDrain } from '../http/start-drain.js';

export async function postDrain(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const body = await jsonBody(request);
  if (!body.ok) return problemResponse(body.problem);
  const parsed = parseDrainRequest(request.params.topic ?? '', body.value, new Date());
  if (!parsed.ok) return problemResponse(parsed.problem);
  return startDrain(request, context, parsed.value);
}

app.http('postDrain', {
  route: 'topics/{topic}/drains',
  methods: ['POST'],
  authLevel: 'function',
  extraInputs: [df.input.durableClient()],
  handler: postDrain,
});
