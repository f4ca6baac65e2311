// The drain orchestration as its callers see it: its name, its activities and events with what
// they carry, and its output. The orchestration implements it; the adapters that start and signal
// it and the views that read its status take the names from here, never from the orchestration.

import type { Published } from './drain-input.js';
import type { DrainSpecWithId } from './drain-plan.js';
import type { DrainProgress } from './drain-progress.js';
import type { DrainSummary } from './drain-status.js';

/** The orchestration; its instance id is the drain id. */
export const DRAIN_ORCHESTRATOR = 'drainOrchestrator';
/** Activity: publish the drain's control messages. */
export const PUBLISH_DRAIN = 'publishDrain';
/** Activity: take back the messages no node has taken yet. */
export const WITHDRAW_DRAIN = 'withdrawDrain';
/** Event: the reports of one Service Bus batch for the drain, an array (`AgentReport[]`); one report from triggers of earlier versions. */
export const REPORT_EVENT = 'report';
/** Event: a cancel request (`CancelRequest`). */
export const CANCEL_EVENT = 'cancel';

export interface PublishInput {
  spec: DrainSpecWithId;
  now: string;
}

/**
 * An activity's answer when Service Bus refused it for want of a right (bus-refusal.ts): final,
 * as retrying cannot grant a role. `refused` says which right on which entity.
 */
export interface Refused {
  refused: string;
}

export const isRefused = (result: unknown): result is Refused =>
  typeof result === 'object' && result !== null && typeof (result as Refused).refused === 'string';

export interface WithdrawInput {
  topic: string;
  drainId: string;
  max: number;
  /** A targeted drain's nodes: their sessions on the commands queue are where its commands wait. */
  nodes?: string[];
}

export interface CancelRequest {
  /** The signed-in principal, else what the caller claimed. */
  by?: string;
  /** What the caller claimed, when a signed-in principal asked. */
  for?: string;
  reason?: string;
}

export interface DrainOutput {
  summary: DrainSummary;
  /** Every node, in full (the custom status lists at most NODE_LIMIT). */
  progress: DrainProgress;
  published: Published;
  generation: number;
  /** Report states folded. */
  eventsFolded: number;
  /** `report` events folded (one per drain per Service Bus batch). */
  batchesFolded: number;
  /** Orchestrator episodes over all generations. */
  episodes: number;
}
