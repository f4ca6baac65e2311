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

const EMPTY = Buffer.alloc(0);

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
  if (b.length !== 16) return Buffer.from([b[3]!, b[2]!, b[1]!, b[0]!, b[5]!, b[4]!, b[7]!, b[6]!, ...b.subarray(8, 16)]);
  const out = Buffer.allocUnsafe(16);
  out[0] = b[3]!;
  out[1] = b[2]!;
  out[2] = b[1]!;
  out[3] = b[0]!;
  out[4] = b[5]!;
  out[5] = b[4]!;
  out[6] = b[7]!;
  out[7] = b[6]!;
  b.copy(out, 8, 8, 16);
  return out;
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

/** What `parsePayload` reads from the header and message annotations. */
interface Envelope {
  durable: boolean;
  priority: number;
  ttlMs: number | undefined;
  scheduledEnqueueTime: number | undefined;
}

class AmqpPayload implements MessagePayload {
  readonly messageId: string;
  readonly ttlMs: number | undefined;
  readonly scheduledEnqueueTime: number | undefined;
  /** Header fields kept on delivery. */
  readonly durable: boolean;
  readonly priority: number;
  private filterCache: FilterView | undefined;
  private keptAnnotations: { count: number; bytes: Buffer } | undefined;

  constructor(
    readonly raw: Buffer,
    private readonly sections: Section[],
    messageId: string,
    envelope: Envelope,
  ) {
    this.messageId = messageId;
    this.ttlMs = envelope.ttlMs;
    this.scheduledEnqueueTime = envelope.scheduledEnqueueTime;
    this.durable = envelope.durable;
    this.priority = envelope.priority;
  }

  /**
   * The sender's message annotations that delivery keeps (all but the broker's own), as encoded
   * map entries; computed once per payload.
   */
  get senderAnnotations(): { count: number; bytes: Buffer } {
    if (this.keptAnnotations) return this.keptAnnotations;
    const ann = this.annotations;
    let kept: { count: number; bytes: Buffer } = { count: 0, bytes: EMPTY };
    if (ann) {
      const { elements } = compoundElements(this.raw, ann.valueStart, ann.end);
      const entries: Buffer[] = [];
      let count = 0;
      let dropped = false;
      let pos = 0;
      while (pos < elements.length) {
        const keyEnd = skipValue(elements, pos);
        const valueEnd = skipValue(elements, keyEnd);
        if (brokerAnnotations.has(symbolAt(elements, pos))) dropped = true;
        else {
          entries.push(elements.subarray(pos, valueEnd));
          count += 2;
        }
        pos = valueEnd;
      }
      // Usually every entry is kept: then the bytes are a view of the message, not a copy.
      kept = { count, bytes: dropped ? Buffer.concat(entries) : elements };
    }
    this.keptAnnotations = kept;
    return kept;
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

  get annotations(): Section | undefined {
    return this.find(SECTION.messageAnnotations);
  }

  /**
   * The fields correlation filters match. When the properties and application properties hold
   * only primitive values, rhea decodes them without error, so the decoding waits until a filter
   * reads a field (a subscription with only `true` or `false` rules never does); otherwise it
   * happens now, and a section rhea cannot decode fails the send, as always.
   */
  filterView(): FilterView {
    if (this.filterCache) return this.filterCache;
    const props = this.find(SECTION.properties);
    const app = this.find(SECTION.applicationProperties);
    const simple =
      (!props || plainElements(this.raw, props.valueStart, props.end, false, false)) &&
      (!app || plainElements(this.raw, app.valueStart, app.end, true, false));
    const decode = () => decodeFilterView(this.raw, this.messageId, props, app);
    this.filterCache = simple ? new DeferredFilterView(this.messageId, decode) : decode();
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
      keep.push(str(k), typeof v === 'string' ? str(v) : encodeTyped(v));
      count += 2;
    }
    const newApp = section(SECTION.applicationProperties, 0xd1, count, keep);
    const from = app ? app.start : this.bodyStart();
    const to = app ? app.end : from;
    const raw = Buffer.concat([this.raw.subarray(0, from), newApp, this.raw.subarray(to)]);
    // Only the application properties changed: the other sections move, and the message id and
    // envelope stay what they were (no need to parse the new bytes again).
    const shift = newApp.length - (to - from);
    const sections: Section[] = [];
    for (const s of this.sections) {
      if (s.end <= from && s !== app) sections.push(s);
      else if (s === app) continue;
      else sections.push({ code: s.code, start: s.start + shift, valueStart: s.valueStart + shift, end: s.end + shift });
    }
    const at = sections.findIndex((s) => s.start > from);
    sections.splice(at < 0 ? sections.length : at, 0, { code: SECTION.applicationProperties, start: from, valueStart: from + 3, end: from + newApp.length });
    return new AmqpPayload(raw, sections, this.messageId, this);
  }

