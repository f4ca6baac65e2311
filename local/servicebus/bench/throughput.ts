// Emulator benchmark (npm run bench:emulator): send → receive → complete of 20,000 messages
// with batched sends and 4 concurrent receivers, in memory and with a data directory, plus the
// publish-to-receive latency of single messages at a low rate. Prints figures; asserts nothing.
// The emulator runs in a child process; BENCH_CPU_PROF=DIR writes its CPU profiles (.cpuprofile,
// for Chrome DevTools) to DIR. BENCH_MESSAGES changes the message count.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ServiceBusClient, type ServiceBusReceivedMessage, type ServiceBusReceiver } from '@azure/service-bus';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 20_000);
const WARMUP_MESSAGES = 2_000; // untimed: lets both processes' JIT settle first
const RECEIVERS = 4;
const LATENCY_SAMPLES = 300;
const LATENCY_INTERVAL_MS = 10;
const RUN_LIMIT_MS = 180_000; // every phase stops by itself

interface Figures {
  mode: string;
  sendPerSec: number;
  endToEndPerSec: number;
  completed: number;
  /** CPU seconds per wall second during send → complete: which process is the bottleneck. */
  clientCpu: number;
  emulatorCpu: number;
  p50: number;
  p99: number;
  max: number;
}

async function main(): Promise<void> {
  const results: Figures[] = [];
  results.push(await benchmark('in memory'));
  const dataDir = await mkdtemp(join(tmpdir(), 'sb-bench-'));
  try {
    results.push(await benchmark('persisted (--data)', dataDir));
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
  printTable(results);
}

async function benchmark(mode: string, dataDir?: string): Promise<Figures> {
  process.stderr.write(`\n${mode}: starting the emulator\n`);
  const { child, connectionString } = await startChild(dataDir);
  const client = new ServiceBusClient(connectionString);
  try {
    await measureThroughput(client, `${mode} (warm-up)`, WARMUP_MESSAGES, child.pid);
    const throughput = await measureThroughput(client, mode, MESSAGES, child.pid);
    const latency = await measureLatency(client, mode);
    return { mode, ...throughput, ...latency };
  } finally {
    await client.close();
    await stopChild(child);
  }
}

async function measureThroughput(client: ServiceBusClient, mode: string, count: number, emulatorPid: number | undefined) {
  const queue = 'bench-throughput';
  const sender = client.createSender(queue);
  const receivers = Array.from({ length: RECEIVERS }, () => client.createReceiver(queue));
  const deadline = Date.now() + RUN_LIMIT_MS;
  let completed = 0;
  let finishedAt = 0;
  const started = performance.now();
  const clientCpuStart = process.cpuUsage();
  const emulatorCpuStart = processCpuSeconds(emulatorPid);

  let failure: unknown;
  const receiving = receivers.map(async (receiver) => {
    try {
      while (completed < count && Date.now() < deadline && failure === undefined) {
        const messages = await receiver.receiveMessages(250, { maxWaitTimeInMs: 500 });
        await Promise.all(messages.map((m) => receiver.completeMessage(m)));
        completed += messages.length;
        if (completed >= count && !finishedAt) finishedAt = performance.now();
      }
    } catch (error) {
      failure ??= error;
    }
  });

  let sent = 0;
  try {
    while (sent < count && Date.now() < deadline && failure === undefined) {
      const batch = await sender.createMessageBatch();
      while (sent < count && batch.tryAddMessage({ body: { n: sent, payload: 'x'.repeat(64) }, messageId: `m-${sent}` })) sent++;
      await sender.sendMessages(batch);
    }
  } catch (error) {
    failure ??= error;
  }
  const sendSeconds = (performance.now() - started) / 1000;
  process.stderr.write(`${mode}: sent ${sent} in ${sendSeconds.toFixed(2)} s\n`);
  await Promise.all(receiving);
  const seconds = ((finishedAt || performance.now()) - started) / 1000;
  const clientCpuUsed = process.cpuUsage(clientCpuStart);
  const clientCpu = (clientCpuUsed.user + clientCpuUsed.system) / 1e6 / seconds;
  const emulatorCpu = (processCpuSeconds(emulatorPid) - emulatorCpuStart) / seconds;
  process.stderr.write(`${mode}: completed ${completed} in ${seconds.toFixed(2)} s\n`);
  if (failure !== undefined) process.stderr.write(`${mode}: stopped early: ${String(failure)}\n`);
  await Promise.allSettled([sender.close(), ...receivers.map((r) => r.close())]);
  return { sendPerSec: sent / sendSeconds, endToEndPerSec: completed / seconds, completed, clientCpu, emulatorCpu };
}

async function measureLatency(client: ServiceBusClient, mode: string) {
  const queue = 'bench-latency';
  const sender = client.createSender(queue);
  const receiver: ServiceBusReceiver = client.createReceiver(queue);
  const sentAt = new Map<string, number>();
  const samples: number[] = [];
  let resolveAll!: () => void;
  const all = new Promise<void>((resolve) => (resolveAll = resolve));
  const warmup = 20;
  const total = warmup + LATENCY_SAMPLES;
  let received = 0;
  const subscription = receiver.subscribe(
    {
      processMessage: async (message: ServiceBusReceivedMessage) => {
        const at = performance.now();
        const start = sentAt.get(String(message.messageId));
        if (start !== undefined && received >= warmup) samples.push(at - start);
        if (++received >= total) resolveAll();
      },
      processError: async (args) => {
        process.stderr.write(`${mode}: receive error ${String(args.error)}\n`);
      },
    },
    { autoCompleteMessages: true, maxConcurrentCalls: 1 },
  );
  await sender.sendMessages({ body: 'warm', messageId: 'warm-connection' }); // opens the link
  for (let i = 0; i < total; i++) {
    const id = `lat-${i}`;
    sentAt.set(id, performance.now());
    await sender.sendMessages({ body: { i }, messageId: id });
    await new Promise((r) => setTimeout(r, LATENCY_INTERVAL_MS));
  }
  await Promise.race([all, new Promise((r) => setTimeout(r, 10_000))]);
  await subscription.close();
  await sender.close();
  await receiver.close();
  samples.sort((a, b) => a - b);
  const pct = (p: number) => samples[Math.min(samples.length - 1, Math.floor((p / 100) * samples.length))] ?? NaN;
  return { p50: pct(50), p99: pct(99), max: samples.at(-1) ?? NaN };
}

/** User + system CPU seconds of a process (Linux /proc; NaN elsewhere). */
function processCpuSeconds(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return NaN;
  }
}

