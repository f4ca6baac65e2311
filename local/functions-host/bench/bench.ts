/**
 * Figures for the local Functions host (prints them; asserts nothing). Loopback only, every
 * loop bounded in count and time.
 *
 *   npm run bench --workspace local/functions-host     (root: npm run bench:host)
 */
import { Agent, request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as df from 'durable-functions';
import { createOrchestrator } from 'durable-functions/lib/src/util/testingUtils.js';
import { silentLogger, startHost, type Host } from '../src/index.js';

const APP = fileURLToPath(new URL('../test/sample-app', import.meta.url));

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function get(agent: Agent, url: URL): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = request(url, { agent, method: 'GET' }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve(Number(process.hrtime.bigint() - t0) / 1e6) : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

/** autocannon-style: `connections` keep-alive clients, each sending requests back to back. */
async function httpBench(host: Host, connections: number, maxRequests: number, maxMs: number): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const url = new URL(`${host.url}/api/ping`);
  for (let i = 0; i < 200; i++) await get(agent, url); // warm-up
  const latencies: number[] = [];
  const deadline = Date.now() + maxMs;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (latencies.length < maxRequests && Date.now() < deadline) latencies.push(await get(agent, url));
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  console.log(
    `HTTP trivial function, ${connections} connections: ${latencies.length} requests in ${seconds.toFixed(2)} s = ${(latencies.length / seconds).toFixed(0)} req/s; ` +
      `latency p50 ${percentile(latencies, 50).toFixed(2)} ms, p99 ${percentile(latencies, 99).toFixed(2)} ms`,
  );
}

async function startOrchestration(host: Host, name: string, input: unknown): Promise<string> {
  const res = await fetch(`${host.url}/runtime/webhooks/durabletask/orchestrators/${name}?code=${host.keys.durableTask}`, {
    method: 'POST',
    body: JSON.stringify(input),
  });
  return ((await res.json()) as { id: string }).id;
}

async function finished(host: Host, id: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const s = host.durable.store.getInstance(id)?.status;
    if (s === 'Completed') return;
    if (s === 'Failed' || s === 'Terminated') throw new Error(`${id} ${s}`);
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error(`${id} did not finish in ${timeoutMs} ms`);
}

async function orchestrationBench(host: Host): Promise<void> {
  // Sequential: each activity is a full round trip (episode → activity → result → episode).
  const n = 200;
  let t0 = performance.now();
  await finished(host, await startOrchestration(host, 'replayHeavy', n));
  let s = (performance.now() - t0) / 1000;
  console.log(`Orchestration, ${n} sequential activities (history grows to ${n * 4 + 4} events): ${(n / s).toFixed(0)} activity round trips/s (${s.toFixed(2)} s)`);

  // Concurrent instances, short histories.
  const instances = 20;
  const each = 20;
  t0 = performance.now();
  const ids = await Promise.all(Array.from({ length: instances }, () => startOrchestration(host, 'replayHeavy', each)));
  await Promise.all(ids.map((id) => finished(host, id)));
  s = (performance.now() - t0) / 1000;
  console.log(`Orchestration, ${instances} instances × ${each} sequential activities: ${((instances * each) / s).toFixed(0)} activity round trips/s (${s.toFixed(2)} s)`);

  // Fan-out / fan-in: one episode schedules them all.
  const fan = 500;
  t0 = performance.now();
  await finished(host, await startOrchestration(host, 'fanOut', fan));
  s = (performance.now() - t0) / 1000;
  console.log(`Orchestration, fan-out of ${fan} activities (Task.all): ${(fan / s).toFixed(0)} activities/s (${s.toFixed(2)} s)`);
}

async function replayBench(host: Host): Promise<void> {
  // Build an instance with a history of at least 1,000 events, one episode per event.
  const id = await startOrchestration(host, 'tally', null);
  const store = host.durable.store;
  let sent = 0;
  while (store.getHistory(id).length < 1000 && sent < 2000) {
    host.durable.raiseEvent(id, 'add', '1');
    sent++;
    const want = sent;
    while (Number(store.getInstance(id)?.customStatus ?? 0) < want) await new Promise((r) => setImmediate(r));
  }
  const history = store.getHistory(id);

  // End to end: one more event → one episode that replays the whole history in the worker.
  const samples: number[] = [];
  for (let i = 0; i < 30; i++) {
    const want = sent + 1;
    const t0 = performance.now();
    host.durable.raiseEvent(id, 'add', '1');
    sent++;
    while (Number(store.getInstance(id)?.customStatus ?? 0) < want) await new Promise((r) => setImmediate(r));
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  console.log(
    `Replay, ${history.length}-event history, end to end (event → episode in the worker → commit): ` +
      `median ${percentile(samples, 50).toFixed(2)} ms, max ${samples.at(-1)!.toFixed(2)} ms`,
  );

  // The library alone, in this process: durable-functions replaying the same history.
  const handler = createOrchestrator(function* (context: any): Generator<unknown, unknown, any> {
    let n = 0;
    for (;;) {
      const event = yield context.df.waitForExternalEvent('add');
      if (event === 'stop') return n;
      n++;
      context.df.setCustomStatus(n);
    }
  } as never);
  const payload = JSON.stringify({ history: store.getHistory(id), input: null, instanceId: id, isReplaying: true, upperSchemaVersion: 1 });
  const runs: number[] = [];
  for (let i = 0; i < 50; i++) {
    const t0 = performance.now();
    await handler(JSON.parse(payload), new df.DummyOrchestrationContext('tally'));
    runs.push(performance.now() - t0);
  }
  runs.sort((a, b) => a - b);
  console.log(`Replay, the same history in durable-functions alone (parse + replay): median ${percentile(runs, 50).toFixed(2)} ms`);
  host.durable.raiseEvent(id, 'add', '"stop"');
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'functions-host-bench-'));
  const host = await startHost({ appDir: APP, port: 0, dataDir, logger: silentLogger() });
  try {
    console.log(`functions-host benchmark (node ${process.version}, ${os.availableParallelism()} cores)`);
    await httpBench(host, 1, 5_000, 5_000);
    await httpBench(host, 16, 20_000, 10_000);
    await orchestrationBench(host);
    await replayBench(host);
  } finally {
    await host.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