  private bodyStart(): number {
    const s = this.sections.find((x) => x.code >= SECTION.applicationProperties);
    return s ? s.start : this.raw.length;
  }
}

function decodeFilterView(raw: Buffer, messageId: string, props: Section | undefined, app: Section | undefined): FilterView {
  const p = props ? decodeSection(raw, props) : {};
  const a = app ? decodeSection(raw, app) : {};
  return {
    messageId,
    correlationId: asString(p.correlation_id),
    to: asString(p.to),
    replyTo: asString(p.reply_to),
    subject: asString(p.subject),
    sessionId: asString(p.group_id),
    replyToSessionId: asString(p.reply_to_group_id),
    contentType: asString(p.content_type),
    applicationProperties: (a.application_properties as Record<string, unknown> | undefined) ?? {},
  };
}

/** A filter view decoded when a field is first read. */
class DeferredFilterView implements FilterView {
  private decoded: FilterView | undefined;

  constructor(
    readonly messageId: string,
    private readonly decode: () => FilterView,
  ) {}

  private get view(): FilterView {
    return (this.decoded ??= this.decode());
  }
  get correlationId() {
    return this.view.correlationId;
  }
  get to() {
    return this.view.to;
  }
  get replyTo() {
    return this.view.replyTo;
  }
  get subject() {
    return this.view.subject;
  }
  get sessionId() {
    return this.view.sessionId;
  }
  get replyToSessionId() {
    return this.view.replyToSessionId;
  }
  get contentType() {
    return this.view.contentType;
  }
  get applicationProperties() {
    return this.view.applicationProperties;
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
  let props = findSection(sections, SECTION.properties);
  let messageId: string | undefined;
  if (props) messageId = readMessageId(raw, props);
  if (messageId === undefined) {
    messageId = randomUUID();
    raw = withMessageId(raw, sections, props, messageId);
    sections = splitSections(raw);
  }
  return new AmqpPayload(raw, sections, messageId, readEnvelope(raw, sections));
}

function findSection(sections: Section[], code: number): Section | undefined {
  for (const s of sections) if (s.code === code) return s;
  return undefined;
}

// The fields the broker needs from the properties, header and annotations are read from the
// bytes when the section is plain (see `plainElements`); anything else is decoded by rhea, as it
// always was, so that odd encodings give the same values (or errors) as before.

function decodeSection(raw: Buffer, s: Section): Record<string, unknown> {
  return rheaMessage.decode(raw.subarray(s.start, s.end)) as Record<string, unknown>;
}

function readMessageId(raw: Buffer, props: Section): string | undefined {
  const fields = plainElements(raw, props.valueStart, props.end, false);
  if (fields) {
    if (fields.length === 0) return undefined;
    const pos = fields[0]!;
    const c = raw[pos];
    if (c === 0x40) return undefined;
    if (c === 0xa1) return raw.toString('utf8', pos + 2, pos + 2 + raw[pos + 1]!);
    if (c === 0xb1) return raw.toString('utf8', pos + 5, pos + 5 + raw.readUInt32BE(pos + 1));
    if (c === 0x98) return uuidToString(raw.subarray(pos + 1, pos + 17));
  }
  return messageIdToString(decodeSection(raw, props).message_id);
}

const SCHEDULED_ENQUEUE_TIME = Buffer.from('x-opt-scheduled-enqueue-time', 'latin1');

function readEnvelope(raw: Buffer, sections: Section[]): Envelope {
  const envelope: Envelope = { durable: false, priority: 4, ttlMs: undefined, scheduledEnqueueTime: undefined };
  const header = findSection(sections, SECTION.header);
  if (header && !readHeader(raw, header, envelope)) {
    const h = decodeSection(raw, header);
    envelope.durable = h.durable === true;
    envelope.priority = typeof h.priority === 'number' ? h.priority : 4;
    envelope.ttlMs = typeof h.ttl === 'number' && h.ttl > 0 ? h.ttl : undefined;
  }
  const ann = findSection(sections, SECTION.messageAnnotations);
  if (ann && !readScheduledTime(raw, ann, envelope)) {
    const annotations = decodeSection(raw, ann).message_annotations as Record<string, unknown> | undefined;
    const scheduled = annotations?.['x-opt-scheduled-enqueue-time'];
    envelope.scheduledEnqueueTime = scheduled instanceof Date ? scheduled.getTime() : typeof scheduled === 'number' ? scheduled : undefined;
  }
  return envelope;
}

/** Durable, priority and TTL from a plain header in the usual encodings; false: let rhea decode it. */
function readHeader(raw: Buffer, header: Section, out: Envelope): boolean {
  const fields = plainElements(raw, header.valueStart, header.end, false);
  if (!fields) return false;
  const durable = fields.length > 0 ? raw[fields[0]!] : 0x40;
  if (durable !== 0x40 && durable !== 0x41 && durable !== 0x42) return false;
  const priority = fields.length > 1 ? raw[fields[1]!] : 0x40;
  if (priority !== 0x40 && priority !== 0x50) return false;
  let ttl: number | undefined;
  if (fields.length > 2) {
    const pos = fields[2]!;
    const c = raw[pos];
    if (c === 0x70) ttl = raw.readUInt32BE(pos + 1);
    else if (c === 0x52) ttl = raw[pos + 1];
    else if (c === 0x43) ttl = 0;
    else if (c !== 0x40) return false;
  }
  out.durable = durable === 0x41;
  out.priority = priority === 0x50 ? raw[fields[1]! + 1]! : 4;
  out.ttlMs = ttl !== undefined && ttl > 0 ? ttl : undefined;
  return true;
}

/** `x-opt-scheduled-enqueue-time` from plain annotations (absent, null or a timestamp); false: let rhea decode them. */
function readScheduledTime(raw: Buffer, ann: Section, out: Envelope): boolean {
  const entries = plainElements(raw, ann.valueStart, ann.end, true);
  if (!entries) return false;
  let value = -1; // offset of the last value under that key (a later key wins, as in rhea's map)
  for (let i = 0; i < entries.length; i += 2) {
    const key = entries[i]!;
    const c = raw[key]!;
    const start = key + (c === 0xa1 || c === 0xa3 ? 2 : 5);
    const end = entries[i + 1]!;
    // Keys rhea would read differently (bytes above 0x7f, or `__proto__`) go to rhea.
    for (let j = start; j < end; j++) if (raw[j]! > 0x7f) return false;
    if (end - start === 9 && raw.toString('latin1', start, end) === '__proto__') return false;
    if (end - start === SCHEDULED_ENQUEUE_TIME.length && SCHEDULED_ENQUEUE_TIME.equals(raw.subarray(start, end))) value = end;
  }
  if (value < 0 || raw[value] === 0x40) {
    out.scheduledEnqueueTime = undefined;
    return true;
  }
  if (raw[value] !== 0x83) return false;
  // rhea reads a timestamp as a Date of the 64-bit value when it is within ±2^53 (else of its bytes).
  const hi = raw.readInt32BE(value + 1);
  if (hi >= 2097153 || hi <= -2097153) return false;
  out.scheduledEnqueueTime = new Date(hi * 4294967296 + raw.readUInt32BE(value + 5)).getTime();
  return true;
}

/** Deepest nesting of lists and maps read here; deeper ones go to rhea. */
const MAX_PLAIN_DEPTH = 16;

/**
 * Start offsets of the elements of the list or map at `pos`, when it is "plain": a list or map
 * (for `map`, a map whose keys are strings or symbols) whose elements are primitives or plain
 * lists and maps, and which fill it exactly, ending at `end`. rhea decodes such a value without
 * surprises, so its fields may be read from the bytes. Anything else (described values, arrays,
 * unknown codes, sizes or counts that do not add up) gives undefined: the caller then lets rhea
 * decode it. Without `nested`, the elements must be primitives.
 */
function plainElements(buf: Buffer, pos: number, end: number, map: boolean, nested = true): number[] | undefined {
  const c = buf[pos];
  let count: number;
  let first: number;
  let limit: number;
  if (c === 0x45 && !map) {
    return pos + 1 === end ? [] : undefined;
  } else if (c === (map ? 0xc1 : 0xc0)) {
    if (pos + 3 > end) return undefined;
    limit = pos + 2 + buf[pos + 1]!;
    count = buf[pos + 2]!;
    first = pos + 3;
  } else if (c === (map ? 0xd1 : 0xd0)) {
    if (pos + 9 > end) return undefined;
    limit = pos + 5 + buf.readUInt32BE(pos + 1);
    count = buf.readUInt32BE(pos + 5);
    first = pos + 9;
  } else return undefined;
  if (limit !== end || (map && count % 2 !== 0)) return undefined;
  const starts: number[] = [];
  let at = first;
  for (let i = 0; i < count; i++) {
    if (map && i % 2 === 0) {
      const k = buf[at];
      if (k !== 0xa1 && k !== 0xa3 && k !== 0xb1 && k !== 0xb3) return undefined;
    }
    starts.push(at);
    at = plainEnd(buf, at, end, nested ? 0 : MAX_PLAIN_DEPTH);
    if (at < 0) return undefined;
  }
  return at === end ? starts : undefined;
}

/** Encoded length (code included) of each fixed-width primitive type rhea decodes; 0 for other codes. */
const FIXED_LENGTH = new Uint8Array(256);
for (const [first, last, length] of [
  [0x40, 0x45, 1], // null, true, false, uint0, ulong0, list0
  [0x50, 0x56, 2], // ubyte, byte, smalluint, smallulong, smallint, smalllong, boolean
  [0x60, 0x61, 3], // ushort, short
  [0x70, 0x74, 5], // uint, int, float, char, decimal32
  [0x80, 0x84, 9], // ulong, long, double, timestamp, decimal64
  [0x94, 0x94, 17], // decimal128
  [0x98, 0x98, 17], // uuid
] as const) {
  FIXED_LENGTH.fill(length, first, last + 1);
}

/** Offset just past the plain value at `pos` (see `plainElements`), or -1. */
function plainEnd(buf: Buffer, pos: number, end: number, depth: number): number {
  if (pos >= end) return -1;
  const c = buf[pos]!;
  let next = -1;
  if (FIXED_LENGTH[c]) next = pos + FIXED_LENGTH[c]!;
  else if (c === 0xa0 || c === 0xa1 || c === 0xa3) next = pos + 2 <= end ? pos + 2 + buf[pos + 1]! : -1;
  else if (c === 0xb0 || c === 0xb1 || c === 0xb3) next = pos + 5 <= end ? pos + 5 + buf.readUInt32BE(pos + 1) : -1;
  else if ((c === 0xc0 || c === 0xc1 || c === 0xd0 || c === 0xd1) && depth < MAX_PLAIN_DEPTH) {
    const head = c >= 0xd0 ? 9 : 3;
    if (pos + head > end) return -1;
    const limit = c >= 0xd0 ? pos + 5 + buf.readUInt32BE(pos + 1) : pos + 2 + buf[pos + 1]!;
    const count = c >= 0xd0 ? buf.readUInt32BE(pos + 5) : buf[pos + 2]!;
    if (limit > end || limit < pos + head) return -1;
    let at = pos + head;
    for (let i = 0; i < count && at >= 0; i++) at = plainEnd(buf, at, limit, depth + 1);
    return at === limit ? limit : -1;
  }
  return next >= 0 && next <= end ? next : -1;
}

/**
 * Sets the first field (message-id) of the properties section, adding the section if absent.
 * The id is a UUID string (ASCII, 36 bytes), written with the rest into one new buffer.
 */
function withMessageId(raw: Buffer, sections: Section[], props: Section | undefined, id: string): Buffer {
  let from: number; // where the new properties section goes
  let to: number; // where the message resumes after it
  let count: number;
  let rest: Buffer; // the properties' fields after the message-id
  if (props) {
    const elements = compoundElements(raw, props.valueStart, props.end);
    count = Math.max(elements.count, 1);
    rest = elements.count > 0 ? elements.elements.subarray(skipValue(elements.elements, 0)) : EMPTY;
    from = props.start;
    to = props.end;
  } else {
    count = 1;
    rest = EMPTY;
    from = to = sections.find((s) => s.code >= SECTION.applicationProperties)?.start ?? raw.length;
  }
  const idLength = Buffer.byteLength(id, 'utf8');
  const idBytes = (idLength <= 255 ? 2 : 5) + idLength;
  const body = idBytes + rest.length;
  const out = Buffer.allocUnsafe(from + 12 + body + raw.length - to);
  raw.copy(out, 0, 0, from);
  let at = sectionHead(out, from, SECTION.properties, 0xd0, body, count);
  if (idLength <= 255) {
    out[at++] = 0xa1;
    out[at++] = idLength;
  } else {
    out[at] = 0xb1;
    out.writeUInt32BE(idLength, at + 1);
    at += 5;
  }
  at += out.write(id, at, 'utf8');
  at += rest.copy(out, at);
  raw.copy(out, at, to);
  return out;
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
  if (m.state !== 'active') {
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
  out[at++] = m.deliveryCount === 0 ? 0x41 : 0x42;
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
  if (m.state !== 'active') {
    at += ANNOTATION_KEYS.messageState.copy(out, at);
    out[at] = 0x71;
    out.writeInt32BE(MESSAGE_STATE[m.state], at + 1);
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

/** Writes a section's head (descriptor, list32/map32 code, size, count); returns the offset after it. */
function sectionHead(out: Buffer, at: number, code: number, compound: 0xd0 | 0xd1, bodyLength: number, count: number): number {
  out[at] = 0x00;
  out[at + 1] = 0x53;
  out[at + 2] = code;
  out[at + 3] = compound;
  out.writeUInt32BE(bodyLength + 4, at + 4);
  out.writeUInt32BE(count, at + 8);
  return at + 12;
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

function symbolAt(buf: Buffer, pos: number): string {
  const c = buf[pos];
  if (c === 0xa3 || c === 0xa1) return buf.toString('utf8', pos + 2, pos + 2 + buf[pos + 1]!);
  if (c === 0xb3 || c === 0xb1) return buf.toString('utf8', pos + 5, pos + 5 + buf.readUInt32BE(pos + 1));
  return '';
}
