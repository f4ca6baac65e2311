// Activity and sub-orchestration retries as DurableTask.Core computes them: the delay before
// the next attempt, and whether the retry timeout has run out.
import type { RetryOptionsWire } from './history.js';
import type { RetryState } from './store.js';

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
