// When the CLI sends a request again: after a timeout, a dropped or refused connection, or an
// answer that says "not now" (408, 429, 502, 503, 504). Any other answer is final. At most
// ATTEMPTS attempts, none started later than RETRY_WINDOW_MS after the first; the wait is what
// Retry-After asks (capped), else a growing backoff with jitter, so concurrent drains that lost
// the same budget ledger race do not retry in step. Only requests that cannot act twice are
// retried: GET, PUT, DELETE, and POSTs that carry their own id (see start-drain.ts).

/** Each attempt's timeout unless --timeout / WORKFORCE_API_TIMEOUT say otherwise. */
export const DEFAULT_TIMEOUT_MS = 30_000;
export const ATTEMPTS = 4;
export const RETRY_WINDOW_MS = 60_000;
/** A Retry-After beyond this is waited only this long (the API asks 5 s). */
export const MAX_RETRY_AFTER_MS = 15_000;
const BASE_DELAY_MS = 500;

/** Why an attempt did not succeed. */
export type Failure =
  | { kind: 'status'; status: number; retryAfter?: string | null }
  | { kind: 'timeout' }
  | { kind: 'network'; code?: string };

/** An IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"): Date.parse alone takes "1.5" for a date. */
const HTTP_DATE = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;

const RETRIED_STATUS = new Set([408, 429, 502, 503, 504]);

/** Connection failures a retry can cure (a host restarting, a reset by a proxy or load balancer). */
const RETRIED_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

export function isRetriable(f: Failure): boolean {
  if (f.kind === 'timeout') return true;
  if (f.kind === 'network') return f.code !== undefined && RETRIED_CODES.has(f.code);
  return RETRIED_STATUS.has(f.status);
}

/** Retry-After in ms (delta-seconds or an HTTP date), capped; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null | undefined, nowMs: number): number | undefined {
  if (header === null || header === undefined || header.trim() === '') return undefined;
  const value = header.trim();
  let ms: number;
  if (/^\d+$/.test(value)) ms = Number(value) * 1_000;
  else if (HTTP_DATE.test(value)) ms = Math.max(0, Date.parse(value) - nowMs);
  else return undefined;
  return Math.min(ms, MAX_RETRY_AFTER_MS);
}

/**
 * How long to wait before the next attempt, or undefined to give up. `attempts` were made so far
 * (1 after the first), the first started `elapsedMs` ago; `random` is in [0, 1).
 */
export function retryDelay(f: Failure, attempts: number, elapsedMs: number, nowMs: number, random: () => number = Math.random): number | undefined {
  if (!isRetriable(f) || attempts >= ATTEMPTS) return undefined;
  const asked = f.kind === 'status' ? retryAfterMs(f.retryAfter, nowMs) : undefined;
  const backoff = BASE_DELAY_MS * 2 ** (attempts - 1);
  const delay = asked ?? Math.round(backoff / 2 + (random() * backoff) / 2);
  return elapsedMs + delay > RETRY_WINDOW_MS ? undefined : delay;
}
