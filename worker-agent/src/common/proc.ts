// The Linux process table, read from /proc. Field numbers follow proc(5).

import { readFileSync } from 'node:fs';

export interface ProcStat {
  pid: number;
  /** Field 3: R, S, D, Z, T, … */
  state: string;
  /** Field 4: parent process id. */
  ppid: number;
  /** Field 5: process group id. */
  pgid: number;
  /** Field 22: start time in clock ticks after boot. */
  startTime: number;
}

/** USER_HZ, the unit of field 22. It is 100 on every architecture Node supports. */
export const CLOCK_TICKS_PER_SECOND = 100;

/** Reads /proc/<pid>/stat; undefined when there is no such process. */
export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = rest[0];
  const ppid = Number(rest[1]);
  const pgid = Number(rest[2]);
  const startTime = Number(rest[19]);
  if (state === undefined || !Number.isFinite(ppid) || !Number.isFinite(pgid) || !Number.isFinite(startTime)) return undefined;
  return { pid, state, ppid, pgid, startTime };
}

/** Real and effective uid of a process (the `Uid:` line of /proc/<pid>/status); undefined when gone. */
export function readProcUids(pid: number): { real: number; effective: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'latin1');
  } catch {
    return undefined;
  }
  const match = /^Uid:\s+(\d+)\s+(\d+)/m.exec(text);
  return match ? { real: Number(match[1]), effective: Number(match[2]) } : undefined;
}

/** A process that exists and has not exited (a zombie has exited; only its entry remains). */
export function isLive(stat: ProcStat | undefined): stat is ProcStat {
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
}

let bootIdCache: string | undefined;
/** /proc/sys/kernel/random/boot_id: changes at every boot. */
export function bootId(): string {
  bootIdCache ??= readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  return bootIdCache;
}

/**
 * Wall-clock time of boot in ms, from /proc/uptime (centisecond resolution), which is finer
 * than /proc/stat's `btime` (whole seconds).
 */
export function bootTimeMs(now = Date.now()): number {
  const uptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  return now - uptime * 1000;
}

/** Wall-clock start time of a process in ms (±10 ms). */
export function processStartMs(stat: ProcStat, boot = bootTimeMs()): number {
  return boot + (stat.startTime * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** Start time (field 22) of the calling process. */
export function ownStartTime(): number {
  const stat = readProcStat(process.pid);
  if (!stat) throw new Error('cannot read /proc/self/stat: the agent needs Linux /proc');
  return stat.startTime;
}
