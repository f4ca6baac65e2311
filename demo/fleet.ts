// A small fleet on this machine: each node is a real `workforce-agent listen` with its own PID and
// state directories, plus a Node and a Python example worker taking tasks from the node's own
// directory queue (worker-agent/examples). Used by `npm run demo` and the quick-start test.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalQueue } from '../worker-agent/examples/local-queue.js';
import { bundleExampleWorker } from '../worker-agent/scripts/bundle-example.js';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
const AGENT = path.join(ROOT, 'worker-agent', 'bin', 'workforce-agent.js');
const PY_WORKER = path.join(ROOT, 'worker-agent', 'examples', 'python', 'worker.py');

export interface FleetOptions {
  dir: string;
  connectionString: string;
  topics: string[];
  nodesPerTopic: number;
  /** Tasks per node and how long each takes (ms, a range so nodes finish at different times). */
  tasks: number;
  taskMs: [number, number];
  /** Also start a Python worker on each node (needs python3). */
  python: boolean;
}

export interface FleetNode {
  id: string;
  topic: string;
  dir: string;
  queue: LocalQueue;
  processes: Array<{ name: string; child: ChildProcess }>;
}

function spawnLogged(command: string, args: string[], env: Record<string, string>, log: string): ChildProcess {
  const fd = openSync(log, 'a');
  return spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', fd, fd] });
}

export async function startFleet(opts: FleetOptions): Promise<FleetNode[]> {
  mkdirSync(opts.dir, { recursive: true });
  if (!existsSync(path.join(ROOT, 'worker-agent', 'dist', 'cli.js'))) throw new Error('worker-agent is not built: run `npm install` (or `npm run build`) first');
  const nodeWorker = await bundleExampleWorker(path.join(opts.dir, 'node-worker.mjs'));
  const nodes: FleetNode[] = [];
  for (const topic of opts.topics) {
    for (let i = 1; i <= opts.nodesPerTopic; i++) {
      const id = `${topic}-node-${i}`;
      const dir = path.join(opts.dir, id);
      const queue = new LocalQueue(path.join(dir, 'queue'));
      for (let t = 0; t < opts.tasks; t++) {
        const [lo, hi] = opts.taskMs;
        queue.enqueue(`task-${String(t).padStart(3, '0')}`, Math.round(lo + Math.random() * (hi - lo)));
      }
      const pidDir = path.join(dir, 'pids');
      mkdirSync(pidDir, { recursive: true });
      const env = { WORKFORCE_PID_DIR: pidDir };
      const processes = [{ name: 'node-worker', child: spawnLogged(process.execPath, [nodeWorker, '--queue', queue.dir, '--topic', topic, '--worker-id', `${id}-node`], env, path.join(dir, 'node-worker.log')) }];
      if (opts.python) {
        processes.push({ name: 'python-worker', child: spawnLogged('python3', [PY_WORKER, '--queue', queue.dir, '--topic', topic, '--worker-id', `${id}-py`], env, path.join(dir, 'python-worker.log')) });
      }
      nodes.push({ id, topic, dir, queue, processes });
    }
  }
  // Agents start once every worker registered, so the first drain finds them all.
  await until(() => nodes.every((n) => registered(n) >= n.processes.length), 30_000, 'the workers to register');
  for (const n of nodes) {
    n.processes.push({
      name: 'agent',
      child: spawnLogged(AGENT, ['listen'], { // executed: its `#!` line runs node --jitless
        WORKFORCE_BACK_CHANNEL_CONNECTION_STRING: opts.connectionString,
        WORKFORCE_CONTROL_TOPIC_NAME: n.topic,
        WORKFORCE_PID_DIR: path.join(n.dir, 'pids'),
        WORKFORCE_STATE_DIR: path.join(n.dir, 'state'),
        WORKFORCE_NODE_ID: n.id,
      }, path.join(n.dir, 'agent.log')),
    });
  }
  await until(() => nodes.every((n) => readLog(path.join(n.dir, 'agent.log')).includes('"listening"')), 30_000, 'the agents to listen');
  return nodes;
}

function registered(n: FleetNode): number {
  return n.queue.events().filter((e) => e.event === 'registered').length;
}

function readLog(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

async function until(probe: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** SIGTERM to every process still running, SIGKILL to those left after graceMs. */
export async function stopFleet(nodes: FleetNode[], graceMs = 3_000): Promise<void> {
  const alive = nodes.flatMap((n) => n.processes.map((p) => p.child)).filter((c) => c.exitCode === null && c.signalCode === null);
  const exited = alive.map((c) => new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r()))));
  for (const c of alive) c.kill('SIGTERM');
  const timer = setTimeout(() => {
    for (const c of alive) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }, graceMs);
  await Promise.all(exited);
  clearTimeout(timer);
}
