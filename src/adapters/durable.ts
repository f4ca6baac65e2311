// Thin adapter over the durable client: starting a drain once, reading, listing and signalling
// drains. Every call goes through here, because the client pastes instance ids into its URLs
// as they are: each id is percent-encoded first, so no id can reach another instance's path or
// add an operation or a query parameter (drain ids are validated too; this holds regardless).

import type { DurableClient, DurableOrchestrationStatus, OrchestrationContext, OrchestrationRuntimeStatus } from 'durable-functions';
import type { DrainInput } from '../domain/drain-input.js';
import type { DrainSpecWithId } from '../domain/drain-plan.js';
import { DRAIN_ORCHESTRATOR } from '../domain/drain-protocol.js';

/** The client throws a plain Error on 404; this is the one place that knows how it reads. */
function isNotFound(err: unknown): boolean {
  return /HTTP 404|No instance with ID/.test(String((err as Error)?.message ?? err));
}

/** The start of an instance id that exists already (the durable client's 409). */
function isInstanceExists(err: unknown): boolean {
  return /status code: 409|InstanceExists|already exists/.test(String((err as Error)?.message ?? err));
}

/** The instance id as it goes into a management URL path segment. */
function pathId(drainId: string): string {
  return encodeURIComponent(drainId);
}

/**
 * The drain's status, without its input (which carries every node once the drain has run a while)
 * unless asked, never with its history; undefined when no drain orchestration has that id.
 */
export async function findDrain(
  client: DurableClient,
  drainId: string,
  opts: { showInput?: boolean } = {},
): Promise<DurableOrchestrationStatus | undefined> {
  try {
    const status = await client.getStatus(pathId(drainId), { showInput: opts.showInput ?? false });
    return status.name === DRAIN_ORCHESTRATOR ? status : undefined;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/**
 * Starts the drain orchestration under the drain id unless a drain with that id exists
 * (running or finished): a drain id stands for one drain, ever. The check and the start are two
 * calls; two starts racing for one id end with one instance: the second start's 409 (the
 * instance exists, maybe still pending) means the id is taken, as the check would have said.
 */
export async function startDrainOnce(client: DurableClient, spec: DrainSpecWithId): Promise<{ started: boolean; existing?: DurableOrchestrationStatus }> {
  const existing = await findDrain(client, spec.drainId);
  if (existing) return { started: false, existing };
  const input: DrainInput = { spec, generation: 0, eventsFolded: 0, batchesFolded: 0, episodes: 0 };
  try {
    await client.startNew(DRAIN_ORCHESTRATOR, { instanceId: pathId(spec.drainId), input });
  } catch (err) {
    if (isInstanceExists(err)) return { started: false };
    throw err;
  }
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

const EVENT_RAISED = 15; // DurableTask.Core HistoryEventType.EventRaised
const ORCHESTRATOR_STARTED = 12; // DurableTask.Core HistoryEventType.OrchestratorStarted

function historyOf(context: OrchestrationContext): Array<{ EventType?: unknown; Name?: unknown }> | undefined {
  const history = (context.df as unknown as { state?: unknown }).state;
  return Array.isArray(history) ? history : undefined;
}

/** Episodes of this generation so far (its OrchestratorStarted events), for the figures; see eventsInHistory. */
export function episodesInHistory(context: OrchestrationContext): number | undefined {
  return historyOf(context)?.filter((e) => e?.EventType === ORCHESTRATOR_STARTED).length;
}

/**
 * How many events of a name this generation's history holds (those already folded and those the
 * library has yet to hand out in this episode), or undefined when the library does not expose the
 * history. durable-functions documents no history on the context; it keeps it in `context.df.state`
 * (test/unit/durable.test.ts holds this to the installed version). Continue-as-new drops events
 * that sit unread in the current episode (the Node library has no preserveUnprocessedEvents), so
 * a generation ends only once it has folded all of them.
 */
export function eventsInHistory(context: OrchestrationContext, name: string): number | undefined {
  return historyOf(context)?.filter((e) => e?.EventType === EVENT_RAISED && e?.Name === name).length;
}
