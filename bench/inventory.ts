// `npm run bench:inventory`: prints figures, asserts nothing (issue #15).
//  1. 10,000 simulated agents heartbeating on one topic (bench/presence-senders.ts, real SDK
//     senders in BENCH_SENDERS processes, no workers), BENCH_ROUNDS reports each, sent while the
//     Functions host is stopped; then the host starts: inventory updates per second through the
//     reports trigger (batches, one row per node per batch, in Azurite), from the host's start
//     until the reports queue is empty (the host's start-up counts against it). The first round
//     creates the rows (each read first: the process knows none), the others merge.
//  2. GET /api/topics/{topic}/nodes for all 10,000, paged by 1,000: p99 of the pages and the
//     total, BENCH_LISTINGS times; and GET /api/topics (which counts them).

import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Logger } from '@workforce/functions-host';
import { silentLogger } from '@workforce/functions-host';
import { REPORTS_QUEUE } from '../src/config.js';
import { startControlPlane, waitFor } from '../test/support/control-plane.js';

const AGENTS = Number(process.env.BENCH_AGENTS ?? 10_000);
const SENDERS = Number(process.env.BENCH_SENDERS ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const LISTINGS = Number(process.env.BENCH_LISTINGS ?? 5);
const TOPIC = 'bench-inventory';

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

// The trigger logs each batch at debug level: `inventory: R reports, W node rows written, …`.
let batches = 0;
let rowsWritten = 0;
let failures = 0;
let writeMs = 0;
let firstBatch: { at: number; reports: number } | undefined;
let lastBatch = 0;
const logger: Logger = {
  ...silentLogger(),
  functionLog(e) {
    const m = /^inventory: (\d+) reports, (\d+) node rows written, .* in (\d+) ms/.exec(e.message);
    if (m) {
      batches++;
      rowsWritten += Number(m[2]);
      writeMs += Number(m[3]);
      firstBatch ??= { at: performance.now(), reports: Number(m[1]) };
      lastBatch = performance.now();
    } else if (/^inventory: writing/.test(e.message)) failures++;
  },
};

const cp = await startControlPlane({ logger });
try {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const script = fileURLToPath(new URL('./presence-senders.ts', import.meta.url));
  const per = Math.ceil(AGENTS / SENDERS);
  const queueCount = () => cp.bus.emulator.catalogue.getQueue(REPORTS_QUEUE)?.activeMessageCount ?? 0;

  // 1. Updates through the trigger: the queue filled while the host is stopped.
  await cp.host.close();
  const fill = performance.now();
  const senders = Array.from({ length: SENDERS }, (_, s) => {
    const first = s * per;
    const count = Math.min(per, AGENTS - first);
    const child = spawn(process.execPath, ['--import', tsx, '--conditions=source', script, cp.bus.emulator.connectionString, TOPIC, String(first), String(count), String(ROUNDS)], { stdio: ['ignore', 'inherit', 'inherit'] });
    return new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  });
  const codes = await Promise.all(senders);
  if (codes.some((c) => c !== 0)) throw new Error(`a sender process failed: exit codes ${codes.join(', ')}`);
  const reports = AGENTS * ROUNDS;
  console.log(`${AGENTS} simulated agents × ${ROUNDS} heartbeats (${SENDERS} sender processes): ${reports} reports on the queue in ${((performance.now() - fill) / 1000).toFixed(1)} s (${queueCount()} counted)`);
  const started = performance.now();
  await cp.restart();
  await waitFor(() => queueCount() === 0, 'the reports queue to be empty', 30 * 60_000);
  const elapsed = (performance.now() - started) / 1000;
  console.log(`inventory updates through the trigger: ${(reports / elapsed).toFixed(0)} reports/s (${reports} in ${elapsed.toFixed(1)} s from the host's start to an empty queue); ${rowsWritten} row writes in ${batches} batches (${(rowsWritten / elapsed).toFixed(0)} rows/s)${failures ? `; ${failures} failed transactions` : ''}`);
  if (firstBatch && batches > 1) {
    const steady = (lastBatch - firstBatch.at) / 1000;
    console.log(`  without the host's start-up (first batch done → last batch done): ${((reports - firstBatch.reports) / steady).toFixed(0)} reports/s; Table Storage writes took ${(writeMs / 1000).toFixed(1)} s of it (${(writeMs / batches).toFixed(0)} ms a batch)`);
  }

  // 2. Reading it back
  const pages: number[] = [];
  const totals: number[] = [];
  for (let l = 0; l < LISTINGS; l++) {
    const t0 = performance.now();
    let token: string | undefined;
    let nodes = 0;
    do {
      const t = performance.now();
      const res = await cp.api('GET', `topics/${TOPIC}/nodes?limit=1000${token ? `&continuationToken=${encodeURIComponent(token)}` : ''}`);
      pages.push(performance.now() - t);
      if (res.status !== 200) throw new Error(`GET nodes answered ${res.status}: ${JSON.stringify(res.body)}`);
      nodes += res.body.nodes.length;
      token = res.body.continuationToken;
    } while (token);
    totals.push(performance.now() - t0);
    if (nodes !== AGENTS) throw new Error(`listed ${nodes} nodes, expected ${AGENTS}`);
  }
  pages.sort((a, b) => a - b);
  totals.sort((a, b) => a - b);
  console.log(`GET /api/topics/{topic}/nodes, all ${AGENTS} nodes by pages of 1,000, ${LISTINGS} times: page p50 ${pct(pages, 50).toFixed(1)} ms, p99 ${pct(pages, 99).toFixed(1)} ms; all pages p50 ${pct(totals, 50).toFixed(0)} ms, max ${totals.at(-1)!.toFixed(0)} ms`);
  const t = performance.now();
  const topics = await cp.api('GET', 'topics');
  const counted = topics.body.topics.find((x: { name: string }) => x.name === TOPIC)?.nodes.total;
  console.log(`GET /api/topics (counts ${counted} nodes of ${TOPIC}): ${(performance.now() - t).toFixed(0)} ms`);
} finally {
  await cp.close();
}
