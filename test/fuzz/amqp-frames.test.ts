// Fuzzing the emulator's AMQP listener over raw TCP: random bytes, bad protocol headers,
// truncated and oversized frames, a valid handshake then random performatives. After each batch
// of connections a well-behaved @azure/service-bus client still sends, receives and completes.

import { connect } from 'node:net';
import { ServiceBusClient } from '@azure/service-bus';
import { type RunningEmulator, startEmulator } from '@workforce/servicebus-emulator';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AMQP_HEADER, SASL_HEADER, attachSender, begin, frame, open, randomMessage, randomPerformative, saslInitAnonymous, transfer } from './amqp-frames.js';
import { Random, fuzzRuns, fuzzSeed } from './random.js';

const QUEUE = 'fuzz-probe';
/** Where the raw connections send their messages (never the probe's queue). */
const TARGET = 'fuzz-target';
const BATCH = 8;
const DEFAULT_RUNS = 200;

let emulator: RunningEmulator;
let client: ServiceBusClient;
beforeAll(async () => {
  emulator = await startEmulator({ port: 0 });
  emulator.catalogue.putQueue(QUEUE, { lockDurationMs: 30_000 });
  emulator.catalogue.putQueue(TARGET);
  client = new ServiceBusClient(emulator.connectionString, { retryOptions: { maxRetries: 2, retryDelayInMs: 100, timeoutInMs: 10_000 } });
});
afterAll(async () => {
  await client?.close();
  await emulator?.close();
});

/** Bytes to send, or a marker: wait until the server's output holds these bytes. */
type Step = Buffer | { until: Buffer };
type Strategy = (r: Random) => Step[];

/** Descriptors of the server's SASL outcome and open performatives, as they appear on the wire. */
const SASL_OUTCOME = Buffer.from([0x00, 0x53, 0x44]);
const OPEN = Buffer.from([0x00, 0x53, 0x10]);

// As clients do it: the AMQP header only after the SASL outcome (bytes pipelined behind the
// SASL exchange in the same TCP chunk are mostly dropped, so a pipelined open rarely gets an answer).
const handshake = (r: Random): Step[] => [SASL_HEADER, saslInitAnonymous(), { until: SASL_OUTCOME }, AMQP_HEADER, open(`fuzz-${r.int(0, 1e9)}`), { until: OPEN }];

/** What each connection sends, step by step. */
const STRATEGIES: Record<string, Strategy> = {
  'random bytes': (r) => [r.bytes(r.size(5000))],
  'random header': (r) => [Buffer.concat([Buffer.from('AMQP'), r.bytes(4)]), r.bytes(r.size(200))],
  'pipelined SASL handshake, then an open': (r) => [SASL_HEADER, saslInitAnonymous(), AMQP_HEADER, open(`fuzz-${r.int(0, 1e6)}`), ...Array.from({ length: r.int(0, 3) }, () => randomPerformative(r, 0))],
  'valid header, then garbage': (r) => [r.pick([SASL_HEADER, AMQP_HEADER]), r.bytes(r.size(3000))],
  'AMQP header without SASL, then an open': (r) => [AMQP_HEADER, open(`fuzz-${r.int(0, 1e6)}`)],
  'truncated frame': (r) => {
    const f = r.pick([saslInitAnonymous(), open('truncated'), randomPerformative(r, 0)]);
    return [SASL_HEADER, ...(r.bool() ? [saslInitAnonymous(), { until: SASL_OUTCOME }, AMQP_HEADER] : []), f.subarray(0, r.int(1, f.length - 1))];
  },
  'frame size lies': (r) => {
    const f = Buffer.from(r.bool() ? open('liar') : begin());
    f.writeUInt32BE(r.pick([0, 1, 7, 8, 9, 2 ** 31, 2 ** 32 - 1, r.int(0, 2 ** 32 - 1)]), 0);
    if (r.bool()) f[4] = r.int(0, 255); // data offset
    return [...(f[10] === 0x10 ? handshake(r).slice(0, 4) : handshake(r)), f, r.bytes(r.size(100))];
  },
  'oversized frame': (r) => [...handshake(r), frame(r.bytes(r.int(65_537, 300_000)), { channel: 0 })],
  'open, then random performatives': (r) => [...handshake(r), ...(r.bool(0.7) ? [begin()] : []), ...Array.from({ length: r.int(1, 20) }, () => randomPerformative(r, r.bool(0.8) ? 0 : r.int(0, 65_535)))],
  'attach, then random transfers': (r) => [
    ...handshake(r),
    begin(),
    attachSender(`fuzz-${r.int(0, 1e6)}`, r.bool(0.8) ? TARGET : r.pick(['$cbs', `${TARGET}/$management`, 'no-such-queue', r.text(20)])),
    ...Array.from({ length: r.int(1, 10) }, (_, i) => (r.bool(0.8) ? transfer(i, randomMessage(r), r.bool()) : randomPerformative(r, 0))),
  ],
  'random SASL frames': (r) => [SASL_HEADER, ...Array.from({ length: r.int(1, 5) }, () => randomPerformative(r, 0))],
};

