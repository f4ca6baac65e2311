// What a drain, a resume or a scheduled occurrence is checked against before it starts (docs/DESIGN.md
// "Drain orchestration", targeted drains and the budget): the fleet inventory's rows of the topic
// (named nodes unknown or unreachable), the topic's policy and the running drains of the topic
// (the budget). Reads only; the verdicts are the domain's (drain-targets.ts, budget.ts).

import type { DurableClient } from 'durable-functions';
import { budgetStore } from '../adapters/budget-table.js';
import { listDrains } from '../adapters/durable.js';
import { nodeInventory } from '../adapters/inventory-table.js';
import { config } from '../config.js';
import { inFlightOf, judgeBudget, type BudgetVerdict, type TopicPolicy } from '../domain/budget.js';
import type { DrainSpec } from '../domain/drain-request.js';
import { checkTargets, rowsById, type TargetCheck } from '../domain/drain-targets.js';
import { topicPartition } from '../domain/node-inventory.js';
import { addToCounts, emptyCounts, type NodeCounts, type NodeRow } from '../domain/node-view.js';
import { drainView } from './drain-view.js';

const RUNNING = ['Running', 'Pending', 'ContinuedAsNew', 'Suspended'];

export interface Admission {
  /** The topic's nodes by standing; absent without an inventory. */
  inventory?: NodeCounts;
  /** The named nodes against the inventory (targeted drains with an inventory). */
  targets?: TargetCheck;
  /** The budget verdict, when the topic has a policy and the drain is not a resume. */
  budget?: BudgetVerdict;
  policy?: TopicPolicy;
  rows: NodeRow[];
  warnings: string[];
}

/** Messages of the topic's running drains that no node has acted on yet (`inFlightOf`); resumes make no node unavailable. */
export async function inFlight(client: DurableClient, topic: string): Promise<number> {
  let total = 0;
  for (const status of await listDrains(client, RUNNING)) {
    const d = drainView(status, { full: false });
    if (d.status !== 'running' || d.mode === 'resume' || d.counts === undefined || d.topic?.toLowerCase() !== topic.toLowerCase()) continue;
    total += inFlightOf(d.counts);
  }
  return total;
}

/** The topic's inventory rows and counts, its policy, and the verdicts on `spec`. */
export async function admit(client: DurableClient, spec: Pick<DrainSpec, 'topic' | 'mode' | 'count' | 'nodes'>, now: Date): Promise<Admission> {
  const { inventory } = config();
  if (!inventory) {
    return { rows: [], warnings: ['the app keeps no fleet inventory: node ids were not checked and no budget applies'] };
  }
  const partition = topicPartition(spec.topic);
  const rows: NodeRow[] = [];
  for await (const row of nodeInventory(inventory).standings(partition)) rows.push(row);
  const counts = emptyCounts();
  for (const row of rows) addToCounts(counts, row, now);
  const admission: Admission = { inventory: counts, rows, warnings: [] };
  if (spec.nodes !== undefined) admission.targets = checkTargets(spec.nodes, rowsById(rows), now);
  if (spec.mode === 'resume') return admission;
  const policy = await budgetStore(inventory).policy(partition);
  if (!policy) return admission;
  const requested = admission.targets ? admission.targets.available : spec.count;
  admission.policy = { maxUnavailable: policy.maxUnavailable };
  admission.budget = judgeBudget(policy, counts, await inFlight(client, spec.topic), requested);
  return admission;
}
