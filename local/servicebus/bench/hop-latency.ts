// The emulator's own time per message at a low rate, on the worker agent's critical path
// (npm run bench:hops --workspace local/servicebus -- [--against DIR]). Messages go one at a time, one per
// interval (100 ms), as control messages do: every piece of code runs as it does on an idle
// emulator, not as in a throughput loop. Each message: a peek-lock receiver with 1 credit
// (`receiveMessages(1)`), a send to the topic (its subscription `shutdown`), then `deferMessage`
// with a property, then the deferred message is received by sequence number and completed.
// Two hops are timed inside the emulator by bench/hop-probe.ts (preloaded): transfer (socket
// read of the sender's transfer → write of the delivery to the receiver; also → the sender's
// disposition) and disposition (read of the defer → write of the settled answer).
//
// --against DIR runs a second emulator from another checkout's local/servicebus (an A/B
// comparison: `git worktree add /tmp/x <commit>` and a node_modules symlink); the emulators take
// turns, message by message, so that machine noise falls on both alike.
// Options: --messages N (default 300, after 50 untimed), --interval MS (default 100),
// HOP_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/x" adds node options to the emulators;
// HOP_STDOUT=FILE keeps what they print (V8 traces, say); HOP_KEEP=1 keeps the probes' samples
// (JSON, with the read and write times on the clock of a --cpu-prof profile) in a temporary folder.
// Prints figures; asserts nothing.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { ServiceBusClient, type ServiceBusReceiver, type ServiceBusSender } from '@azure/service-bus';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '300' },
    warmup: { type: 'string', default: '50' },
    interval: { type: 'string', default: '100' },
    against: { type: 'string', multiple: true, default: [] },
  },
});
const MESSAGES = Number(values.messages);
const WARMUP = Number(values.warmup);
const INTERVAL_MS = Number(values.interval);
const TOPIC = 'hop';
const SUBSCRIPTION = 'shutdown';
const PROBE = fileURLToPath(new URL('./hop-probe.ts', import.meta.url));
const HERE = fileURLToPath(new URL('..', import.meta.url));

interface Sample {
  hop: 'transfer' | 'disposition';
  stream: number;
  total: number;
  settled?: number;
}

interface Emulator {
  label: string;
  child: ChildProcess;
  out: string;
  sendClient: ServiceBusClient;
  receiveClient: ServiceBusClient;
  sender: ServiceBusSender;
  receiver: ServiceBusReceiver;
}

const work = mkdtempSync(join(tmpdir(), 'hop-latency-'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function start(label: string, root: string): Promise<Emulator> {
  const config = join(work, 'entities.json');
  writeFileSync(config, JSON.stringify({ topics: [{ name: TOPIC, subscriptions: [{ name: SUBSCRIPTION }] }] }));
  const out = join(work, `probe-${label.replace(/\W+/g, '_')}.json`);
  const extra = (process.env.HOP_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const args = [...extra, '--import', 'tsx', '--conditions', 'source', '--import', PROBE, join(root, 'src/cli.ts')];
  args.push('--port', '0', '--arm-port', 'off', '--amqps-port', 'off', '--config', config, '--log-level', 'info');
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, HOP_PROBE_OUT: out } });
  const connectionString = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (process.env.HOP_STDOUT) appendFileSync(process.env.HOP_STDOUT, `${line}\n`);
      if (!line.startsWith('{')) return; // V8 traces (HOP_NODE_ARGS) and the like
      const entry = JSON.parse(line) as { msg?: string; connectionString?: string };
      if (entry.msg === 'ready' && entry.connectionString) resolve(entry.connectionString);
    });
    child.once('exit', (code) => reject(new Error(`the emulator (${label}) exited (${code}) before it was ready`)));
  });
  process.stderr.write(`${label}: pid ${child.pid}\n`);
  // Sender and receiver on connections of their own, as the publisher and the agent are.
  const sendClient = new ServiceBusClient(connectionString);
  const receiveClient = new ServiceBusClient(connectionString);
  return {
    label,
    child,
    out,
    sendClient,
    receiveClient,
    sender: sendClient.createSender(TOPIC),
    receiver: receiveClient.createReceiver(TOPIC, SUBSCRIPTION, { receiveMode: 'peekLock' }),
  };
}

