// The host's errors: `HostError` with a stable code, an HTTP status and an actionable message,
// normalised once from anything thrown, and written as JSON or RFC 9457 problem documents.
import type { ServerResponse } from 'node:http';

/** An error with a stable code and a message a person can act on. */
export class HostError extends Error {
  readonly code: string;
  readonly status: number;
  constructor(code: string, message: string, status = 500) {
    super(message);
    this.name = 'HostError';
    this.code = code;
    this.status = status;
  }
}

export function toError(err: unknown): Error {
  if (err instanceof Error) return err;
  return new Error(typeof err === 'string' ? err : JSON.stringify(err));
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Host-level HTTP errors are RFC 9457 problem documents. */
export function sendProblem(res: ServerResponse, status: number, code: string, detail: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ type: `urn:functions-host:${code}`, title: code, status, detail });
  res.writeHead(status, { 'content-type': 'application/problem+json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
