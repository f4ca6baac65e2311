// AMQP message bytes ↔ broker messages. A received message is kept byte-for-byte; only its
// header and message annotations are rebuilt on delivery (what Service Bus does too), so that
// properties, application properties and body reach the receiver exactly as sent.
import { randomUUID } from 'node:crypto';
import rhea from 'rhea';
import { invalidRequest } from '../errors.js';
import type { BrokerMessage, FilterView, MessagePayload } from '../broker/message.js';

const { message: rheaMessage } = rhea;

export const SECTION = {
  header: 0x70,
  deliveryAnnotations: 0x71,
  messageAnnotations: 0x72,
  properties: 0x73,
  applicationProperties: 0x74,
  data: 0x75,
  sequence: 0x76,
  value: 0x77,
  footer: 0x78,
} as const;

const symbolicSections: Record<string, number> = {
  'amqp:header:list': 0x70,
  'amqp:delivery-annotations:map': 0x71,
  'amqp:message-annotations:map': 0x72,
  'amqp:properties:list': 0x73,
  'amqp:application-properties:map': 0x74,
  'amqp:data:binary': 0x75,
  'amqp:amqp-sequence:list': 0x76,
  'amqp:value:*': 0x77,
  'amqp:footer:map': 0x78,
};

/** Message format of a Service Bus batch: one data section per encoded message. */
export const BATCH_FORMAT = 0x80013700;

export interface Section {
  code: number;
  /** Offset of the section (its 0x00 descriptor marker). */
  start: number;
  /** Offset of the section's value constructor. */
  valueStart: number;
  end: number;
}

function malformed(what: string): Error {
  return invalidRequest(`Malformed AMQP message: ${what}.`);
}

/** Offset just past the AMQP value that starts at `pos`; throws on truncated input. */
export function skipValue(buf: Buffer, pos: number): number {
  if (pos >= buf.length) throw malformed('truncated value');
  const code = buf[pos]!;
  let end: number;
  if (code === 0x00) return skipValue(buf, skipValue(buf, pos + 1));
  const hi = code & 0xf0;
  if (code >= 0x40 && code <= 0x45) end = pos + 1;
  else if (hi === 0x50) end = pos + 2;
  else if (hi === 0x60) end = pos + 3;
  else if (hi === 0x70) end = pos + 5;
  else if (hi === 0x80) end = pos + 9;
  else if (hi === 0x90) end = pos + 17;
  else if (hi === 0xa0 || hi === 0xc0 || hi === 0xe0) {
    if (pos + 1 >= buf.length) throw malformed('truncated size');
    end = pos + 2 + buf[pos + 1]!;
  } else if (hi === 0xb0 || hi === 0xd0 || hi === 0xf0) {
    if (pos + 5 > buf.length) throw malformed('truncated size');
    end = pos + 5 + buf.readUInt32BE(pos + 1);
  } else throw malformed(`unknown type code 0x${code.toString(16)}`);
  if (end > buf.length) throw malformed('value runs past the end of the message');
  return end;
}

function sectionCode(buf: Buffer, pos: number): number {
  const c = buf[pos];
  if (c === 0x53) return buf[pos + 1]!;
  if (c === 0x80) return Number(buf.readBigUInt64BE(pos + 1));
  if (c === 0xa3) return symbolicSections[buf.toString('latin1', pos + 2, pos + 2 + buf[pos + 1]!)] ?? -1;
  if (c === 0xb3) return symbolicSections[buf.toString('latin1', pos + 5, pos + 5 + buf.readUInt32BE(pos + 1))] ?? -1;
  return -1;
}

/** Splits an encoded message into its sections without decoding them. */
export function splitSections(buf: Buffer): Section[] {
  const sections: Section[] = [];
  let pos = 0;
  while (pos < buf.length) {
    if (buf[pos] !== 0x00) throw malformed('expected a described section');
    const valueStart = skipValue(buf, pos + 1);
    const code = sectionCode(buf, pos + 1);
    if (code < SECTION.header || code > SECTION.footer) throw malformed('unknown section descriptor');
    const end = skipValue(buf, valueStart);
    sections.push({ code, start: pos, valueStart, end });
    pos = end;
  }
  return sections;
}

