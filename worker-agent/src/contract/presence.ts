// The presence report (agent → the reports queue), as docs/DESIGN.md "Agent report" defines it:
// `online` after the agent connects, `heartbeat` every interval, `offline` on a clean stop. It
// answers to no control message: nothing to deduplicate, only the latest one of a node counts.
// Like every report it is untrusted input: strict, with bounds.

import { parseInstant } from './control-message.js';
import { DRAIN_ID_RULE, isDrainId } from './drain-id.js';
import { INVALID_REPORT, MAX_REPORT_TEXT } from './report.js';
import { type Failure, type ParseResult, fail, isFailure, ok } from './result.js';

/** The `kind` that tells a presence report from a drain report on the same queue. */
export const PRESENCE_KIND = 'presence';
export const PRESENCE_STATES = ['online', 'heartbeat', 'offline'] as const;
export type PresenceState = (typeof PRESENCE_STATES)[number];
export const PRESENCE_NODE_STATES = ['active', 'intake-stopped', 'draining', 'drained'] as const;
export type PresenceNodeState = (typeof PRESENCE_NODE_STATES)[number];
/** At most this many workers in one report (a node reports its first 256 and the total). */
export const MAX_PRESENCE_WORKERS = 256;
const MAX_SIGNAL = 32;
/** The longest heartbeat interval a report may claim: one day. */
export const MAX_HEARTBEAT_SECONDS = 86_400;
/** `resume` is declared only by workers that take a resume signal (agents omit a null one). */
const SIGNAL_OPERATIONS = ['graceful-downscale', 'do-not-accept-new-tasks', 'resume'] as const;

export interface PresenceWorker {
  workerId: string;
  pid: number;
  /** The signal it declared per operation; null: it takes none. */
  signals: Partial<Record<(typeof SIGNAL_OPERATIONS)[number], string | null>>;
  /** Its PID file names a live process of the same start time. */
  alive: boolean;
}

export interface PresenceReport {
  kind: typeof PRESENCE_KIND;
  presence: PresenceState;
  nodeId: string;
  topic: string;
  nodeState: PresenceNodeState;
  /** ISO-8601 instant the node entered `nodeState`. */
  since: string;
  workers: PresenceWorker[];
  /** Registered workers in all, when more than `workers` holds. */
  workerCount: number;
  /** The drain (or intake stop) the node is acting on, while draining or drained. */
  drain?: { drainId?: string; messageId: string };
  agentVersion: string;
  hostName: string;
  /** ISO-8601 instants. */
  startedAt: string;
  sentAt: string;
  /** The agent's heartbeat interval (`--heartbeat`), in seconds; absent from older agents. */
  heartbeatSeconds?: number;
}

/** Whether a decoded report body claims to be a presence report (then parsePresenceReport judges it). */
export function isPresenceBody(body: unknown): boolean {
  const value = decode(body);
  return typeof value === 'object' && value !== null && (value as Record<string, unknown>)['kind'] === PRESENCE_KIND;
}

