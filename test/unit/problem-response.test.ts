import type { InvocationContext } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config.js';
import { isTransient, RETRY_AFTER_SECONDS, unexpected } from '../../src/http/problem-response.js';

/** Collects what the handler logged: the only part of the InvocationContext `unexpected` uses. */
function context(): InvocationContext & { logged: string[] } {
  const logged: string[] = [];
  return { logged, error: (...a: unknown[]) => logged.push(`error ${a.map(String).join(' ')}`), warn: (...a: unknown[]) => logged.push(`warn ${a.map(String).join(' ')}`) } as unknown as InvocationContext & { logged: string[] };
}

// The message durable-functions' client throws when the Durable webhook answers an unexpected status.
const durable503 = new Error('The operation failed with an unexpected status code: 503. Details: {"code":"HostUnavailable","message":"The host is closing"}');

describe('unexpected errors as answers', () => {
  it('tells transient failures (Durable backend 502/503/504, refused or reset connections) from the rest', () => {
    expect(isTransient(durable503)).toBe(true);
    expect(isTransient(new Error('The operation failed with an unexpected status code: 504. Details: {}'))).toBe(true);
    expect(isTransient(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:7071'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isTransient(new Error('The operation failed with an unexpected status code: 500. Details: {}'))).toBe(false);
    expect(isTransient(new Error('The operation failed with an unexpected status code: 5030.'))).toBe(false);
    expect(isTransient(new TypeError("Cannot read properties of undefined (reading 'x')"))).toBe(false);
    expect(isTransient(undefined)).toBe(false);
  });

  it('answers a transient failure 503 with Retry-After, as problem details', () => {
    const ctx = context();
    const r = unexpected(durable503, ctx, 'starting drain d1');
    expect(r.status).toBe(503);
    expect(r.headers).toMatchObject({ 'content-type': 'application/problem+json', 'retry-after': String(RETRY_AFTER_SECONDS) });
    expect(r.jsonBody).toMatchObject({ status: 503, code: 'Unavailable' });
    expect((r.jsonBody as { detail: string }).detail).toMatch(/^starting drain d1 failed because a backend of the app is briefly unavailable \(.*503.*\); retry in 5 s$/);
    expect(ctx.logged[0]).toMatch(/^warn starting drain d1 failed, transiently/);
  });

  it('answers anything else 500 without a stack trace, and a configuration error naming the setting', () => {
    const ctx = context();
    const r = unexpected(new TypeError('boom\n    at somewhere (file.ts:1:1)'), ctx, 'listing drains');
    expect(r.status).toBe(500);
    expect(r.headers).not.toHaveProperty('retry-after');
    expect(r.jsonBody).toMatchObject({ status: 500, code: 'InternalError', detail: 'listing drains failed: boom' });
    const c = unexpected(new ConfigError('SERVICEBUS_NAMESPACE', 'SERVICEBUS_NAMESPACE is missing'), context(), 'x');
    expect(c.jsonBody).toMatchObject({ status: 500, code: 'Misconfigured', field: 'SERVICEBUS_NAMESPACE' });
  });
});
