// Retries of activities and sub-orchestrations as DurableTask.Core runs them: the delay before
// the next attempt, whether the retry timeout has run out, and which retry an event belongs to.

import { EventType, type HistoryEvent, type RetryOptionsWire } from './history.js';
import type { EngineState, RetryState } from './store.js';

/**
 * Delay before the next attempt, as DurableTask.Core's RetryInterceptor computes it:
 * first interval × backoffCoefficient^(attempts made − 1), capped by the maximum interval.
 */
export function retryDelay(options: RetryOptionsWire, attemptsMade: number): number {
  const coefficient = options.backoffCoefficient && options.backoffCoefficient > 0 ? options.backoffCoefficient : 1;
  const delay = options.firstRetryIntervalInMilliseconds * coefficient ** (attemptsMade - 1);
  const cap = options.maxRetryIntervalInMilliseconds;
  return cap && cap > 0 ? Math.min(delay, cap) : delay;
}

/** Past the retry timeout, remaining attempts fail without running. */
export function retryExpired(state: RetryState, now: number): boolean {
  const timeout = state.options.retryTimeoutInMilliseconds;
  return !!timeout && timeout > 0 && now - state.firstAttemptAt >= timeout;
}

export type RetryPhase = 'failed' | 'timer' | 'done';

/**
 * The retried call an event belongs to, and where it leaves it: its attempt failed, the timer
 * before the next attempt fired, or it succeeded. An event after which the library allocates a
 * sequence number of its own (a failure, or a timer with attempts left) ends an episode's batch.
 */
export function retryFor(eng: EngineState, e: HistoryEvent): { key: string; r: RetryState; phase: RetryPhase } | undefined {
  for (const [key, r] of Object.entries(eng.retries)) {
    if ((e.EventType === EventType.TaskFailed || e.EventType === EventType.SubOrchestrationInstanceFailed) && e.TaskScheduledId === r.currentId) {
      return { key, r, phase: 'failed' };
    }
    if (e.EventType === EventType.TimerFired && e.TimerId === r.timerId) return { key, r, phase: 'timer' };
    if ((e.EventType === EventType.TaskCompleted || e.EventType === EventType.SubOrchestrationInstanceCompleted) && e.TaskScheduledId === r.currentId) {
      return { key, r, phase: 'done' };
    }
  }
  return undefined;
}
