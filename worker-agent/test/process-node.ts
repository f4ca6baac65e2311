// A node of real processes, the one model the agent's bus tests (test/bus/cluster.ts) and the
// chaos suite (test/chaos/fleet.ts at the repository root) build on: its own PID, state and
// task-queue directories, example workers registered in its PID directory, and agent processes
// (the shipped bundle) with the environment that points them at the node, its topic and a bus.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { LocalQueue } from '../examples/local-queue.js';
import { type NodeState, NodeStateStore } from '../src/agent/node-state.js';
import { type Artifacts, type ExampleWorkerKind, type Proc, startExampleWorker, startProcess, waitFor } from './helpers.js';

/** A worker process of the node, with the id it registered under and what kind it is. */
export interface WorkerProc extends Proc {
  workerId: string;
  kind: string;
}

/** Where the node's agents reach Service Bus (read at each start: an emulator restart may move it). */
export interface AgentBus {
  connectionString: string;
  reportsQueue: string;
}

export class ProcessNode {
  readonly pidDir: string;
  readonly stateDir: string;
  readonly queue: LocalQueue;
  readonly workers: WorkerProc[] = [];
  /** Every agent process this node ran (restarts after crashes); `agent` is the latest. */
  readonly agents: Proc[] = [];
  agent!: Proc;

  constructor(
    readonly built: Artifacts,
    readonly id: string,
    readonly dir: string,
    readonly topic: string,
    private readonly bus: () => AgentBus,
    /** Agent environment of this node on top of the defaults (log level, test hooks…). */
    private readonly env: Record<string, string> = {},
  ) {
    this.pidDir = join(dir, 'pids');
    this.stateDir = join(dir, 'state');
    this.queue = new LocalQueue(join(dir, 'queue'));
  }

  get workerIds(): string[] {
    return this.workers.map((w) => w.workerId);
  }

  agentEnv(extra: Record<string, string> = {}): Record<string, string> {
    const bus = this.bus();
    return {
      WORKFORCE_BACK_CHANNEL_CONNECTION_STRING: bus.connectionString,
      WORKFORCE_CONTROL_TOPIC_NAME: this.topic,
      WORKFORCE_REPORTS_QUEUE_NAME: bus.reportsQueue,
      WORKFORCE_PID_DIR: this.pidDir,
      WORKFORCE_STATE_DIR: this.stateDir,
      WORKFORCE_NODE_ID: this.id,
      WORKFORCE_LOG_LEVEL: 'info',
      ...this.env,
      ...extra,
    };
  }

  /**
   * Starts `workforce-agent listen` for this node (does not wait for it to listen), executing the
   * bundle as a worker image does, so its `#!` line (`node --jitless`) is the one under test.
   */
  spawnAgent(extra: Record<string, string> = {}): Proc {
    this.agent = startProcess(this.built.agent, ['listen'], this.agentEnv(extra));
    this.agents.push(this.agent);
    return this.agent;
  }

  /** An example worker (Node, Python, legacy Python) taking tasks from the node's queue; `extra`: more of its arguments. */
  startWorker(kind: ExampleWorkerKind, workerId: string, extra: string[] = []): WorkerProc {
    return this.addWorker(startExampleWorker(this.built, kind, { queueDir: this.queue.dir, pidDir: this.pidDir, topic: this.topic, workerId, extra }), workerId, kind);
  }

  protected addWorker(proc: Proc, workerId: string, kind: string): WorkerProc {
    const worker = Object.assign(proc, { workerId, kind });
    this.workers.push(worker);
    return worker;
  }

  /** Until every worker started so far has written its PID file. */
  async waitRegistered(timeoutMs = 15_000): Promise<void> {
    await waitFor(() => this.workers.every((w) => existsSync(join(this.pidDir, `${w.workerId}.pid`))), timeoutMs, () => `workers of ${this.id} to register`);
  }

  state(): NodeState | undefined {
    return new NodeStateStore(this.stateDir).read();
  }

  liveWorkers(): WorkerProc[] {
    return this.workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
  }

  /** Workers that were asked to drain (by any signal). */
  drainRequested(): string[] {
    return this.queue.events().filter((e) => e.event === 'drain-requested').map((e) => e.workerId);
  }

  /** SIGKILL to every process of the node. */
  async stop(): Promise<void> {
    const all = [...this.agents, ...this.workers];
    for (const p of all) p.kill('SIGKILL');
    await Promise.all(all.map((p) => p.exited));
  }
}
