// The agent report (agent → queue `workforce-reports`), as docs/DESIGN.md defines it.
// Reports are sent at least once; consumers deduplicate with `reportKey`.

import { type Failure, type ParseResult, fail, isFailure, ok } from './result.js';
import { parseInstant } from './control-message.js';
import { DRAIN_ID_RULE, isDrainId } from './drain-id.js';

export const INVALID_REPORT = 'InvalidReport';
/** Longest text field a report may carry (ids, topic, reason): a report is untrusted input. */
export const MAX_REPORT_TEXT = 1024;

export const REPORT_STATES = [
  'accepted',
  'intake-stopped',
  'signalled',
  'worker-exited',
  'drained',
  'escalated',
  'expired',
  'rejected',
  // Not in DESIGN's list yet: a local `workforce-agent resume` undid an intake stop.
  'resumed',
] as const;
export type ReportState = (typeof REPORT_STATES)[number];

export interface WorkerReport {
  workerId: string;
  pid: number;
  /** Exit code, when the worker exited normally and its exit was observed by its wrapper or library. */
  exitCode?: number;
  /** In `signalled`/`escalated`: the signal sent. In `worker-exited`/`drained`: the signal that ended it, when known. */
  signal?: string;
}

export interface AgentReport {
  drainId?: string;
  /** The control message this report is about. */
  messageId: string;
  nodeId: string;
  topic: string;
  state: ReportState;
  workers: WorkerReport[];
  /** ISO-8601 instant. */
  at: string;
  reason?: string;
  requestedBy?: string;
}

/** The deduplication key DESIGN prescribes: `(messageId, state)`; `worker-exited` adds the worker. */
export function reportKey(report: Pick<AgentReport, 'messageId' | 'state' | 'workers'>): string {
  const base = `${report.messageId}\u0000${report.state}`;
  if (report.state !== 'worker-exited') return base;
  return `${base}\u0000${report.workers.map((w) => w.workerId).sort().join(',')}`;
}

export function isReportState(value: unknown): value is ReportState {
  return typeof value === 'string' && (REPORT_STATES as readonly string[]).includes(value);
}

/** Validates a report body (for the control plane); the error names the field at fault. */
export function parseAgentReport(body: unknown): ParseResult<AgentReport> {
  let raw = body;
  if (raw instanceof Uint8Array) raw = new TextDecoder().decode(raw);
  if (typeof raw === 'string') {
    try {
      raw = JSON.parse(raw);
    } catch (err) {
      return fail(INVALID_REPORT, 'body', `the body is not JSON (${(err as Error).message})`);
    }
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return fail(INVALID_REPORT, 'body', 'the body must be a JSON object');
  }
  const f = raw as Record<string, unknown>;
  for (const name of ['messageId', 'nodeId', 'topic'] as const) {
    if (typeof f[name] !== 'string' || f[name] === '') return fail(INVALID_REPORT, name, `${name} must be a non-empty string`);
    if (f[name].length > MAX_REPORT_TEXT) return fail(INVALID_REPORT, name, `${name} is longer than ${MAX_REPORT_TEXT} characters`);
  }
  if (!isReportState(f['state'])) {
    return fail(INVALID_REPORT, 'state', `state must be one of ${REPORT_STATES.join(', ')}`);
  }
  if (typeof f['at'] !== 'string' || !parseInstant(f['at'])) {
    return fail(INVALID_REPORT, 'at', 'at must be an ISO-8601 instant');
  }
  for (const name of ['drainId', 'reason', 'requestedBy'] as const) {
    if (f[name] !== undefined && typeof f[name] !== 'string') return fail(INVALID_REPORT, name, `${name} must be a string`);
    if (typeof f[name] === 'string' && f[name].length > MAX_REPORT_TEXT) return fail(INVALID_REPORT, name, `${name} is longer than ${MAX_REPORT_TEXT} characters`);
  }
  // The drain id becomes the durable instance id the control plane addresses.
  if (f['drainId'] !== undefined && !isDrainId(f['drainId'])) {
    return fail(INVALID_REPORT, 'drainId', `drainId must be ${DRAIN_ID_RULE}`);
  }
  if (!Array.isArray(f['workers'])) return fail(INVALID_REPORT, 'workers', 'workers must be an array');
  const workers: WorkerReport[] = [];
  for (const [i, w] of (f['workers'] as unknown[]).entries()) {
    const worker = parseWorker(w, `workers[${i}]`);
    if (isFailure(worker)) return worker;
    workers.push(worker);
  }
  const report: AgentReport = {
    messageId: f['messageId'] as string,
    nodeId: f['nodeId'] as string,
    topic: f['topic'] as string,
    state: f['state'],
    workers,
    at: f['at'],
  };
  for (const name of ['drainId', 'reason', 'requestedBy'] as const) {
    if (typeof f[name] === 'string') report[name] = f[name];
  }
  return ok(report);
}

function parseWorker(value: unknown, field: string): WorkerReport | Failure {
  if (typeof value !== 'object' || value === null) return fail(INVALID_REPORT, field, `${field} must be an object`);
  const w = value as Record<string, unknown>;
  if (typeof w['workerId'] !== 'string') return fail(INVALID_REPORT, `${field}.workerId`, 'workerId must be a string');
  if (w['workerId'].length > MAX_REPORT_TEXT) return fail(INVALID_REPORT, `${field}.workerId`, `workerId is longer than ${MAX_REPORT_TEXT} characters`);
  if (!Number.isInteger(w['pid'])) return fail(INVALID_REPORT, `${field}.pid`, 'pid must be an integer');
  const worker: WorkerReport = { workerId: w['workerId'], pid: w['pid'] as number };
  if (w['exitCode'] !== undefined) {
    if (!Number.isInteger(w['exitCode'])) return fail(INVALID_REPORT, `${field}.exitCode`, 'exitCode must be an integer');
    worker.exitCode = w['exitCode'] as number;
  }
  if (w['signal'] !== undefined) {
    if (typeof w['signal'] !== 'string' || w['signal'].length > 32) return fail(INVALID_REPORT, `${field}.signal`, 'signal must be a signal name such as "SIGTERM"');
    worker.signal = w['signal'];
  }
  return worker;
}