interface Outcome {
  /** The server's open performative came back: the connection got past the handshake. */
  opened: boolean;
}

/** Sends the steps (bytes split at random points), then waits for the server to close or a short while. */
function fuzzConnection(port: number, steps: Step[], r: Random): Promise<Outcome> {
  const pieces = steps.flatMap((step): Step[] => {
    if (!Buffer.isBuffer(step)) return [step];
    const cuts = [0, ...Array.from({ length: r.int(0, 2) }, () => r.int(0, step.length)).sort((a, b) => a - b), step.length];
    return cuts.slice(1).map((end, i) => step.subarray(cuts[i], end));
  });
  const lingerMs = r.int(20, 200);
  return new Promise((resolve) => {
    let received = Buffer.alloc(0);
    const socket = connect(port, '127.0.0.1');
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      // An AMQP open frame from the server: descriptor 0x00 0x53 0x10 in its output.
      resolve({ opened: received.includes(OPEN) });
    };
    const timer = setTimeout(done, 5_000);
    socket.on('data', (d: Buffer) => (received = Buffer.concat([received, d])));
    socket.on('error', () => {});
    socket.on('close', done);
    socket.on('connect', async () => {
      for (const piece of pieces) {
        if (socket.destroyed) break;
        if (Buffer.isBuffer(piece)) {
          socket.write(piece);
          await new Promise((t) => setTimeout(t, r.int(0, 3)));
        } else {
          const until = Date.now() + 2_000;
          while (!received.includes(piece.until) && !socket.destroyed && Date.now() < until) await new Promise((t) => setTimeout(t, 2));
        }
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

it('survives malformed AMQP traffic and keeps serving a well-behaved client', { timeout: 60_000 + fuzzRuns(DEFAULT_RUNS) * 1_000 }, async () => {
  const seed = fuzzSeed('AMQP frames');
  const runs = fuzzRuns(DEFAULT_RUNS);
  // FUZZ_ONLY=<part of a strategy name> narrows a run down to some strategies.
  const names = Object.keys(STRATEGIES).filter((n) => !process.env.FUZZ_ONLY || n.includes(process.env.FUZZ_ONLY));
  let opened = 0;
  const openedBy = new Map<string, number>();
  const seen = new Map<string, number>();
  for (let start = 0; start < runs; start += BATCH) {
    const cases = Array.from({ length: Math.min(BATCH, runs - start) }, (_, i) => {
      const r = Random.forCase(seed, start + i);
      const name = names[(start + i) % names.length]!;
      return { name, steps: STRATEGIES[name]!(r), r };
    });
    const outcomes = await Promise.all(cases.map((c) => fuzzConnection(emulator.port, c.steps, c.r)));
    for (const [i, o] of outcomes.entries()) {
      seen.set(cases[i]!.name, (seen.get(cases[i]!.name) ?? 0) + 1);
      if (o.opened) opened++;
      if (o.opened) openedBy.set(cases[i]!.name, (openedBy.get(cases[i]!.name) ?? 0) + 1);
    }
    expect(emulator.state, `seed ${seed}, after case ${start}`).toBe('running');
    await probe(start);
    if (process.env.FUZZ_VERBOSE) console.log(`[fuzz] AMQP frames: ${start + cases.length} connections, ${opened} opened`);
  }
  console.log(`[fuzz] AMQP frames: ${runs} connections (${[...seen].map(([k, v]) => `${k} ×${v}`).join(', ')}); ${opened} got past the handshake (${[...openedBy].map(([k, v]) => `${k} ×${v}`).join(", ")})`);
  // The handshake strategies must really reach the performative stage, or the fuzzing is shallow.
  if (runs >= names.length * 2) expect(opened, `seed ${seed}`).toBeGreaterThan(0);
  await probe(-1);
});
