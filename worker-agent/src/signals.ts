// Sending signals, tini-style: a process that is gone (ESRCH) is a warning, anything else an error.

import { AgentError, errnoCode } from './errors.js';
import type { Logger } from './log.js';
import { readProcStat } from './proc.js';
import type { SignalName } from './pid-files/format.js';

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
 * SIGKILL to the process group of `pid` (a worker's children die with it). A group that holds
 * the agent itself (workers started from the same shell or container entry point) is never
 * killed as a group: only the worker's own process is.
 */
export function killProcessGroup(pid: number, log?: Logger): { target: number; result: SendResult } {
  const stat = readProcStat(pid);
  if (!stat) {
    log?.warn('signal-target-gone', { pid, signal: 'SIGKILL' });
    return { target: pid, result: 'gone' };
  }
  const ownGroup = readProcStat(process.pid)?.pgid;
  const target = stat.pgid > 1 && stat.pgid !== ownGroup ? -stat.pgid : pid;
  return { target, result: sendSignal(target, 'SIGKILL', log) };
}
