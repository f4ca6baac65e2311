// The Service Bus emulator as a child process (its CLI, from source) with a data directory, so
// that it can be killed (-9 or TERM) and started again on the same state. Entities come from a
// config file applied on every start.
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ROOT } from '../support/control-plane.js';

// CHAOS_EMULATOR_ROOT: run the emulator of another checkout (e.g. `git archive <commit>`, with a
// node_modules link), to tell an emulator regression from a finding of the rest of the system.
const CLI = join(process.env.CHAOS_EMULATOR_ROOT ?? ROOT, 'local', 'servicebus', 'src', 'cli.ts');

export interface Entities {
  topic: string;
  reportsQueue: string;
  /** Short locks so that a stalled agent loses its lock within a run. */
  lockMs: number;
  reportsLockMs: number;
}

export class EmulatorProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<unknown> = Promise.resolve();
  port = 0;
  connectionString = '';
  restarts = 0;
  private log = '';

  constructor(
    private readonly dataDir: string,
    private readonly entities: Entities,
  ) {}

  private configFile(): string {
    const file = join(this.dataDir, '..', 'entities.json');
    const e = this.entities;
    writeFileSync(
      file,
      JSON.stringify({
        queues: [{ name: e.reportsQueue, lockDuration: e.reportsLockMs, maxDeliveryCount: 5, deadLetteringOnMessageExpiration: true, defaultMessageTimeToLive: 'P7D' }],
        topics: [
          {
            name: e.topic,
            requiresDuplicateDetection: true,
            duplicateDetectionHistoryTimeWindow: 'PT1H',
            defaultMessageTimeToLive: 'P1D',
            subscriptions: [{ name: 'shutdown', lockDuration: e.lockMs, maxDeliveryCount: 10, deadLetteringOnMessageExpiration: true }],
          },
        ],
      }),
    );
    return file;
  }

  async start(): Promise<void> {
    const args = ['--import', 'tsx', '--conditions', 'source', CLI, '--port', '0', '--arm-port', 'off', '--amqps-port', 'off', '--data', this.dataDir, '--config', this.configFile(), '--log-level', 'info'];
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.exited = new Promise((r) => child.once('exit', r));
    child.stderr!.on('data', (d) => (this.log = (this.log + String(d)).slice(-4000)));
    this.connectionString = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`emulator not ready after 60 s: ${this.log}`)), 60_000);
      createInterface({ input: child.stdout! }).on('line', (line) => {
        this.log = (this.log + line + '\n').slice(-4000);
        try {
          const entry = JSON.parse(line) as { msg?: string; connectionString?: string };
          if (entry.msg === 'ready' && entry.connectionString) {
            clearTimeout(timer);
            resolve(entry.connectionString);
          }
        } catch {
          // not a log line
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`emulator exited (${code}) before ready: ${this.log}`));
      });
    });
    this.port = Number(/Endpoint=sb:\/\/[^:;/]+:(\d+)/.exec(this.connectionString)?.[1]);
    if (!this.port) throw new Error(`no port in ${this.connectionString}`);
  }

  /** Stops the emulator (SIGKILL: no clean shutdown; SIGTERM: a clean one) and starts it again. */
  async restart(signal: 'SIGKILL' | 'SIGTERM', downMs: number): Promise<void> {
    await this.stop(signal);
    await new Promise((r) => setTimeout(r, downMs));
    this.restarts++;
    await this.start();
  }

  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    await this.exited;
  }

  recentLog(): string {
    return this.log;
  }
}
