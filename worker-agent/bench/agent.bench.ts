// `npm run bench -w worker-agent` (root: `npm run bench:agent`). Prints figures; asserts nothing.
//
// 1. publish → SIGTERM observed in the worker, p50/p99 over 200 drains (BENCH_TRACE=1: each one
//    with its stages), then the p50 of each stage from the agent's log: the time from just
//    before `sendMessages` to the worker's SIGTERM handler, both read from CLOCK_MONOTONIC
//    (process.hrtime), which all processes of the machine share. Every drain needs a node that
//    has not drained yet, so a pool of agents (each with one worker) is kept topped up.
// 2. 100 nodes drained by one 100-message batch: time until all reported `accepted` (and `drained`).
// 3. An idle agent: RSS and CPU time over 60 s (BENCH_IDLE_SECONDS to change).
// 4. Start-up: spawn → `listening` (module load + Service Bus connection), and spawn → exit of `version`.
// 5. The floor under 1. on this machine, without the agent (floor.ts; BENCH_FLOOR=0 skips it).
// To compare builds (another commit's `npm run bundle -w worker-agent`):
//   BENCH_COMPARE_BUNDLE=/tmp/old.cjs[,/tmp/other.cjs] BENCH_FLEET=0 npm run bench:agent
//
// The emulator is a process of its own (its CLI, in memory), as Service Bus is a service of its
// own: publishing, polling the workers' files and the broker's work do not share one event
// loop. Agents and workers are separate processes (the bundle).

import { readFileSync } from 'node:fs';
import { ServiceBusClient } from '@azure/service-bus';
import { spawnEmulator } from '@workforce/servicebus-emulator';
import { floor } from './floor.js';
import { percentile } from './percentile.js';
import { type Artifacts, buildArtifacts, killAll, removeTempDirs, startProcess, tempDir, waitFor } from '../test/helpers.js';
import { ProcessNode } from '../test/process-node.js';

const DRAINS = Number(process.env['BENCH_DRAINS'] ?? 200);
const FLEET = Number(process.env['BENCH_FLEET'] ?? 100);
const IDLE_SECONDS = Number(process.env['BENCH_IDLE_SECONDS'] ?? 60);
const POOL = Number(process.env['BENCH_POOL'] ?? 20);
// Builds of the agent to compare (bundle files, comma-separated; BENCH_BUNDLE replaces the one
// built from this tree): the latency pools mix them, so every build drains under the same
// machine noise, and the latency figures are printed for each. Figures of separate runs on this
// shared machine differ by more than most changes do.
const COMPARE = process.env['BENCH_COMPARE_BUNDLE'];

/** The Service Bus emulator's CLI as a child process, with every entity of the benchmark. */
interface Emulator {
  connectionString: string;
  close(): Promise<void>;
}

const TOPICS = ['bench-latency', 'bench-fleet', 'bench-idle', 'bench-startup', 'bench-floor'];

async function startEmulatorProcess(): Promise<Emulator> {
  const em = await spawnEmulator({
    args: ['--port', '0', '--arm-port', 'off', '--amqps-port', 'off', '--log-level', 'info'],
    // Each topic as `PUT /api/topics/{topic}` provisions it: its reports queue and its
    // session-enabled commands queue (an agent holds its session there while it runs).
    config: {
      queues: TOPICS.flatMap((t) => [{ name: `${t}-reports` }, { name: `${t}-commands`, requiresSession: true, requiresDuplicateDetection: true }]),
      topics: TOPICS.map((name) => ({ name, subscriptions: [{ name: 'shutdown' }] })),
    },
    stderr: 'inherit',
  });
  return {
    connectionString: em.connectionString,
    close: async () => {
      await em.stop('SIGTERM');
    },
  };
}

let sequence = 0;
/** Agent environment of every benchmark node: the drain's step timings on. */
const BENCH_ENV: Record<string, string> = {
  WORKFORCE_AGENT_TIMINGS: '1',
  ...(process.env['BENCH_AGENT_NODE_OPTIONS'] ? { NODE_OPTIONS: process.env['BENCH_AGENT_NODE_OPTIONS'] } : {}),
};

