// The full chaos suite (`npm run test:chaos`): CHAOS_RUNS seeded runs (default 100) of a fleet of
// CHAOS_NODES nodes (default 10). CHAOS_SEED replays one run (or starts the sequence there with
// CHAOS_RUNS > 1). Prints each run, then counts, failures with their seeds and steps, and the
// longest run. Exit code 1 when any run broke an invariant.
import { removeTempDirs, killAll } from '../../worker-agent/test/helpers.js';
import { runOne, type RunResult } from './run-one.js';

function intSetting(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    console.error(`${name}=${raw} is not an integer in ${min}..${max}`);
    process.exit(2);
  }
  return n;
}

const runs = intSetting('CHAOS_RUNS', process.env.CHAOS_SEED ? 1 : 100, 1, 100_000);
const nodes = intSetting('CHAOS_NODES', 10, 2, 50);
const first = intSetting('CHAOS_SEED', Math.floor(Math.random() * 1_000_000), 0, 2 ** 32 - 1);
const verbose = process.env.CHAOS_VERBOSE === '1';

console.log(`chaos: ${runs} run(s), ${nodes} nodes, seeds ${first}..${first + runs - 1} (replay one: CHAOS_SEED=<seed> CHAOS_NODES=${nodes} npm run test:chaos)`);
const results: RunResult[] = [];
for (let i = 0; i < runs; i++) {
  const seed = first + i;
  const r = await runOne(seed, nodes, verbose ? { log: (l) => console.log(l) } : {});
  results.push(r);
  const p = r.plan;
  console.log(
    `${r.ok ? 'PASS' : 'FAIL'} seed ${seed} ${(r.ms / 1000).toFixed(1)} s: drains ${p.drains.map((d) => `${d.mode === 'resume' ? 'resume ' : d.mode === 'do-not-accept-new-tasks' ? 'intake ' : ''}${d.nodes ? `[${d.nodes.join(',')}]` : d.all ? 'all' : d.count}`).join('+')}, faults ${[...p.faults, ...p.resumeFaults].map((f) => f.kind).join(',') || 'none'}, crash hooks ${p.nodes.filter((n) => n.crashAt).length}`,
  );
  if (!r.ok) {
    for (const v of r.violations) console.log(`  ✗ ${v}`);
    for (const s of r.steps) console.log(`    ${s}`);
  }
  await killAll();
}
removeTempDirs();

const failed = results.filter((r) => !r.ok);
const longest = results.reduce((a, b) => (b.ms > a.ms ? b : a));
console.log(`\nchaos: ${results.length} runs, ${results.length - failed.length} passed, ${failed.length} failed (${nodes} nodes each)`);
if (failed.length > 0) {
  console.log(`failed seeds: ${failed.map((r) => r.seed).join(' ')}`);
}
console.log(`longest run: seed ${longest.seed}, ${(longest.ms / 1000).toFixed(1)} s; total ${(results.reduce((s, r) => s + r.ms, 0) / 1000).toFixed(0)} s`);
process.exit(failed.length > 0 ? 1 : 0);
