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

export function problem(code: string, status: number, title: string, detail: string, field?: string): Problem {
  return { code, status, title, detail, ...(field !== undefined && { field }) };
}

/** The one place unknown errors become answers: configuration errors name the setting. */
export function unexpected(err: unknown, context: InvocationContext, what: string): HttpResponseInit {
  if (err instanceof ConfigError) {
    context.error(err.message);
    return problemResponse(problem('Misconfigured', 500, 'The app is misconfigured', err.message, err.setting));
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
