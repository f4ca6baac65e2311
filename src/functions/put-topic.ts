// PUT /api/topics/{topic}: provisions the topic, its `shutdown` subscription, its commands queue
// (`<topic>-commands`) and the reports queue. Idempotent: answers what existed and what it created
// (201 when anything was created). A name ending in `-commands` is refused (it would be another
// topic's commands queue), and so is one over 251 characters (its queue's name would not fit 260).

import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { ArmError } from '../adapters/arm.js';
import { provisionTopic } from '../adapters/provision.js';
import { config } from '../config.js';
import { validateProvisionedTopicName } from '../domain/drain-request.js';
import { problem, problemResponse, unexpected } from '../http/problem-response.js';

function armFailure(err: ArmError, topic: string): HttpResponseInit {
  const status = err.statusCode;
  if (status === 401 || status === 403) {
    return problemResponse(problem('ProvisioningForbidden', 502, 'Service Bus refused the app', `ARM answered ${status} (${err.code ?? 'no code'}): give the app's identity the Contributor role (or another role that may write Microsoft.ServiceBus entities) on the namespace. ${err.message}`));
  }
  if (status === 400 || status === 409) {
    return problemResponse(problem('ProvisioningRejected', 409, 'Service Bus rejected the entity', `ARM answered ${status} (${err.code ?? 'no code'}) for topic ${topic}: ${err.message}`, 'topic'));
  }
  if (status === 404) {
    return problemResponse(problem('NamespaceNotFound', 502, 'Service Bus namespace not found', `ARM answered 404: check SERVICEBUS_RESOURCE_GROUP and SERVICEBUS_NAMESPACE. ${err.message}`));
  }
  return problemResponse(problem('ProvisioningFailed', status === undefined ? 503 : 502, 'Provisioning failed', `Service Bus management is unavailable${status ? ` (HTTP ${status})` : ''}: ${err.message}`));
}

export async function putTopic(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const topic = request.params.topic ?? '';
  const valid = validateProvisionedTopicName(topic);
  if (!valid.ok) return problemResponse(valid.problem);
  try {
    const { arm } = config();
    if (!arm) {
      return problemResponse(problem('ProvisioningNotConfigured', 503, 'Provisioning is not configured', 'set AZURE_SUBSCRIPTION_ID, SERVICEBUS_RESOURCE_GROUP and SERVICEBUS_NAMESPACE to provision topics'));
    }
    const entities = await provisionTopic(arm, topic);
    const created = entities.some((e) => e.outcome === 'created');
    context.log(`provisioned topic ${topic}: ${entities.map((e) => `${e.kind} ${e.name} ${e.outcome}`).join(', ')}`);
    return { status: created ? 201 : 200, jsonBody: { topic, entities } };
  } catch (err) {
    if (err instanceof ArmError) {
      context.warn(`provisioning ${topic} failed: ${err.statusCode ?? 'network'} ${err.message}`);
      return armFailure(err, topic);
    }
    return unexpected(err, context, `provisioning topic ${topic}`);
  }
}

app.http('putTopic', { route: 'topics/{topic}', methods: ['PUT'], authLevel: 'function', handler: putTopic });
