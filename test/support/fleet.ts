// Real nodes for end-to-end tests, built from the agent package's own test kit
// (worker-agent/test/helpers.ts): the agent as it ships (its `bundle()`), the Node example worker,
// and each node with its own PID, state and task-queue directories.

import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { LocalQueue } from '../../worker-agent/examples/local-queue.js';
import { type Artifacts, type Proc, startExampleWorker, startProcess } from '../../worker-agent/test/helpers.js';
import { tempDir, waitFor } from './control-plane.js';

export { buildArtifacts, type Artifacts } from '../../worker-agent/test/helpers.js';

export const isRunning = (p: Proc): boolean => p.child.exitCode === null && p.child.signalCode === null;

export class Node {
  readonly dir = tempDir('workforce-node-');
  readonly queue = new LocalQueue(path.join(this.dir, 'queue'));
  agent!: Proc;
  worker!: Proc;

  constructor(readonly id: string, readonly topic: string) {}

  private readonly pidDir = path.join(this.dir, 'pids');

  async start(artifacts: Artifacts, connectionString: string, tasks: number, taskMs: number, agentEnv: Record<string, string> = {}): Promise<void> {
    for (let i = 0; i < tasks; i++) this.queue.enqueue(`task-${String(i).padStart(3, '0')}`, taskMs);
    this.worker = startExampleWorker(artifacts, 'node', { queueDir: this.queue.dir, pidDir: this.pidDir, topic: this.topic, workerId: `${this.id}-w0` });
    await waitFor(() => this.queue.events().some((e) => e.event === 'registered'), `worker of ${this.id} to register`);
    await this.startAgent(artifacts, connectionString, agentEnv);
  }

  /**
   * A node whose one worker ignores SIGTERM (a `workforce-agent run` shell that traps it, with a
   * child in its process group): only the SIGKILL at a drain's deadline ends it.
   */
  async startIgnoringSigterm(artifacts: Artifacts, connectionString: string): Promise<void> {
    const workerId = `${this.id}-stubborn`;
    this.worker = startProcess(process.execPath, [artifacts.agent, 'run', '--topic', this.topic, '--pid-dir', this.pidDir, '--worker-id', workerId, '--', 'sh', '-c', 'trap "" TERM; sleep 1000 & sleep 1000; wait']);
    await waitFor(() => existsSync(path.join(this.pidDir, `${workerId}.pid`)), `worker of ${this.id} to register`);
    await this.startAgent(artifacts, connectionString);
  }

  private async startAgent(artifacts: Artifacts, connectionString: string, agentEnv: Record<string, string> = {}): Promise<void> {
    this.agent = startProcess(process.execPath, [artifacts.agent, 'listen'], {
      WORKFORCE_BACK_CHANNEL_CONNECTION_STRING: connectionString,
      WORKFORCE_CONTROL_TOPIC_NAME: this.topic,
      WORKFORCE_PID_DIR: this.pidDir,
      WORKFORCE_STATE_DIR: path.join(this.dir, 'state'),
      WORKFORCE_NODE_ID: this.id,
      ...agentEnv,
    });
    await this.agent.waitForEvent('listening');
  }

  async stop(): Promise<void> {
    for (const p of [this.agent, this.worker]) {
      if (p && isRunning(p)) {
        p.kill('SIGKILL');
        await p.exited;
      }
    }
  }

  /** Stops the node and removes its directories. */
  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