/** The messages inside a batch transfer (format 0x80013700): the contents of its data sections. */
export function splitBatch(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (const s of splitSections(buf)) {
    if (s.code !== SECTION.data) continue;
    const c = buf[s.valueStart];
    if (c === 0xa0) out.push(buf.subarray(s.valueStart + 2, s.end));
    else if (c === 0xb0) out.push(buf.subarray(s.valueStart + 5, s.end));
    else throw malformed('batch data section is not binary');
  }
  if (out.length === 0) throw malformed('batch without messages');
  return out;
}

// ---- small encoders ------------------------------------------------------------------------

function encodeString(s: string, code8: number, code32: number): Buffer {
  const bytes = Buffer.from(s, 'utf8');
  if (bytes.length <= 255) return Buffer.concat([Buffer.from([code8, bytes.length]), bytes]);
  const head = Buffer.alloc(5);
  head[0] = code32;
  head.writeUInt32BE(bytes.length, 1);
  return Buffer.concat([head, bytes]);
}
const str = (s: string) => encodeString(s, 0xa1, 0xb1);
const sym = (s: string) => encodeString(s, 0xa3, 0xb3);

function long(code: number, n: number): Buffer {
  const b = Buffer.alloc(9);
  b[0] = code;
  b.writeBigInt64BE(BigInt(Math.trunc(n)), 1);
  return b;
}
function int(n: number): Buffer {
  const b = Buffer.alloc(5);
  b[0] = 0x71;
  b.writeInt32BE(n, 1);
  return b;
}

/** A described section: 0x00 0x53 code, then a list32/map32 holding `count` encoded elements. */
function section(code: number, compound: 0xd0 | 0xd1, count: number, elements: Buffer[]): Buffer {
  const body = Buffer.concat(elements);
  const head = Buffer.alloc(12);
  head[0] = 0x00;
  head[1] = 0x53;
  head[2] = code;
  head[3] = compound;
  head.writeUInt32BE(body.length + 4, 4);
  head.writeUInt32BE(count, 8);
  return Buffer.concat([head, body]);
}

/** Elements (raw bytes) and count of the list or map that starts at `pos`. */
function compoundElements(buf: Buffer, pos: number, end: number): { count: number; elements: Buffer } {
  const c = buf[pos]!;
  if (c === 0x45) return { count: 0, elements: Buffer.alloc(0) };
  if (c === 0xc0 || c === 0xc1) return { count: buf[pos + 2]!, elements: buf.subarray(pos + 3, end) };
  if (c === 0xd0 || c === 0xd1) return { count: buf.readUInt32BE(pos + 5), elements: buf.subarray(pos + 9, end) };
  throw malformed('expected a list or map');
}

// ---- lock tokens ---------------------------------------------------------------------------

/**
 * Delivery tags carry lock tokens in .NET GUID byte order (the first three groups little-endian);
 * the SDK reorders them into a standard UUID. The swap is its own inverse.
 */
export function swapGuidByteOrder(b: Buffer): Buffer {
  return Buffer.from([b[3]!, b[2]!, b[1]!, b[0]!, b[5]!, b[4]!, b[7]!, b[6]!, ...b.subarray(8, 16)]);
}

