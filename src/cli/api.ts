// The app's HTTP API as the CLI uses it. Problems (application/problem+json) become CliErrors
// that repeat the API's detail and add what to do next; a connection failure names the URL.
// Every attempt has a timeout; timeouts, dropped connections and "not now" answers are retried
// (retry.ts): every request the CLI sends is one a repeat cannot double (a drain or resume POST
// carries the id start-drain.ts chose; a repeated cancel changes nothing).

import { formatDuration } from '../domain/durations.js';
import { CliError, EXIT, type ExitCode } from './errors.js';
import { DEFAULT_API, type ApiTarget } from './options.js';
import { budgetExceededMessage } from './render-commands.js';
import { retryDelay, type Failure } from './retry.js';

export interface ApiClient {
  readonly base: string;
  get(route: string): Promise<any>;
  put(route: string, body?: unknown): Promise<any>;
  post(route: string, body?: unknown): Promise<any>;
  delete(route: string): Promise<any>;
}

/** The CLI flag that sets each field of the API's bodies, so a refusal names what to change. */
const FLAG_OF: Record<string, string> = {
  count: '--count',
  mode: '--mode',
  deadline: '--deadline',
  gracePeriod: '--deadline',
  notAfter: '--not-after',
  ackTimeout: '--not-after',
  reason: '--reason',
  requestedBy: '--requested-by',
  drainId: '--drain-id',
  nodes: '--node',
  all: '--all',
  force: '--force',
  maxUnavailable: '--max-unavailable',
};

/** The API's detail in the CLI's words: its own commands instead of HTTP routes. */
function cliDetail(detail: string, problem: Record<string, unknown>): string {
  if (problem.code === 'TopicNotFound') {
    const topic = /^no topic (\S+)/.exec(detail)?.[1];
    if (topic !== undefined) return `${detail.replace(/: create it with PUT \S+$/, '')}: create it with \`workforce topic ensure ${topic}\``;
  }
  if (problem.code === 'CommandsQueueNotFound') {
    const topic = /PUT \/api\/topics\/(\S+) again to create it$/.exec(detail)?.[1];
    if (topic !== undefined) return detail.replace(/PUT \S+ again to create it$/, `\`workforce topic ensure ${topic}\` creates it`);
  }
  return detail;
}

function hint(target: ApiTarget, status: number, problem: Record<string, unknown>, topic = '<topic>'): string {
  if (problem.code === 'ServiceBusAccessDenied') return "the app's Service Bus roles are short, not your key: see the README, Identities and least-privilege roles";
  if (status === 401 || status === 403) {
    return target.key === undefined
      ? 'the API needs the function key: pass --key or set WORKFORCE_API_KEY (`npm start` prints it as x-functions-key)'
      : 'the API refused the key: check --key / WORKFORCE_API_KEY against the function key `npm start` (or the Azure portal) shows';
  }
  if (problem.code === 'DrainNotFound') return 'list the drains with `workforce drains`';
  if (problem.code === 'DrainExists') return 'choose another --drain-id or leave it out';
  if (problem.code === 'UnknownNodes') return `check the --node ids (\`workforce nodes ${topic}\` lists them), or send to them anyway with --force`;
  if (problem.code === 'PolicyNotFound') return `set one with \`workforce topic policy ${topic} --max-unavailable 20%\``;
  const flag = typeof problem.field === 'string' ? FLAG_OF[problem.field] : undefined;
  if (status === 400 && flag !== undefined) return `check ${flag}`;
  return '';
}

/** The topic a route names (topics/<topic>/…), for messages. */
function topicOf(route: string): string | undefined {
  const m = /^topics\/([^/?]+)/.exec(route);
  return m ? decodeURIComponent(m[1]!) : undefined;
}

/** An answer that is not 2xx, after `attempts` attempts: a 409 DrainExists on a retry is our own earlier attempt's drain. */
export class ApiRefusal extends CliError {
  constructor(exitCode: ExitCode, message: string, problem: Record<string, unknown>, readonly status: number, readonly attempts: number) {
    super(exitCode, message, problem);
  }
}

/** Why fetch failed: the timeout, or a connection failure with its code (undici nests it in `cause`). */
function failureOf(err: unknown): Failure {
  const name = (err as { name?: string } | undefined)?.name;
  if (name === 'TimeoutError') return { kind: 'timeout' };
  const cause = (err as { cause?: { code?: string; errors?: Array<{ code?: string }>; name?: string } }).cause;
  if (cause?.name === 'TimeoutError') return { kind: 'timeout' };
  const code = cause?.code ?? cause?.errors?.[0]?.code ?? (err as { code?: string }).code;
  return { kind: 'network', ...(code !== undefined && { code }) };
}

