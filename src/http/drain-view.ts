// The drain as the API shows it, from the orchestration status: the custom status while it runs,
// the output (every node) once it ended.

import type { DurableOrchestrationStatus } from 'durable-functions';
import type { DrainProgress, DrainStatus } from '../domain/drain-progress.js';
import type { DrainSummary } from '../domain/drain-status.js';
import type { DrainOutput } from '../functions/drain-orchestrator.js';

export interface DrainView extends Partial<DrainSummary> {
  drainId: string;
  status: DrainStatus;
  runtimeStatus: string;
  createdTime?: string;
  lastUpdatedTime?: string;
  /** Every node with workers, once the drain ended. */
  progress?: DrainProgress;
  failure?: string;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function drainView(status: DurableOrchestrationStatus, opts: { full: boolean }): DrainView {
  const runtimeStatus = String(status.runtimeStatus);
  const custom = isObj(status.customStatus) ? (status.customStatus as unknown as DrainSummary) : undefined;
  const output = runtimeStatus === 'Completed' && isObj(status.output) ? (status.output as unknown as DrainOutput) : undefined;
  const summary = output?.summary ?? custom;
  const failed = runtimeStatus === 'Failed' || runtimeStatus === 'Terminated';
  const view: DrainView = {
    ...summary,
    drainId: status.instanceId,
    status: failed ? 'failed' : (summary?.status ?? 'running'),
    runtimeStatus,
    createdTime: new Date(status.createdTime).toISOString(),
    lastUpdatedTime: new Date(status.lastUpdatedTime).toISOString(),
  };
  if (failed) view.failure = String(status.output ?? 'the orchestration failed').split('\n')[0];
  if (opts.full && output) view.progress = output.progress;
  // Lists stay small: counts and the unfinished node ids, not the per-node details.
  if (!opts.full) delete view.nodes;
  return view;
}
