// PID file format (docs/DESIGN.md "PID files"). Two formats share the directory:
// - JSON, written by our worker libraries and by `workforce-agent run`;
// - legacy ai4s-jobq files, holding only the decimal PID (its `PidFile` context manager).

import { constants } from 'node:os';
import { type ParseResult, fail, ok } from '../contract/result.js';
import type { Operation } from '../contract/control-message.js';

export const PID_FILE_SUFFIX = '.pid';
export const PID_FILE_INVALID = 'PidFileInvalid';

export type SignalName = NodeJS.Signals;
/** The operations a worker declares a signal for: the control operations, and `resume` (command-only). */
export const SIGNAL_OPERATIONS = ['graceful-downscale', 'do-not-accept-new-tasks', 'resume'] as const;
export type SignalOperation = Operation | 'resume';
export type DeclaredSignals = Partial<Record<SignalOperation, SignalName | null>>;

export interface PidFileRecord {
  pid: number;
  /** Field 22 of /proc/<pid>/stat. */
  startTime: number;
  /** /proc/sys/kernel/random/boot_id when the file was written. */
  bootId: string;
  topic: string;
  workerId: string;
  signals: DeclaredSignals;
  /** Where this worker looks for the intake flag. Informational: the agent logs a mismatch, never writes it. */
  intakeFile?: string;
}

export type PidFileContent = { format: 'json'; record: PidFileRecord } | { format: 'legacy'; pid: number };

// Signals a worker may declare: any it can catch. SIGKILL and SIGSTOP cannot be handled, so
// declaring them would turn a graceful request into a hard one.
const UNCATCHABLE = new Set(['SIGKILL', 'SIGSTOP']);

export function isDeclarableSignal(name: unknown): name is SignalName {
  return typeof name === 'string' && name in constants.signals && !UNCATCHABLE.has(name);
}

/** `gpu-0.pid` → `gpu-0`. */
export function workerIdFromFileName(fileName: string): string {
  return fileName.endsWith(PID_FILE_SUFFIX) ? fileName.slice(0, -PID_FILE_SUFFIX.length) : fileName;
}

const WORKER_ID = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;
export function isValidWorkerId(id: string): boolean {
  return WORKER_ID.test(id);
}

export function parsePidFile(text: string): ParseResult<PidFileContent> {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) {
    const pid = Number(trimmed);
    if (!isValidPid(pid)) return fail(PID_FILE_INVALID, 'pid', `${trimmed} is not a valid PID`);
    return ok({ format: 'legacy', pid });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(trimmed);
  } catch {
    return fail(PID_FILE_INVALID, 'body', 'neither an integer (legacy) nor JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail(PID_FILE_INVALID, 'body', 'not a JSON object');
  const f = raw as Record<string, unknown>;
  if (!isValidPid(f['pid'])) return fail(PID_FILE_INVALID, 'pid', 'pid must be a positive integer');
  if (!Number.isSafeInteger(f['startTime']) || (f['startTime'] as number) < 0) {
    return fail(PID_FILE_INVALID, 'startTime', 'startTime must be field 22 of /proc/<pid>/stat (an integer)');
  }
  for (const name of ['bootId', 'topic', 'workerId'] as const) {
    if (typeof f[name] !== 'string' || f[name] === '') return fail(PID_FILE_INVALID, name, `${name} must be a non-empty string`);
  }
  const signals = f['signals'] ?? {};
  if (typeof signals !== 'object' || signals === null || Array.isArray(signals)) {
    return fail(PID_FILE_INVALID, 'signals', 'signals must be an object');
  }
  const declared: DeclaredSignals = {};
  for (const op of SIGNAL_OPERATIONS) {
    const value = (signals as Record<string, unknown>)[op];
    if (value === undefined) continue;
    if (value !== null && !isDeclarableSignal(value)) {
      return fail(PID_FILE_INVALID, `signals.${op}`, `${JSON.stringify(value)} is not a signal a worker can handle`);
    }
    declared[op] = value;
  }
  if (f['intakeFile'] !== undefined && (typeof f['intakeFile'] !== 'string' || !f['intakeFile'].startsWith('/'))) {
    return fail(PID_FILE_INVALID, 'intakeFile', 'intakeFile must be an absolute path');
  }
  const record: PidFileRecord = {
    pid: f['pid'],
    startTime: f['startTime'] as number,
    bootId: f['bootId'] as string,
    topic: f['topic'] as string,
    workerId: f['workerId'] as string,
    signals: declared,
  };
  if (typeof f['intakeFile'] === 'string') record.intakeFile = f['intakeFile'];
  return ok({ format: 'json', record });
}

export function serializePidFile(record: PidFileRecord): string {
  return `${JSON.stringify(record)}\n`;
}

function isValidPid(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) > 0 && (value as number) < 2 ** 22 + 1;
}

/** The signals the agent may send a worker, after defaults and conventions are applied. */
export interface ResolvedSignals {
  'graceful-downscale': SignalName | null;
  'do-not-accept-new-tasks': SignalName | null;
  /** Sent when a `resume` command takes the intake flag down; never defaulted. */
  resume: SignalName | null;
}

/**
 * DESIGN: never a signal the worker did not declare, except the documented defaults: SIGTERM
 * for graceful-downscale; for legacy files the ai4s-jobq convention (SIGUSR2 graceful-downscale,
 * SIGUSR1 do-not-accept-new-tasks) unless the convention is turned off.
 */
export function resolveSignals(content: PidFileContent, legacyConvention: boolean): ResolvedSignals {
  if (content.format === 'legacy') {
    return legacyConvention
      ? { 'graceful-downscale': 'SIGUSR2', 'do-not-accept-new-tasks': 'SIGUSR1', resume: null }
      : { 'graceful-downscale': 'SIGTERM', 'do-not-accept-new-tasks': null, resume: null };
  }
  const declared = content.record.signals;
  return {
    'graceful-downscale': declared['graceful-downscale'] === undefined ? 'SIGTERM' : declared['graceful-downscale'],
    'do-not-accept-new-tasks': declared['do-not-accept-new-tasks'] ?? null,
    resume: declared.resume ?? null,
  };
}