async function oneMessage(em: Emulator, n: number): Promise<void> {
  const receiving = em.receiver.receiveMessages(1, { maxWaitTimeInMs: 10_000 });
  await sleep(5); // the receiver's credit reaches the emulator first, as the agent's does
  await em.sender.sendMessages({ body: { operation: 'graceful-downscale', n }, messageId: `hop-${n}`, subject: `hop-probe:${n}` });
  const [message] = await receiving;
  if (!message) throw new Error(`${em.label}: message ${n} not received`);
  await em.receiver.deferMessage(message, { someProperty: 'x' });
  const [deferred] = await em.receiver.receiveDeferredMessages(message.sequenceNumber!);
  if (deferred) await em.receiver.completeMessage(deferred);
}

async function stop(em: Emulator): Promise<Sample[]> {
  await Promise.allSettled([em.sendClient.close(), em.receiveClient.close()]);
  const exited = new Promise((r) => em.child.once('exit', r));
  em.child.kill('SIGTERM');
  await Promise.race([exited, sleep(5_000)]);
  if (em.child.exitCode === null) em.child.kill('SIGKILL');
  return existsSync(em.out) ? (JSON.parse(readFileSync(em.out, 'utf8')) as Sample[]) : [];
}

function pct(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** Mean of the values between the 10th and the 90th percentile: steadier than the median. */
function trimmedMean(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const kept = sorted.slice(Math.floor(sorted.length * 0.1), Math.ceil(sorted.length * 0.9));
  return kept.reduce((a, b) => a + b, 0) / kept.length;
}

function report(label: string, samples: Sample[]): string[] {
  const rows: string[] = [];
  for (const hop of ['transfer', 'disposition'] as const) {
    const s = samples.filter((x) => x.hop === hop).slice(WARMUP);
    const total = s.map((x) => x.total);
    const stream = s.map((x) => x.stream);
    const f = (v: number) => (v / 1000).toFixed(3);
    let row = `| ${label} | ${hop} | ${s.length} | ${f(pct(total, 50))} | ${f(pct(total, 90))} | ${f(pct(total, 99))} | ${f(trimmedMean(total))} | ${f(pct(stream, 50))} |`;
    const settled = s.map((x) => x.settled).filter((x): x is number => x !== undefined);
    row += settled.length ? ` ${f(pct(settled, 50))} |` : ' |';
    rows.push(row);
  }
  return rows;
}

async function main(): Promise<void> {
  const roots: Array<[string, string]> = [['this checkout', HERE]];
  for (const dir of values.against ?? []) roots.push([dir, resolve(dir)]);
  const emulators: Emulator[] = [];
  try {
    for (const [label, root] of roots) emulators.push(await start(label, root));
    const slot = INTERVAL_MS / emulators.length;
    const total = WARMUP + MESSAGES;
    let next = performance.now();
    for (let n = 0; n < total; n++) {
      // Alternate the order too, so that neither emulator always runs right after the other.
      const order = n % 2 === 0 ? emulators : [...emulators].reverse();
      for (const em of order) {
        next += slot;
        await oneMessage(em, n);
        const wait = next - performance.now();
        if (wait > 0) await sleep(wait);
        else next = performance.now();
      }
      if ((n + 1) % 50 === 0) process.stderr.write(`${n + 1}/${total}\n`);
    }
  } finally {
    const results = await Promise.all(emulators.map(async (em) => [em.label, await stop(em)] as const));
    if (process.env.HOP_KEEP) process.stderr.write(`samples kept in ${work}\n`);
    else rmSync(work, { recursive: true, force: true });
    console.log(`\nEmulator time per hop (ms), one message per ${INTERVAL_MS} ms per emulator, ${WARMUP} untimed first`);
    console.log('| emulator | hop | n | p50 | p90 | p99 | mean p10-p90 | read → data event p50 | transfer: read → sender settled p50 |');
    console.log('|---|---|---|---|---|---|---|---|---|');
    for (const [label, samples] of results) for (const row of report(label, samples)) console.log(row);
    console.log('From the return of the socket read to the call of the write of the answer, inside the emulator (bench/hop-probe.ts).');
  }
}

await main();
