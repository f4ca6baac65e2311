// Configuration: environment variables (the seed's names first) and flags, parsed once at
// start-up into an immutable object. Every variable also has a flag; flags win. A missing or
// bad value is named (variable and flag) in the error. Nothing below `main` reads process.env.

import { homedir, hostname } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { DEFAULT_REPLY_TO, DEFAULT_SUBSCRIPTION } from '../contract/control-message.js';
import { commandsQueueName } from '../contract/command.js';
import { type CrashPoint, CRASH_POINTS, isCrashPoint } from '../agent/crash-points.js';
import { defaultIntakeFlagPath, defaultPidDir, nonEmpty } from '../common/defaults.js';
import { AgentError } from '../common/errors.js';
import { LOG_LEVELS, type LogLevel } from '../common/log.js';
import { DEFAULT_OUTBOX_MAX, DEFAULT_OUTBOX_TTL_MS, type OutboxLimits } from '../agent/outbox.js';
import { type SignalName, isDeclarableSignal, isValidWorkerId } from '../pid-files/format.js';
import { type BusTransport, busHost, bypassesProxy, parseProxyUrl } from '../transport/index.js';

type Env = Record<string, string | undefined>;

export type BusConfig =
  | { kind: 'connection-string'; connectionString: string }
  | { kind: 'credential'; namespace: string; clientId?: string };

export interface LocalConfig {
  readonly nodeId: string;
  readonly topic: string;
  readonly pidDir: string;
  readonly stateDir: string;
  readonly intakeFlag: string;
  readonly legacySignals: boolean;
  readonly logLevel: LogLevel;
}

export interface ListenConfig extends LocalConfig {
  readonly bus: BusConfig;
  /** AMQP, or AMQP over WebSockets (with a proxy or not). */
  readonly transport: BusTransport;
  readonly subscription: string;
  /** This node's per-node commands arrive here, in the session named by its node id. */
  readonly commandsQueue: string;
  readonly reportsQueue: string;
  /** How long a message the node cannot act on keeps this agent from receiving (doubling). */
  readonly releaseBackoffMs: { readonly min: number; readonly max: number };
  /** Bounds of the reports outbox (outbox.ts). */
  readonly outbox: OutboxLimits;
  /** Interval of presence heartbeats (presence.ts). */
  readonly heartbeatMs: number;
  /** Lock renewal while a message is being handled. */
  readonly maxLockRenewalMs: number;
  /** Test hook, see crash-points.ts. */
  readonly crashAt?: CrashPoint;
  /** Benchmark hook: log where the time of a message acted on went (drain-probe.ts). */
  readonly timings: boolean;
}

export interface RunConfig {
  readonly topic: string;
  readonly pidDir: string;
  readonly workerId?: string;
  readonly intakeFlag: string;
  readonly gracefulSignal: SignalName | null;
  readonly intakeSignal: SignalName | null;
  /** Sent when a `resume` command takes the intake flag down; none by default. */
  readonly resumeSignal: SignalName | null;
  readonly command: readonly string[];
  readonly logLevel: LogLevel;
}

/** One setting: its variables (first wins), its flag, what it means. Also the `--help` text. */
export interface Setting {
  flag: string;
  env: string[];
  kind: 'string' | 'boolean';
  help: string;
}

