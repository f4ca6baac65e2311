// Preloaded into an emulator process by bench/hop-latency.ts (`node --import tsx --import
// bench/hop-probe.ts src/cli.ts ...`): time stamps on the emulator's own sockets, so that the
// time a message spends in the emulator is measured inside it, without the clients' time and
// without the cost of strace. It touches only the sockets of the servers that the process
// creates, and writes its figures (JSON) to the file named by HOP_PROBE_OUT when the process
// exits. Not part of the emulator.
//
// Two hops are timed, from the moment the socket's read returns (the handle's `onread`, before
// Node's stream code) to the call of the `socket.write` that sends the answer (the write system
// call itself, which on loopback also wakes the peer, is not counted):
// - transfer: a transfer whose bytes contain the marker `hop-probe:` → the first transfer written
//   that contains it (the delivery to the receiver); `settled` is the sender's disposition;
// - disposition: a disposition with a `modified` outcome (the SDK's defer) → the first
//   disposition written after it.
import { writeFileSync } from 'node:fs';
import net from 'node:net';

const MARKER = Buffer.from('hop-probe:', 'latin1');
const TRANSFER = 0x14;
const DISPOSITION = 0x15;
const MODIFIED = 0x27;

interface Sample {
  hop: 'transfer' | 'disposition';
  /** µs from the read to the 'data' event (Node's stream code). */
  stream: number;
  /** µs from the read to the answer's write. */
  total: number;
  /** transfer only: µs from the read to the sender's disposition. */
  settled?: number;
  /** The read and the write, µs on the monotonic clock (as in a --cpu-prof profile). */
  from: number;
  to: number;
}

const samples: Sample[] = [];
let transferIn: { read: bigint; data: bigint; socket: net.Socket } | undefined;
let dispositionIn: { read: bigint; data: bigint } | undefined;
/** The transfer timed last, until the sender's disposition is written. */
let settling: { sample: Sample; from: bigint; socket: net.Socket } | undefined;
const us = (from: bigint, to: bigint) => Number(to - from) / 1000;
const sample = (hop: Sample['hop'], at: { read: bigint; data: bigint }, now: bigint): Sample => ({
  hop,
  stream: us(at.read, at.data),
  total: us(at.read, now),
  from: Number(at.read / 1000n),
  to: Number(now / 1000n),
});

/** Performative codes of the AMQP frames in `chunk` (frames that the chunk holds whole or start in it). */
function performatives(chunk: Buffer, withModified: boolean[] | undefined): number[] {
  const codes: number[] = [];
  let at = 0;
  while (at + 8 <= chunk.length) {
    if (chunk[at] === 0x41 && chunk[at + 1] === 0x4d && chunk[at + 2] === 0x51 && chunk[at + 3] === 0x50) {
      at += 8;
      continue;
    }
    const size = chunk.readUInt32BE(at);
    const body = at + chunk[at + 4]! * 4;
    if (size < 8) break;
    if (chunk[at + 5] === 0 && body + 3 <= chunk.length && chunk[body] === 0 && chunk[body + 1] === 0x53) {
      const code = chunk[body + 2]!;
      codes.push(code);
      if (withModified && code === DISPOSITION) {
        const end = Math.min(at + size, chunk.length);
        withModified.push(chunk.subarray(body, end).includes(Buffer.from([0x00, 0x53, MODIFIED])));
      }
    }
    at += size;
  }
  return codes;
}

function instrument(socket: net.Socket): void {
  let lastRead = 0n;
  const handle = (socket as unknown as { _handle?: { onread?: (...args: unknown[]) => unknown } })._handle;
  if (handle?.onread) {
    const onread = handle.onread;
    handle.onread = function (this: unknown, ...args: unknown[]) {
      lastRead = process.hrtime.bigint();
      return onread.apply(this, args);
    };
  }
  socket.prependListener('data', (chunk: Buffer) => {
    const data = process.hrtime.bigint();
    const read = lastRead || data;
    const modified: boolean[] = [];
    const codes = performatives(chunk, modified);
    if (codes.includes(TRANSFER) && chunk.includes(MARKER)) transferIn = { read, data, socket };
    if (modified.includes(true)) dispositionIn = { read, data };
  });
  const write = socket.write;
  socket.write = function (this: net.Socket, chunk: unknown, ...rest: unknown[]) {
    const now = process.hrtime.bigint();
    const result = (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
    if (!Buffer.isBuffer(chunk) || (!transferIn && !dispositionIn && !settling)) return result;
    const codes = performatives(chunk, undefined);
    if (transferIn && codes.includes(TRANSFER) && chunk.includes(MARKER)) {
      const timed = sample('transfer', transferIn, now);
      samples.push(timed);
      settling = { sample: timed, from: transferIn.read, socket: transferIn.socket };
      transferIn = undefined;
    }
    if (settling && this === settling.socket && codes.includes(DISPOSITION)) {
      settling.sample.settled = us(settling.from, now);
      settling = undefined;
    } else if (dispositionIn && codes.includes(DISPOSITION)) {
      samples.push(sample('disposition', dispositionIn, now));
      dispositionIn = undefined;
    }
    return result;
  } as typeof socket.write;
}

const emit = net.Server.prototype.emit;
net.Server.prototype.emit = function (this: net.Server, event: string | symbol, ...args: unknown[]) {
  if (event === 'connection' && args[0] instanceof net.Socket) instrument(args[0]);
  return (emit as (this: net.Server, event: string | symbol, ...args: unknown[]) => boolean).call(this, event, ...args);
} as typeof net.Server.prototype.emit;

const out = process.env.HOP_PROBE_OUT;
if (out) {
  process.on('exit', () => {
    writeFileSync(out, JSON.stringify(samples));
  });
}
