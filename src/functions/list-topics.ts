// GET /api/topics: every topic, from Service Bus (through ARM) and from the fleet inventory, with
// its node counts by standing (a stale node counts as stale, an offline one as offline, not as
// its last state) and its running drains. Function key like the rest of the API. 503 when
// neither provisioning (ARM) nor the inventory (a storage account) is configured. A topic with a
// policy shows it and its budget now (online, unavailable with the running drains' messages in
// flight and the admitted drains' reservations, allowed); every topic its last skipped scheduled runs.

import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { armClient, armError } from '../adapters/arm.js';
import { budgetStore, type SkippedRun } from '../adapters/budget-table.js';
import { listDrains } from '../adapters/durable.js';
import { nodeInventory } from '../adapters/inventory-table.js';
import { config } from '../config.js';
import { inFlightOf, judgeBudget, type TopicPolicy } from '../domain/budget.js';
import type { DrainSpecWithId } from '../domain/drain-plan.js';
import { topicPartition } from '../domain/node-inventory.js';
import { addToCounts, emptyCounts, type NodeCounts } from '../domain/node-view.js';
import { reservedNodes } from '../domain/reservations.js';
import { pendingReservations } from '../http/drain-admission.js';
import { drainView } from '../http/drain-view.js';
import { problem, problemResponse, unexpected } from '../http/problem-response.js';

export interface RunningDrain {
  drainId: string;
  mode: DrainSpecWithId['mode'];
  requested: number;
  createdAt: string;
}

export interface TopicView {
  name: string;
  subscriptionCount?: number;
  nodes: NodeCounts;
  runningDrains: RunningDrain[];
  /** The topic's safety budget, when it has one. */
  policy?: TopicPolicy;
  /** The budget now: online, unavailable (in-flight messages and reservations included), allowed. */
  budget?: { online: number; unavailable: number; inFlight: number; reserved: number; allowed: number };
  /** Scheduled runs the budget skipped, newest first (at most 20). */
  skippedRuns: SkippedRun[];
}

const RUNNING = ['Running', 'Pending', 'ContinuedAsNew', 'Suspended'];

export async function listTopics(_request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const { arm, inventory } = config();
    if (!arm && !inventory) {
      return problemResponse(problem('ProvisioningNotConfigured', 503, 'Provisioning is not configured', 'set AZURE_SUBSCRIPTION_ID, SERVICEBUS_RESOURCE_GROUP and SERVICEBUS_NAMESPACE (or a storage account for the fleet inventory) to list topics'));
    }
    // By partition key: entity names are case-insensitive.
    const topics = new Map<string, TopicView>();
    const add = (name: string, subscriptionCount?: number) => {
      const known = topics.get(topicPartition(name));
      if (known) return known;
      const view: TopicView = { name, ...(subscriptionCount !== undefined && { subscriptionCount }), nodes: emptyCounts(), runningDrains: [], skippedRuns: [] };
      topics.set(topicPartition(name), view);
      return view;
    };
    if (arm) {
      try {
        for await (const t of armClient(arm).topics.listByNamespace(arm.resourceGroup, arm.namespace)) if (t.name) add(t.name, t.subscriptionCount);
      } catch (err) {
        const e = armError(err);
        context.warn(`listing topics failed: ${e.statusCode ?? 'network'} ${e.message}`);
        return problemResponse(problem('ListingFailed', 502, 'Listing topics failed', `Service Bus management answered ${e.statusCode ?? 'nothing'}: ${e.message}`));
      }
    }
    if (inventory) {
      const store = nodeInventory(inventory);
      for (const name of (await store.topics()).values()) add(name);
      const now = new Date();
      await Promise.all([...topics].map(async ([partition, view]) => {
        for await (const row of store.standings(partition)) addToCounts(view.nodes, row, now);
      }));
    }
    const client = df.getClient(context);
    const inFlight = new Map<TopicView, number>();
    // Drains counted in flight, whose reservations no longer count.
    const counted = new Set<string>();
    for (const status of await listDrains(client, RUNNING)) {
      const d = drainView(status, { full: false });
      if (d.status !== 'running' || d.topic === undefined || d.mode === undefined) continue;
      const view = add(d.topic);
      view.runningDrains.push({ drainId: d.drainId, mode: d.mode, requested: d.counts?.requested ?? 0, createdAt: d.createdTime ?? d.requestedAt ?? '' });
      if (d.mode !== 'resume' && d.counts) {
        inFlight.set(view, (inFlight.get(view) ?? 0) + inFlightOf(d.counts));
        counted.add(d.drainId);
      }
    }
    if (inventory) {
      const budgets = budgetStore(inventory);
      const policies = await budgets.policies();
      await Promise.all([...topics].map(async ([partition, view]) => {
        const policy = policies.get(partition);
        if (policy) {
          const reserved = reservedNodes(await pendingReservations(client, policy.reservations, counted, new Date()));
          const b = judgeBudget(policy, view.nodes, { inFlight: inFlight.get(view) ?? 0, reserved }, 0);
          view.policy = { maxUnavailable: policy.maxUnavailable };
          view.budget = { online: b.online, unavailable: b.unavailable, inFlight: b.inFlight, reserved: b.reserved, allowed: b.allowed };
        }
        view.skippedRuns = await budgets.skipped(partition);
      }));
    }
    const list = [...topics.values()].sort((a, b) => a.name.localeCompare(b.name));
    for (const t of list) t.runningDrains.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    return { status: 200, jsonBody: { topics: list } };
  } catch (err) {
    return unexpected(err, context, 'listing topics');
  }
}

app.http('listTopics', { route: 'topics', methods: ['GET'], authLevel: 'function', extraInputs: [df.input.durableClient()], handler: listTopics });
