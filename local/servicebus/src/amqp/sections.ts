// AMQP message bytes walked without decoding: the sections of a message, the messages of a batch,
// the elements of a list or map, and the few encoders that write sections back. A section is
// decoded (by rhea) only where a field of it is needed.
import rhea from 'rhea';
import { invalidRequest } from '../errors.js';

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

export const EMPTY = Buffer.alloc(0);

export function malformed(what: string): Error {
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

/** Elements (raw bytes) and count of the list or map that starts at `pos`. */
export function compoundElements(buf: Buffer, pos: number, end: number): { count: number; elements: Buffer } {
  const c = buf[pos]!;
  if (c === 0x45) return { count: 0, elements: Buffer.alloc(0) };
  if (c === 0xc0 || c === 0xc1) return { count: buf[pos + 2]!, elements: buf.subarray(pos + 3, end) };
  if (c === 0xd0 || c === 0xd1) return { count: buf.readUInt32BE(pos + 5), elements: buf.subarray(pos + 9, end) };
  throw malformed('expected a list or map');
}

/** The first section with `code`. */
export function findSection(sections: Section[], code: number): Section | undefined {
  for (const s of sections) if (s.code === code) return s;
  return undefined;
}

/** One section, decoded by rhea. */
export function decodeSection(raw: Buffer, s: Section): Record<string, unknown> {
  return rhea.message.decode(raw.subarray(s.start, s.end)) as Record<string, unknown>;
}

/** The key (a symbol or string) at `pos` of a map, as text; '' for any other type. */
export function symbolAt(buf: Buffer, pos: number): string {
  const c = buf[pos];
  if (c === 0xa3 || c === 0xa1) return buf.toString('utf8', pos + 2, pos + 2 + buf[pos + 1]!);
  if (c === 0xb3 || c === 0xb1) return buf.toString('utf8', pos + 5, pos + 5 + buf.readUInt32BE(pos + 1));
  return '';
}

// ---- writing ----

function encodeString(s: string, code8: number, code32: number): Buffer {
  const bytes = Buffer.from(s, 'utf8');
  if (bytes.length <= 255) return Buffer.concat([Buffer.from([code8, bytes.length]), bytes]);
  const head = Buffer.alloc(5);
  head[0] = code32;
  head.writeUInt32BE(bytes.length, 1);
  return Buffer.concat([head, bytes]);
}
export const str = (s: string) => encodeString(s, 0xa1, 0xb1);
export const sym = (s: string) => encodeString(s, 0xa3, 0xb3);

/** A described section: 0x00 0x53 code, then a list32/map32 holding `count` encoded elements. */
export function section(code: number, compound: 0xd0 | 0xd1, count: number, elements: Buffer[]): Buffer {
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

/** Writes a section's head (descriptor, list32/map32 code, size, count); returns the offset after it. */
export function sectionHead(out: Buffer, at: number, code: number, compound: 0xd0 | 0xd1, bodyLength: number, count: number): number {
  out[at] = 0x00;
  out[at + 1] = 0x53;
  out[at + 2] = code;
  out[at + 3] = compound;
  out.writeUInt32BE(bodyLength + 4, at + 4);
  out.writeUInt32BE(count, at + 8);
  return at + 12;
}
