// One replay of an orchestrator function: the whole history plus the episode's new events go to
// the language worker, which answers with the orchestrator's state (every action it has
// scheduled so far, custom status, output) or a failure.

import type { RpcInvocationResponse, RpcParameterBinding } from '../worker/protocol.js';
import { parseJson, type HistoryEvent, type OrchestratorStateWire } from './history.js';
import type { InstanceRow } from './store.js';

const OUT_OF_PROC_LABEL = '\n\n$OutOfProcData$:';
/** Replay schema V2: compound actions nested, timers and HTTP calls handled as single actions. */
const SCHEMA_VERSION = 1;

export interface ReplayResult {
  state?: OrchestratorStateWire;
  /** Why the orchestration fails in this episode (the function failed, or does not exist). */
  failure?: string;
}

export type Invoke = (functionName: string, inputData: RpcParameterBinding[]) => Promise<RpcInvocationResponse>;

/** Replays the orchestrator; throws when the worker could not run it (nothing is committed then). */
export async function replay(
  orchestrator: { name: string; triggerName: string } | undefined,
  invoke: Invoke,
  inst: InstanceRow,
  history: HistoryEvent[],
  newEvents: HistoryEvent[],
): Promise<ReplayResult> {
  if (!orchestrator) return { failure: `The function '${inst.name}' doesn't exist, is disabled, or is not an orchestrator function.` };
  const payload = {
    history: [...history.map((e) => ({ ...e, IsPlayed: true })), ...newEvents],
    input: parseJson(inst.input),
    instanceId: inst.id,
    isReplaying: history.length > 0,
    parentInstanceId: inst.parentId ?? undefined,
    upperSchemaVersion: SCHEMA_VERSION,
    upperSchemaVersionNew: SCHEMA_VERSION,
    longRunningTimerIntervalDuration: '3.00:00:00',
    maximumShortTimerDuration: '6.00:00:00',
    defaultHttpAsyncRequestSleepTimeMillseconds: 30000,
  };
  const res = await invoke(orchestrator.name, [{ name: orchestrator.triggerName, data: { string: JSON.stringify(payload) } }]);
  if (res.result?.status === 'success') {
    const state = parseJson(res.returnValue?.json ?? res.returnValue?.string) as OrchestratorStateWire;
    if (!state || !Array.isArray(state.actions)) return { state, failure: `Orchestrator function '${inst.name}' did not return an orchestrator state` };
    return { state };
  }
  const message = res.result?.exception?.message ?? 'unknown error';
  const at = message.indexOf(OUT_OF_PROC_LABEL);
  const state = at >= 0 ? (parseJson(message.slice(at + OUT_OF_PROC_LABEL.length)) as OrchestratorStateWire) : undefined;
  // The library puts the orchestrator's exception in the state it attaches, not in the message.
  return { ...(state !== undefined && { state }), failure: `Orchestrator function '${inst.name}' failed: ${state?.error ?? (at >= 0 ? message.slice(0, at) : message)}` };
}
