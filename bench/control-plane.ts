// `npm run bench:control`: prints figures, asserts nothing.
//  1. POST /api/topics/{topic}/drains → 202 latency (p50, p99), sequential.
//  2. A drain of BENCH_NODES nodes (default 1,000) against as many simulated agents
//     (bench/simulated-agents.ts, in BENCH_AGENT_PROCESSES processes, default 4, real SDK
//     receivers): time from POST to completed, report states folded per second, `report` events
//     (one per drain per batch) and orchestrator episodes, the last generation's history, the
//     custom status size, and GET /workers while the drain runs.

import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startControlPlane, waitFor } from '../test/support/control-plane.js';

const POSTS = Number(process.env.BENCH_POSTS ?? 200);
const NODES = Number(process.env.BENCH_NODES ?? 1000);
const AGENT_PROCESSES = Number(process.env.BENCH_AGENT_PROCESSES ?? 4);

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
  const script = fileURLToPath(new URL('./simulated-agents.ts', import.meta.url));
  // The agents are up and waiting before the drain is posted: their start-up is not the control plane's time.
  const agents = await Promise.all(Array.from({ length: AGENT_PROCESSES }, (_, i) => {
    const share = Math.floor(NODES / AGENT_PROCESSES) + (i < NODES % AGENT_PROCESSES ? 1 : 0);
    const child = spawn(process.execPath, ['--import', tsx, '--conditions=source', script, cp.bus.emulator.connectionString, 'bench-big', String(share), String(i)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    // Resolves with a holder: a promise resolved with a promise would wait for the exit.
    return new Promise<{ exited: Promise<void> }>((resolve) => {
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (text: string) => {
        if (text.includes('ready')) resolve({ exited });
        process.stdout.write(text.replace(/^ready\n/m, ''));
      });
      void exited.then(() => resolve({ exited }));
    });
  }));
  const started = performance.now();
  const post = await cp.api('POST', 'topics/bench-big/drains', { count: NODES, gracePeriod: '2h', ackTimeout: '30m' });
  const drainId = post.body.drainId as string;
  let published = 0;
  let workersRead: { ms: number; bytes: number; nodes: number } | undefined;
  let largestView = 0;
  const done = await waitFor(async () => {
    const d = (await cp.api('GET', `drains/${drainId}`)).body;
    if (d.status === 'running') largestView = Math.max(largestView, JSON.stringify(d).length);
    if (!published && d.counts?.accepted > 0) published = performance.now();
    if (!workersRead && d.status === 'running' && d.counts?.accepted >= NODES / 2) {
      const t = performance.now();
      const w = await cp.api('GET', `drains/${drainId}/workers`);
      workersRead = { ms: performance.now() - t, bytes: JSON.stringify(w.body).length, nodes: w.body.nodes.length };
    }
    return d.status !== 'running' && d;
  }, 'the big drain to end', 30 * 60_000);
  const elapsed = performance.now() - started;
  await Promise.all(agents.map((a) => a.exited));
  const raw = await fetch(`${cp.host.url}/runtime/webhooks/durabletask/instances/${drainId}?showHistory=true&code=${cp.host.keys.durableTask}`);
  const status = (await raw.json()) as {
    output: { generation: number; eventsFolded: number; batchesFolded: number; episodes: number; published: { batches: number } };
    customStatus: unknown;
    historyEvents: unknown[];
  };
  const o = status.output;
  console.log(`${NODES}-node drain: ${done.status} in ${(elapsed / 1000).toFixed(1)} s from POST (first report folded after ${((published - started) / 1000).toFixed(1)} s)`);
  console.log(`  published in ${o.published.batches} batch(es); ${o.eventsFolded} report states folded (${((o.eventsFolded / elapsed) * 1000).toFixed(0)}/s from POST, ${((o.eventsFolded / (elapsed - (published - started))) * 1000).toFixed(0)}/s from the first folded report to the end)`);
  console.log(`  ${o.batchesFolded} report events (one per drain per trigger batch); ${o.episodes} orchestrator episodes (${((o.episodes / o.eventsFolded) * 1000).toFixed(1)} per 1,000 report states)`);
  console.log(`  history: ${o.generation + 1} generations; the last one holds ${status.historyEvents.length} events`);
  console.log(`  custom status: ${JSON.stringify(status.customStatus).length} bytes at the end (${done.nodes.length} nodes listed, ${done.nodesOmitted} omitted); largest GET /drains/{id} while running: ${largestView} bytes; GET with every node at the end: ${JSON.stringify(done).length} bytes`);
  if (workersRead) console.log(`  GET /drains/{id}/workers while running (${workersRead.nodes} nodes): ${workersRead.ms.toFixed(0)} ms, ${workersRead.bytes} bytes`);
} finally {
  await cp.close();
}
