// Sending signals, tini-style: a process that is gone (ESRCH) is a warning, anything else an error.

import { AgentError, errnoCode } from './errors.js';
import type { Logger } from './log.js';
import { readProcStat } from './proc.js';
import type { SignalName } from '../pid-files/format.js';

export type SendResult = 'sent' | 'gone';

export function sendSignal(pid: number, signal: SignalName | 0, log?: Logger): SendResult {
  try {
    process.kill(pid, signal);
    return 'sent';
  } catch (err) {
    if (errnoCode(err) === 'ESRCH') {
      log?.warn('signal-target-gone', { pid, signal });
      return 'gone';
    }
    throw new AgentError('SignalFailed', `cannot send ${signal} to process ${pid}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The agent and its ancestors, with their start times (a PID reused later is not one of them),
 * read once: a process only gains ancestors that were already its ancestors (reparenting goes
 * up the tree). None of them, nor PID 1, is ever signalled, whatever a PID file says.
 */
export class ProtectedProcesses {
  private ancestry: Array<{ pid: number; startTime: number }> | undefined;

  constructor(private readonly self = process.pid) {}

  /** The agent and its ancestors, read from /proc the first time a worker is checked (not at start-up). */
  private get chain(): Array<{ pid: number; startTime: number }> {
    if (this.ancestry === undefined) {
      this.ancestry = [];
      for (let stat = readProcStat(this.self); stat && stat.pid > 1; stat = readProcStat(stat.ppid)) {
        this.ancestry.push({ pid: stat.pid, startTime: stat.startTime });
      }
    }
    return this.ancestry;
  }

  /** Why `pid` may not be signalled, or undefined if it may. */
  reason(pid: number, startTime: number): string | undefined {
    if (pid <= 1) return 'PID 1 (init)';
    const index = this.chain.findIndex((p) => p.pid === pid && p.startTime === startTime);
    if (index === 0) return 'the agent itself';
    if (index > 0) return 'an ancestor of the agent';
    return undefined;
  }

  /** Whether the agent or a live ancestor is in process group `pgid` now. */
  inGroup(pgid: number): boolean {
    return this.chain.some((p) => {
      const stat = readProcStat(p.pid);
      return stat !== undefined && stat.startTime === p.startTime && stat.pgid === pgid;
    });
  }
}

/**
 * SIGKILL to the process group of `pid` (a worker's children die with it) when `pid` leads its
 * group, else to `pid` alone: a worker that joined another group (its launcher's, a shell's) must
 * not take that group down. Never a group that holds the agent or one of its ancestors.
 */
export function killProcessGroup(pid: number, protect: ProtectedProcesses, log?: Logger): { target: number; result: SendResult } {
  const stat = readProcStat(pid);
  if (!stat) {
    log?.warn('signal-target-gone', { pid, signal: 'SIGKILL' });
    return { target: pid, result: 'gone' };
  }
  const target = stat.pgid === pid && pid > 1 && !protect.inGroup(pid) ? -pid : pid;
  return { target, result: sendSignal(target, 'SIGKILL', log) };
}
