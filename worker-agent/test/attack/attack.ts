// Shared by the attack tests (docs/DESIGN.md, threat model). The agent runs as root, as in production; the
// attacker is `nobody`, standing in for a worker process. Root "witness" processes record every
// signal they get (they must get none), and snapshots show that no file outside the agent's own
// directories changed.

import { spawnSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Proc, startProcess, tempDir, waitFor } from '../helpers.js';
import { type Cluster, TestNode } from '../bus/cluster.js';

export const NOBODY = { uid: 65534, gid: 65534 };

/** Runs a shell script as nobody and waits for it (planting files). */
export function asNobody(script: string): void {
  const result = spawnSync('sh', ['-c', script], { ...NOBODY, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`as nobody: ${script}: ${result.stderr}`);
}

/**
 * A node whose PID directory every user may write, with the sticky bit (like /tmp): the shared
 * directory of the threat model. Its agent is not started.
 */
export function exposedNode(cluster: Cluster, id: string): TestNode {
  const node = new TestNode(cluster, id, {});
  cluster.nodes.push(node);
  chmodSync(node.dir, 0o755);
  mkdirSync(node.pidDir);
  chmodSync(node.pidDir, 0o1777);
  return node;
}

/** Where the agent keeps its intake flag on such a node (the default convention). */
export function intakeFlagOf(node: TestNode): string {
  return join(node.dir, 'intake', `${node.cluster.topic}.intake-stopped`);
}

/**
 * A PID file written by a process for itself (TARGET_PID unset) or for another one, with the
 * start time and boot id read from /proc (public: anyone can forge them). EXTRA: JSON fields
 * merged into the record. ON_TERM=ignore keeps it running after SIGTERM.
 */
const REGISTER = `
const fs = require('node:fs');
const pid = Number(process.env.TARGET_PID || process.pid);
const stat = fs.readFileSync('/proc/' + pid + '/stat', 'latin1');
const record = {
  pid, startTime: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]),
  bootId: fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
  topic: process.env.TOPIC, workerId: process.env.WORKER_ID, signals: { 'graceful-downscale': 'SIGTERM' },
  ...JSON.parse(process.env.EXTRA || '{}'),
};
const file = process.env.PID_DIR + '/' + process.env.WORKER_ID + '.pid';
fs.writeFileSync(file + '.tmp', JSON.stringify(record));
fs.renameSync(file + '.tmp', file);
process.on('SIGTERM', () => { if (process.env.ON_TERM !== 'ignore') { fs.unlinkSync(file); process.exit(0); } });
console.log('registered');
setInterval(() => {}, 1000);
`;

export interface RegisterOptions {
  workerId: string;
  /** Whom the file names (default: the process itself). */
  targetPid?: number;
  extra?: Record<string, unknown>;
  ignoreTerm?: boolean;
  user?: { uid: number; gid: number };
}

/** Runs the PID-file writer (as nobody unless told otherwise); resolves once the file is there. */
export async function register(node: TestNode, o: RegisterOptions): Promise<Proc> {
  const proc = startProcess(
    process.execPath,
    ['-e', REGISTER],
    {
      PID_DIR: node.pidDir,
      TOPIC: node.cluster.topic,
      WORKER_ID: o.workerId,
      ...(o.targetPid !== undefined ? { TARGET_PID: String(o.targetPid) } : {}),
      EXTRA: JSON.stringify(o.extra ?? {}),
      ON_TERM: o.ignoreTerm ? 'ignore' : 'exit',
    },
    '/',
    { user: o.user ?? NOBODY },
  );
  await waitFor(() => proc.output().includes('registered'), 15_000, () => `${o.workerId} to register: ${proc.output()}`);
  return proc;
}

const RECORD_SIGNALS = `
const { appendFileSync } = require('node:fs');
for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2']) process.on(s, () => appendFileSync(process.env.SIGNAL_LOG, s + '\\n'));
console.log('ready');
setInterval(() => {}, 1000);
`;

export interface Witness {
  proc: Proc;
  pid: number;
  /** Signals it got so far (catchable ones; SIGKILL shows as `alive()` false). */
  signals(): string[];
  alive(): boolean;
}

/** A root process that records the signals it gets. `code` runs after the recorder is set up. */
export async function startWitness(dir: string, name: string, options: { detached?: boolean; code?: string; env?: Record<string, string> } = {}): Promise<Witness> {
  const log = join(dir, `${name}.signals`);
  writeFileSync(log, '');
  const proc = startProcess(process.execPath, ['-e', RECORD_SIGNALS + (options.code ?? '')], { ...options.env, SIGNAL_LOG: log }, undefined, { detached: options.detached ?? false });
  await waitFor(() => proc.output().includes('ready'), 15_000, () => `witness ${name}: ${proc.output()}`);
  return {
    proc,
    pid: proc.pid,
    signals: () => readFileSync(log, 'utf8').split('\n').filter(Boolean),
    alive: () => proc.child.exitCode === null && proc.child.signalCode === null,
  };
}

/** A root-only directory holding a root 0600 file: what an attacker would like to overwrite. */
export function victimDir(): { dir: string; secret: string } {
  const dir = tempDir('wf-victim-');
  const secret = join(dir, 'secret.conf');
  writeFileSync(secret, 'root only\n', { mode: 0o600 });
  return { dir, secret };
}

/** Every entry under `dir` with its type, mode, owner, size, mtime and content. */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (path: string) => {
    const st = lstatSync(path);
    out[path] = `${st.mode.toString(8)} ${st.uid} ${st.size} ${st.mtimeMs} ${st.isFile() ? readFileSync(path, 'utf8') : ''}`;
    if (st.isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
  };
  walk(dir);
  return out;
}

/** The agent's log lines with that event. */
export function eventsNamed(proc: Proc, event: string): Array<Record<string, unknown>> {
  return proc.events().filter((e) => e['event'] === event);
}
