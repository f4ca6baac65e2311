// `npm run bench:targeted`: prints figures, asserts nothing about time (issue #17).
// A targeted drain of BENCH_NAMED named nodes (default 1,000) among BENCH_AGENTS (default 10,000):
//  1. Every node is made known to the fleet inventory first: one `online` presence report each,
//     through the real reports trigger (bench/presence-senders.ts, BENCH_SENDERS processes), so
//     the named ids pass the UnknownNodes check without `force`.
//  2. POST /api/topics/{topic}/drains with `nodes` = every 10th node. Simulated agents
//     (bench/session-agents.ts, BENCH_AGENT_PROCESSES processes × BENCH_SESSION_LOOPS concurrent
//     `acceptNextSession` loops, real SDK) take the commands from the commands queue's sessions:
//     a stand-in for one session receiver per agent. BENCH_SESSIONS=held holds instead one
//     session receiver per node, accepted before the POST as agents hold theirs, but many on one
//     connection (1,000 nodes run on the 2-core machine; 10,000 lose session locks while being
//     accepted). They answer as an agent does (`accepted` + `signalled` coalesced, then
//     `drained`). Printed: POST → all accepted, POST → completed, sessions taken per second, and
//     what the nodes not named received (must be 0: commands the takers found in their
//     sessions, and messages on the `shutdown` subscription).

import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { commandsQueueName } from '@workforce/worker-agent/contract';
import { REPORTS_QUEUE, SHUTDOWN_SUBSCRIPTION } from '../src/config.js';
import { startControlPlane, tempDir, waitFor } from '../test/support/control-plane.js';

const AGENTS = Number(process.env.BENCH_AGENTS ?? 10_000);
const NAMED = Number(process.env.BENCH_NAMED ?? 1_000);
const SENDERS = Number(process.env.BENCH_SENDERS ?? 4);
const AGENT_PROCESSES = Number(process.env.BENCH_AGENT_PROCESSES ?? 4);
const SESSION_LOOPS = Number(process.env.BENCH_SESSION_LOOPS ?? 8);
const HELD = process.env.BENCH_SESSIONS === 'held';
const TOPIC = 'bench-targeted';
if (!(NAMED >= 1 && NAMED <= 1_000 && NAMED <= AGENTS)) throw new Error(`BENCH_NAMED must be 1-1,000 and at most BENCH_AGENTS (${AGENTS}); got ${NAMED}`);

const nodeId = (i: number) => `sim-${String(i).padStart(5, '0')}`; // as bench/presence-senders.ts names them
const stride = Math.floor(AGENTS / NAMED);
const named = Array.from({ length: NAMED }, (_, k) => nodeId(k * stride));

interface TakerResult {
  process: number;
  taken: string[];
  firstTakenAt?: number;
  lastTakenAt?: number;
  wrongSession: number;
  wrongNodeId: number;
  acceptErrors: number;
  messages: number;
}

// Every child is killed when the run ends: a taker left behind would retry against a closed emulator.
const children: ChildProcess[] = [];
const track = (child: ChildProcess) => (children.push(child), child);

