// Real nodes for end-to-end tests: the agent (worker-agent/src/cli.ts) and the Node example
// worker (worker-agent/examples/node/worker.ts), bundled with esbuild as they ship, each node
// with its own PID, state and task-queue directories.

import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { build } from 'esbuild';
import { LocalQueue } from '../../worker-agent/examples/local-queue.js';
import { ROOT, tempDir, waitFor } from './control-plane.js';

export interface Artifacts {
  agent: string;
  worker: string;
}

export async function buildArtifacts(): Promise<Artifacts> {
  const dir = tempDir('workforce-bundles-');
  const common = { bundle: true, platform: 'node' as const, target: 'node20', conditions: ['source'], logLevel: 'warning' as const };
  const agent = path.join(dir, 'workforce-agent.cjs');
  const worker = path.join(dir, 'worker.mjs');
  await build({ ...common, entryPoints: [path.join(ROOT, 'worker-agent', 'src', 'cli.ts')], outfile: agent, format: 'cjs' });
  await build({ ...common, entryPoints: [path.join(ROOT, 'worker-agent', 'examples', 'node', 'worker.ts')], outfile: worker, format: 'esm' });
  return { agent, worker };
}

export interface Proc {
  child: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  running(): boolean;
}

function start(args: string[], env: Record<string, string>): Proc {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, output: () => out, exited, running: () => child.exitCode === null && child.signalCode === null };
}

export class Node {
  readonly dir = tempDir('workforce-node-');
  readonly queue = new LocalQueue(path.join(this.dir, 'queue'));
  agent!: Proc;
  worker!: Proc;

  constructor(readonly id: string, readonly topic: string) {}

  async start(artifacts: Artifacts, connectionString: string, tasks: number, taskMs: number, agentEnv: Record<string, string> = {}): Promise<void> {
    for (let i = 0; i < tasks; i++) this.queue.enqueue(`task-${String(i).padStart(3, '0')}`, taskMs);
    const pidDir = path.join(this.dir, 'pids');
    this.worker = start([artifacts.worker, '--queue', this.queue.dir, '--topic', this.topic, '--worker-id', `${this.id}-w0`], { WORKFORCE_PID_DIR: pidDir });
    await waitFor(() => this.queue.events().some((e) => e.event === 'registered'), `worker of ${this.id} to register`);
    this.agent = start([artifacts.agent, 'listen'], {
      WORKFORCE_BACK_CHANNEL_CONNECTION_STRING: connectionString,
      WORKFORCE_CONTROL_TOPIC_NAME: this.topic,
      WORKFORCE_PID_DIR: pidDir,
      WORKFORCE_STATE_DIR: path.join(this.dir, 'state'),
      WORKFORCE_NODE_ID: this.id,
      ...agentEnv,
    });
    await waitFor(() => this.agent.output().includes('"listening"'), `agent of ${this.id} to listen`);
  }

  async stop(): Promise<void> {
    for (const p of [this.agent, this.worker]) {
      if (p?.running()) {
        p.child.kill('SIGKILL');
        await p.exited;
      }
    }
  }
}
