// `npm run bench:cli`: prints figures, asserts nothing. The CLI as users run it, from the build
// (bin/workforce.js → dist/; `npm run build` first). Goals (issue #19): `workforce --help`
// ≤ 150 ms, `workforce drains` against the local app ≤ 400 ms, the first `npx workforce` after
// `npm ci` ≤ 2 s. BENCH_CLONE=1 also clones this checkout, runs `npm ci` there (minutes) and
// times its first `npx workforce --help`.

import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FUNCTION_KEY, ROOT, startControlPlane } from '../test/support/control-plane.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 10);
const BIN = path.join(ROOT, 'bin', 'workforce.js');

/** Wall time of one process, from spawn to exit (ms); throws when it fails. Asynchronous: the
 *  local app the CLI calls runs in this process. */
async function timed(command: string, args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<number> {
  const t = performance.now();
  const child = spawn(command, args, { cwd: opts.cwd ?? ROOT, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const ms = performance.now() - t;
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr}`);
  return ms;
}

function report(what: string, goalMs: number, times: number[]): void {
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  console.log(`${what.padEnd(44)} median ${median.toFixed(0).padStart(5)} ms  max ${sorted.at(-1)!.toFixed(0).padStart(5)} ms  (${times.length} runs; goal ≤ ${goalMs} ms)`);
}

async function runs(n: number, f: () => Promise<number>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) times.push(await f()); // one at a time: each run alone on the CPU
  return times;
}

report('workforce --help', 150, await runs(RUNS, () => timed(process.execPath, [BIN, '--help'])));

const cp = await startControlPlane();
try {
  await cp.api('PUT', 'topics/bench-cli');
  for (let i = 0; i < 20; i++) await cp.api('POST', 'topics/bench-cli/drains', { count: 1, ackTimeout: '5m' });
  const env = { WORKFORCE_API_URL: cp.host.url, WORKFORCE_API_KEY: FUNCTION_KEY };
  await timed(process.execPath, [BIN, 'drains'], { env }); // the host's first request loads the app's modules
  report('workforce drains (local app, 20 drains)', 400, await runs(RUNS, () => timed(process.execPath, [BIN, 'drains'], { env })));
} finally {
  await cp.close();
}

report('npx workforce --help (this checkout)', 2_000, await runs(Math.min(RUNS, 5), () => timed('npx', ['--no-install', 'workforce', '--help'])));

if (process.env.BENCH_CLONE === '1') {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'workforce-clone-'));
  try {
    execFileSync('git', ['clone', '--quiet', ROOT, dir]);
    const install = await timed('npm', ['ci', '--no-audit', '--no-fund'], { cwd: dir });
    console.log(`clean clone: npm ci took ${(install / 1000).toFixed(0)} s`);
    report('first npx workforce --help (clean clone)', 2_000, [await timed('npx', ['workforce', '--help'], { cwd: dir })]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