const cp = await startControlPlane();
try {
  const put = await cp.api('PUT', `topics/${TOPIC}`);
  if (put.status >= 300) throw new Error(`PUT topic answered ${put.status}: ${JSON.stringify(put.body)}`);
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const script = (name: string) => fileURLToPath(new URL(`./${name}`, import.meta.url));
  const node = (args: string[], stdio: 'inherit' | 'pipe') =>
    spawn(process.execPath, ['--import', tsx, '--conditions=source', ...args], { stdio: [stdio === 'pipe' ? 'pipe' : 'ignore', stdio, 'inherit'] });

  /** Starts the takers; resolves once each is ready to take commands. */
  const startTakers = () => {
    const namedFile = path.join(tempDir('workforce-bench-targeted-'), 'named.json');
    writeFileSync(namedFile, JSON.stringify(named));
    return Promise.all(Array.from({ length: AGENT_PROCESSES }, (_, i) => {
      const share = Math.ceil(AGENTS / AGENT_PROCESSES);
      const held = HELD ? [String(i * share), String(Math.min(share, AGENTS - i * share))] : [];
      const child = track(node([script('session-agents.ts'), cp.bus.emulator.connectionString, TOPIC, namedFile, String(i), String(SESSION_LOOPS), ...held], 'pipe'));
      let out = '';
      const result = new Promise<TakerResult>((resolve, reject) => {
        child.once('exit', (code) => {
          const line = out.split('\n').find((l) => l.startsWith('{'));
          if (code === 0 && line) resolve(JSON.parse(line) as TakerResult);
          else reject(new Error(`session agents ${i} exited with ${code}`));
        });
      });
      // Resolves with a holder: a promise resolved with a promise would wait for the exit.
      return new Promise<{ stop(): void; result: Promise<TakerResult> }>((resolve, reject) => {
        const holder = { stop: () => child.stdin!.end(), result };
        child.stdout!.setEncoding('utf8');
        child.stdout!.on('data', (text: string) => {
          out += text;
          if (out.includes('ready\n')) resolve(holder);
        });
        result.catch(reject); // one that died before it was ready fails the run
      });
    }));
  };
  // Held sessions are accepted first: the named nodes must not go stale (3 heartbeats) meanwhile.
  const holding = performance.now();
  const held = HELD ? await startTakers() : undefined;
  if (HELD) console.log(`held sessions: all ${AGENTS} accepted in ${((performance.now() - holding) / 1000).toFixed(1)} s, before the inventory is filled`);

  // 1. The inventory knows every node.
  const filling = performance.now();
  const per = Math.ceil(AGENTS / SENDERS);
  const codes = await Promise.all(Array.from({ length: SENDERS }, (_, s) => {
    const first = s * per;
    const child = node([script('presence-senders.ts'), cp.bus.emulator.connectionString, TOPIC, String(first), String(Math.min(per, AGENTS - first)), '1'], 'inherit');
    return new Promise<number | null>((resolve) => child.once('exit', resolve));
  }));
  if (codes.some((c) => c !== 0)) throw new Error(`a presence sender failed: exit codes ${codes.join(', ')}`);
  const queued = () => cp.bus.emulator.catalogue.getQueue(REPORTS_QUEUE)?.activeMessageCount ?? 0;
  await waitFor(async () => {
    if (queued() > 0) return false;
    const topics = (await cp.api('GET', 'topics')).body.topics as { name: string; nodes?: { total: number; active: number } }[];
    return topics.find((t) => t.name === TOPIC)?.nodes?.active === AGENTS;
  }, `the inventory to list ${AGENTS} active nodes`, 10 * 60_000);
  console.log(`inventory: ${AGENTS} nodes known (one presence report each through the reports trigger, ${SENDERS} sender processes) in ${((performance.now() - filling) / 1000).toFixed(1)} s`);

  // 2. The takers are up and waiting before the drain is posted: their start-up is not the control plane's time.
  const takers = held ?? (await startTakers());

  const postedAt = Date.now();
  const started = performance.now();
  const post = await cp.api('POST', `topics/${TOPIC}/drains`, { nodes: named, gracePeriod: '2h', ackTimeout: '30m', reason: 'bench: targeted drain' });
  const answered = performance.now() - started;
  if (post.status !== 202) throw new Error(`POST answered ${post.status}: ${JSON.stringify(post.body)}`);
  const drainId = post.body.drainId as string;
  const unreachable = (post.body.unreachable ?? []) as unknown[];
  let allAccepted = 0;
  const done = await waitFor(async () => {
    const d = (await cp.api('GET', `drains/${drainId}`)).body;
    if (!allAccepted && d.counts?.accepted >= NAMED) allAccepted = performance.now() - started;
    return d.status !== 'running' && d;
  }, 'the targeted drain to end', 30 * 60_000);
  const elapsed = performance.now() - started;

  for (const t of takers) t.stop();
  const results = await Promise.all(takers.map((t) => t.result));
  const q = cp.bus.emulator.catalogue.getQueue(commandsQueueName(TOPIC));
  // Nobody receives from it here: whatever a targeted drain put there would still be on it.
  const shutdown = cp.bus.emulator.catalogue.getSubscription(TOPIC, SHUTDOWN_SUBSCRIPTION);
  const anyNode = (shutdown?.activeMessageCount ?? 0) + (shutdown?.deadLetterMessageCount ?? 0);
  const taken = results.flatMap((r) => r.taken.map((id) => id.toLowerCase()));
  const distinct = new Set(taken);
  const missing = named.filter((id) => !distinct.has(id.toLowerCase()));
  const wrongSession = results.reduce((n, r) => n + r.wrongSession, 0);
  const wrongNodeId = results.reduce((n, r) => n + r.wrongNodeId, 0);
  const first = Math.min(...results.map((r) => r.firstTakenAt ?? Infinity));
  const last = Math.max(...results.map((r) => r.lastTakenAt ?? -Infinity));

  console.log(HELD
    ? `simulated agents: ${AGENT_PROCESSES} processes holding one session receiver per node (real SDK, ${Math.ceil(AGENTS / AGENT_PROCESSES)} on each process's one connection; a real agent holds its own on its own connection) on ${commandsQueueName(TOPIC)}`
    : `simulated agents: ${AGENT_PROCESSES} processes × ${SESSION_LOOPS} acceptNextSession loops (real SDK) on ${commandsQueueName(TOPIC)}, a stand-in for one session receiver per agent: a real agent holds its own session from start-up`);
  console.log(`targeted drain of ${NAMED} named nodes among ${AGENTS}: POST → 202 in ${answered.toFixed(0)} ms (${unreachable.length} unreachable)`);
  console.log(`  POST → all ${NAMED} accepted: ${allAccepted ? `${(allAccepted / 1000).toFixed(1)} s` : 'never'}`);
  console.log(`  POST → ${done.status}: ${(elapsed / 1000).toFixed(1)} s (counts ${JSON.stringify(done.counts)})`);
  console.log(`  sessions taken: ${taken.length} (${distinct.size} distinct nodes, ${missing.length} named nodes never reached${missing.length ? `: ${missing.slice(0, 5).join(', ')}…` : ''}); ${((taken.length / (last - postedAt)) * 1000).toFixed(0)} sessions/s from POST to the last taken, ${((taken.length / Math.max(1, last - first)) * 1000).toFixed(0)}/s from the first to the last (first taken ${((first - postedAt) / 1000).toFixed(1)} s after POST, last ${((last - postedAt) / 1000).toFixed(1)} s)`);
  console.log(`  reports: ${taken.length * 3} report states in ${results.reduce((n, r) => n + r.messages, 0)} messages; accept errors ${results.reduce((n, r) => n + r.acceptErrors, 0)}`);
  console.log(`  nodes not named: ${wrongSession + anyNode} messages (${wrongSession} received in their sessions${HELD ? '' : ': the takers accept any session with a message'}; ${anyNode} on the ${SHUTDOWN_SUBSCRIPTION} subscription, which any node takes from); at the end ${q?.activeMessageCount ?? '?'} left on the commands queue, ${q?.deadLetterMessageCount ?? '?'} dead-lettered; commands whose nodeId was not their session's: ${wrongNodeId}; taken twice: ${taken.length - distinct.size}`);
} finally {
  for (const child of children) if (child.exitCode === null) child.kill();
  await cp.close();
}
