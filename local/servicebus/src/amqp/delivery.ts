// A message as it leaves for a receiver (delivery or peek): a fresh header (delivery count, TTL,
// durable) and message annotations (sequence number, enqueued time, lock), then the sender's
// bytes from the properties on; and its delivery tag, the lock token.
import type { BrokerMessage } from '../broker/message.js';
import { swapGuidByteOrder } from './guid.js';
import type { AmqpPayload } from './payload.js';
import { SECTION, sectionHead, sym } from './sections.js';

const MESSAGE_STATE = { active: 0, deferred: 1, scheduled: 2 } as const;

const ANNOTATION_KEYS = {
  sequenceNumber: sym('x-opt-sequence-number'),
  enqueuedTime: sym('x-opt-enqueued-time'),
  lockedUntil: sym('x-opt-locked-until'),
  messageState: sym('x-opt-message-state'),
  deadLetterSource: sym('x-opt-deadletter-source'),
};

/**
 * Encodes a message for delivery or peek: a fresh header (delivery count, TTL, durable) and
 * message annotations (sequence number, enqueued time, lock), then the sender's bytes. Written
 * into one buffer: this runs for every delivery.
 */
export function encodeForDelivery(m: BrokerMessage): Buffer {
  const payload = m.payload as AmqpPayload;
  const bare = payload.bare;
  const kept = payload.senderAnnotations;
  // Header: durable, priority, ttl, first-acquirer, delivery-count.
  const ttl = payload.ttlMs;
  const ttlBytes = ttl !== undefined && ttl <= 0xffffffff ? 5 : 1;
  const headerBody = 3 + ttlBytes + 1 + 5;
  // Annotations: the sender's (less the broker's own), then the broker's.
  const source = m.deadLetterSource ? Buffer.from(m.deadLetterSource, 'utf8') : undefined;
  let count = kept.count + 4;
  let annBody = kept.bytes.length + ANNOTATION_KEYS.sequenceNumber.length + 9 + ANNOTATION_KEYS.enqueuedTime.length + 9;
  if (m.lock) {
    count += 2;
    annBody += ANNOTATION_KEYS.lockedUntil.length + 9;
  }
  const state = reportedState(m);
  if (state !== 'active') {
    count += 2;
    annBody += ANNOTATION_KEYS.messageState.length + 5;
  }
  if (source) {
    count += 2;
    annBody += ANNOTATION_KEYS.deadLetterSource.length + (source.length <= 255 ? 2 : 5) + source.length;
  }
  const out = Buffer.allocUnsafe(12 + headerBody + 12 + annBody + bare.length);
  let at = sectionHead(out, 0, SECTION.header, 0xd0, headerBody, 5);
  out[at++] = payload.durable ? 0x41 : 0x42;
  out[at++] = 0x50;
  out[at++] = payload.priority & 0xff;
  if (ttlBytes === 5) at = writeUint(out, at, ttl!);
  else out[at++] = 0x40;
  out[at++] = payload.firstAcquirer ? 0x41 : 0x42;
  at = writeUint(out, at, m.deliveryCount);
  at = sectionHead(out, at, SECTION.messageAnnotations, 0xd1, annBody, count);
  at += kept.bytes.copy(out, at);
  at += ANNOTATION_KEYS.sequenceNumber.copy(out, at);
  at = writeLong(out, at, 0x81, m.seq);
  at += ANNOTATION_KEYS.enqueuedTime.copy(out, at);
  at = writeLong(out, at, 0x83, m.enqueuedAt);
  if (m.lock) {
    at += ANNOTATION_KEYS.lockedUntil.copy(out, at);
    at = writeLong(out, at, 0x83, m.lock.lockedUntil);
  }
  if (state !== 'active') {
    at += ANNOTATION_KEYS.messageState.copy(out, at);
    out[at] = 0x71;
    out.writeInt32BE(MESSAGE_STATE[state], at + 1);
    at += 5;
  }
  if (source) {
    at += ANNOTATION_KEYS.deadLetterSource.copy(out, at);
    if (source.length <= 255) {
      out[at++] = 0xa1;
      out[at++] = source.length;
    } else {
      out[at] = 0xb1;
      out.writeUInt32BE(source.length, at + 1);
      at += 5;
    }
    at += source.copy(out, at);
  }
  bare.copy(out, at);
  return out;
}

/**
 * The state a receiver sees: Azure keeps reporting `scheduled` for a message that was
 * scheduled, also once it is enqueued and delivered; deferral is reported as such.
 */
function reportedState(m: BrokerMessage): BrokerMessage['state'] {
  return m.state === 'active' && m.payload.scheduledEnqueueTime !== undefined ? 'scheduled' : m.state;
}

function writeUint(out: Buffer, at: number, n: number): number {
  out[at] = 0x70;
  out.writeUInt32BE(n >>> 0, at + 1);
  return at + 5;
}

/** A long or timestamp (the integer part of `n`). */
function writeLong(out: Buffer, at: number, code: number, n: number): number {
  out[at] = code;
  const t = Math.trunc(n);
  if (Number.isSafeInteger(t)) {
    const hi = Math.floor(t / 4294967296);
    out.writeInt32BE(hi, at + 1);
    out.writeUInt32BE(t - hi * 4294967296, at + 5);
  } else {
    out.writeBigInt64BE(BigInt(t), at + 1);
  }
  return at + 9;
}

/** Delivery tag of a locked message: its lock token in .NET GUID byte order. */
export function deliveryTag(m: BrokerMessage): Buffer | undefined {
  return m.lock ? swapGuidByteOrder(m.lock.token) : undefined;
}
