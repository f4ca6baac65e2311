// What a drain, a resume or a scheduled occurrence is checked against before it starts (docs/DESIGN.md
// "Drain orchestration", targeted drains and the budget): the fleet inventory's rows of the topic
// (named nodes unknown or unreachable), the topic's policy, its running drains and its admission
// ledger (the budget). The verdicts are the domain's (drain-targets.ts, budget.ts, reservations.ts);
// a drain that will start writes its reservation with If-Match on the ledger it was judged from.

import type { DurableClient } from 'durable-functions';
import { setTimeout as sleep } from 'node:timers/promises';
import { budgetStore, type Ledger } from '../adapters/budget-table.js';
import { findDrain, listDrains } from '../adapters/durable.js';
import { nodeInventory } from '../adapters/inventory-table.js';
import { config, type InventoryStorage } from '../config.js';
import { inFlightOf, judgeBudget, type BudgetVerdict, type TopicPolicy } from '../domain/budget.js';
import type { DrainSpec } from '../domain/drain-request.js';
import { checkTargets, rowsById, type TargetCheck } from '../domain/drain-targets.js';
import { topicPartition } from '../domain/node-inventory.js';
import { addToCounts, emptyCounts, type NodeCounts, type NodeRow } from '../domain/node-view.js';
import { holding, MAX_RESERVATIONS, reservedNodes, withReservation, type Reservation } from '../domain/reservations.js';
import { drainView } from './drain-view.js';

const RUNNING = ['Running', 'Pending', 'ContinuedAsNew', 'Suspended'];
/** Admissions of one request at most: each lost race (412) means another one was written first. */
const ATTEMPTS = 8;

/** The ledger could not take the reservation (lost every race, or full): a retry later can pass. */
export class AdmissionBusy extends Error {}

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

/** A drain that will start unless refused: its nodes are reserved once it is judged within the budget (or forced). */
export interface Reservable {
  /** One reservation per drain id; the drain's own never counts against it (a retried request). */
  drainId: string;
  /** Whether the drain will start, given the verdicts. */
  startsIf: (admission: Admission) => boolean;
}

export type AdmittedSpec = Pick<DrainSpec, 'topic' | 'mode' | 'count' | 'nodes'>;

/** The topic's running drains that take nodes (resumes make none unavailable): their messages in flight, and which of them show counts. */
export async function runningDrains(client: DurableClient, topic: string): Promise<{ inFlight: number; counted: Set<string> }> {
  let inFlight = 0;
  const counted = new Set<string>();
  for (const status of await listDrains(client, RUNNING)) {
    const d = drainView(status, { full: false });
    if (d.status !== 'running' || d.mode === 'resume' || d.counts === undefined || d.topic?.toLowerCase() !== topic.toLowerCase()) continue;
    inFlight += inFlightOf(d.counts);
    counted.add(d.drainId);
  }
  return { inFlight, counted };
}

/**
 * Of a ledger's reservations, those that count now: `holding` (unexpired, not counted among the
 * running drains, not `except`), less those whose drain has ended meanwhile (its nodes are in the
 * inventory, or it published nothing). A drain that does not exist yet is being started: it counts.
 */
export async function pendingReservations(client: DurableClient, reservations: readonly Reservation[], counted: ReadonlySet<string>, now: Date, except?: string): Promise<Reservation[]> {
  const held = holding(reservations, counted, now, except);
  const ended = await Promise.all(held.map(async (r) => {
    const status = await findDrain(client, r.drainId);
    return status !== undefined && drainView(status, { full: false }).status !== 'running';
  }));
  return held.filter((_, i) => !ended[i]);
}

/**
 * The topic's inventory rows and counts, its policy, and the verdicts on `spec`. With `drain`
 * (not for dry runs and reads) and a policy, a drain that will start has its nodes reserved before
 * this returns; AdmissionBusy when that cannot be done now.
 */
export async function admit(client: DurableClient, spec: AdmittedSpec, now: Date, drain?: Reservable): Promise<Admission> {
  const { inventory } = config();
  if (!inventory) {
    return { rows: [], warnings: ['the app keeps no fleet inventory: node ids were not checked and no budget applies'] };
  }
  for (let attempt = 1; ; attempt++) {
    const { admission, ledger, held } = await judge(client, inventory, spec, now, drain?.drainId);
    // No policy, no ledger write; nor for a drain that takes no node now (nothing to hold).
    if (!drain || !ledger || !admission.budget || admission.budget.requested === 0 || !drain.startsIf(admission)) return admission;
    // A forced drain is not refused, but later requests must see it: it reserves all the same.
    const next = withReservation(held, drain.drainId, admission.budget.requested, now);
    if (!next) throw new AdmissionBusy(`topic ${spec.topic} has ${MAX_RESERVATIONS} drains admitted that do not show counts yet`);
    if (await budgetStore(inventory).writeReservations(topicPartition(spec.topic), ledger.etag, next)) return admission;
    if (attempt === ATTEMPTS) throw new AdmissionBusy(`${ATTEMPTS} admissions on topic ${spec.topic} in a row lost to concurrent ones`);
    // Another admission wrote first: judge again with it counted, after a pause that parts the racers.
    await sleep(attempt * (5 + Math.random() * 20));
  }
}

async function judge(client: DurableClient, inventory: InventoryStorage, spec: AdmittedSpec, now: Date, drainId?: string): Promise<{ admission: Admission; ledger?: Ledger; held: Reservation[] }> {
  const partition = topicPartition(spec.topic);
  // The ledger, then the drains, then the nodes. A reservation dropped after the ledger is read
  // changes its ETag (the write fails, the admission starts over); a node that acts after the
  // drains are read is counted twice (in flight, and by its row) rather than not at all.
  const ledger = spec.mode === 'resume' ? undefined : await budgetStore(inventory).ledger(partition);
  const policy = ledger?.policy;
  const running = policy ? await runningDrains(client, spec.topic) : undefined;
  const held = ledger && running ? await pendingReservations(client, ledger.reservations, running.counted, now, drainId) : [];
  const rows: NodeRow[] = [];
  for await (const row of nodeInventory(inventory).standings(partition)) rows.push(row);
  const counts = emptyCounts();
  for (const row of rows) addToCounts(counts, row, now);
  const admission: Admission = { inventory: counts, rows, warnings: [] };
  if (spec.nodes !== undefined) admission.targets = checkTargets(spec.nodes, rowsById(rows), now);
  if (!policy || !running) return { admission, held };
  const requested = admission.targets ? admission.targets.available : spec.count;
  admission.policy = { maxUnavailable: policy.maxUnavailable };
  admission.budget = judgeBudget(policy, counts, { inFlight: running.inFlight, reserved: reservedNodes(held) }, requested);
  return { admission, ledger, held };
}
