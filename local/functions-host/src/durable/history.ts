/**
 * History events in the shape the Durable extension hands to out-of-process SDKs
 * (PascalCase DurableTask.Core events, numeric EventType), and the action shapes the
 * durable-functions library answers with (OrchestratorState).
 */
export const EventType = {
  ExecutionStarted: 0,
  ExecutionCompleted: 1,
  ExecutionFailed: 2,
  ExecutionTerminated: 3,
  TaskScheduled: 4,
  TaskCompleted: 5,
  TaskFailed: 6,
  SubOrchestrationInstanceCreated: 7,
  SubOrchestrationInstanceCompleted: 8,
  SubOrchestrationInstanceFailed: 9,
  TimerCreated: 10,
  TimerFired: 11,
  OrchestratorStarted: 12,
  OrchestratorCompleted: 13,
  EventSent: 14,
  EventRaised: 15,
  ContinueAsNew: 16,
  GenericEvent: 17,
  HistoryState: 18,
  ExecutionSuspended: 19,
  ExecutionResumed: 20,
} as const;

export const EVENT_TYPE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(EventType).map(([name, n]) => [n, name]),
);

export interface HistoryEvent {
  EventType: number;
  EventId: number;
  Timestamp: string;
  IsPlayed?: boolean;
  Name?: string;
  Input?: string;
  Result?: string;
  Reason?: string;
  Details?: string;
  FailureDetails?: unknown;
  TaskScheduledId?: number;
  TimerId?: number;
  FireAt?: string;
  InstanceId?: string;
  OrchestrationStatus?: string;
  OrchestrationInstance?: { InstanceId: string; ExecutionId: string };
  ParentInstance?: { OrchestrationInstance: { InstanceId: string }; TaskScheduleId: number };
  [field: string]: unknown;
}

export const ActionType = {
  CallActivity: 0,
  CallActivityWithRetry: 1,
  CallSubOrchestrator: 2,
  CallSubOrchestratorWithRetry: 3,
  ContinueAsNew: 4,
  CreateTimer: 5,
  WaitForExternalEvent: 6,
  CallEntity: 7,
  CallHttp: 8,
  SignalEntity: 9,
  WhenAny: 11,
  WhenAll: 12,
  LockEntities: 13,
  ReleaseEntities: 14,
} as const;

export interface RetryOptionsWire {
  firstRetryIntervalInMilliseconds: number;
  maxNumberOfAttempts: number;
  backoffCoefficient?: number;
  maxRetryIntervalInMilliseconds?: number;
  retryTimeoutInMilliseconds?: number;
}

export interface Action {
  actionType: number;
  functionName?: string;
  input?: unknown;
  instanceId?: string;
  retryOptions?: RetryOptionsWire;
  fireAt?: string;
  isCanceled?: boolean;
  externalEventName?: string;
  compoundActions?: Action[];
  httpRequest?: { method: string; uri: string; content?: string; headers?: Record<string, string> };
}

export interface OrchestratorStateWire {
  isDone: boolean;
  actions: Action[][];
  output?: unknown;
  error?: string;
  customStatus?: unknown;
  schemaVersion?: number;
}

/** Depth-first, in the order the library assigns sequence numbers to the tasks behind them. */
export function flattenActions(state: OrchestratorStateWire): Action[] {
  const out: Action[] = [];
  const visit = (a: Action): void => {
    if ((a.actionType === ActionType.WhenAll || a.actionType === ActionType.WhenAny) && Array.isArray(a.compoundActions)) {
      for (const c of a.compoundActions) visit(c);
    } else out.push(a);
  };
  for (const group of state.actions ?? []) for (const a of group ?? []) visit(a);
  return out;
}

/** Actions carry inputs the library already serialized when they were strings (`Utils.processInput`). */
export function serializedInput(input: unknown): string {
  if (input === undefined) return 'null';
  return typeof input === 'string' ? input : JSON.stringify(input);
}

export function parseJson(text: string | null | undefined): unknown {
  if (text === null || text === undefined || text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
