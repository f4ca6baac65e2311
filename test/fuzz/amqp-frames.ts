// Just enough AMQP 1.0 encoding to speak to the emulator over a raw socket — correct where the
// fuzzer wants to get past a stage (protocol headers, SASL ANONYMOUS, open), random after that.

import type { Random } from './random.js';

export const SASL_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 3, 1, 0, 0]);
export const AMQP_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 1, 0, 0]);

/** Performative descriptor codes (AMQP 1.0 §2.7, §5.3). */
export const PERFORMATIVES = {
  open: 0x10,
  begin: 0x11,
  attach: 0x12,
  flow: 0x13,
  transfer: 0x14,
  disposition: 0x15,
  detach: 0x16,
  end: 0x17,
  close: 0x18,
  saslInit: 0x41,
} as const;

export type Value = Buffer; // an encoded AMQP value

export const nul = (): Value => Buffer.from([0x40]);
export const bool = (b: boolean): Value => Buffer.from([b ? 0x41 : 0x42]);
export const uint = (n: number): Value => {
  const b = Buffer.alloc(5);
  b[0] = 0x70;
  b.writeUInt32BE(n >>> 0, 1);
  return b;
};
export const ushort = (n: number): Value => Buffer.from([0x60, (n >> 8) & 0xff, n & 0xff]);
export const ubyte = (n: number): Value => Buffer.from([0x50, n & 0xff]);
export const ulong = (n: bigint): Value => {
  const b = Buffer.alloc(9);
  b[0] = 0x80;
  b.writeBigUInt64BE(BigInt.asUintN(64, n), 1);
  return b;
};
const variable = (code8: number, code32: number, data: Buffer): Value => {
  if (data.length <= 255) return Buffer.concat([Buffer.from([code8, data.length]), data]);
  const head = Buffer.alloc(5);
  head[0] = code32;
  head.writeUInt32BE(data.length, 1);
  return Buffer.concat([head, data]);
};
export const str = (s: string): Value => variable(0xa1, 0xb1, Buffer.from(s, 'utf8'));
export const sym = (s: string): Value => variable(0xa3, 0xb3, Buffer.from(s, 'ascii'));
export const bin = (b: Buffer): Value => variable(0xa0, 0xb0, b);
export const list = (items: Value[]): Value => {
  const body = Buffer.concat(items);
  const head = Buffer.alloc(9);
  head[0] = 0xd0;
  head.writeUInt32BE(body.length + 4, 1);
  head.writeUInt32BE(items.length, 5);
  return Buffer.concat([head, body]);
};
export const map = (pairs: Array<[Value, Value]>): Value => {
  const body = Buffer.concat(pairs.flat());
  const head = Buffer.alloc(9);
  head[0] = 0xd1;
  head.writeUInt32BE(body.length + 4, 1);
  head.writeUInt32BE(pairs.length * 2, 5);
  return Buffer.concat([head, body]);
};
export const described = (code: number, value: Value): Value => Buffer.concat([Buffer.from([0x00, 0x53, code]), value]);

/** A frame: size, data offset 2, type (0 AMQP, 1 SASL), channel, body. */
export function frame(body: Buffer, options: { type?: number; channel?: number } = {}): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(8 + body.length, 0);
  head[4] = 2;
  head[5] = options.type ?? 0;
  head.writeUInt16BE(options.channel ?? 0, 6);
  return Buffer.concat([head, body]);
}

export const saslInitAnonymous = (): Buffer => frame(described(PERFORMATIVES.saslInit, list([sym('ANONYMOUS')])), { type: 1 });
export const open = (containerId: string): Buffer => frame(described(PERFORMATIVES.open, list([str(containerId), str('localhost'), uint(65_536), ushort(100)])));
export const begin = (): Buffer => frame(described(PERFORMATIVES.begin, list([nul(), uint(0), uint(1000), uint(1000), uint(10)])));

/** attach as a sender (role false) to `address`, handle 0. */
export const attachSender = (name: string, address: string): Buffer =>
  frame(described(PERFORMATIVES.attach, list([str(name), uint(0), bool(false), ubyte(2), ubyte(0), described(0x28, list([str(address)])), described(0x29, list([str(address)]))])));

