// An HTTP proxy between the CLI and the local Functions host that can lose answers: it forwards
// a request and keeps the answer from the client (the API acted, the client times out), answers
// in the API's place (a 503 with Retry-After), never answers at all, or holds a request until
// the test says. Every request is recorded with what the host answered it.

import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Seen {
  method: string;
  path: string;
  body: string;
  /** What the host answered, when the request was forwarded. */
  upstream?: number;
}

type Act =
  | { kind: 'forward'; before?: () => Promise<void> }
  /** Forward it, and keep the host's answer from the client. */
  | { kind: 'lose-answer' }
  /** Neither forward nor answer. */
  | { kind: 'hang' }
  | { kind: 'answer'; status: number; headers: Record<string, string>; body: unknown };

interface Rule {
  match: (method: string, path: string) => boolean;
  act: Act;
  once: boolean;
}

export class ApiProxy {
  readonly seen: Seen[] = [];
  private readonly rules: Rule[] = [];
  private readonly server = http.createServer((req, res) => void this.handle(req, res));
  url = '';

  constructor(private readonly target: string) {}

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** The next request `match` takes is handled by `act` (or every one, with once: false). */
  on(match: (method: string, path: string) => boolean, act: Act, once = true): this {
    this.rules.push({ match, act, once });
    return this;
  }

  requests(method: string, prefix: string): Seen[] {
    return this.seen.filter((s) => s.method === method && s.path.startsWith(prefix));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const seen: Seen = { method: req.method!, path: req.url!, body: Buffer.concat(chunks).toString() };
    this.seen.push(seen);
    const i = this.rules.findIndex((r) => r.match(seen.method, seen.path));
    const act: Act = i < 0 ? { kind: 'forward' } : this.rules[i]!.act;
    if (i >= 0 && this.rules[i]!.once) this.rules.splice(i, 1);
    if (act.kind === 'hang') return;
    if (act.kind === 'answer') {
      res.writeHead(act.status, { 'content-type': 'application/problem+json', ...act.headers }).end(JSON.stringify(act.body));
      return;
    }
    if (act.kind === 'forward') await act.before?.();
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && !['host', 'connection', 'content-length'].includes(k)) headers[k] = v;
    const answer = await fetch(`${this.target}${seen.path}`, { method: seen.method, headers, ...(seen.body !== '' && { body: seen.body }) });
    const text = await answer.text();
    seen.upstream = answer.status;
    if (act.kind === 'lose-answer') return;
    if (res.destroyed) return;
    res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' }).end(text);
  }
}
