// GET /api/topics: the topics of the namespace (through ARM), for the dashboard and operators.
// Function key like the rest of the API. 503 when provisioning is not configured (no ARM target).

import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { armClient, armError } from '../adapters/arm.js';
import { config } from '../config.js';
import { problem, problemResponse, unexpected } from '../http/problem-response.js';

export interface TopicView {
  name: string;
  subscriptionCount?: number;
}

export async function listTopics(_request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const { arm } = config();
    if (!arm) {
      return problemResponse(problem('ProvisioningNotConfigured', 503, 'Provisioning is not configured', 'set AZURE_SUBSCRIPTION_ID, SERVICEBUS_RESOURCE_GROUP and SERVICEBUS_NAMESPACE to list topics'));
    }
    const topics: TopicView[] = [];
    try {
      for await (const t of armClient(arm).topics.listByNamespace(arm.resourceGroup, arm.namespace)) {
        if (t.name) topics.push({ name: t.name, ...(t.subscriptionCount !== undefined && { subscriptionCount: t.subscriptionCount }) });
      }
    } catch (err) {
      const e = armError(err);
      context.warn(`listing topics failed: ${e.statusCode ?? 'network'} ${e.message}`);
      return problemResponse(problem('ListingFailed', 502, 'Listing topics failed', `Service Bus management answered ${e.statusCode ?? 'nothing'}: ${e.message}`));
    }
    topics.sort((a, b) => a.name.localeCompare(b.name));
    return { status: 200, jsonBody: { topics } };
  } catch (err) {
    return unexpected(err, context, 'listing topics');
  }
}

app.http('listTopics', { route: 'topics', methods: ['GET'], authLevel: 'function', handler: listTopics });
