// The chaos fleet: nodes of real processes. Each node has its own PID, state and task-queue
// directories, 1–2 example workers (Node, Python, legacy Python) taking tasks of known duration
// from its local queue, and an agent (the shipped bundle) that reaches the emulator through the
// node's own proxy. A supervisor restarts an agent that died (kill -9, crash-point hook).
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { LocalQueue } from '../../worker-agent/examples/local-queue.js';
import { defaultIntakeFlagPath } from '../../worker-agent/src/defaults.js';
import { NodeStateStore, type NodeState } from '../../worker-agent/src/node-state.js';
import { type Artifacts, PYTHON_WORKER, type Proc, startProcess, waitFor } from '../../worker-agent/test/helpers.js';
import type { ChaosProxy } from './proxy.js';

export type WorkerKind = 'node' | 'python' | 'legacy';

export interface WorkerProc {
  workerId: string;
  kind: WorkerKind;
  proc: Proc;
}

/** The emulator's connection string with the port of a proxy in front of it. */
export function viaProxy(connectionString: string, port: number): string {
  return connectionString.replace(/(Endpoint=sb:\/\/[^:;/]+:)\d+/, `$1${port}`);
}

export class ChaosNode {
  readonly pidDir: string;
  readonly stateDir: string;
  /** The intake flag the agent writes and the library workers read (both default to it). */
  readonly intakeFlag: string;
  readonly queue: LocalQueue;
  readonly workers: WorkerProc[] = [];
  readonly agents: Proc[] = [];
  agent: Proc | undefined;
  /** Agent deaths by SIGKILL (ours or the crash hook's). */
  kills = 0;
  private supervised = false;

  constructor(
    readonly id: string,
    readonly dir: string,
    readonly topic: string,
    readonly reportsQueue: string,
    readonly proxy: ChaosProxy,
    private readonly artifacts: Artifacts,
    private readonly connectionString: () => string,
  ) {
    this.pidDir = join(dir, 'pids');
    this.stateDir = join(dir, 'state');
    this.intakeFlag = defaultIntakeFlagPath(this.pidDir, topic);
    mkdirSync(this.pidDir, { recursive: true });
    this.queue = new LocalQueue(join(dir, 'queue'));
  }

  startWorker(kind: WorkerKind): WorkerProc {
    const workerId = `${this.id}-${kind}-${this.workers.length}`;
    const env = { WORKFORCE_PID_DIR: this.pidDir, JOBQ_PID_DIR: this.pidDir };
    const args = ['--queue', this.queue.dir, '--topic', this.topic, '--worker-id', workerId];
    const proc =
      kind === 'node'
        ? startProcess(process.execPath, [this.artifacts.nodeWorker, ...args], env)
        : startProcess('python3', [PYTHON_WORKER, ...args, ...(kind === 'legacy' ? ['--legacy'] : [])], env);
    const worker = { workerId, kind, proc };
    this.workers.push(worker);
    return worker;
  }

  async waitRegistered(): Promise<void> {
    await waitFor(() => this.workers.every((w) => existsSync(join(this.pidDir, `${w.workerId}.pid`))), 60_000, () => `workers of ${this.id} to register`);
  }

  private agentEnv(crashAt: string): Record<string, string> {
    return {
      WORKFORCE_BACK_CHANNEL_CONNECTION_STRING: viaProxy(this.connectionString(), this.proxy.port),
      WORKFORCE_CONTROL_TOPIC_NAME: this.topic,
      WORKFORCE_REPORTS_QUEUE_NAME: this.reportsQueue,
      WORKFORCE_PID_DIR: this.pidDir,
      WORKFORCE_STATE_DIR: this.stateDir,
      WORKFORCE_NODE_ID: this.id,
      WORKFORCE_LOG_LEVEL: 'info',
      WORKFORCE_AGENT_CRASH_AT: crashAt,
    };
  }

  /** Starts the agent and keeps it running: each time it dies, it is started again after `restartDelayMs()`. */
  async startAgent(crashAt: string, restartDelayMs: () => number): Promise<void> {
    this.supervised = true;
    this.agent = startProcess(process.execPath, [this.artifacts.agent, 'listen'], this.agentEnv(crashAt));
    this.agents.push(this.agent);
    void this.supervise(restartDelayMs);
    await this.agent.waitForEvent('listening', undefined, 60_000);
  }

  private async supervise(restartDelayMs: () => number): Promise<void> {
    while (this.supervised) {
      const exit = await this.agent!.exited;
      if (!this.supervised) return;
      if (exit.signal === 'SIGKILL') this.kills++;
      await new Promise((r) => setTimeout(r, restartDelayMs()));
      if (!this.supervised) return;
      this.agent = startProcess(process.execPath, [this.artifacts.agent, 'listen'], this.agentEnv(''));
      this.agents.push(this.agent);
    }
  }

  /** The current agent is alive and listening (it finished its start-up recovery). */
  agentListening(): boolean {
    const a = this.agent;
    return !!a && a.child.exitCode === null && a.child.signalCode === null && a.events().some((e) => e['event'] === 'listening');
  }

  killAgent(): void {
    this.agent?.kill('SIGKILL');
  }

  state(): NodeState | undefined {
    return new NodeStateStore(this.stateDir).read();
  }

  liveWorkers(): WorkerProc[] {
    return this.workers.filter((w) => w.proc.child.exitCode === null && w.proc.child.signalCode === null);
  }

  async stop(): Promise<void> {
    this.supervised = false;
    const all = [...this.agents, ...this.workers.map((w) => w.proc)];
    for (const p of all) p.kill('SIGKILL');
    await Promise.all(all.map((p) => p.exited));
  }
}
