// Problems (errors as values) and unexpected failures as application/problem+json (RFC 9457).
// Unexpected errors are logged in full and answered without a stack trace.

import type { HttpResponseInit, InvocationContext } from '@azure/functions';
import { ConfigError } from '../config.js';
import type { Problem } from '../domain/problem.js';

export function problemResponse(problem: Problem, instance?: string): HttpResponseInit {
  return {
    status: problem.status,
    headers: { 'content-type': 'application/problem+json' },
    jsonBody: {
      ...problem.extensions,
      type: `https://workforce.dev/problems/${problem.code}`,
      title: problem.title,
      status: problem.status,
      code: problem.code,
      detail: problem.detail,
      ...(problem.field !== undefined && { field: problem.field }),
      ...(instance !== undefined && { instance }),
    },
  };
}

export function problem(code: string, status: number, title: string, detail: string, field?: string, extensions?: Record<string, unknown>): Problem {
  return { code, status, title, detail, ...(field !== undefined && { field }), ...(extensions !== undefined && { extensions }) };
}

/** Seconds a caller should wait before retrying when a backend of the app is briefly unavailable. */
export const RETRY_AFTER_SECONDS = 5;

/** A problem a retry cures, answered with Retry-After (RETRY_AFTER_SECONDS). */
export function retryLater(p: Problem): HttpResponseInit {
  const answer = problemResponse(p);
  return { ...answer, headers: { ...(answer.headers as Record<string, string>), 'retry-after': String(RETRY_AFTER_SECONDS) } };
}

/**
 * A failure a retry can cure: the Durable backend answered 502/503/504 (its client says so only in
 * the message; a host that is restarting answers 503) or the connection to it failed.
 */
export function isTransient(err: unknown): boolean {
  const e = err as { message?: unknown; code?: unknown } | undefined;
  if (typeof e?.code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE'].includes(e.code)) return true;
  return /unexpected status code: 50[234]\b/.test(String(e?.message ?? ''));
}

/** The one place unknown errors become answers: configuration errors name the setting, transient ones say when to retry. */
export function unexpected(err: unknown, context: InvocationContext, what: string): HttpResponseInit {
  if (err instanceof ConfigError) {
    context.error(err.message);
    return problemResponse(problem('Misconfigured', 500, 'The app is misconfigured', err.message, err.setting));
  }
  if (isTransient(err)) {
    const message = String((err as Error)?.message ?? err).split('\n')[0];
    context.warn(`${what} failed, transiently: ${message}`);
    return retryLater(problem('Unavailable', 503, 'Briefly unavailable', `${what} failed because a backend of the app is briefly unavailable (${message}); retry in ${RETRY_AFTER_SECONDS} s`));
  }
  context.error(`${what} failed`, err);
  const message = String((err as Error)?.message ?? err).split('\n')[0];
  return problemResponse(problem('InternalError', 500, `${what} failed`, `${what} failed: ${message}`));
}

/** Parses a JSON body; an empty body is `{}`. */
export async function jsonBody(request: { text(): Promise<string> }): Promise<{ ok: true; value: unknown } | { ok: false; problem: Problem }> {
  const text = await request.text();
  if (text.trim() === '') return { ok: true, value: {} };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return { ok: false, problem: problem('InvalidJson', 400, 'Invalid request', `the body is not JSON: ${(err as Error).message}`, '') };
  }
}
