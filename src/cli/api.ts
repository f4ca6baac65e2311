// The app's HTTP API as the CLI uses it. Problems (application/problem+json) become CliErrors
// that repeat the API's detail and add what to do next; a connection failure names the URL.

import { CliError, EXIT } from './errors.js';
import { DEFAULT_API, type ApiTarget } from './options.js';
import { budgetExceededMessage } from './render-commands.js';

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

export function apiClient(target: ApiTarget): ApiClient {
  const call = async (method: string, route: string, body?: unknown): Promise<any> => {
    const url = `${target.base}/${route}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: { accept: 'application/json', ...(body !== undefined && { 'content-type': 'application/json' }), ...(target.key !== undefined && { 'x-functions-key': target.key }) },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
    } catch (err) {
      const origin = new URL(target.base).origin;
      const local = origin === DEFAULT_API || origin.includes('127.0.0.1') || origin.includes('localhost');
      const cause = (err as { cause?: { code?: string; message?: string; errors?: Array<{ code?: string }> } }).cause;
      const why = cause?.code ?? cause?.errors?.[0]?.code ?? cause?.message ?? 'connection failed';
      throw new CliError(EXIT.unreachable, `cannot reach ${origin} (${why}) — ${local ? 'is `npm start` running?' : 'check --api / WORKFORCE_API_URL and your network'}`);
    }
    const text = await res.text();
    let parsed: any;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!res.ok) {
      const problem = parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
      // Its own exit code: a script can wait for nodes to come back, or decide to --force.
      if (res.status === 409 && problem.code === 'BudgetExceeded') throw new CliError(EXIT.budgetExceeded, budgetExceededMessage(problem, topicOf(route)), problem);
      const detail = typeof problem.detail === 'string' ? cliDetail(problem.detail, problem) : text.trim().slice(0, 200) || res.statusText;
      const next = hint(target, res.status, problem, topicOf(route));
      throw new CliError(EXIT.refused, `${method} ${url} answered ${res.status}: ${detail}${next ? ` — ${next}` : ''}`, problem);
    }
    if (parsed === undefined && text !== '') throw new CliError(EXIT.refused, `${method} ${url} answered ${res.status} with a body that is not JSON — is --api the Workforce app?`);
    return parsed;
  };
  return {
    base: target.base,
    get: (route) => call('GET', route),
    put: (route, body) => call('PUT', route, body),
    post: (route, body) => call('POST', route, body ?? {}),
    delete: (route) => call('DELETE', route),
  };
}