/** The body as JSON; undefined when empty or not JSON. */
function json(text: string): any {
  try {
    return text === '' ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}

const tries = (attempts: number) => (attempts > 1 ? ` (${attempts} attempts)` : '');

export interface ClientIo {
  sleep(ms: number): Promise<void>;
  now(): number;
}

const realTime: ClientIo = { sleep: (ms) => new Promise((r) => setTimeout(r, ms)), now: () => Date.now() };

export function apiClient(target: ApiTarget, io: ClientIo = realTime): ApiClient {
  const origin = new URL(target.base).origin;
  const local = origin === DEFAULT_API || origin.includes('127.0.0.1') || origin.includes('localhost');

  /** One attempt: the answer with its whole body, or why there is none (the timeout covers the body too). */
  const attempt = async (method: string, url: string, body: unknown): Promise<{ res: Response; text: string } | { failure: Failure; err: unknown }> => {
    try {
      const res = await fetch(url, {
        method,
        headers: { accept: 'application/json', ...(body !== undefined && { 'content-type': 'application/json' }), ...(target.key !== undefined && { 'x-functions-key': target.key }) },
        ...(body !== undefined && { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(target.timeoutMs),
      });
      return { res, text: await res.text() };
    } catch (err) {
      return { failure: failureOf(err), err };
    }
  };

  const call = async (method: string, route: string, body?: unknown): Promise<any> => {
    const url = `${target.base}/${route}`;
    const started = io.now();
    for (let attempts = 1; ; attempts++) {
      const got = await attempt(method, url, body);
      const failure: Failure = 'failure' in got ? got.failure : { kind: 'status', status: got.res.status, retryAfter: got.res.headers.get('retry-after') };
      if ('res' in got && got.res.ok) return parsed(method, url, got.res, got.text);
      const delay = retryDelay(failure, attempts, io.now() - started, io.now());
      if (delay === undefined) {
        if ('res' in got) throw refusal(method, url, route, got.res, got.text, attempts);
        if (failure.kind === 'timeout') {
          throw new CliError(EXIT.unreachable, `${method} ${url} did not answer within ${formatDuration(target.timeoutMs)}${tries(attempts)} — raise --timeout (or WORKFORCE_API_TIMEOUT) if the app is only slow`);
        }
        const why = failure.kind === 'network' && failure.code !== undefined ? failure.code : ((got.err as { cause?: { message?: string } }).cause?.message ?? 'connection failed');
        throw new CliError(EXIT.unreachable, `cannot reach ${origin} (${why}${attempts > 1 ? `, ${attempts} attempts` : ''}) — ${local ? 'is `npm start` running?' : 'check --api / WORKFORCE_API_URL and your network'}`);
      }
      await io.sleep(delay);
    }
  };

  const parsed = (method: string, url: string, res: Response, text: string): any => {
    const value = json(text);
    if (value === undefined && text !== '') throw new CliError(EXIT.refused, `${method} ${url} answered ${res.status} with a body that is not JSON — is --api the Workforce app?`);
    return value;
  };

  const refusal = (method: string, url: string, route: string, res: Response, text: string, attempts: number): ApiRefusal => {
    const value = json(text);
    const problem = value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
    // Its own exit code: a script can wait for nodes to come back, or decide to --force.
    if (res.status === 409 && problem.code === 'BudgetExceeded') return new ApiRefusal(EXIT.budgetExceeded, budgetExceededMessage(problem, topicOf(route)), problem, res.status, attempts);
    const detail = typeof problem.detail === 'string' ? cliDetail(problem.detail, problem) : text.trim().slice(0, 200) || res.statusText;
    const next = hint(target, res.status, problem, topicOf(route));
    return new ApiRefusal(EXIT.refused, `${method} ${url} answered ${res.status}${tries(attempts)}: ${detail}${next ? ` — ${next}` : ''}`, problem, res.status, attempts);
  };

  return {
    base: target.base,
    get: (route) => call('GET', route),
    put: (route, body) => call('PUT', route, body),
    post: (route, body) => call('POST', route, body ?? {}),
    delete: (route) => call('DELETE', route),
  };
}
