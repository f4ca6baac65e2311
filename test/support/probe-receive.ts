// Runs test/support/identity-probe.ts as a process of its own, with the environment of one
// identity, and returns what it printed last (JSON): whether that identity can receive.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './control-plane.js';

/** identity-probe.ts receiving from `<topic>/<subscription>` as the identity of `env`. */
export function probeReceive(env: Record<string, string>, topic: string, subscription = 'shutdown'): Promise<Record<string, unknown>> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=source', path.join(ROOT, 'test', 'support', 'identity-probe.ts'), 'receive', topic, subscription], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) =>
    child.once('exit', () => {
      try {
        resolve(JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, unknown>);
      } catch {
        reject(new Error(`identity-probe printed no result:\n${out}`));
      }
    }),
  );
}
