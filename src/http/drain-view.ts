// The drain as the API shows it, from the orchestration status: the custom status while it runs,
// the output (every node) once it ended.

import type { DurableOrchestrationStatus } from 'durable-functions';
import { parseDrainInput } from '../domain/drain-input.js';
import { newProgress, type DrainProgress, type DrainStatus } from '../domain/drain-progress.js';
import { summarize, type DrainSummary } from '../domain/drain-status.js';
import type { DrainOutput } from '../domain/drain-protocol.js';
import { isObj } from '../domain/json.js';

export interface DrainView extends Partial<DrainSummary> {
  drainId: string;
  status: DrainStatus;
  runtimeStatus: string;
  createdTime?: string;
  lastUpdatedTime?: string;
  /** Every node with workers, once the drain ended. */
  progress?: DrainProgress;
  failure?: string;
  /** Why a running drain waits (untaken messages, the topic's nodes), from the fleet inventory at read time. */
  hint?: string;
}

/**
 * Before the orchestration writes its first custom status (still Pending, or publishing), the
 * drain is shown from its input, so who asked, for what and why is there from the first GET.
 */
function summaryFromInput(status: DurableOrchestrationStatus): DrainSummary | undefined {
  try {
    const { spec, progress } = parseDrainInput(status.input);
    return summarize(spec, progress ?? newProgress(spec.drainId, spec.topic, spec.mode, spec.count), new Date(status.lastUpdatedTime));
  } catch {
    return undefined;
  }
}

/** True while the drain can only be shown from its input: no custom status yet, no output. */
export function needsInput(status: DurableOrchestrationStatus): boolean {
  return !isObj(status.customStatus) && !(String(status.runtimeStatus) === 'Completed' && isObj(status.output));
}

export function drainView(status: DurableOrchestrationStatus, opts: { full: boolean }): DrainView {
  const runtimeStatus = String(status.runtimeStatus);
  const custom = isObj(status.customStatus) ? (status.customStatus as unknown as DrainSummary) : undefined;
  const output = runtimeStatus === 'Completed' && isObj(status.output) ? (status.output as unknown as DrainOutput) : undefined;
  const summary = output?.summary ?? custom ?? summaryFromInput(status);
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
