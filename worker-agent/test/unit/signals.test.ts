// Processes the agent never signals, and the SIGKILL target at a deadline (src/common/signals.ts).
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { readProcStat } from '../../src/common/proc.js';
import { ProtectedProcesses, killProcessGroup } from '../../src/common/signals.js';

describe('ProtectedProcesses', () => {
  it('covers PID 1, the process itself and its ancestors, not its children nor a reused PID', () => {
    const protect = new ProtectedProcesses();
    const self = readProcStat(process.pid)!;
    const parent = readProcStat(process.ppid)!;
    expect(protect.reason(1, 0)).toBe('PID 1 (init)');
    expect(protect.reason(process.pid, self.startTime)).toBe('the agent itself');
    expect(protect.reason(process.ppid, parent.startTime)).toBe('an ancestor of the agent');
    expect(protect.reason(process.ppid, parent.startTime + 1)).toBeUndefined(); // the PID, reused later
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      expect(protect.reason(child.pid!, readProcStat(child.pid!)!.startTime)).toBeUndefined();
      expect(protect.inGroup(self.pgid)).toBe(true);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('killProcessGroup', () => {
  it('kills the group of a worker that leads it, and only the worker when it does not', async () => {
    const protect = new ProtectedProcesses();
    const leader = spawn('sleep', ['30'], { stdio: 'ignore', detached: true });
    const member = spawn('sleep', ['30'], { stdio: 'ignore' }); // in this process's group
    const exited = (c: typeof leader) => new Promise((r) => c.once('exit', r));
    const [leaderExit, memberExit] = [exited(leader), exited(member)];
    expect(killProcessGroup(leader.pid!, protect)).toEqual({ target: -leader.pid!, result: 'sent' });
    expect(killProcessGroup(member.pid!, protect)).toEqual({ target: member.pid!, result: 'sent' });
    await Promise.all([leaderExit, memberExit]);
  });
});
