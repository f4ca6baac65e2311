// Thin adapter over the durable client: starting a drain once, reading and listing drains.

import type { DurableClient, DurableOrchestrationStatus, OrchestrationRuntimeStatus } from 'durable-functions';
import type { DrainInput } from '../domain/drain-input.js';
import type { DrainSpecWithId } from '../domain/drain-plan.js';
import { DRAIN_ORCHESTRATOR } from '../functions/drain-orchestrator.js';

/** The client throws a plain Error on 404; this is the one place that knows how it reads. */
function isNotFound(err: unknown): boolean {
  return /HTTP 404|No instance with ID/.test(String((err as Error)?.message ?? err));
}

/** The drain's status, without its input (which carries every node once the drain has run a while) unless asked. */
export async function findDrain(client: DurableClient, drainId: string, opts: { showInput?: boolean } = {}): Promise<DurableOrchestrationStatus | undefined> {
  try {
    return await client.getStatus(drainId, { showInput: opts.showInput ?? false });
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
  await client.startNew(DRAIN_ORCHESTRATOR, { instanceId: spec.drainId, input });
  return { started: true };
}

export async function listDrains(client: DurableClient, runtimeStatus?: string[]): Promise<DurableOrchestrationStatus[]> {
  const all = await client.getStatusBy(runtimeStatus ? { runtimeStatus: runtimeStatus as OrchestrationRuntimeStatus[] } : {});
  return all.filter((s) => s.name === DRAIN_ORCHESTRATOR);
}

export function isNotFoundError(err: unknown): boolean {
  return isNotFound(err);
}
