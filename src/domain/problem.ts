// Errors as values: a stable code, the field at fault, and a sentence a person can act on.
// The HTTP layer turns these into application/problem+json; the CLI prints the detail.

export interface Problem {
  /** Stable machine-readable code, e.g. `InvalidField`, `DrainNotFound`. */
  code: string;
  /** HTTP status the API answers with. */
  status: number;
  title: string;
  detail: string;
  /** JSON path of the offending input field, when there is one. */
  field?: string;
  /** Extension members of the problem document (RFC 9457 §3.2): the figures or ids it names. */
  extensions?: Record<string, unknown>;
}

export type Result<T> = { ok: true; value: T } | { ok: false; problem: Problem };

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });

export function invalidField(field: string, detail: string): Result<never> {
  return { ok: false, problem: { code: 'InvalidField', status: 400, title: 'Invalid request', detail, field } };
}

export function drainNotFound(drainId: string): Problem {
  return { code: 'DrainNotFound', status: 404, title: 'Drain not found', detail: `no drain with id ${drainId}`, field: 'id' };
}
