// The floor under the drain latency: what the parts a drain cannot do without cost on this
// machine when none of the agent's own work is added. Part of `npm run bench:agent`; prints figures.
// - The machine: a loopback TCP round trip between two idle Node processes, and kill() → the
//   signal handler of another idle Node process. A drain crosses processes five times (publisher
//   → broker → agent → broker → agent, then the signal), each time waking an idle process.
// - The Service Bus parts, warm (their code has run many times): `sendMessages` → a waiting
//   `receiveMessages(1)` returns, through the emulator's process; and the `deferMessage` round
//   trip. Publisher and receiver share the benchmark's process here; in a drain they are two.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { type Socket, connect } from 'node:net';
import type { ServiceBusClient } from '@azure/service-bus';
import { percentile } from './percentile.js';

const SAMPLES = 100;
const WARM_UP = 10;
/** Long enough for every process involved to go idle again, as before a real drain. */
const GAP_MS = 50;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const since = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

// An echo server that also writes the CLOCK_MONOTONIC time at which its SIGUSR2 handler runs.
const PEER = `
const net = require('node:net');
const server = net.createServer((c) => { c.setNoDelay(true); c.on('data', (d) => c.write(d)); });
server.listen(0, '127.0.0.1', () => process.stdout.write('port ' + server.address().port + '\\n'));
process.on('SIGUSR2', () => process.stdout.write('signal ' + process.hrtime.bigint() + '\\n'));
`;

async function machineFloor(): Promise<void> {
  const peer = spawn(process.execPath, ['-e', PEER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let wake: (() => void) | undefined;
  let buffered = '';
  peer.stdout.on('data', (d: Buffer) => {
    buffered += d.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    lines.push(...parts);
    wake?.();
  });
  const nextLine = async (): Promise<string> => {
    while (lines.length === 0) await new Promise<void>((r) => (wake = r));
    return lines.shift() as string;
  };
  try {
    const port = Number((await nextLine()).split(' ')[1]);
    const socket: Socket = connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    await once(socket, 'connect');
    const rtt: number[] = [];
    for (let i = 0; i < WARM_UP + SAMPLES; i++) {
      await sleep(GAP_MS);
      const t0 = process.hrtime.bigint();
      socket.write('x');
      await once(socket, 'data');
      if (i >= WARM_UP) rtt.push(since(t0) * 1000);
    }
    socket.destroy();
    const signal: number[] = [];
    for (let i = 0; i < WARM_UP + SAMPLES; i++) {
      await sleep(GAP_MS);
      const t0 = process.hrtime.bigint();
      peer.kill('SIGUSR2');
      const handled = BigInt((await nextLine()).split(' ')[1] as string);
      if (i >= WARM_UP) signal.push(Number(handled - t0) / 1e3);
    }
    console.log(
      `floor, this machine, idle processes: loopback TCP round trip p50 ${percentile(rtt, 50).toFixed(0)} µs, p99 ${percentile(rtt, 99).toFixed(0)} µs; ` +
        `kill() → another process's signal handler p50 ${percentile(signal, 50).toFixed(0)} µs, p99 ${percentile(signal, 99).toFixed(0)} µs (${SAMPLES} each, ${GAP_MS} ms apart)`,
    );
  } finally {
    peer.kill('SIGKILL');
  }
}

async function serviceBusFloor(client: ServiceBusClient, topic: string): Promise<void> {
  const sender = client.createSender(topic);
  const receiver = client.createReceiver(topic, 'shutdown', { receiveMode: 'peekLock', skipParsingBodyAsJson: true });
  const receive: number[] = [];
  const defer: number[] = [];
  try {
    for (let i = 0; i < WARM_UP + SAMPLES; i++) {
      const received = receiver.receiveMessages(1, { maxWaitTimeInMs: 10_000 });
      await sleep(GAP_MS); // the receive's credit is on the wire, and everything idles
      const t0 = process.hrtime.bigint();
      await sender.sendMessages({ body: { operation: 'graceful-downscale' }, messageId: `floor/${i}` });
      const [message] = await received;
      const t1 = process.hrtime.bigint();
      if (message === undefined) throw new Error(`floor/${i} was not received`);
      await receiver.deferMessage(message, { 'workforce-owner': 'floor' });
      if (i >= WARM_UP) {
        receive.push(Number(t1 - t0) / 1e6);
        defer.push(since(t1));
      }
    }
  } finally {
    await receiver.close();
    await sender.close();
  }
  console.log(
    `floor, @azure/service-bus through the emulator, warm, ${SAMPLES} messages ${GAP_MS} ms apart: sendMessages → receiveMessages(1) returns p50 ${percentile(receive, 50).toFixed(2)} ms, p99 ${percentile(receive, 99).toFixed(2)} ms; ` +
      `deferMessage round trip p50 ${percentile(defer, 50).toFixed(2)} ms, p99 ${percentile(defer, 99).toFixed(2)} ms`,
  );
}

/** Prints the two floor lines; `topic` has a subscription `shutdown` that nothing else reads. */
export async function floor(client: ServiceBusClient, topic: string): Promise<void> {
  await machineFloor();
  await serviceBusFloor(client, topic);
}