/** A node of the test kit's model, its agent running `bundle` (a build to compare, or this tree's). */
function newNode(built: Artifacts, em: Emulator, topic: string, reports: string, id: string, bundle = built.agent): ProcessNode {
  return new ProcessNode({ ...built, agent: bundle }, id, tempDir('wf-bench-'), topic, () => ({ connectionString: em.connectionString, reportsQueue: reports }), BENCH_ENV);
}

async function startNode(built: Artifacts, em: Emulator, topic: string, reports: string, withWorker: boolean, bundle = built.agent): Promise<ProcessNode> {
  const node = newNode(built, em, topic, reports, `bench-${++sequence}`, bundle);
  if (withWorker) {
    node.startWorker('node', `${node.id}-w`, ['--idle-poll-ms', '1000']);
    await waitFor(() => node.queue.events().some((e) => e.event === 'registered'), 30_000);
  }
  await node.spawnAgent().waitForEvent('listening', () => true, 60_000);
  return node;
}

function ms(ns: bigint | number): number {
  return Number(ns) / 1e6;
}

async function latency(built: Artifacts, em: Emulator, client: ServiceBusClient): Promise<void> {
  const topic = 'bench-latency';
  const sender = client.createSender(topic);
  await sender.sendMessages({ body: 'warm-up: invalid, dead-lettered' });
  const samples: { build: string; ms: number; stages: Record<string, number> }[] = [];
  const builds = [built.agent, ...(COMPARE ? COMPARE.split(',') : [])];
  // Rounds of POOL fresh nodes (a drained node takes no second message); nodes are started
  // between measurements, never during one, so start-up CPU does not disturb the figures.
  while (samples.length < DRAINS) {
    const pool: ProcessNode[] = [];
    for (let i = 0; i < POOL; i += 4) pool.push(...(await Promise.all(Array.from({ length: Math.min(4, POOL - i) }, (_, j) => startNode(built, em, topic, 'bench-latency-reports', true, builds[(i + j) % builds.length])))));
    await new Promise((r) => setTimeout(r, 500));
    if (process.env['BENCH_WARM']) {
      // Each node first acts on an intake stop (its code paths run once), then drains.
      await sender.sendMessages(pool.map((_, i) => ({ body: { operation: 'do-not-accept-new-tasks' }, messageId: `warm/${samples.length}/${i}` })));
      await waitFor(() => pool.every((n) => n.agent.events().some((e) => e['event'] === 'message-accepted')), 60_000);
      await new Promise((r) => setTimeout(r, 500));
    }
    while (pool.length > 0 && samples.length < DRAINS) {
      const t0 = process.hrtime.bigint();
      await sender.sendMessages({ body: { operation: 'graceful-downscale' }, messageId: `lat/${samples.length}` });
      // The worker stamps the moment it saw SIGTERM itself. Reading the pool's files every 10 ms
      // meanwhile would take CPU from the drain being measured (two cores): look once it is over.
      await new Promise((r) => setTimeout(r, 30));
      let observed: { node: ProcessNode; mono: bigint } | undefined;
      await waitFor(() => {
        for (const node of pool) {
          const e = node.queue.events().find((x) => x.event === 'drain-requested');
          if (e) observed = { node, mono: BigInt(e.mono) };
        }
        return observed !== undefined;
      }, 30_000, () => `a worker to see drain lat/${samples.length}; agents said:\n${pool.map((n) => n.agent.output().trim().split('\n').slice(-3).join('\n')).join('\n')}`);
      // Where the time went, from the agent's own log (drain-timings: monotonic clock, µs per
      // step; a build from before that line logged the same fields with message-accepted, and
      // the signal time with workers-signalled).
      const agent = observed!.node.agent;
      const acc = await agent.waitForEvent('message-accepted', () => true, 10_000);
      const t = agent.events().find((e) => e['event'] === 'drain-timings') ?? { ...acc, signalMono: agent.events().find((e) => e['event'] === 'workers-signalled')?.['mono'] };
      const mono = (v: unknown) => BigInt(String(v));
      const stages = {
        'publish → agent': t['receivedMono'] === undefined ? NaN : ms(mono(t['receivedMono']) - t0),
        'state write': Number(t['persistUs']) / 1e3,
        'defer round trip': Number(t['deferUs']) / 1e3,
        'commit → signal': Number(t['commitUs']) / 1e3,
        'signal → worker': t['signalMono'] === undefined ? NaN : ms(observed!.mono - mono(t['signalMono'])),
      };
      samples.push({ build: observed!.node.built.agent, ms: ms(observed!.mono - t0), stages });
      if (process.env['BENCH_TRACE']) console.log(`  ${ms(observed!.mono - t0).toFixed(2)} ms: ${Object.entries(stages).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')} ms${COMPARE ? ` (${observed!.node.built.agent})` : ''}`);
      pool.splice(pool.indexOf(observed!.node), 1);
      await observed!.node.stop();
      await new Promise((r) => setTimeout(r, 100)); // the killed node's links close before the next drain
    }
    await Promise.all(pool.map((n) => n.stop()));
    process.stdout.write(`  … ${samples.length} drains\n`);
  }
  await sender.close();
  for (const build of builds) {
    const mine = samples.filter((s) => s.build === build);
    const sorted = mine.map((s) => s.ms).sort((a, b) => a - b);
    const of = COMPARE ? ` (${build})` : '';
    console.log(`publish → SIGTERM in the worker, ${sorted.length} drains: p50 ${percentile(sorted, 50).toFixed(2)} ms, p99 ${percentile(sorted, 99).toFixed(2)} ms, min ${sorted[0]?.toFixed(2)} ms, max ${sorted.at(-1)?.toFixed(2)} ms (guards: p50 ≤ 10 ms, p99 ≤ 25 ms)${of}`);
    if (mine.length > 0) console.log(`  stages, p50 each: ${Object.keys(mine[0]!.stages).map((k) => `${k} ${percentile(mine.map((s) => s.stages[k]!), 50).toFixed(2)} ms`).join(', ')}${of}`);
  }
}