export const SETTINGS = {
  namespace: { flag: 'namespace', env: ['WORKFORCE_BACK_CHANNEL_FULLY_QUALIFIED_NAMESPACE'], kind: 'string', help: 'Service Bus namespace host (<name>.servicebus.windows.net, or host:port); credentials from DefaultAzureCredential' },
  connectionString: { flag: 'connection-string', env: ['WORKFORCE_BACK_CHANNEL_CONNECTION_STRING'], kind: 'string', help: 'Service Bus connection string (SAS, or the local emulator); instead of --namespace' },
  clientId: { flag: 'client-id', env: ['AZURE_CLIENT_ID'], kind: 'string', help: 'client id of the user-assigned managed identity' },
  webSockets: { flag: 'websockets', env: ['WORKFORCE_WEBSOCKETS'], kind: 'boolean', help: 'AMQP over WebSockets (wss, port 443 or the connection string\'s) instead of AMQP on 5671: for networks where only 443 leaves' },
  proxy: { flag: 'proxy', env: ['HTTPS_PROXY', 'https_proxy'], kind: 'string', help: 'HTTP CONNECT proxy of --websockets (http://host:port); the variables are ignored without --websockets' },
  noProxy: { flag: 'proxy-bypass', env: ['NO_PROXY', 'no_proxy'], kind: 'string', help: 'hosts reached without the proxy of HTTPS_PROXY: comma-separated names (and their subdomains), * for all' },
  topic: { flag: 'topic', env: ['WORKFORCE_CONTROL_TOPIC_NAME'], kind: 'string', help: 'control topic (required)' },
  subscription: { flag: 'subscription', env: ['WORKFORCE_CONTROL_SUBSCRIPTION_NAME'], kind: 'string', help: `subscription on the topic (default ${DEFAULT_SUBSCRIPTION})` },
  commandsQueue: { flag: 'commands-queue', env: ['WORKFORCE_COMMANDS_QUEUE'], kind: 'string', help: 'session-enabled queue of per-node commands; this node receives the session named by its node id (default <topic>-commands)' },
  reportsQueue: { flag: 'reports-queue', env: ['WORKFORCE_REPORTS_QUEUE_NAME'], kind: 'string', help: `the one queue reports go to; a message's replyTo naming another is ignored (default ${DEFAULT_REPLY_TO})` },
  outboxTtlMs: { flag: 'outbox-ttl-ms', env: ['WORKFORCE_OUTBOX_TTL_MS'], kind: 'string', help: `a report not sent within this time is dropped (default ${DEFAULT_OUTBOX_TTL_MS}: 24 h)` },
  outboxMax: { flag: 'outbox-max', env: ['WORKFORCE_OUTBOX_MAX'], kind: 'string', help: `most reports waiting to be sent; the oldest are dropped beyond it (default ${DEFAULT_OUTBOX_MAX})` },
  pidDir: { flag: 'pid-dir', env: ['WORKFORCE_PID_DIR', 'JOBQ_PID_DIR'], kind: 'string', help: 'directory of worker PID files (default $TMPDIR/workforce/pids)' },
  nodeId: { flag: 'node-id', env: ['WORKFORCE_NODE_ID'], kind: 'string', help: 'this node in reports (default: host name)' },
  stateDir: { flag: 'state-dir', env: ['WORKFORCE_STATE_DIR'], kind: 'string', help: 'agent state directory (default $XDG_STATE_HOME/workforce-agent/<topic>)' },
  intakeFlag: { flag: 'intake-flag', env: ['WORKFORCE_INTAKE_FLAG'], kind: 'string', help: 'intake flag file, in a directory the agent owns (default <parent of pid-dir>/intake/<topic>.intake-stopped)' },
  legacySignals: { flag: 'legacy-signals', env: ['WORKFORCE_LEGACY_SIGNALS'], kind: 'boolean', help: 'ai4s-jobq convention for integer PID files: SIGUSR2 drain, SIGUSR1 intake stop (default on; --no-legacy-signals)' },
  heartbeat: { flag: 'heartbeat', env: ['WORKFORCE_HEARTBEAT'], kind: 'string', help: 'interval of presence heartbeats on the reports queue: 500ms, 30s, 2m, 1h or seconds (default 30s)' },
  releaseBackoffMaxMs: { flag: 'release-backoff-max-ms', env: ['WORKFORCE_RELEASE_BACKOFF_MAX_MS'], kind: 'string', help: 'longest pause after releasing a message this node cannot act on (default 30000)' },
  logLevel: { flag: 'log-level', env: ['WORKFORCE_LOG_LEVEL'], kind: 'string', help: `${LOG_LEVELS.join(' | ')} (default info)` },
  crashAt: { flag: 'crash-at', env: ['WORKFORCE_AGENT_CRASH_AT'], kind: 'string', help: `test hook: SIGKILL self at ${CRASH_POINTS.join(' | ')}` },
  timings: { flag: 'timings', env: ['WORKFORCE_AGENT_TIMINGS'], kind: 'boolean', help: 'benchmark hook: log the time of each step of a message acted on (drain-timings)' },
  // `run` only
  workerId: { flag: 'worker-id', env: ['WORKFORCE_WORKER_ID'], kind: 'string', help: 'run: worker id, names the PID file (default <host>-<child pid>)' },
  gracefulSignal: { flag: 'graceful-signal', env: ['WORKFORCE_GRACEFUL_SIGNAL'], kind: 'string', help: 'run: signal the command handles for graceful-downscale (default SIGTERM; none)' },
  intakeSignal: { flag: 'intake-signal', env: ['WORKFORCE_INTAKE_SIGNAL'], kind: 'string', help: 'run: signal the command handles for do-not-accept-new-tasks (default none)' },
  resumeSignal: { flag: 'resume-signal', env: ['WORKFORCE_RESUME_SIGNAL'], kind: 'string', help: 'run: signal the command handles when a resume command lifts an intake stop (default none)' },
  json: { flag: 'json', env: [], kind: 'boolean', help: 'status: print JSON' },
  // every command
  help: { flag: 'help', env: [], kind: 'boolean', help: 'print the usage and options of the command' },
  version: { flag: 'version', env: [], kind: 'boolean', help: 'print the version' },
} satisfies Record<string, Setting>;

