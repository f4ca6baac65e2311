// Thin adapter over the durable client: starting a drain once, reading, listing and signalling
// drains. Every call goes through here, because the client pastes instance ids into its URLs
// as they are: each id is percent-encoded first, so no id can reach another instance's path or
// add an operation or a query parameter (drain ids are validated too; this holds regardless).

import type { DurableClient, DurableOrchestrationStatus, OrchestrationRuntimeStatus } from 'durable-functions';
import type { DrainInput } from '../domain/drain-input.js';
import type { DrainSpecWithId } from '../domain/drain-plan.js';
import { DRAIN_ORCHESTRATOR } from '../functions/drain-orchestrator.js';

/** The client throws a plain Error on 404; this is the one place that knows how it reads. */
function isNotFound(err: unknown): boolean {
  return /HTTP 404|No instance with ID/.test(String((err as Error)?.message ?? err));
}

/** The instance id as it goes into a management URL path segment. */
function pathId(drainId: string): string {
  return encodeURIComponent(drainId);
}

/** The drain's status, without its input (which carries every node once the drain has run a while) unless asked. */
export async function findDrain(
  client: DurableClient,
  drainId: string,
  opts: { showInput?: boolean; showHistory?: boolean } = {},
): Promise<DurableOrchestrationStatus | undefined> {
  try {
    return await client.getStatus(pathId(drainId), {
      showInput: opts.showInput ?? false,
      ...(opts.showHistory && { showHistory: true, showHistoryOutput: true }),
    });
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/**
 * Starts the drain orchestration under the drain id unless an instance with that id exists
 * (running or finished): a drain id stands for one drain, ever. The check and the start are two
 * calls; two starts racing for one id end with one instance (the second start fails with 409 on
 * a running instance).
 */
export async function startDrainOnce(client: DurableClient, spec: DrainSpecWithId): Promise<{ started: boolean; existing?: DurableOrchestrationStatus }> {
  const existing = await findDrain(client, spec.drainId);
  if (existing) return { started: false, existing };
  const input: DrainInput = { spec, generation: 0, eventsFolded: 0 };
  await client.startNew(DRAIN_ORCHESTRATOR, { instanceId: pathId(spec.drainId), input });
  return { started: true };
}

/** Raises an event on the drain's orchestration; false when there is no such instance. */
export async function raiseDrainEvent(client: DurableClient, drainId: string, event: string, data: unknown): Promise<boolean> {
  try {
    await client.raiseEvent(pathId(drainId), event, data);
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

export async function listDrains(client: DurableClient, runtimeStatus?: string[]): Promise<DurableOrchestrationStatus[]> {
  const all = await client.getStatusBy(runtimeStatus ? { runtimeStatus: runtimeStatus as OrchestrationRuntimeStatus[] } : {});
  return all.filter((s) => s.name === DRAIN_ORCHESTRATOR);
}
