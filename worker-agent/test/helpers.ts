// Shared by the tests: temporary directories, built artifacts (the agent bundle and the Node
// example worker, built once per test file), child processes with readable logs, polling.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundle } from '../scripts/bundle.js';
import { bundleExampleWorker } from '../scripts/bundle-example.js';

export const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const PYTHON_WORKER = join(PACKAGE_ROOT, 'examples', 'python', 'worker.py');

const dirs: string[] = [];
export function tempDir(prefix = 'wf-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}
export function removeTempDirs(): void {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export interface Artifacts {
  /** The single-file agent (what ships). */
  agent: string;
  /** The Node example worker, bundled with the worker library. */
  nodeWorker: string;
}

let artifacts: Promise<Artifacts> | undefined;
/** Builds the agent bundle and the Node example worker once per test file (esbuild, ~1 s). */
export function buildArtifacts(): Promise<Artifacts> {
  artifacts ??= (async () => {
    const dir = tempDir('wf-build-');
    const agent = await bundle(join(dir, 'workforce-agent.cjs'));
    const nodeWorker = await bundleExampleWorker(join(dir, 'node-worker.mjs'));
    return { agent, nodeWorker };
  })();
  return artifacts;
}

export type ExampleWorkerKind = 'node' | 'python' | 'legacy';

export interface ExampleWorkerOptions {
  queueDir: string;
  pidDir: string;
  topic: string;
  workerId: string;
  extra?: string[];
}

/** An example worker (examples/): Node, Python, or Python behaving like an ai4s-jobq worker. */
export function startExampleWorker(built: Artifacts, kind: ExampleWorkerKind, o: ExampleWorkerOptions): Proc {
  const env = { WORKFORCE_PID_DIR: o.pidDir, JOBQ_PID_DIR: o.pidDir };
  const args = ['--queue', o.queueDir, '--topic', o.topic, '--worker-id', o.workerId, ...(o.extra ?? [])];
  return kind === 'node'
    ? startProcess(process.execPath, [built.nodeWorker, ...args], env)
    : startProcess('python3', [PYTHON_WORKER, ...args, ...(kind === 'legacy' ? ['--legacy'] : [])], env);
}

export interface Proc {
  child: ChildProcess;
  pid: number;
  /** stdout and stderr so far. */
  output(): string;
  /** JSON log lines (the agent's) parsed so far. */
  events(): Array<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitForEvent(event: string, match?: (e: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  kill(signal?: NodeJS.Signals): void;
}

const procs = new Set<Proc>();

/** `user`: run as that uid/gid (the attack tests' unprivileged attacker); `detached`: its own process group. */
export function startProcess(
  command: string,
  args: string[],
  env: Record<string, string | undefined> = {},
  cwd?: string,
  options: { user?: { uid: number; gid: number }; detached?: boolean } = {},
): Proc {
  const child = spawn(command, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(cwd ? { cwd } : {}),
    ...(options.user ? { uid: options.user.uid, gid: options.user.gid } : {}),
    ...(options.detached ? { detached: true } : {}),
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const events = () =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
  const proc: Proc = {
    child,
    pid: child.pid ?? -1,
    output: () => out,
    events,
    exited,
    async waitForEvent(event, match = () => true, timeoutMs = 15_000) {
      let found: Record<string, unknown> | undefined;
      await waitFor(() => (found = events().find((e) => e['event'] === event && match(e))) !== undefined, timeoutMs, () => `event ${event} from pid ${child.pid}; output:\n${out}`);
      return found as Record<string, unknown>;
    },
    kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
  procs.add(proc);
  void exited.then(() => procs.delete(proc));
  return proc;
}

/** Kills every process started by startProcess that is still running (SIGKILL). */
export async function killAll(): Promise<void> {
  const running = [...procs];
  for (const p of running) p.kill('SIGKILL');
  await Promise.all(running.map((p) => p.exited));
}

export async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs = 15_000, what: () => string = () => 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