async function startChild(dataDir?: string): Promise<{ child: ChildProcess; connectionString: string }> {
  const script = fileURLToPath(new URL('./emulator-process.ts', import.meta.url));
  const profileDir = process.env.BENCH_CPU_PROF;
  const profile = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', script, ...(dataDir ? [dataDir] : [])], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the emulator process exited with ${code} before it was ready`)));
  });
  return { child, connectionString: (JSON.parse(first) as { connectionString: string }).connectionString };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

function printTable(results: Figures[]): void {
  const rows = [
    ['mode', 'send msg/s', 'send→complete msg/s', 'completed', 'CPU client/emulator', 'p50 ms', 'p99 ms', 'max ms'],
    ...results.map((r) => [
      r.mode,
      r.sendPerSec.toFixed(0),
      r.endToEndPerSec.toFixed(0),
      `${r.completed}/${MESSAGES}`,
      `${r.clientCpu.toFixed(2)} / ${r.emulatorCpu.toFixed(2)}`,
      r.p50.toFixed(2),
      r.p99.toFixed(2),
      r.max.toFixed(2),
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const line = (row: string[]) => `| ${row.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(`\nService Bus emulator benchmark: ${MESSAGES} messages, batched sends, ${RECEIVERS} receivers; latency: ${LATENCY_SAMPLES} single messages, one per ${LATENCY_INTERVAL_MS} ms`);
  console.log(line(rows[0]!));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of rows.slice(1)) console.log(line(row));
  console.log('CPU: cores busy during send → complete (1.00 = one core), in the benchmark (SDK) process and the emulator process.');
  console.log('Targets (2-core machine): ≥ 10,000 msg/s in memory and persisted, p99 < 5 ms.');
}

await main();
