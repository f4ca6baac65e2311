// Fuzzing the emulator's AMQP listener over raw TCP: random bytes, bad protocol headers,
// truncated and oversized frames, a valid handshake then random performatives. After each batch
// of connections a well-behaved @azure/service-bus client still sends, receives and completes.

import { connect } from 'node:net';
import { ServiceBusClient } from '@azure/service-bus';
import { type RunningEmulator, startEmulator } from '@workforce/servicebus-emulator';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AMQP_HEADER, SASL_HEADER, begin, frame, open, randomPerformative, saslInitAnonymous } from './amqp-frames.js';
import { Random, fuzzRuns, fuzzSeed } from './random.js';

const QUEUE = 'fuzz-probe';
const BATCH = 8;

let emulator: RunningEmulator;
let client: ServiceBusClient;
beforeAll(async () => {
  emulator = await startEmulator({ port: 0 });
  emulator.catalogue.putQueue(QUEUE, { lockDurationMs: 30_000 });
  client = new ServiceBusClient(emulator.connectionString, { retryOptions: { maxRetries: 2, retryDelayInMs: 100, timeoutInMs: 10_000 } });
});
afterAll(async () => {
  await client?.close();
  await emulator?.close();
});

type Strategy = (r: Random) => Buffer[];

const handshake = (r: Random): Buffer[] => [SASL_HEADER, saslInitAnonymous(), AMQP_HEADER, open(`fuzz-${r.int(0, 1e9)}`)];

/** What each connection sends, as chunks written one after another. */
const STRATEGIES: Record<string, Strategy> = {
  'random bytes': (r) => [r.bytes(r.size(5000))],
  'random header': (r) => [Buffer.concat([Buffer.from('AMQP'), r.bytes(4)]), r.bytes(r.size(200))],
  'valid header, then garbage': (r) => [r.pick([SASL_HEADER, AMQP_HEADER]), r.bytes(r.size(3000))],
  'AMQP header without SASL, then an open': (r) => [AMQP_HEADER, open(`fuzz-${r.int(0, 1e6)}`)],
  'truncated frame': (r) => {
    const f = r.pick([saslInitAnonymous(), open('truncated'), randomPerformative(r, 0)]);
    return [SASL_HEADER, f.subarray(0, r.int(1, f.length - 1))];
  },
  'frame size lies': (r) => {
    const f = Buffer.from(open('liar'));
    f.writeUInt32BE(r.pick([0, 1, 7, 8, 9, 2 ** 31, 2 ** 32 - 1, r.int(0, 2 ** 32 - 1)]), 0);
    if (r.bool()) f[4] = r.int(0, 255); // data offset
    return [...handshake(r).slice(0, 3), f, r.bytes(r.size(100))];
  },
  'oversized frame': (r) => [...handshake(r), frame(r.bytes(r.int(65_537, 300_000)), { channel: 0 })],
  'open, then random performatives': (r) => [...handshake(r), ...(r.bool(0.7) ? [begin()] : []), ...Array.from({ length: r.int(1, 20) }, () => randomPerformative(r, r.bool(0.8) ? 0 : r.int(0, 65_535)))],
  'random SASL frames': (r) => [SASL_HEADER, ...Array.from({ length: r.int(1, 5) }, () => randomPerformative(r, 0))],
};

interface Outcome {
  /** The server's open performative came back: the connection got past the handshake. */
  opened: boolean;
}

/** Sends the chunks (split at random points), then waits for the server to close or a short while. */
function fuzzConnection(port: number, chunks: Buffer[], r: Random): Promise<Outcome> {
  const data = Buffer.concat(chunks);
  const cuts = [0, ...Array.from({ length: r.int(0, 3) }, () => r.int(0, data.length)).sort((a, b) => a - b), data.length];
  const lingerMs = r.int(20, 200);
  return new Promise((resolve) => {
    let received = Buffer.alloc(0);
    const socket = connect(port, '127.0.0.1');
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      // An AMQP open frame from the server: descriptor 0x00 0x53 0x10 in its output.
      resolve({ opened: received.includes(Buffer.from([0x00, 0x53, 0x10])) });
    };
    const timer = setTimeout(done, 5_000);
    socket.on('data', (d: Buffer) => (received = Buffer.concat([received, d])));
    socket.on('error', () => {});
    socket.on('close', done);
    socket.on('connect', async () => {
      for (let i = 1; i < cuts.length && !socket.destroyed; i++) {
        socket.write(data.subarray(cuts[i - 1], cuts[i]));
        await new Promise((t) => setTimeout(t, r.int(0, 5)));
      }
      setTimeout(r.bool(0.2) ? () => socket.end() : done, lingerMs);
    });
  });
}

/** The well-behaved client: one message sent, received and completed. */
async function probe(n: number): Promise<void> {
  const sender = client.createSender(QUEUE);
  const receiver = client.createReceiver(QUEUE);
  try {
    await sender.sendMessages({ body: { probe: n }, messageId: `probe-${n}` });
    const [got] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 10_000 });
    expect(got?.body, `probe ${n}`).toEqual({ probe: n });
    await receiver.completeMessage(got!);
  } finally {
    await receiver.close();
    await sender.close();
  }
}

it('survives malformed AMQP traffic and keeps serving a well-behaved client', async () => {
  const seed = fuzzSeed('AMQP frames');
  const runs = fuzzRuns(160);
  const names = Object.keys(STRATEGIES);
  let opened = 0;
  const seen = new Map<string, number>();
  for (let start = 0; start < runs; start += BATCH) {
    const cases = Array.from({ length: Math.min(BATCH, runs - start) }, (_, i) => {
      const r = Random.forCase(seed, start + i);
      const name = names[(start + i) % names.length]!;
      return { name, chunks: STRATEGIES[name]!(r), r };
    });
    const outcomes = await Promise.all(cases.map((c) => fuzzConnection(emulator.port, c.chunks, c.r)));
    for (const [i, o] of outcomes.entries()) {
      seen.set(cases[i]!.name, (seen.get(cases[i]!.name) ?? 0) + 1);
      if (o.opened) opened++;
    }
    expect(emulator.state, `seed ${seed}, after case ${start}`).toBe('running');
    await probe(start);
  }
  console.log(`[fuzz] AMQP frames: ${runs} connections (${[...seen].map(([k, v]) => `${k} ×${v}`).join(', ')}); ${opened} got past the handshake`);
  // The handshake strategies must really reach the performative stage, or the fuzzing is shallow.
  if (runs >= names.length * 2) expect(opened, `seed ${seed}`).toBeGreaterThan(0);
  await probe(-1);
});
