// `npm run bench:control`: prints figures, asserts nothing.
//  1. POST /api/topics/{topic}/drains → 202 latency (p50, p99), sequential.
//  2. A 1,000-node drain against 1,000 simulated agents (bench/simulated-agents.ts, a separate
//     process): time from POST to completed, reports folded, and the orchestration's history size.

import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startControlPlane, waitFor } from '../test/support/control-plane.js';

const POSTS = Number(process.env.BENCH_POSTS ?? 200);
const NODES = Number(process.env.BENCH_NODES ?? 1000);

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

const cp = await startControlPlane();
try {
  await cp.api('PUT', 'topics/bench-post');
  await cp.api('PUT', 'topics/bench-big');

  // 1. POST latency
  const times: number[] = [];
  for (let i = 0; i < POSTS; i++) {
    const t = performance.now();
    const res = await cp.api('POST', 'topics/bench-post/drains', { count: 1, ackTimeout: '5m' });
    times.push(performance.now() - t);
    if (res.status !== 202) throw new Error(`POST answered ${res.status}: ${JSON.stringify(res.body)}`);
  }
  times.sort((a, b) => a - b);
  console.log(`POST → 202, ${POSTS} sequential requests: p50 ${pct(times, 50).toFixed(1)} ms, p99 ${pct(times, 99).toFixed(1)} ms, max ${times.at(-1)!.toFixed(1)} ms`);
  // Let the publish activities of those drains settle before the big one.
  await new Promise((r) => setTimeout(r, 2_000));

  // 2. One big drain
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const started = performance.now();
  const post = await cp.api('POST', 'topics/bench-big/drains', { count: NODES, gracePeriod: '2h', ackTimeout: '30m' });
  const drainId = post.body.drainId as string;
  const agents = spawn(process.execPath, ['--import', tsx, '--conditions=source', fileURLToPath(new URL('./simulated-agents.ts', import.meta.url)), cp.bus.emulator.connectionString, 'bench-big', String(NODES)], { stdio: ['ignore', 'inherit', 'inherit'] });
  const agentsDone = new Promise<void>((resolve) => agents.once('exit', () => resolve()));
  let published = 0;
  const done = await waitFor(async () => {
    const d = (await cp.api('GET', `drains/${drainId}`)).body;
    if (!published && d.counts?.accepted > 0) published = performance.now();
    return d.status !== 'running' && d;
  }, 'the big drain to end', 30 * 60_000);
  const elapsed = performance.now() - started;
  await agentsDone;
  const raw = await fetch(`${cp.host.url}/runtime/webhooks/durabletask/instances/${drainId}?showHistory=true&code=${cp.host.keys.durableTask}`);
  const status = (await raw.json()) as { output: { generation: number; eventsFolded: number; published: { batches: number } }; customStatus: unknown; historyEvents: unknown[] };
  console.log(`${NODES}-node drain: ${done.status} in ${(elapsed / 1000).toFixed(1)} s from POST (first report folded after ${((published - started) / 1000).toFixed(1)} s)`);
  console.log(`  published in ${status.output.published.batches} batch(es); ${status.output.eventsFolded} reports folded (${((status.output.eventsFolded / elapsed) * 1000).toFixed(0)}/s)`);
  console.log(`  history: ${status.output.generation + 1} generations; the last one holds ${status.historyEvents.length} events`);
  console.log(`  custom status: ${JSON.stringify(status.customStatus).length} bytes (${done.nodes.length} nodes listed, ${done.nodesOmitted} omitted); GET with every node: ${JSON.stringify(done).length} bytes`);
} finally {
  await cp.close();
}
