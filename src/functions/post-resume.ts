// POST /api/topics/{topic}/resume: undoes intake stops remotely, and re-arms drained nodes whose
// workers are gone: a drain of mode `resume` (target `resumed`), one command per node, for the
// named `nodes` or (`all: true`) every node the fleet inventory lists as intake-stopped. Never
// counted against the budget. `dryRun` answers the plan and sends nothing.

import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { parseResumeRequest } from '../domain/resume-request.js';
import { jsonBody, problemResponse } from '../http/problem-response.js';
import { startDrain } from '../http/start-drain.js';

export async function postResume(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const body = await jsonBody(request);
  if (!body.ok) return problemResponse(body.problem);
  const parsed = parseResumeRequest(request.params.topic ?? '', body.value, new Date());
  if (!parsed.ok) return problemResponse(parsed.problem);
  return startDrain(request, context, parsed.value);
}

app.http('postResume', {
  route: 'topics/{topic}/resume',
  methods: ['POST'],
  authLevel: 'function',
  extraInputs: [df.input.durableClient()],
  handler: postResume,
});
