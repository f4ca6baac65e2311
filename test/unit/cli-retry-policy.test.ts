import { describe, expect, it } from 'vitest';
import { ATTEMPTS, isRetriable, MAX_RETRY_AFTER_MS, RETRY_WINDOW_MS, retryAfterMs, retryDelay, type Failure } from '../../src/cli/retry.js';

/** When the CLI sends a request again, and how long it waits first. */
describe('the CLI retry policy', () => {
  const now = Date.parse('2026-12-07T12:00:00Z');
  const half = () => 0.5;

  it('retries timeouts, dropped or refused connections and the "not now" answers, nothing else', () => {
    const retried: Failure[] = [
      { kind: 'timeout' },
      { kind: 'network', code: 'ECONNRESET' },
      { kind: 'network', code: 'UND_ERR_SOCKET' },
      { kind: 'network', code: 'ECONNREFUSED' },
      ...[408, 429, 502, 503, 504].map((status) => ({ kind: 'status' as const, status })),
    ];
    const final: Failure[] = [
      { kind: 'network' },
      { kind: 'network', code: 'ENOTFOUND' },
      { kind: 'network', code: 'CERT_HAS_EXPIRED' },
      ...[400, 401, 403, 404, 409, 410, 412, 422, 500, 501].map((status) => ({ kind: 'status' as const, status })),
    ];
    for (const f of retried) expect([f, isRetriable(f)]).toEqual([f, true]);
    for (const f of final) expect([f, isRetriable(f)]).toEqual([f, false]);
    expect(retryDelay({ kind: 'status', status: 409, retryAfter: '1' }, 1, 0, now)).toBeUndefined();
  });

  it('waits what Retry-After asks, in seconds or as a date, at most MAX_RETRY_AFTER_MS', () => {
    expect(retryDelay({ kind: 'status', status: 503, retryAfter: '5' }, 1, 0, now)).toBe(5_000);
    expect(retryDelay({ kind: 'status', status: 429, retryAfter: '0' }, 1, 0, now)).toBe(0);
    expect(retryAfterMs(new Date(now + 7_000).toUTCString(), now)).toBe(7_000);
    expect(retryAfterMs(new Date(now - 7_000).toUTCString(), now)).toBe(0);
    expect(retryAfterMs('3600', now)).toBe(MAX_RETRY_AFTER_MS);
    for (const unreadable of [undefined, null, '', ' ', 'soon', '-1', '1.5']) expect(retryAfterMs(unreadable, now)).toBeUndefined();
  });

  it('without Retry-After backs off, doubling, with jitter between half and all of it', () => {
    expect([1, 2, 3].map((n) => retryDelay({ kind: 'timeout' }, n, 0, now, half))).toEqual([375, 750, 1_500]);
    expect(retryDelay({ kind: 'status', status: 502 }, 1, 0, now, () => 0)).toBe(250);
    expect(retryDelay({ kind: 'status', status: 502, retryAfter: 'soon' }, 1, 0, now, () => 0.999_999)).toBe(500);
  });

  it(`gives up after ${ATTEMPTS} attempts, or when the next would start after RETRY_WINDOW_MS`, () => {
    expect(retryDelay({ kind: 'timeout' }, ATTEMPTS - 1, 0, now, half)).toBeDefined();
    expect(retryDelay({ kind: 'timeout' }, ATTEMPTS, 0, now, half)).toBeUndefined();
    expect(retryDelay({ kind: 'status', status: 503, retryAfter: '5' }, 1, RETRY_WINDOW_MS - 5_000, now)).toBe(5_000);
    expect(retryDelay({ kind: 'status', status: 503, retryAfter: '5' }, 1, RETRY_WINDOW_MS - 4_999, now)).toBeUndefined();
  });
});