export function uuidToString(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// ---- payload -------------------------------------------------------------------------------

function messageIdToString(id: unknown): string | undefined {
  if (id === undefined || id === null) return undefined;
  if (typeof id === 'string') return id;
  if (Buffer.isBuffer(id)) return id.length === 16 ? uuidToString(id) : id.toString('hex');
  return String(id);
}

function asString(v: unknown): string | undefined {
  return v === undefined || v === null ? undefined : typeof v === 'string' ? v : messageIdToString(v);
}

class AmqpPayload implements MessagePayload {
  readonly messageId: string;
  readonly ttlMs: number | undefined;
  readonly scheduledEnqueueTime: number | undefined;
  private filterCache: FilterView | undefined;

  constructor(
    readonly raw: Buffer,
    private readonly sections: Section[],
    messageId: string,
    header: Record<string, unknown> | undefined,
    annotations: Record<string, unknown> | undefined,
  ) {
    this.messageId = messageId;
    const ttl = header?.ttl;
    this.ttlMs = typeof ttl === 'number' && ttl > 0 ? ttl : undefined;
    const scheduled = annotations?.['x-opt-scheduled-enqueue-time'];
    this.scheduledEnqueueTime =
      scheduled instanceof Date ? scheduled.getTime() : typeof scheduled === 'number' ? scheduled : undefined;
  }

  get sessionId(): string | undefined {
    return this.filterView().sessionId;
  }

  private find(code: number): Section | undefined {
    return this.sections.find((s) => s.code === code);
  }

  /** Bytes from the first bare-message section (properties onwards) to the end. */
  get bare(): Buffer {
    const first = this.sections.find((s) => s.code >= SECTION.properties);
    return first ? this.raw.subarray(first.start) : Buffer.alloc(0);
  }

  get header(): Section | undefined {
    return this.find(SECTION.header);
  }

  get annotations(): Section | undefined {
    return this.find(SECTION.messageAnnotations);
  }

  filterView(): FilterView {
    if (this.filterCache) return this.filterCache;
    const props = this.find(SECTION.properties);
    const app = this.find(SECTION.applicationProperties);
    const p = props ? (rheaMessage.decode(this.raw.subarray(props.start, props.end)) as Record<string, unknown>) : {};
    const a = app ? (rheaMessage.decode(this.raw.subarray(app.start, app.end)) as Record<string, unknown>) : {};
    this.filterCache = {
      messageId: this.messageId,
      correlationId: asString(p.correlation_id),
      to: asString(p.to),
      replyTo: asString(p.reply_to),
      subject: asString(p.subject),
      sessionId: asString(p.group_id),
      replyToSessionId: asString(p.reply_to_group_id),
      contentType: asString(p.content_type),
      applicationProperties: (a.application_properties as Record<string, unknown> | undefined) ?? {},
    };
    return this.filterCache;
  }

  withApplicationProperties(changes: Record<string, unknown>): MessagePayload {
    const app = this.find(SECTION.applicationProperties);
    const keep: Buffer[] = [];
    let count = 0;
    if (app) {
      // Keep the existing entries byte-for-byte, except those being replaced.
      const { elements } = compoundElements(this.raw, app.valueStart, app.end);
      let pos = 0;
      while (pos < elements.length) {
        const keyEnd = skipValue(elements, pos);
        const valueEnd = skipValue(elements, keyEnd);
        if (!(symbolAt(elements, pos) in changes)) {
          keep.push(elements.subarray(pos, valueEnd));
          count += 2;
        }
        pos = valueEnd;
      }
    }
    for (const [k, v] of Object.entries(changes)) {
      if (v === undefined || v === null) continue;
      keep.push(str(k), encodeTyped(v));
      count += 2;
    }
    const newApp = section(SECTION.applicationProperties, 0xd1, count, keep);
    const before = this.raw.subarray(0, app ? app.start : this.bodyStart());
    const after = this.raw.subarray(app ? app.end : this.bodyStart());
    return parsePayload(Buffer.concat([before, newApp, after]));
  }

  private bodyStart(): number {
    const s = this.sections.find((x) => x.code >= SECTION.applicationProperties);
    return s ? s.start : this.raw.length;
  }
}

function encodeTyped(v: unknown): Buffer {
  const writer = new (rhea.types as unknown as { Writer: new () => { write(x: unknown): void; toBuffer(): Buffer } }).Writer();
  writer.write(rhea.types.wrap(v));
  return writer.toBuffer();
}

/**
 * Parses a received message. Adds a message id (a new UUID string) when it has none: the SDK's
 * receivers need one. Throws `InvalidRequest` on malformed input.
 */
export function parsePayload(raw: Buffer): AmqpPayload {
  let sections = splitSections(raw);
  let props = sections.find((s) => s.code === SECTION.properties);
  let messageId: string | undefined;
  if (props) {
    const decoded = rheaMessage.decode(raw.subarray(props.start, props.end)) as Record<string, unknown>;
    messageId = messageIdToString(decoded.message_id);
  }
  if (messageId === undefined) {
    messageId = randomUUID();
    raw = withMessageId(raw, sections, props, messageId);
    sections = splitSections(raw);
    props = sections.find((s) => s.code === SECTION.properties);
  }
  const header = sections.find((s) => s.code === SECTION.header);
  const ann = sections.find((s) => s.code === SECTION.messageAnnotations);
  const h = header ? (rheaMessage.decode(raw.subarray(header.start, header.end)) as Record<string, unknown>) : undefined;
  const a = ann
    ? ((rheaMessage.decode(raw.subarray(ann.start, ann.end)) as Record<string, unknown>).message_annotations as Record<string, unknown>)
    : undefined;
  return new AmqpPayload(raw, sections, messageId, h, a);
}

/** Sets the first field (message-id) of the properties section, adding the section if absent. */
function withMessageId(raw: Buffer, sections: Section[], props: Section | undefined, id: string): Buffer {
  const idBytes = str(id);
  if (!props) {
    const at = sections.find((s) => s.code >= SECTION.applicationProperties)?.start ?? raw.length;
    return Buffer.concat([raw.subarray(0, at), section(SECTION.properties, 0xd0, 1, [idBytes]), raw.subarray(at)]);
  }
  const { count, elements } = compoundElements(raw, props.valueStart, props.end);
  const rest = count > 0 ? elements.subarray(skipValue(elements, 0)) : Buffer.alloc(0);
  const rebuilt = section(SECTION.properties, 0xd0, Math.max(count, 1), [idBytes, rest]);
  return Buffer.concat([raw.subarray(0, props.start), rebuilt, raw.subarray(props.end)]);
}

// ---- delivery ------------------------------------------------------------------------------

/** Annotations the broker sets; the sender's values for these keys are dropped. */
const brokerAnnotations = new Set([
  'x-opt-sequence-number',
  'x-opt-enqueued-time',
  'x-opt-locked-until',
  'x-opt-message-state',
  'x-opt-deadletter-source',
  'x-opt-enqueue-sequence-number',
]);

const MESSAGE_STATE = { active: 0, deferred: 1, scheduled: 2 } as const;

/**
 * Encodes a message for delivery or peek: a fresh header (delivery count, TTL, durable) and
 * message annotations (sequence number, enqueued time, lock), then the sender's bytes.
 */
export function encodeForDelivery(m: BrokerMessage): Buffer {
  const payload = m.payload as AmqpPayload;
  const raw = payload.raw;
  // Header: durable, priority, ttl, first-acquirer, delivery-count.
  let durable = false;
  let priority = 4;
  const h = payload.header;
  if (h) {
    const decoded = rheaMessage.decode(raw.subarray(h.start, h.end)) as Record<string, unknown>;
    durable = decoded.durable === true;
    if (typeof decoded.priority === 'number') priority = decoded.priority;
  }
  const ttl = payload.ttlMs;
  const header = section(SECTION.header, 0xd0, 5, [
    Buffer.from([durable ? 0x41 : 0x42, 0x50, priority & 0xff]),
    ttl !== undefined && ttl <= 0xffffffff ? uint(ttl) : Buffer.from([0x40]),
    Buffer.from([m.deliveryCount === 0 ? 0x41 : 0x42]),
    uint(m.deliveryCount),
  ]);

  const entries: Buffer[] = [];
  let count = 0;
  const ann = payload.annotations;
  if (ann) {
    const { elements } = compoundElements(raw, ann.valueStart, ann.end);
    let pos = 0;
    while (pos < elements.length) {
      const keyEnd = skipValue(elements, pos);
      const valueEnd = skipValue(elements, keyEnd);
      if (!brokerAnnotations.has(symbolAt(elements, pos))) {
        entries.push(elements.subarray(pos, valueEnd));
        count += 2;
      }
      pos = valueEnd;
    }
  }
  entries.push(sym('x-opt-sequence-number'), long(0x81, m.seq));
  entries.push(sym('x-opt-enqueued-time'), long(0x83, m.enqueuedAt));
  count += 4;
  if (m.lock) {
    entries.push(sym('x-opt-locked-until'), long(0x83, m.lock.lockedUntil));
    count += 2;
  }
  if (m.state !== 'active') {
    entries.push(sym('x-opt-message-state'), int(MESSAGE_STATE[m.state]));
    count += 2;
  }
  if (m.deadLetterSource) {
    entries.push(sym('x-opt-deadletter-source'), str(m.deadLetterSource));
    count += 2;
  }
  const annotations = section(SECTION.messageAnnotations, 0xd1, count, entries);
  return Buffer.concat([header, annotations, payload.bare]);
}

/** Delivery tag of a locked message: its lock token in .NET GUID byte order. */
export function deliveryTag(m: BrokerMessage): Buffer | undefined {
  return m.lock ? swapGuidByteOrder(m.lock.token) : undefined;
}

function uint(n: number): Buffer {
  const b = Buffer.alloc(5);
  b[0] = 0x70;
  b.writeUInt32BE(n >>> 0, 1);
  return b;
}

function symbolAt(buf: Buffer, pos: number): string {
  const c = buf[pos];
  if (c === 0xa3 || c === 0xa1) return buf.toString('utf8', pos + 2, pos + 2 + buf[pos + 1]!);
  if (c === 0xb3 || c === 0xb1) return buf.toString('utf8', pos + 5, pos + 5 + buf.readUInt32BE(pos + 1));
  return '';
}
