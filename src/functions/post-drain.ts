// POST /api/topics/{topic}/drains: validates the request, starts the drain orchestration
// (instance id = drainId) and answers 202 with the drain id and its status URLs. The signed-in
// principal, when there is one, is who asked; the body's `requestedBy` is then `requestedFor`.

import { randomUUID } from 'node:crypto';
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { startDrainOnce } from '../adapters/durable.js';
import { serviceBusClient, topicExists } from '../adapters/service-bus.js';
import { config } from '../config.js';
import { parseDrainRequest, requester } from '../domain/drain-request.js';
import { jsonBody, problem, problemResponse, unexpected } from '../http/problem-response.js';
import { principalOf } from '../http/principal.js';
import { drainUrls } from '../http/urls.js';

export async function postDrain(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const body = await jsonBody(request);
  if (!body.ok) return problemResponse(body.problem);
  const parsed = parseDrainRequest(request.params.topic ?? '', body.value, new Date());
  if (!parsed.ok) return problemResponse(parsed.problem);
  const { requestedBy: claimed, ...asked } = parsed.value;
  const spec = { ...asked, drainId: asked.drainId ?? randomUUID(), ...requester(principalOf(request), claimed) };
  try {
    // A drain on a topic that does not exist could only fail once its publish retries ran out.
    if ((await topicExists(serviceBusClient(config().serviceBus), spec.topic)) === false) {
      return problemResponse(
        problem('TopicNotFound', 404, 'Topic not found', `no topic ${spec.topic} on the Service Bus namespace: create it with PUT /api/topics/${spec.topic}`, 'topic'),
      );
    }
    const { started } = await startDrainOnce(df.getClient(context), spec);
    if (!started) {
      return problemResponse(problem('DrainExists', 409, 'Drain exists', `a drain with id ${spec.drainId} already exists; choose another drainId or omit it`, 'drainId'));
    }
    context.log(`drain ${spec.drainId} started: ${spec.count} x ${spec.mode} on ${spec.topic}`);
    const urls = drainUrls(request, spec.drainId);
    return { status: 202, headers: { location: urls.statusUri }, jsonBody: { drainId: spec.drainId, ...urls, spec } };
  } catch (err) {
    return unexpected(err, context, `starting drain ${spec.drainId}`);
  }
}

app.http('postDrain', {
  route: 'topics/{topic}/drains',
  methods: ['POST'],
  authLevel: 'function',
  extraInputs: [df.input.durableClient()],
  handler: postDrain,
});
