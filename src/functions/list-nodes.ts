// GET /api/topics/{topic}/nodes?state=&limit=&continuationToken=: one page of a topic's nodes
// from the fleet inventory, as the node table holds them, with `stale` computed now. Paged by
// the table's continuation (default 500, at most 1000 a page). 400 names a bad parameter; 503
// when no storage account is configured.

import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { isBadRequest, nodeInventory } from '../adapters/inventory-table.js';
import { config } from '../config.js';
import { validateTopicName } from '../domain/drain-request.js';
import { topicPartition } from '../domain/node-inventory.js';
import { isStale, nodeView, parseNodeQuery, type NodeRow } from '../domain/node-view.js';
import { problem, problemResponse, unexpected } from '../http/problem-response.js';

export async function listNodes(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const topic = validateTopicName(request.params.topic ?? '');
  if (!topic.ok) return problemResponse(topic.problem);
  const query = parseNodeQuery(request.query);
  if (!query.ok) return problemResponse(query.problem);
  try {
    const { inventory } = config();
    if (!inventory) {
      return problemResponse(problem('InventoryNotConfigured', 503, 'The fleet inventory is not configured', 'set AzureWebJobsStorage or WORKFORCE_INVENTORY_STORAGE (a connection string, or __tableServiceUri for a managed identity) to keep the fleet inventory'));
    }
    const now = new Date();
    const { standing, limit, continuationToken } = query.value;
    // Stale or not is known only now: the table filters by state, this by staleness.
    const keep = (row: NodeRow) => (standing === 'stale' ? isStale(row, now) : standing === undefined || standing === 'offline' || !isStale(row, now));
    const page = await nodeInventory(inventory).page(topicPartition(topic.value), { ...(standing && { standing }), limit, ...(continuationToken && { continuationToken }), keep });
    return {
      status: 200,
      jsonBody: { topic: topic.value, nodes: page.rows.map((r) => nodeView(r, now)), ...(page.continuationToken && { continuationToken: page.continuationToken }) },
    };
  } catch (err) {
    if (query.value.continuationToken && isBadRequest(err)) {
      return problemResponse(problem('InvalidField', 400, 'Invalid request', 'continuationToken is not one this API gave out for this topic (pass the last page\'s continuationToken as it is)', 'continuationToken'));
    }
    return unexpected(err, context, 'listing nodes');
  }
}

app.http('listNodes', { route: 'topics/{topic}/nodes', methods: ['GET'], authLevel: 'function', handler: listNodes });