/** Validates a presence report body; the error names the field at fault. */
export function parsePresenceReport(body: unknown): ParseResult<PresenceReport> {
  const raw = decode(body);
  if (raw instanceof Error) return fail(INVALID_REPORT, 'body', `the body is not JSON (${raw.message})`);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail(INVALID_REPORT, 'body', 'the body must be a JSON object');
  const f = raw as Record<string, unknown>;
  if (f['kind'] !== PRESENCE_KIND) return fail(INVALID_REPORT, 'kind', `kind must be "${PRESENCE_KIND}"`);
  if (!oneOf(PRESENCE_STATES, f['presence'])) return fail(INVALID_REPORT, 'presence', `presence must be one of ${PRESENCE_STATES.join(', ')}`);
  if (!oneOf(PRESENCE_NODE_STATES, f['nodeState'])) return fail(INVALID_REPORT, 'nodeState', `nodeState must be one of ${PRESENCE_NODE_STATES.join(', ')}`);
  for (const name of ['nodeId', 'topic', 'agentVersion', 'hostName'] as const) {
    const bad = text(f[name], name);
    if (bad) return bad;
  }
  for (const name of ['since', 'startedAt', 'sentAt'] as const) {
    if (typeof f[name] !== 'string' || !parseInstant(f[name])) return fail(INVALID_REPORT, name, `${name} must be an ISO-8601 instant`);
  }
  if (!Array.isArray(f['workers'])) return fail(INVALID_REPORT, 'workers', 'workers must be an array');
  if (f['workers'].length > MAX_PRESENCE_WORKERS) return fail(INVALID_REPORT, 'workers', `workers holds more than ${MAX_PRESENCE_WORKERS} entries`);
  const workers: PresenceWorker[] = [];
  for (const [i, w] of (f['workers'] as unknown[]).entries()) {
    const worker = parseWorker(w, `workers[${i}]`);
    if (isFailure(worker)) return worker;
    workers.push(worker);
  }
  const count = f['workerCount'];
  if (!Number.isSafeInteger(count) || (count as number) < workers.length) {
    return fail(INVALID_REPORT, 'workerCount', 'workerCount must be an integer, at least the number of workers listed');
  }
  const report: PresenceReport = {
    kind: PRESENCE_KIND,
    presence: f['presence'],
    nodeId: f['nodeId'] as string,
    topic: f['topic'] as string,
    nodeState: f['nodeState'],
    since: f['since'] as string,
    workers,
    workerCount: count as number,
    agentVersion: f['agentVersion'] as string,
    hostName: f['hostName'] as string,
    startedAt: f['startedAt'] as string,
    sentAt: f['sentAt'] as string,
  };
  const heartbeat = f['heartbeatSeconds'];
  if (heartbeat !== undefined) {
    if (typeof heartbeat !== 'number' || !Number.isFinite(heartbeat) || heartbeat <= 0 || heartbeat > MAX_HEARTBEAT_SECONDS) {
      return fail(INVALID_REPORT, 'heartbeatSeconds', `heartbeatSeconds must be a number of seconds above 0 and at most ${MAX_HEARTBEAT_SECONDS}`);
    }
    report.heartbeatSeconds = heartbeat;
  }
  if (f['drain'] !== undefined) {
    const d = f['drain'];
    if (typeof d !== 'object' || d === null || Array.isArray(d)) return fail(INVALID_REPORT, 'drain', 'drain must be an object');
    const { drainId, messageId } = d as Record<string, unknown>;
    const bad = text(messageId, 'drain.messageId');
    if (bad) return bad;
    if (drainId !== undefined && !isDrainId(drainId)) return fail(INVALID_REPORT, 'drain.drainId', `drainId must be ${DRAIN_ID_RULE}`);
    report.drain = drainId === undefined ? { messageId: messageId as string } : { drainId: drainId as string, messageId: messageId as string };
  }
  return ok(report);
}

function parseWorker(value: unknown, field: string): PresenceWorker | Failure {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail(INVALID_REPORT, field, `${field} must be an object`);
  const w = value as Record<string, unknown>;
  const bad = text(w['workerId'], `${field}.workerId`);
  if (bad) return bad;
  if (!Number.isSafeInteger(w['pid']) || (w['pid'] as number) < 1) return fail(INVALID_REPORT, `${field}.pid`, 'pid must be a positive integer');
  if (typeof w['alive'] !== 'boolean') return fail(INVALID_REPORT, `${field}.alive`, 'alive must be true or false');
  const s = w['signals'];
  if (typeof s !== 'object' || s === null || Array.isArray(s)) return fail(INVALID_REPORT, `${field}.signals`, 'signals must be an object');
  const signals: PresenceWorker['signals'] = {};
  for (const [op, sig] of Object.entries(s)) {
    if (!oneOf(SIGNAL_OPERATIONS, op)) return fail(INVALID_REPORT, `${field}.signals`, `signals has an unknown operation ${JSON.stringify(op.slice(0, 64))}`);
    if (sig !== null && (typeof sig !== 'string' || !/^SIG[A-Z0-9+-]+$/.test(sig) || sig.length > MAX_SIGNAL)) {
      return fail(INVALID_REPORT, `${field}.signals.${op}`, 'a signal must be a name such as "SIGTERM", or null');
    }
    signals[op] = sig as string | null;
  }
  return { workerId: w['workerId'] as string, pid: w['pid'] as number, signals, alive: w['alive'] };
}

function text(value: unknown, field: string): Failure | undefined {
  if (typeof value !== 'string' || value === '') return fail(INVALID_REPORT, field, `${field} must be a non-empty string`);
  if (value.length > MAX_REPORT_TEXT) return fail(INVALID_REPORT, field, `${field} is longer than ${MAX_REPORT_TEXT} characters`);
  return undefined;
}

function oneOf<T extends string>(values: readonly T[], value: unknown): value is T {
  return typeof value === 'string' && (values as readonly string[]).includes(value);
}

/** Bytes, a JSON string or a decoded value → a value; an Error when the text is not JSON. */
function decode(body: unknown): unknown {
  let raw = body;
  if (raw instanceof Uint8Array) raw = new TextDecoder().decode(raw);
  if (typeof raw !== 'string') return raw;
  try {
    return JSON.parse(raw);
  } catch (err) {
    return err as Error;
  }
}
