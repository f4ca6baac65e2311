// `workforce-agent run`: black-box, against the bundled agent and real child processes.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readProcStat } from '../../src/common/proc.js';
import { type Artifacts, buildArtifacts, killAll, removeTempDirs, startProcess, tempDir, waitFor } from '../helpers.js';

let built: Artifacts;
beforeAll(async () => {
  built = await buildArtifacts();
});
afterEach(killAll);
afterAll(removeTempDirs);

function run(pidDir: string, args: string[], env: Record<string, string> = {}) {
  return startProcess(process.execPath, [built.agent, 'run', '--topic', 'eu', '--pid-dir', pidDir, ...args], env);
}

function onlyPidFile(pidDir: string): Record<string, unknown> | undefined {
  const names = readdirSync(pidDir).filter((n) => n.endsWith('.pid'));
  if (names.length !== 1) return undefined;
  return JSON.parse(readFileSync(join(pidDir, names[0] as string), 'utf8')) as Record<string, unknown>;
}

describe('workforce-agent run', () => {
  it('passes the exit code through and removes the PID file', async () => {
    const pidDir = tempDir();
    const proc = run(pidDir, ['--', 'sh', '-c', 'sleep 0.2; exit 7']);
    await waitFor(() => existsSync(pidDir) && onlyPidFile(pidDir) !== undefined);
    expect(await proc.exited).toEqual({ code: 7, signal: null });
    expect(readdirSync(pidDir).filter((n) => n.endsWith('.pid'))).toEqual([]);
  });

  it('leaves --help after the command to the command', async () => {
    // `sh -c 'exit 3' --help`: the exit code shows that the command ran, with --help as its $0.
    const proc = run(tempDir(), ['--', 'sh', '-c', 'exit 3', '--help']);
    expect(await proc.exited).toEqual({ code: 3, signal: null });
    expect(proc.output()).not.toContain('usage');
  });

  it('writes the PID file of the command, verifiable, with the intake flag path in the environment', async () => {
    const pidDir = tempDir();
    const proc = run(pidDir, ['--worker-id', 'gpu-0', '--intake-signal', 'SIGUSR1', '--resume-signal', 'SIGCONT', '--', 'sh', '-c', 'echo "flag=$WORKFORCE_INTAKE_FLAG"; exec sleep 30']);
    await waitFor(() => existsSync(join(pidDir, 'gpu-0.pid')) && proc.output().includes('flag='));
    const record = JSON.parse(readFileSync(join(pidDir, 'gpu-0.pid'), 'utf8')) as Record<string, unknown>;
    expect(record).toMatchObject({
      topic: 'eu',
      workerId: 'gpu-0',
      signals: { 'graceful-downscale': 'SIGTERM', 'do-not-accept-new-tasks': 'SIGUSR1', resume: 'SIGCONT' },
      intakeFile: join(pidDir, '..', 'intake', 'eu.intake-stopped'),
    });
    expect(record['pid']).not.toBe(proc.pid); // the command, not the wrapper
    expect(readProcStat(record['pid'] as number)?.startTime).toBe(record['startTime']);
    expect(proc.output()).toContain(`flag=${join(pidDir, '..', 'intake', 'eu.intake-stopped')}`);
    // The command is the leader of its own process group (a deadline SIGKILL spares the wrapper).
    expect(readProcStat(record['pid'] as number)?.pgid).toBe(record['pid']);
  });

  it('forwards signals to the command and exits as it does', async () => {
    const pidDir = tempDir();
    const proc = run(pidDir, ['--', 'sh', '-c', 'trap "echo got-term; exit 3" TERM; trap "echo got-usr1" USR1; while true; do sleep 0.05; done']);
    await waitFor(() => onlyPidFile(pidDir) !== undefined);
    await new Promise((r) => setTimeout(r, 100));
    proc.kill('SIGUSR1');
    await waitFor(() => proc.output().includes('got-usr1'));
    proc.kill('SIGTERM');
    expect(await proc.exited).toEqual({ code: 3, signal: null });
    expect(proc.output()).toContain('got-term');
  });

  it('dies of the signal that killed the command', async () => {
    const pidDir = tempDir();
    const proc = run(pidDir, ['--', 'sleep', '30']);
    await waitFor(() => onlyPidFile(pidDir) !== undefined);
    process.kill(onlyPidFile(pidDir)?.['pid'] as number, 'SIGKILL');
    expect(await proc.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(readdirSync(pidDir).filter((n) => n.endsWith('.pid'))).toEqual([]);
  });

  it('reports a command that cannot be started as 127, like a shell', async () => {
    const pidDir = tempDir();
    const proc = run(pidDir, ['--', 'no-such-command-anywhere']);
    expect((await proc.exited).code).toBe(127);
    expect(proc.output()).toContain('spawn-failed');
  });

  it('names a missing setting', async () => {
    const proc = startProcess(process.execPath, [built.agent, 'run', '--', 'true'], { WORKFORCE_CONTROL_TOPIC_NAME: '' });
    expect((await proc.exited).code).toBe(2);
    expect(proc.output()).toContain('WORKFORCE_CONTROL_TOPIC_NAME (--topic) is required');
  });
});

describe('workforce-agent run refuses to start a command it cannot look after', () => {
  // The command leaves a mark when it runs: a refused one must leave none.
  function markingCommand(dir: string): { marker: string; command: string[] } {
    const marker = join(dir, 'ran');
    return { marker, command: ['sh', '-c', `echo ran > ${marker}`] };
  }

  it('does not start the command when its PID file cannot be written (125, the directory named)', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'not-a-dir'), '');
    const pidDir = join(dir, 'not-a-dir', 'pids');
    const { marker, command } = markingCommand(dir);
    const proc = run(pidDir, ['--', ...command]);
    expect((await proc.exited).code).toBe(125);
    expect(proc.output()).toContain(`cannot register the command: the PID file cannot be written in ${pidDir}`);
    expect(existsSync(marker)).toBe(false);
  });

  // Mounting a tmpfs and unshare need root; CI runs as root, as the agent does in production.
  describe.runIf(process.getuid?.() === 0)('as root', () => {
    it('does not start the command when the PID directory is read-only (EROFS)', async () => {
      const pidDir = tempDir();
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,ro', 'tmpfs', pidDir]);
      const { marker, command } = markingCommand(tempDir());
      try {
        const proc = run(pidDir, ['--', ...command]);
        expect((await proc.exited).code).toBe(125);
        expect(proc.output()).toMatch(/PID file cannot be written .*EROFS/);
        expect(existsSync(marker)).toBe(false);
      } finally {
        execFileSync('umount', ['-l', pidDir]);
      }
    });

    it('does not start the command as PID 1 of a PID namespace, where its orphans would stay zombies', async () => {
      const pidDir = tempDir();
      const { marker, command } = markingCommand(tempDir());
      const proc = startProcess('unshare', ['-pf', '--mount-proc', process.execPath, built.agent, 'run', '--topic', 'eu', '--pid-dir', pidDir, '--', ...command]);
      expect((await proc.exited).code).toBe(125);
      expect(proc.output()).toContain('run is PID 1 of its PID namespace');
      expect(proc.output()).toContain('tini');
      expect(existsSync(marker)).toBe(false);
      expect(readdirSync(pidDir)).toEqual([]);
    });
  });
});
