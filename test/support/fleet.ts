// Real nodes for end-to-end tests: the agent package's node of real processes
// (worker-agent/test/process-node.ts) with the agent as it ships (its `bundle()`) and one Node
// example worker taking tasks from the node's own queue.

import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { LocalQueue } from '../../worker-agent/examples/local-queue.js';
import { type Artifacts, type Proc, startProcess } from '../../worker-agent/test/helpers.js';
import { ProcessNode } from '../../worker-agent/test/process-node.js';
import { REPORTS_QUEUE } from '../../src/config.js';
import { startControlPlane, tempDir, waitFor, type ControlPlane } from './control-plane.js';
import { buildArtifacts } from '../../worker-agent/test/helpers.js';

export { buildArtifacts, type Artifacts } from '../../worker-agent/test/helpers.js';

export const isRunning = (p: Proc): boolean => p.child.exitCode === null && p.child.signalCode === null;

export class Node {
  readonly dir = tempDir('workforce-node-');
  readonly queue = new LocalQueue(path.join(this.dir, 'queue'));
  agent!: Proc;
  worker!: Proc;
  private processes: ProcessNode | undefined;

  constructor(readonly id: string, readonly topic: string) {}

  /** Queues `tasks` tasks of `taskMs`, starts the worker, then the agent once the worker registered. */
  async start(artifacts: Artifacts, connectionString: string, tasks: number, taskMs: number, agentEnv: Record<string, string> = {}): Promise<void> {
    for (let i = 0; i < tasks; i++) this.queue.enqueue(`task-${String(i).padStart(3, '0')}`, taskMs);
    const node = this.processesOn(artifacts, connectionString, agentEnv);
    this.worker = node.startWorker('node', `${this.id}-w0`);
    await node.waitRegistered();
    await this.startAgent(node);
  }

  /**
   * A node whose one worker ignores SIGTERM (a `workforce-agent run` shell that traps it, with a
   * child in its process group): only the SIGKILL at a drain's deadline ends it.
   */
  async startIgnoringSigterm(artifacts: Artifacts, connectionString: string): Promise<void> {
    const node = this.processesOn(artifacts, connectionString);
    const workerId = `${this.id}-stubborn`;
    this.worker = startProcess(process.execPath, [artifacts.agent, 'run', '--topic', this.topic, '--pid-dir', node.pidDir, '--worker-id', workerId, '--', 'sh', '-c', 'trap "" TERM; sleep 1000 & sleep 1000; wait']);
    await waitFor(() => existsSync(path.join(node.pidDir, `${workerId}.pid`)), `worker of ${this.id} to register`);
    await this.startAgent(node);
  }

  private processesOn(artifacts: Artifacts, connectionString: string, agentEnv: Record<string, string> = {}): ProcessNode {
    this.processes = new ProcessNode(artifacts, this.id, this.dir, this.topic, () => ({ connectionString, reportsQueue: REPORTS_QUEUE }), agentEnv);
    return this.processes;
  }

  private async startAgent(node: ProcessNode): Promise<void> {
    this.agent = node.spawnAgent();
    await this.agent.waitForEvent('listening');
  }

  /** Runs a `workforce-agent` command (status, reset…) with the node's environment. */
  async cli(args: string[]): Promise<{ code: number | null; output: string }> {
    const proc = startProcess(process.execPath, [this.processes!.built.agent, ...args], this.processes!.agentEnv());
    const { code } = await proc.exited;
    return { code, output: proc.output() };
  }

  /** Starts the agent again (after it stopped), waiting until it listens. */
  async restartAgent(): Promise<void> {
    await this.startAgent(this.processes!);
  }

  /** SIGKILL to the node's processes. */
  async stop(): Promise<void> {
    await this.processes?.stop();
    if (this.worker && isRunning(this.worker)) {
      this.worker.kill('SIGKILL'); // a worker the process node did not start (startIgnoringSigterm)
      await this.worker.exited;
    }
  }

  /** Stops the node and removes its directories. */
  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * The control plane with `topic` provisioned and one node on it: a worker with `tasks` tasks of
 * `taskMs` each, and its agent (`agentEnv` on top of its defaults), listening.
 */
export async function controlPlaneWithNode(
  topic: string,
  nodeId: string,
  options: { tasks: number; taskMs: number; agentEnv?: Record<string, string>; controlPlane?: Parameters<typeof startControlPlane>[0] },
): Promise<{ cp: ControlPlane; node: Node }> {
  const [cp, artifacts] = await Promise.all([startControlPlane(options.controlPlane), buildArtifacts()]);
  const put = await cp.api('PUT', `topics/${topic}`);
  if (put.status !== 201) throw new Error(`PUT topics/${topic} answered ${put.status}: ${JSON.stringify(put.body)}`);
  const node = new Node(nodeId, topic);
  await node.start(artifacts, cp.bus.emulator.connectionString, options.tasks, options.taskMs, options.agentEnv);
  return { cp, node };
}
