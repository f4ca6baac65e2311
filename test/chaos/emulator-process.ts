// The Service Bus emulator as a child process (its CLI, from source) with a data directory, so
// that it can be killed (-9 or TERM) and started again on the same state. Entities come from a
// config file applied on every start.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type EmulatorChildProcess, spawnEmulator } from '@workforce/servicebus-emulator';
import { COMMANDS_QUEUE_PROPERTIES } from '../../src/domain/entities.js';
import { commandsQueueName } from '../../worker-agent/src/contract/command.js';
import { ROOT } from '../support/control-plane.js';

// CHAOS_EMULATOR_ROOT: run the emulator of another checkout (e.g. `git archive <commit>`, with a
// node_modules link), to tell an emulator regression from a finding of the rest of the system.
const EMULATOR_ROOT = process.env.CHAOS_EMULATOR_ROOT ?? ROOT;

export interface Entities {
  topic: string;
  reportsQueue: string;
  /** Short locks so that a stalled agent loses its lock within a run. */
  lockMs: number;
  reportsLockMs: number;
}

export class EmulatorProcess {
  private running: EmulatorChildProcess | undefined;
  port = 0;
  connectionString = '';
  restarts = 0;

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
        queues: [
          { name: e.reportsQueue, lockDuration: e.reportsLockMs, maxDeliveryCount: 5, deadLetteringOnMessageExpiration: true, defaultMessageTimeToLive: 'P7D' },
          // As PUT /api/topics/{t} provisions it, with the short lock (the session lock here):
          // a killed agent's session goes to its successor within a run.
          { ...COMMANDS_QUEUE_PROPERTIES, name: commandsQueueName(e.topic), lockDuration: e.lockMs },
        ],
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
    this.running = undefined;
    const running = await spawnEmulator({
      cli: EMULATOR_ROOT,
      args: ['--port', '0', '--arm-port', 'off', '--amqps-port', 'off', '--data', this.dataDir, '--log-level', 'info'],
      config: this.configFile(),
      cwd: ROOT,
    });
    this.running = running;
    this.connectionString = running.connectionString;
    this.port = running.port;
  }

  /** Stops the emulator (SIGKILL: no clean shutdown; SIGTERM: a clean one) and starts it again. */
  async restart(signal: 'SIGKILL' | 'SIGTERM', downMs: number): Promise<void> {
    await this.stop(signal);
    await new Promise((r) => setTimeout(r, downMs));
    this.restarts++;
    await this.start();
  }

  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await this.running?.stop(signal);
  }
}
