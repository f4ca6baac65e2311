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
  // A local `workforce-agent resume`, or a `resume` command, undid an intake stop or re-armed a drained node.
  'resumed',
  // A command this node's state does not allow (e.g. a drain of a node already draining); final.
  'refused',
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
  /**
   * States of the same message reached before `state`, oldest first, sent in one message with it
   * (an agent coalesces what waits in its outbox). Absent in single-state reports.
   */
  earlier?: ReportStep[];
}

/** One earlier state of a coalesced report. */
export interface ReportStep {
  state: ReportState;
  workers: WorkerReport[];
  at: string;
  reason?: string;
}

/** Earlier states one report may carry. */
export const MAX_EARLIER_STEPS = 16;
/**
 * A coalesced report stays within this many characters of JSON, about what one report of 256
 * workers already is: coalescing never makes a message larger than a single report can be.
 */
export const MAX_COALESCED_CHARS = 16 * 1024;

/** A report as single-state reports, oldest first: its earlier steps, then itself. */
export function reportSteps(report: AgentReport): AgentReport[] {
  const { earlier, ...last } = report;
  if (!earlier?.length) return [last];
  const { reason: _reason, ...common } = last;
  return [...earlier.map((step) => ({ ...common, ...step })), last];
}

/**
 * Coalesces reports about the same message from the same node that follow each other: one report
 * carrying the last state, with the ones before it in `earlier` (at most MAX_EARLIER_STEPS, and
 * MAX_COALESCED_CHARS of JSON).
 * Order is kept; nothing is dropped.
 */
export function coalesceReports(reports: readonly AgentReport[]): AgentReport[] {
  const out: AgentReport[] = [];
  for (const report of reports) {
    const prev = out.at(-1);
    const same = prev !== undefined && prev.messageId === report.messageId && prev.nodeId === report.nodeId
      && prev.drainId === report.drainId && prev.topic === report.topic && prev.requestedBy === report.requestedBy
      && (prev.earlier?.length ?? 0) < MAX_EARLIER_STEPS && !report.earlier
      && JSON.stringify(prev).length + JSON.stringify(report).length <= MAX_COALESCED_CHARS;
    if (!same) {
      out.push(report);
      continue;
    }
    const { earlier = [], messageId: _m, nodeId: _n, drainId: _d, topic: _t, requestedBy: _r, ...step } = prev;
    out[out.length - 1] = { ...report, earlier: [...earlier, step] };
  }
  return out;
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
  const earlier = parseEarlier(f['earlier']);
  if (isFailure(earlier)) return earlier;
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
  if (earlier) report.earlier = earlier;
  return ok(report);
}

function parseEarlier(value: unknown): ReportStep[] | undefined | Failure {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) return fail(INVALID_REPORT, 'earlier', 'earlier must be an array of { state, workers, at, reason? }');
  if (value.length > MAX_EARLIER_STEPS) return fail(INVALID_REPORT, 'earlier', `earlier holds at most ${MAX_EARLIER_STEPS} states`);
  const steps: ReportStep[] = [];
  for (const [i, raw] of (value as unknown[]).entries()) {
    const field = `earlier[${i}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail(INVALID_REPORT, field, `${field} must be an object`);
    const f = raw as Record<string, unknown>;
    if (!isReportState(f['state'])) return fail(INVALID_REPORT, `${field}.state`, `state must be one of ${REPORT_STATES.join(', ')}`);
    if (typeof f['at'] !== 'string' || !parseInstant(f['at'])) return fail(INVALID_REPORT, `${field}.at`, 'at must be an ISO-8601 instant');
    if (f['reason'] !== undefined && (typeof f['reason'] !== 'string' || f['reason'].length > MAX_REPORT_TEXT)) {
      return fail(INVALID_REPORT, `${field}.reason`, `reason must be a string of at most ${MAX_REPORT_TEXT} characters`);
    }
    if (!Array.isArray(f['workers'])) return fail(INVALID_REPORT, `${field}.workers`, 'workers must be an array');
    const workers: WorkerReport[] = [];
    for (const [j, w] of (f['workers'] as unknown[]).entries()) {
      const worker = parseWorker(w, `${field}.workers[${j}]`);
      if (isFailure(worker)) return worker;
      workers.push(worker);
    }
    steps.push({ state: f['state'], workers, at: f['at'], ...(typeof f['reason'] === 'string' && { reason: f['reason'] }) });
  }
  return steps;
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
