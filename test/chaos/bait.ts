// PID reuse: a process that is not a worker, pointed at by stale PID files in a node's PID
// directory. It traps and logs every catchable signal; at the end it must have logged none and
// still be alive (SIGKILL cannot be trapped, but it would show as a death).
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const SIGNALS = ['HUP', 'INT', 'QUIT', 'USR1', 'USR2', 'TERM', 'ALRM', 'CONT', 'WINCH', 'PIPE'];

export type StaleKind = 'json-wrong-start' | 'json-wrong-boot' | 'legacy-older';

export class Bait {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly files: string[] = [];
  private deaths: string | undefined;

  constructor(readonly logFile: string) {
    const traps = SIGNALS.map((s) => `trap 'echo ${s} >> "$LOG"' ${s}`).join('; ');
    // detached: its own process group, so that only a signal aimed at it (or its group) reaches it.
    this.child = spawn('sh', ['-c', `${traps}; while :; do sleep 0.2; done`], { env: { ...process.env, LOG: logFile }, stdio: 'ignore', detached: true });
    this.pid = this.child.pid!;
    writeFileSync(logFile, '');
    this.child.once('exit', (code, signal) => (this.deaths = `exited code=${code} signal=${signal}`));
  }

  /** Writes a PID file that names this process but is stale in the given way. */
  plant(pidDir: string, topic: string, kind: StaleKind): void {
    const file = join(pidDir, `ghost-${kind}.pid`);
    if (kind === 'legacy-older') {
      writeFileSync(file, String(this.pid));
      const old = new Date(Date.now() - 3_600_000); // written before the process started
      utimesSync(file, old, old);
    } else {
      const startTime = Number(readFileSync(`/proc/${this.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19]);
      const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
      const record = {
        pid: this.pid,
        startTime: kind === 'json-wrong-start' ? startTime + 1 : startTime,
        bootId: kind === 'json-wrong-boot' ? '00000000-0000-0000-0000-000000000000' : bootId,
        topic,
        workerId: `ghost-${kind}`,
        signals: { 'graceful-downscale': 'SIGTERM', 'do-not-accept-new-tasks': 'SIGUSR1' },
      };
      writeFileSync(file, JSON.stringify(record));
    }
    this.files.push(file);
  }

  /** Signals it received, and whether it died. Empty when nothing touched it. */
  violations(): string[] {
    const got = readFileSync(this.logFile, 'utf8').split('\n').filter(Boolean);
    return [...got.map((s) => `bait pid ${this.pid} got SIG${s}`), ...(this.deaths ? [`bait pid ${this.pid} ${this.deaths}`] : [])];
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}
