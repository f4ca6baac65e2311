// PUT|GET|DELETE /api/topics/{topic}/policy: the topic's safety budget `{ maxUnavailable: 5 |
// "20%" }`, kept in the fleet inventory's `workforcetopics` row. GET shows it with the figures it
// is judged on now (online, unavailable with in flight and reserved, allowed); 404 `PolicyNotFound` when the topic has none;
// 503 without an inventory.

import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { budgetStore } from '../adapters/budget-table.js';
import { config } from '../config.js';
import { parsePolicy } from '../domain/budget.js';
import { validateTopicName } from '../domain/drain-request.js';
import { topicPartition } from '../domain/node-inventory.js';
import { admit } from '../http/drain-admission.js';
import { jsonBody, problem, problemResponse, unexpected } from '../http/problem-response.js';

const notConfigured = () =>
  problemResponse(problem('InventoryNotConfigured', 503, 'The fleet inventory is not configured', 'a topic policy is kept in the fleet inventory: set AzureWebJobsStorage or WORKFORCE_INVENTORY_STORAGE (a connection string, or __tableServiceUri for a managed identity)'));

const notFound = (topic: string) =>
  problemResponse(problem('PolicyNotFound', 404, 'Policy not found', `topic ${topic} has no policy; set one with PUT /api/topics/${topic}/policy {"maxUnavailable": "20%"}`, 'topic'));

export async function topicPolicy(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const topic = validateTopicName(request.params.topic ?? '');
  if (!topic.ok) return problemResponse(topic.problem);
  const name = topic.value;
  let body: unknown;
  if (request.method === 'PUT') {
    const read = await jsonBody(request);
    if (!read.ok) return problemResponse(read.problem);
    body = read.value;
  }
  try {
    const { inventory } = config();
    if (!inventory) return notConfigured();
    const store = budgetStore(inventory);
    const partition = topicPartition(name);
    const now = new Date();
    if (request.method === 'PUT') {
      const policy = parsePolicy(body);
      if (!policy.ok) return problemResponse(policy.problem);
      await store.setPolicy(partition, name, policy.value, now);
      context.log(`topic ${name}: policy maxUnavailable ${policy.value.maxUnavailable}`);
      return { status: 200, jsonBody: { topic: name, ...policy.value, updatedAt: now.toISOString() } };
    }
    if (request.method === 'DELETE') {
      if (!(await store.clearPolicy(partition, now))) return notFound(name);
      context.log(`topic ${name}: policy removed`);
      return { status: 204 };
    }
    const policy = await store.policy(partition);
    if (!policy) return notFound(name);
    const { budget } = await admit(df.getClient(context), { topic: name, mode: 'graceful-downscale', count: 0 }, now);
    const figures = budget && { online: budget.online, unavailable: budget.unavailable, inFlight: budget.inFlight, reserved: budget.reserved, allowed: budget.allowed };
    return { status: 200, jsonBody: { topic: name, ...policy, ...(figures && { budget: figures }) } };
  } catch (err) {
    return unexpected(err, context, `${request.method} the policy of topic ${name}`);
  }
}

app.http('topicPolicy', {
  route: 'topics/{topic}/policy',
  methods: ['PUT', 'GET', 'DELETE'],
  authLevel: 'function',
  extraInputs: [df.input.durableClient()],
  handler: topicPolicy,
});
