// `npm run bench`: runs the emulator, Functions host, agent, control-plane, fleet inventory,
// targeted drain and CLI benchmarks one after another (each its own process, so none skews
// another), extracts their figures and writes bench/results.md. `--only emulator,agent` runs
// some of them; `--out FILE` writes elsewhere. Exits 1 when a benchmark failed or a figure was
// missing from its output.

import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BENCHES } from './all/figures.js';
import { describeMachine, load } from './all/machine.js';
import { type BenchRun, renderResults } from './all/render.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({ options: { only: { type: 'string' }, out: { type: 'string' } } });
const out = values.out ?? fileURLToPath(new URL('./results.md', import.meta.url));
const only = values.only?.split(',').map((s) => s.trim());
const selected = only ? BENCHES.filter((b) => only.some((o) => b.script === `bench:${o}` || b.script === o)) : BENCHES;
if (only && selected.length !== only.length) {
  console.error(`--only: unknown benchmark in ${JSON.stringify(values.only)}; choose from ${BENCHES.map((b) => b.script.replace('bench:', '')).join(', ')}`);
  process.exit(2);
}

/** Runs `npm run <script>`, echoing its output as it comes and keeping a copy. */
function run(script: string): Promise<{ exitCode: number | null; output: string; seconds: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn('npm', ['run', '--silent', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (stream: NodeJS.WriteStream) => (chunk: Buffer) => {
      output += chunk.toString();
      stream.write(chunk);
    };
    child.stdout.on('data', keep(process.stdout));
    child.stderr.on('data', keep(process.stderr));
    child.on('close', (code) => resolve({ exitCode: code, output, seconds: (performance.now() - started) / 1000 }));
  });
}

const machine = describeMachine();
const runs: BenchRun[] = [];
for (const bench of selected) {
  console.log(`\n=== npm run ${bench.script} (issue ${bench.issue}) ===`);
  const loadBefore = load();
  const result = await run(bench.script);
  runs.push({ name: bench.name, script: bench.script, issue: bench.issue, loadBefore, ...result, figures: bench.figures(result.output) });
}
writeFileSync(out, renderResults(machine, runs));

console.log(`\nwrote ${out}`);
let failed = false;
for (const r of runs) {
  for (const f of r.figures) console.log(`  ${f.verdict === 'met' ? 'met   ' : f.verdict === 'missed' ? 'MISSED' : f.verdict === 'info' ? '      ' : '??    '} ${r.name}: ${f.what}: ${f.value ?? 'not found in the output'} (target ${f.target})`);
  if (r.exitCode !== 0) console.error(`npm run ${r.script} exited with ${r.exitCode}`);
  failed ||= r.exitCode !== 0 || r.figures.some((f) => f.verdict === undefined);
}
process.exitCode = failed ? 1 : 0;