async function fleet(built: Artifacts, em: Emulator, client: ServiceBusClient): Promise<void> {
  const topic = 'bench-fleet';
  const reportsQueue = 'bench-fleet-reports';
  const started = Date.now();
  const nodes: ProcessNode[] = [];
  for (let i = 0; i < FLEET; i += 10) {
    nodes.push(...(await Promise.all(Array.from({ length: Math.min(10, FLEET - i) }, () => startNode(built, em, topic, reportsQueue, false)))));
  }
  console.log(`  ${FLEET} agents listening after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const accepted = new Map<string, number>();
  const drained = new Map<string, number>();
  const receiver = client.createReceiver(reportsQueue, { receiveMode: 'receiveAndDelete' });
  const sub = receiver.subscribe({
    processMessage: async (m) => {
      // A report may carry the states before its own (`earlier`: the agent coalesces what waits
      // together, e.g. accepted with signalled); presence reports carry none.
      const r = m.body as { nodeId: string; state?: string; earlier?: Array<{ state: string }> };
      const states = [...(r.earlier ?? []).map((e) => e.state), r.state];
      const now = performance.now();
      if (states.includes('accepted') && !accepted.has(r.nodeId)) accepted.set(r.nodeId, now);
      if (states.includes('drained') && !drained.has(r.nodeId)) drained.set(r.nodeId, now);
    },
    processError: async () => {},
  }, { maxConcurrentCalls: 100 });
  const sender = client.createSender(topic);
  const batch = await sender.createMessageBatch();
  for (let i = 0; i < FLEET; i++) batch.tryAddMessage({ body: { operation: 'graceful-downscale', drainId: 'fleet' }, messageId: `fleet/${i}` });
  const t0 = performance.now();
  await sender.sendMessages(batch);
  await waitFor(() => accepted.size === FLEET && drained.size === FLEET, 120_000, () => `${accepted.size} accepted, ${drained.size} drained`);
  const lastAccepted = Math.max(...accepted.values()) - t0;
  const lastDrained = Math.max(...drained.values()) - t0;
  console.log(`${FLEET} nodes, one ${FLEET}-message batch: all accepted after ${lastAccepted.toFixed(0)} ms, all drained after ${lastDrained.toFixed(0)} ms (reports received)`);
  await sub.close();
  await receiver.close();
  await sender.close();
  await Promise.all(nodes.map((n) => n.stop()));
}

function cpuTicks(pid: number): number {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime (fields 14, 15)
}

/** VmRSS, and its parts: private memory (RssAnon) and file pages (RssFile: mostly the node binary, shared). */
function rss(pid: number): { total: number; anon: number; file: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1]) / 1024;
  return { total: field('VmRSS'), anon: field('RssAnon'), file: field('RssFile') };
}

async function idle(built: Artifacts, em: Emulator): Promise<void> {
  const node = await startNode(built, em, 'bench-idle', 'bench-idle-reports', true);
  await new Promise((r) => setTimeout(r, 2000)); // past start-up
  const ticks0 = cpuTicks(node.agent.pid);
  const rss0 = rss(node.agent.pid);
  await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
  const cpuMs = (cpuTicks(node.agent.pid) - ticks0) * 10;
  const rss1 = rss(node.agent.pid);
  console.log(
    `idle agent over ${IDLE_SECONDS} s: CPU ${cpuMs} ms (${((cpuMs / (IDLE_SECONDS * 1000)) * 100).toFixed(3)} %); ` +
      `RSS ${rss0.total.toFixed(1)} → ${rss1.total.toFixed(1)} MiB (guard after the idle period: ≤ 50 MiB), of which private ${rss1.anon.toFixed(1)} MiB ` +
      `and file-backed ${rss1.file.toFixed(1)} MiB (the node binary's pages, shared with every Node process)`,
  );
  await node.stop();
}

async function startup(built: Artifacts, em: Emulator): Promise<void> {
  const listening: number[] = [];
  const version: number[] = [];
  for (let i = 0; i < 10; i++) {
    let t = performance.now();
    const v = startProcess(process.execPath, [built.agent, 'version']);
    await v.exited;
    version.push(performance.now() - t);
    const node = newNode(built, em, 'bench-startup', 'bench-startup-reports', `startup-${i}`);
    t = performance.now();
    const agent = node.spawnAgent();
    await agent.waitForEvent('listening', () => true, 30_000);
    listening.push(performance.now() - t);
    agent.kill('SIGTERM');
    await agent.exited;
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  console.log(`start-up (median of 10): spawn → listening ${median(listening).toFixed(0)} ms; spawn → exit of \`version\` ${median(version).toFixed(0)} ms`);
}

async function main(): Promise<void> {
  console.log(`workforce-agent benchmark (node ${process.version}, bundle, emulator on loopback)`);
  const tree = await buildArtifacts();
  const built = { ...tree, agent: process.env['BENCH_BUNDLE'] ?? tree.agent }; // every part measures BENCH_BUNDLE when set
  const em = await startEmulatorProcess();
  const client = new ServiceBusClient(em.connectionString);
  try {
    const idleRun = idle(built, em); // runs alongside: it measures one process's own CPU time
    await startup(built, em);
    if (process.env['BENCH_FLOOR'] !== '0') await floor(client, 'bench-floor');
    if (DRAINS > 0) await latency(built, em, client);
    if (FLEET > 0) await fleet(built, em, client);
    await idleRun;
  } finally {
    await client.close();
    await killAll();
    await em.close();
    removeTempDirs();
  }
}

await main();