export type SettingName = keyof typeof SETTINGS;
type Values = Partial<Record<SettingName, string | boolean>>;

/**
 * Parses `--name value`, `--name=value`, `--flag`, `--no-flag`. Parsing stops at `--` or, when
 * `stopAtCommand`, at the first argument that is not an option (that and the rest are returned).
 */
export function parseFlags(args: readonly string[], allowed: readonly SettingName[], stopAtCommand = false): { values: Values; rest: string[] } {
  const byFlag = new Map(allowed.map((name) => [SETTINGS[name].flag, name] as const));
  const values: Values = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--') return { values, rest: args.slice(i + 1) };
    if (!arg.startsWith('--')) {
      if (stopAtCommand) return { values, rest: args.slice(i) };
      throw configError(`unexpected argument ${JSON.stringify(arg)}`);
    }
    const eq = arg.indexOf('=');
    let flag = arg.slice(2, eq === -1 ? undefined : eq);
    let negated = false;
    if (!byFlag.has(flag) && flag.startsWith('no-') && byFlag.has(flag.slice(3))) {
      flag = flag.slice(3);
      negated = true;
    }
    const name = byFlag.get(flag);
    if (name === undefined) throw configError(`unknown option --${flag}`);
    if (SETTINGS[name].kind === 'boolean') {
      if (eq !== -1) values[name] = parseBoolean(arg.slice(eq + 1), `--${flag}`);
      else values[name] = !negated;
      continue;
    }
    if (negated) throw configError(`--no-${flag} is not an option`);
    const value = eq === -1 ? args[++i] : arg.slice(eq + 1);
    if (value === undefined) throw configError(`--${flag} needs a value`);
    values[name] = value;
  }
  return { values, rest: [] };
}

function configError(message: string): AgentError {
  return new AgentError('ConfigInvalid', message);
}

function parseBoolean(text: string, name: string): boolean {
  const t = text.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(t)) return true;
  if (['0', 'false', 'no', 'off'].includes(t)) return false;
  throw configError(`${name} must be true or false, got ${JSON.stringify(text)}`);
}

/** The source of a setting, for messages: `WORKFORCE_PID_DIR (--pid-dir)`. */
function label(name: SettingName): string {
  const s = SETTINGS[name];
  return s.env.length ? `${s.env.join(' or ')} (--${s.flag})` : `--${s.flag}`;
}

class Reader {
  constructor(
    private readonly env: Env,
    private readonly flags: Values,
  ) {}

  string(name: SettingName): string | undefined {
    const flag = this.flags[name];
    if (typeof flag === 'string') {
      if (flag.trim() === '') throw configError(`--${SETTINGS[name].flag} must not be empty`);
      return flag;
    }
    for (const variable of SETTINGS[name].env) {
      const value = nonEmpty(this.env[variable]);
      if (value !== undefined) return value;
    }
    return undefined;
  }

  required(name: SettingName, what: string): string {
    const value = this.string(name);
    if (value === undefined) throw configError(`${label(name)} is required: ${what}`);
    return value;
  }

  boolean(name: SettingName, fallback: boolean): boolean {
    const flag = this.flags[name];
    if (typeof flag === 'boolean') return flag;
    const text = this.string(name);
    return text === undefined ? fallback : parseBoolean(text, label(name));
  }

  path(name: SettingName, fallback: () => string): string {
    const value = this.string(name);
    if (value === undefined) return fallback();
    if (!isAbsolute(value) && value.startsWith('~')) throw configError(`${label(name)}: ~ is not expanded; give an absolute path`);
    return resolve(value);
  }

  integer(name: SettingName, fallback: number, min: number): number {
    const text = this.string(name);
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) throw configError(`${label(name)} must be an integer ≥ ${min}, got ${JSON.stringify(text)}`);
    return n;
  }

  signal(name: SettingName, fallback: SignalName | null): SignalName | null {
    const text = this.string(name);
    if (text === undefined) return fallback;
    if (text.toLowerCase() === 'none') return null;
    const sig = text.toUpperCase().startsWith('SIG') ? text.toUpperCase() : `SIG${text.toUpperCase()}`;
    if (!isDeclarableSignal(sig)) throw configError(`${label(name)}: ${JSON.stringify(text)} is not a signal a process can handle`);
    return sig;
  }
}

