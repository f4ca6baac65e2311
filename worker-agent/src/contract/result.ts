// Parse results are values: callers branch on `ok`, and a failure names the field at fault.

export interface ContractError {
  /** Stable code: `InvalidControlMessage` (also the dead-letter reason) or `InvalidReport`. */
  code: string;
  /** The field at fault (`body` when the whole body is unusable). */
  field: string;
  /** A sentence a person can act on. */
  message: string;
}

export type Failure = { ok: false; error: ContractError };
export type ParseResult<T> = { ok: true; value: T } | Failure;

export function ok<T>(value: T): { ok: true; value: T } {
  return { ok: true, value };
}

export function fail(code: string, field: string, message: string): Failure {
  return { ok: false, error: { code, field, message } };
}

export function isFailure(value: unknown): value is Failure {
  return typeof value === 'object' && value !== null && (value as Failure).ok === false;
}