/** A transfer on handle 0 whose payload is `payload` (a message, or not). */
export const transfer = (deliveryId: number, payload: Buffer, settled: boolean): Buffer =>
  frame(Buffer.concat([described(PERFORMATIVES.transfer, list([uint(0), uint(deliveryId), bin(Buffer.from([deliveryId & 0xff])), uint(0), bool(settled)])), payload]));

/** A message payload with a random section or two: header, properties, a body that may be anything. */
export function randomMessage(r: Random): Buffer {
  const sections: Buffer[] = [];
  if (r.bool()) sections.push(described(0x70, list(Array.from({ length: r.int(0, 5) }, () => randomValue(r))))); // header
  if (r.bool()) sections.push(described(0x73, list([r.bool() ? str(r.text(20)) : randomValue(r), ...Array.from({ length: r.int(0, 12) }, () => randomValue(r))]))); // properties
  if (r.bool(0.3)) sections.push(described(0x74, map([[str(r.text(8)), randomValue(r)]]))); // application properties
  sections.push(r.bool() ? described(r.pick([0x75, 0x76, 0x77]), randomValue(r)) : r.bytes(r.size(500)));
  return Buffer.concat(sections);
}

/** A random AMQP value, of any type, sometimes nested, sometimes malformed. */
export function randomValue(r: Random, depth = 2): Value {
  switch (r.int(0, depth > 0 ? 14 : 11)) {
    case 0:
      return nul();
    case 1:
      return bool(r.bool());
    case 2:
      return uint(r.int(0, 2 ** 32 - 1));
    case 3:
      return uint(r.pick([0, 1, 2 ** 31, 2 ** 32 - 1]));
    case 4:
      return ushort(r.int(0, 65_535));
    case 5:
      return ubyte(r.int(0, 255));
    case 6:
      return ulong(BigInt(r.int(0, 2 ** 31)) * BigInt(r.int(0, 2 ** 31)));
    case 7:
      return str(r.text(40));
    case 8:
      return sym(r.pick(['amqp:link:detach-forced', 'com.microsoft:session-filter', '$cbs', '$management', 'queue-0', r.text(10)]));
    case 9:
      return bin(r.bytes(r.size(600)));
    case 10:
      return Buffer.from([r.int(0, 255)]); // a type code alone, or an unknown one
    case 11:
      return r.bytes(r.int(1, 12)); // garbage where a value belongs
    case 12:
      return list(Array.from({ length: r.int(0, 12) }, () => randomValue(r, depth - 1)));
    case 13:
      return map(Array.from({ length: r.int(0, 4) }, () => [randomValue(r, depth - 1), randomValue(r, depth - 1)] as [Value, Value]));
    default:
      return described(r.int(0, 0x80), randomValue(r, depth - 1));
  }
}

/** A performative with random fields (sometimes a real code, sometimes any descriptor). */
export function randomPerformative(r: Random, channel: number): Buffer {
  const codes = Object.values(PERFORMATIVES);
  const code = r.bool(0.85) ? r.pick(codes) : r.int(0, 0xff);
  const fields = Array.from({ length: r.int(0, 14) }, () => randomValue(r));
  if (code === PERFORMATIVES.disposition && fields.length >= 3 && r.bool(0.3)) {
    // Ranges as wide as `first` 0, `last` 2^32-1: rhea visits every id in a range, so the
    // emulator must clamp them (it once blocked its event loop for tens of seconds).
    const first = r.int(0, 1000);
    fields[1] = uint(first);
    fields[2] = uint(r.bool() ? 0xffffffff : first + r.int(0, 1000));
  }
  const body = described(code, r.bool(0.9) ? list(fields) : randomValue(r));
  // A transfer carries a payload after the performative.
  const payload = code === PERFORMATIVES.transfer && r.bool() ? r.bytes(r.size(4000)) : Buffer.alloc(0);
  return frame(Buffer.concat([body, payload]), { channel, type: r.bool(0.95) ? 0 : r.int(1, 255) });
}
