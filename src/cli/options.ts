// Flag parsing shared by the commands: node:util parseArgs in strict mode (unknown flags are
// errors), the options every API command takes, and value checks with exact messages.

import os from 'node:os';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { COMMAND_TARGET_RULE, isCommandTarget } from '@workforce/worker-agent/contract';
import { parseDuration } from '../domain/durations.js';
import { Answer, usageError } from './errors.js';
import { DEFAULT_TIMEOUT_MS } from './retry.js';
import type { Io } from './io.js';
import { versionLine } from './version.js';

export const DEFAULT_API = 'http://localhost:7071';

type Options = NonNullable<ParseArgsConfig['options']>;

export const API_OPTIONS = {
  api: { type: 'string' },
  key: { type: 'string' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
} as const satisfies Options;

export interface Parsed<O extends Options> {
  values: { -readonly [K in keyof O]?: O[K] extends { type: 'boolean' } ? boolean : O[K] extends { multiple: true } ? string[] : string } & { help?: boolean };
  positionals: string[];
}

const HELP = { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean' } } as const;

/**
 * `--count -1`: a value that starts with "-" but is no flag of the command is the flag's value,
 * so the command's own check can say what it accepts (parseArgs calls it "ambiguous").
 */
function attachDashValues(args: string[], options: Options): string[] {
  const isFlag = (a: string) => a === '--' || a === '-h' || (a.startsWith('--') && Object.hasOwn(options, a.slice(2).split('=')[0]!));
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') return [...out, ...args.slice(i)];
    const next = args[i + 1];
    if (a.startsWith('--') && Object.hasOwn(options, a.slice(2)) && options[a.slice(2)]!.type === 'string' && next?.startsWith('-') && !isFlag(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

export function parse<O extends Options>(command: string, args: string[], options: O, positionals: string[]): Parsed<O> {
  type Config = { args: string[]; options: O & typeof HELP; allowPositionals: true; strict: true };
  let parsed: ReturnType<typeof parseArgs<Config>>;
  try {
    parsed = parseArgs<Config>({ args: attachDashValues(args, { ...options, ...HELP }), options: { ...options, ...HELP }, allowPositionals: true, strict: true });
  } catch (err) {
    throw usageError(`${command}: ${(err as Error).message.split(/\. |\n/)[0]}. See \`workforce ${command} --help\`.`);
  }
  if ((parsed.values as { version?: boolean }).version) throw new Answer(versionLine());
  const extra = parsed.positionals.slice(positionals.length);
  if (!(parsed.values as { help?: boolean }).help) {
    const missing = positionals.slice(parsed.positionals.length);
    if (missing.length > 0) throw usageError(`${command}: missing <${missing[0]}>. See \`workforce ${command} --help\`.`);
    if (extra.length > 0) throw usageError(`${command}: unexpected argument "${extra[0]}". See \`workforce ${command} --help\`.`);
  }
  return parsed as unknown as Parsed<O>;
}

export interface ApiTarget {
  /** Origin plus route prefix, e.g. http://localhost:7071/api */
  base: string;
  key?: string;
  /** Each attempt of a request ends after this long (--timeout, WORKFORCE_API_TIMEOUT). */
  timeoutMs: number;
}

export function apiTarget(values: { api?: string; key?: string; timeout?: string }, io: Io): ApiTarget {
  const raw = values.api ?? (io.env.WORKFORCE_API_URL || DEFAULT_API);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw usageError(`--api "${raw}" is not a URL; use the app's address, e.g. ${DEFAULT_API} or https://<app>.azurewebsites.net`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usageError(`--api "${raw}" must be an http(s) URL`);
  const path = url.pathname.replace(/\/+$/, '');
  const base = `${url.origin}${path.endsWith('/api') ? path : `${path}/api`}`;
  const key = values.key ?? io.env.WORKFORCE_API_KEY;
  return { base, ...(key !== undefined && key !== '' && { key }), timeoutMs: timeoutMs(values.timeout, io.env.WORKFORCE_API_TIMEOUT) };
}

/** --timeout, else WORKFORCE_API_TIMEOUT (an empty one is unset), else DEFAULT_TIMEOUT_MS. */
function timeoutMs(flag: string | undefined, env: string | undefined): number {
  const [name, value] = flag !== undefined ? ['--timeout', flag] : ['WORKFORCE_API_TIMEOUT', env];
  if (value === undefined || (name === 'WORKFORCE_API_TIMEOUT' && value.trim() === '')) return DEFAULT_TIMEOUT_MS;
  const ms = parseDuration(value);
  if (ms === undefined) throw usageError(`${name} must be a duration such as 30s, 2m or 500ms, got "${value}"`);
  return ms;
}

export function count(flag: string, value: string | undefined): number {
  if (value === undefined) throw usageError(`--${flag} is required: how many nodes (messages), e.g. --${flag} 2`);
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw usageError(`--${flag} must be a whole number of at least 1, got "${value}"`);
  return n;
}

/** A duration ("30m", "2h", "PT2H") checked here, so a typo is reported before any request. */
export function duration(flag: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (parseDuration(value) === undefined) throw usageError(`--${flag} must be a duration such as 30m, 2h or 1h30m, got "${value}"`);
  return value;
}

export function isInstant(value: string): boolean {
  return /^\d{4}-\d{2}-\d{2}T/.test(value) && !Number.isNaN(Date.parse(value));
}

/** A duration from now or an ISO instant, as the API's `gracePeriod | deadline` pairs expect. */
export function relativeOrInstant(flag: string, value: string | undefined, relative: string, absolute: string): Record<string, string> {
  if (value === undefined) return {};
  if (isInstant(value)) return { [absolute]: value };
  return { [relative]: duration(flag, value)! };
}

export function oneOf<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw usageError(`--${flag} must be one of ${allowed.join(', ')}, got "${value}"`);
  return value as T;
}

/** Who asks, by default: user@host (userInfo throws for a uid without a passwd entry, e.g. in containers). */
export function whoami(env: Io['env']): string {
  let user: string | undefined;
  try {
    user = os.userInfo().username;
  } catch {
    user = env.USER ?? env.USERNAME;
  }
  return `${user ?? 'unknown'}@${os.hostname()}`;
}

/** The API's limit on one targeted drain or resume. */
export const MAX_NODES = 1000;

/**
 * `--node a --node b`: each a node id a command can address (a Service Bus session id), none
 * twice (compared ignoring case, as Service Bus compares session ids).
 */
export function nodeIds(values: string[] | undefined): string[] | undefined {
  if (values === undefined) return undefined;
  const seen = new Map<string, string>();
  for (const id of values) {
    if (!isCommandTarget(id)) throw usageError(`--node ${JSON.stringify(id)} is not a node id: it must be ${COMMAND_TARGET_RULE}`);
    const twice = seen.get(id.toLowerCase());
    if (twice !== undefined) throw usageError(`--node ${JSON.stringify(id)} is given twice${twice !== id ? ` (as ${JSON.stringify(twice)}: node ids ignore case)` : ''}`);
    seen.set(id.toLowerCase(), id);
  }
  if (values.length > MAX_NODES) throw usageError(`--node is given ${values.length} times; one command takes at most ${MAX_NODES} nodes`);
  return values;
}

/** `--max-unavailable 5` (nodes) or `20%` (of the online nodes, rounded up): the API's number or string. */
export function maxUnavailable(value: string): number | string {
  const pct = /^(\d{1,3})%$/.exec(value);
  if (pct && Number(pct[1]) <= 100) return value;
  if (/^\d+$/.test(value) && Number.isSafeInteger(Number(value))) return Number(value);
  throw usageError(`--max-unavailable must be a whole number of nodes (e.g. 5) or a percentage from 0% to 100% (e.g. 20%), got "${value}"`);
}
