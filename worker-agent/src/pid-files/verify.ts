// Is the process a PID file names still the one that wrote it? (DESIGN "PID files")
// - JSON files: the process must be live and field 22 of /proc/<pid>/stat and the boot id must
//   both match the file.
// - Legacy files carry no start time: the process must have started before the file was last
//   written (a process started later got the PID by reuse).
// Start time and boot id are public (/proc), so they tell a reused PID from the writer's own,
// but not a forged file from a true one: the file must also be owned by root or by the user the
// process runs as (real and effective uid), else the process is not one its writer may claim.

import { type ProcStat, bootId, bootTimeMs, isLive, processStartMs, readProcStat, readProcUids } from '../common/proc.js';
import type { PidFileEntry } from './store.js';

/**
 * Slack for the legacy comparison: the start time from /proc is exact to ~10 ms, and a worker
 * may write its file within milliseconds of starting. A PID cannot be freed and reused within
 * this window after its owner wrote the file, so the slack never verifies a reused PID.
 */
export const LEGACY_CLOCK_TOLERANCE_MS = 50;

export type Verification =
  | { status: 'verified'; stat: ProcStat }
  /** No live process has that PID any more. */
  | { status: 'gone'; reason: string }
  /** A live process has the PID, but not the one that wrote the file: the PID was reused. */
  | { status: 'stale'; reason: string }
  /** The file's owner may not claim that process (neither root nor its user): never signalled. */
  | { status: 'untrusted'; reason: string };

export interface VerifyContext {
  bootId: string;
  bootTimeMs: number;
}

export function currentVerifyContext(): VerifyContext {
  return { bootId: bootId(), bootTimeMs: bootTimeMs() };
}

export function entryPid(entry: Pick<PidFileEntry, 'content'>): number {
  return entry.content.format === 'json' ? entry.content.record.pid : entry.content.pid;
}

export function verifyEntry(entry: PidFileEntry, ctx: VerifyContext = currentVerifyContext()): Verification {
  const verification = verifyProcess(entry, ctx);
  if (verification.status !== 'verified' || entry.uid === 0) return verification;
  const pid = entryPid(entry);
  const uids = readProcUids(pid);
  if (uids === undefined) return { status: 'gone', reason: `no live process ${pid}` };
  if (uids.real !== entry.uid || uids.effective !== entry.uid) {
    return { status: 'untrusted', reason: `the file is owned by uid ${entry.uid}, process ${pid} runs as uid ${uids.real} (effective ${uids.effective}): only root or the process's own user may register it` };
  }
  return verification;
}

function verifyProcess(entry: PidFileEntry, ctx: VerifyContext): Verification {
  const pid = entryPid(entry);
  const stat = readProcStat(pid);
  if (entry.content.format === 'json') {
    const record = entry.content.record;
    if (record.bootId !== ctx.bootId) return { status: 'gone', reason: `written before the last boot (boot id ${record.bootId})` };
    if (!isLive(stat)) return { status: 'gone', reason: `no live process ${pid}` };
    if (stat.startTime !== record.startTime) {
      return { status: 'stale', reason: `process ${pid} started at tick ${stat.startTime}, the file says ${record.startTime}: PID reused` };
    }
    return { status: 'verified', stat };
  }
  if (!isLive(stat)) return { status: 'gone', reason: `no live process ${pid}` };
  const startedAt = processStartMs(stat, ctx.bootTimeMs);
  if (startedAt > entry.mtimeMs + LEGACY_CLOCK_TOLERANCE_MS) {
    return {
      status: 'stale',
      reason: `process ${pid} started at ${new Date(startedAt).toISOString()}, after the legacy file was written (${new Date(entry.mtimeMs).toISOString()}): PID reused`,
    };
  }
  return { status: 'verified', stat };
}
