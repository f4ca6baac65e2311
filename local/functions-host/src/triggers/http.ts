// HTTP triggers: a function's route, methods and auth level; the key a request presents and
// whether it opens the function; the RPC form of a request the worker gets, and the function's
// HTTP output written back as the response.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HostKeys } from '../config.js';
import { sendProblem } from '../errors.js';
import { keyMatches } from '../key-match.js';
import type { FunctionMetadata, RpcHttpCookie, RpcHttpData, RpcInvocationResponse, RpcTypedData } from '../worker/protocol.js';
import { compileRoute, matchRoute, type CompiledRoute } from './route.js';

export type AuthLevel = 'anonymous' | 'function' | 'admin';

export interface HttpFunction {
  name: string;
  route: CompiledRoute;
  methods: Set<string>;
  authLevel: AuthLevel;
  triggerName: string;
}

export function toHttpFunction(meta: FunctionMetadata, triggerName: string): HttpFunction {
  const trigger = meta.bindings[triggerName]!;
  const route = typeof trigger.route === 'string' && trigger.route !== '' ? trigger.route : meta.name;
  const methods = Array.isArray(trigger.methods) && trigger.methods.length > 0 ? trigger.methods : ['GET', 'POST'];
  const level = String(trigger.authLevel ?? 'function').toLowerCase();
  return {
    name: meta.name,
    route: compileRoute(route),
    methods: new Set(methods.map((m) => String(m).toUpperCase())),
    authLevel: level === 'anonymous' || level === 'admin' ? level : 'function',
    triggerName,
  };
}

/** The key a request presents: `x-functions-key` header first, then the `code` query parameter. */
export function presentedKey(req: IncomingMessage, url: URL): string | undefined {
  const header = req.headers['x-functions-key'];
  if (typeof header === 'string' && header !== '') return header;
  return url.searchParams.get('code') ?? undefined;
}

export function authorize(level: AuthLevel, key: string | undefined, keys: HostKeys): boolean {
  if (level === 'anonymous') return true;
  if (key === undefined) return false;
  return keyMatches(key, level === 'function' ? [keys.master, keys.function] : [keys.master]);
}

export class HttpRouter {
  #functions: HttpFunction[];

  constructor(functions: HttpFunction[]) {
    this.#functions = [...functions].sort((a, b) => a.route.rank - b.route.rank);
  }

  /** Finds the function for a path: a match with the wrong method is reported as such (405). */
  match(pathname: string, method: string): { fn: HttpFunction; params: Record<string, string> } | 'method' | undefined {
    let methodMismatch = false;
    for (const fn of this.#functions) {
      const params = matchRoute(fn.route, pathname);
      if (!params) continue;
      if (fn.methods.has(method)) return { fn, params };
      methodMismatch = true;
    }
    return methodMismatch ? 'method' : undefined;
  }
}

export async function readBody(req: IncomingMessage, limit = 100 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw Object.assign(new Error('Request body too large'), { status: 413 });
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The RPC form of an HTTP request that the real host sends to the worker. */
export function toRpcHttp(req: IncomingMessage, url: URL, body: Buffer, params: Record<string, string>): RpcHttpData {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = k in query ? `${query[k]},${v}` : v;
  return {
    method: req.method ?? 'GET',
    url: url.href,
    headers,
    query,
    params,
    body: body.length > 0 ? { bytes: body } : null,
  };
}

function typedDataToBuffer(data: RpcTypedData | null | undefined): Buffer {
  if (!data) return Buffer.alloc(0);
  if (data.bytes) return Buffer.from(data.bytes.buffer, data.bytes.byteOffset, data.bytes.byteLength);
  if (typeof data.string === 'string') return Buffer.from(data.string);
  if (typeof data.json === 'string') return Buffer.from(data.json);
  if (typeof data.int === 'number') return Buffer.from(String(data.int));
  if (typeof data.double === 'number') return Buffer.from(String(data.double));
  return Buffer.alloc(0);
}

function cookieHeader(c: RpcHttpCookie): string {
  let s = `${c.name}=${c.value ?? ''}`;
  if (c.domain?.value) s += `; Domain=${c.domain.value}`;
  if (c.path?.value) s += `; Path=${c.path.value}`;
  const exp = c.expires?.value;
  if (exp?.seconds !== undefined && exp.seconds !== null) s += `; Expires=${new Date(Number(exp.seconds) * 1000).toUTCString()}`;
  if (c.maxAge?.value !== undefined && c.maxAge.value !== null) s += `; Max-Age=${c.maxAge.value}`;
  if (c.secure?.value) s += '; Secure';
  if (c.httpOnly?.value) s += '; HttpOnly';
  // In the RPC enum 'none' means "not set"; 'explicitNone' is SameSite=None.
  if (c.sameSite === 'lax') s += '; SameSite=Lax';
  else if (c.sameSite === 'strict') s += '; SameSite=Strict';
  else if (c.sameSite === 'explicitNone') s += '; SameSite=None';
  return s;
}

/** Writes the function's response: its HTTP output (status, headers, cookies, body), or a problem document. */
export function writeHttpResponse(res: ServerResponse, fnName: string, response: RpcInvocationResponse): void {
  if (response.result?.status !== 'success') {
    const message = response.result?.exception?.message ?? 'unknown error';
    sendProblem(res, 500, 'FunctionInvocationFailed', `Function "${fnName}" failed: ${message}`);
    return;
  }
  const http = response.returnValue?.http ?? response.outputData?.find((o) => o.data?.http)?.data?.http;
  if (!http) {
    // The handler returned nothing: an empty 204.
    res.writeHead(204);
    res.end();
    return;
  }
  const status = Number(http.statusCode ?? 200) || 200;
  const body = typedDataToBuffer(http.body);
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(http.headers ?? {})) headers[k.toLowerCase()] = v;
  const cookies = (http.cookies ?? []).map(cookieHeader);
  if (cookies.length > 0) headers['set-cookie'] = cookies;
  if (status !== 204 && status !== 304) headers['content-length'] = String(body.length);
  res.writeHead(status, headers);
  res.end(status === 204 || status === 304 ? undefined : body);
}