const ENTITY = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,259}$/;

function entityName(r: Reader, name: SettingName, fallback?: string): string {
  const value = fallback === undefined ? r.required(name, SETTINGS[name].help) : (r.string(name) ?? fallback);
  if (!ENTITY.test(value)) throw configError(`${label(name)}: ${JSON.stringify(value)} is not a valid Service Bus entity name`);
  return value;
}

function readLocal(r: Reader, env: Env): LocalConfig {
  const topic = entityName(r, 'topic');
  const pidDir = r.path('pidDir', () => defaultPidDir(env));
  const nodeId = r.string('nodeId') ?? hostname();
  if (!/^[^\s/]{1,128}$/.test(nodeId)) throw configError(`${label('nodeId')}: ${JSON.stringify(nodeId)} must be 1–128 characters without spaces or /`);
  const stateHome = nonEmpty(env['XDG_STATE_HOME']) ?? join(nonEmpty(env['HOME']) ?? homedir(), '.local', 'state');
  const logLevel = (r.string('logLevel') ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw configError(`${label('logLevel')} must be one of ${LOG_LEVELS.join(', ')}`);
  return {
    nodeId,
    topic,
    pidDir,
    stateDir: r.path('stateDir', () => join(stateHome, 'workforce-agent', topic.replace(/[^A-Za-z0-9._-]/g, '_'))),
    intakeFlag: r.path('intakeFlag', () => defaultIntakeFlagPath(pidDir, topic)),
    legacySignals: r.boolean('legacySignals', true),
    logLevel,
  };
}

export const LOCAL_FLAGS: SettingName[] = ['topic', 'pidDir', 'nodeId', 'stateDir', 'intakeFlag', 'legacySignals', 'logLevel'];
export const LISTEN_FLAGS: SettingName[] = [
  ...LOCAL_FLAGS,
  'namespace',
  'connectionString',
  'clientId',
  'webSockets',
  'proxy',
  'noProxy',
  'subscription',
  'commandsQueue',
  'reportsQueue',
  'outboxTtlMs',
  'outboxMax',
  'heartbeat',
  'releaseBackoffMaxMs',
  'crashAt',
  'timings',
];
export const RUN_FLAGS: SettingName[] = ['topic', 'pidDir', 'intakeFlag', 'workerId', 'gracefulSignal', 'intakeSignal', 'resumeSignal', 'logLevel'];
export const STATUS_FLAGS: SettingName[] = [...LOCAL_FLAGS, 'json'];

/** Configuration of `status` and `resume`: no Service Bus needed. */
export function parseLocalConfig(env: Env, flags: Values): LocalConfig {
  return Object.freeze(readLocal(new Reader(env, flags), env));
}

export function parseListenConfig(env: Env, flags: Values): ListenConfig {
  const r = new Reader(env, flags);
  const local = readLocal(r, env);
  const connectionString = r.string('connectionString');
  let bus: BusConfig;
  if (connectionString !== undefined) {
    if (!/(^|;)\s*Endpoint\s*=\s*sb:\/\/[^;]+/i.test(connectionString)) {
      throw configError(`${label('connectionString')} must contain Endpoint=sb://<host>`);
    }
    bus = { kind: 'connection-string', connectionString };
  } else {
    const raw = r.string('namespace');
    if (raw === undefined) {
      throw configError(`${label('namespace')} or ${label('connectionString')} is required: where the control topic lives`);
    }
    const namespace = raw.replace(/^(sb|amqps?|https?):\/\//i, '').replace(/\/+$/, '');
    if (!/^[A-Za-z0-9.-]+(:\d+)?$/.test(namespace)) throw configError(`${label('namespace')}: ${JSON.stringify(raw)} is not a host name`);
    const clientId = r.string('clientId');
    bus = clientId === undefined ? { kind: 'credential', namespace } : { kind: 'credential', namespace, clientId };
  }
  const transport = readTransport(r, flags, bus.kind === 'connection-string' ? bus.connectionString : bus.namespace);
  const crashAt = r.string('crashAt');
  if (crashAt !== undefined && !isCrashPoint(crashAt)) throw configError(`${label('crashAt')} must be one of ${CRASH_POINTS.join(', ')}`);
  const max = r.integer('releaseBackoffMaxMs', 30_000, 1);
  const config: ListenConfig = {
    ...local,
    bus,
    transport,
    subscription: entityName(r, 'subscription', DEFAULT_SUBSCRIPTION),
    commandsQueue: entityName(r, 'commandsQueue', commandsQueueName(local.topic)),
    reportsQueue: entityName(r, 'reportsQueue', DEFAULT_REPLY_TO),
    releaseBackoffMs: Object.freeze({ min: Math.min(1000, max), max }),
    outbox: Object.freeze({ ttlMs: r.integer('outboxTtlMs', DEFAULT_OUTBOX_TTL_MS, 1000), max: r.integer('outboxMax', DEFAULT_OUTBOX_MAX, 1) }),
    heartbeatMs: duration(r, 'heartbeat', DEFAULT_HEARTBEAT_MS),
    maxLockRenewalMs: 5 * 60_000,
    timings: r.boolean('timings', false),
    ...(crashAt !== undefined ? { crashAt } : {}),
  };
  return Object.freeze(config);
}

/**
 * `--websockets`, and its proxy: `--proxy`, else HTTPS_PROXY unless NO_PROXY lists the host.
 * The proxy variables are ignored without WebSockets (AMQP on 5671 cannot use them); the flag
 * is refused.
 */
function readTransport(r: Reader, flags: Values, bus: string): BusTransport {
  const webSockets = r.boolean('webSockets', false);
  const proxyText = r.string('proxy');
  if (!webSockets) {
    if (typeof flags.proxy === 'string') throw configError(`--proxy applies to AMQP over WebSockets only: add ${label('webSockets')}`);
    return Object.freeze({ webSockets });
  }
  if (proxyText === undefined) return Object.freeze({ webSockets });
  if (typeof flags.proxy !== 'string' && bypassesProxy(busHost(bus), r.string('noProxy'))) return Object.freeze({ webSockets });
  try {
    return Object.freeze({ webSockets, proxy: parseProxyUrl(proxyText, label('proxy')) });
  } catch (e) {
    throw configError((e as Error).message);
  }
}

export const DEFAULT_HEARTBEAT_MS = 30_000;
const HEARTBEAT_MIN_MS = 100;
const HEARTBEAT_MAX_MS = 60 * 60_000;

/** `500ms`, `30s`, `2m`, `1h`, or a number of seconds; between 100 ms and 1 h. */
function duration(r: Reader, name: SettingName, fallback: number): number {
  const text = r.string(name);
  if (text === undefined) return fallback;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  const ms = m ? Math.round(Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h']) : NaN;
  if (!(ms >= HEARTBEAT_MIN_MS && ms <= HEARTBEAT_MAX_MS)) {
    throw configError(`${label(name)} must be a duration from 100ms to 1h such as 30s, 500ms or 2m, got ${JSON.stringify(text)}`);
  }
  return ms;
}

export function parseRunConfig(env: Env, flags: Values, command: readonly string[]): RunConfig {
  const r = new Reader(env, flags);
  if (command.length === 0 || command[0] === '') throw configError('run needs a command: workforce-agent run [options] -- <command> [args…]');
  const topic = entityName(r, 'topic');
  const pidDir = r.path('pidDir', () => defaultPidDir(env));
  const workerId = r.string('workerId');
  if (workerId !== undefined && !isValidWorkerId(workerId)) {
    throw configError(`${label('workerId')}: ${JSON.stringify(workerId)} must be letters, digits and . _ : @ - (≤ 128)`);
  }
  const gracefulSignal = r.signal('gracefulSignal', 'SIGTERM');
  const intakeSignal = r.signal('intakeSignal', null);
  if (gracefulSignal !== null && gracefulSignal === intakeSignal) {
    throw configError(`${gracefulSignal} cannot mean both graceful-downscale and do-not-accept-new-tasks`);
  }
  const resumeSignal = r.signal('resumeSignal', null);
  if (resumeSignal !== null && (resumeSignal === gracefulSignal || resumeSignal === intakeSignal)) {
    throw configError(`${label('resumeSignal')}: ${resumeSignal} cannot mean both resume and ${resumeSignal === gracefulSignal ? 'graceful-downscale' : 'do-not-accept-new-tasks'}`);
  }
  const logLevel = (r.string('logLevel') ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw configError(`${label('logLevel')} must be one of ${LOG_LEVELS.join(', ')}`);
  return Object.freeze({
    topic,
    pidDir,
    ...(workerId !== undefined ? { workerId } : {}),
    intakeFlag: r.path('intakeFlag', () => defaultIntakeFlagPath(pidDir, topic)),
    gracefulSignal,
    intakeSignal,
    resumeSignal,
    command: Object.freeze([...command]),
    logLevel,
  });
}
