// History events the engine writes itself (a start, a failure) and the JSON of a function's
// return value, in the shapes the Durable extension hands to the durable-functions library.

import type { RpcInvocationResponse, RpcTypedData } from '../worker/protocol.js';
import { EventType, parseJson, type HistoryEvent } from './history.js';
import type { InstanceRow } from './store.js';

export const iso = (ms: number): string => new Date(ms).toISOString();

/** The JSON text of a value returned by a function, as the extension serializes it. */
export function typedDataToJson(data: RpcTypedData | null | undefined): string {
  if (!data) return 'null';
  if (typeof data.json === 'string') return data.json;
  if (typeof data.string === 'string') return JSON.stringify(data.string);
  if (typeof data.int === 'number') return String(data.int);
  if (typeof data.double === 'number') return String(data.double);
  if (data.bytes) return JSON.stringify(Buffer.from(data.bytes).toString('base64'));
  return 'null';
}

/** An activity error becomes a TaskFailed; errors serialized by an exception-properties provider keep their details. */
export function failureEvent(kind: string, name: string, res: RpcInvocationResponse | Error, taskId: number, now: number, type: number): HistoryEvent {
  const message = res instanceof Error ? res.message : (res.result?.exception?.message ?? 'unknown error');
  const stack = res instanceof Error ? res.stack : (res.result?.exception?.stackTrace ?? undefined);
  const event: HistoryEvent = {
    EventType: type,
    EventId: -1,
    Timestamp: iso(now),
    TaskScheduledId: taskId,
    Reason: `${kind} function '${name}' failed: ${message}`,
    Details: stack ?? '',
  };
  const details = parseJson(message);
  if (details && typeof details === 'object' && 'errorType' in details && 'errorMessage' in details) {
    const d = details as Record<string, unknown>;
    event.FailureDetails = {
      ErrorType: d.errorType,
      ErrorMessage: d.errorMessage,
      StackTrace: d.stackTrace,
      IsNonRetriable: d.isNonRetriable ?? false,
      Properties: d.properties,
    };
  }
  return event;
}

/** The first message of every execution: its name, input and, for a sub-orchestration, its parent. */
export function executionStartedEvent(instance: InstanceRow, now: number): HistoryEvent {
  return {
    EventType: EventType.ExecutionStarted,
    EventId: -1,
    Timestamp: iso(now),
    Name: instance.name,
    Input: instance.input ?? undefined,
    Version: '',
    OrchestrationInstance: { InstanceId: instance.id, ExecutionId: instance.executionId },
    ParentInstance: instance.parentId
      ? { OrchestrationInstance: { InstanceId: instance.parentId }, TaskScheduleId: instance.parentTaskId ?? -1 }
      : undefined,
  };
}
