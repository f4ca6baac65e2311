// A received message as the broker keeps it: its bytes, byte for byte, with the fields the broker
// needs (message id, TTL, durable, priority, scheduled time) decoded once by rhea. A message
// without an id gets one; a copy with changed application properties splices only that section.
import { randomUUID } from 'node:crypto';
import rhea from 'rhea';
import type { FilterView, MessagePayload } from '../broker/message.js';
import { decodeFilterView } from './filter-view.js';
import { messageIdToString } from './guid.js';
import {
  EMPTY,
  SECTION,
  compoundElements,
  decodeSection,
  findSection,
  section,
  sectionHead,
  skipValue,
  splitSections,
  str,
  symbolAt,
  type Section,
} from './sections.js';

/** Annotations the broker sets; the sender's values for these keys are dropped. */
export const brokerAnnotations = new Set([
  'x-opt-sequence-number',
  'x-opt-enqueued-time',
  'x-opt-locked-until',
  'x-opt-message-state',
  'x-opt-deadletter-source',
  'x-opt-enqueue-sequence-number',
]);

/** What `parsePayload` reads from the header and message annotations. */
interface Envelope {
  durable: boolean;
  priority: number;
  firstAcquirer: boolean;
  ttlMs: number | undefined;
  scheduledEnqueueTime: number | undefined;
}

export class AmqpPayload implements MessagePayload {
  readonly messageId: string;
  readonly ttlMs: number | undefined;
  readonly scheduledEnqueueTime: number | undefined;
  /** Header fields kept on delivery. */
  readonly durable: boolean;
  readonly priority: number;
  /** The sender's `first-acquirer`, handed back as sent (as Azure does). */
  readonly firstAcquirer: boolean;
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
    this.firstAcquirer = envelope.firstAcquirer;
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

  /** The fields correlation filters match, decoded by rhea on first use (topic messages only). */
  filterView(): FilterView {
    this.filterCache ??= decodeFilterView(this.raw, this.messageId, this.find(SECTION.properties), this.find(SECTION.applicationProperties));
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
  const props = findSection(sections, SECTION.properties);
  let messageId: string | undefined;
  if (props) messageId = readMessageId(raw, props);
  if (messageId === undefined) {
    messageId = randomUUID();
    raw = withMessageId(raw, sections, props, messageId);
    sections = splitSections(raw);
  }
  return new AmqpPayload(raw, sections, messageId, readEnvelope(raw, sections));
}

function readMessageId(raw: Buffer, props: Section): string | undefined {
  return messageIdToString(decodeSection(raw, props).message_id);
}

function readEnvelope(raw: Buffer, sections: Section[]): Envelope {
  const envelope: Envelope = { durable: false, priority: 4, firstAcquirer: false, ttlMs: undefined, scheduledEnqueueTime: undefined };
  const header = findSection(sections, SECTION.header);
  if (header) {
    const h = decodeSection(raw, header);
    envelope.durable = h.durable === true;
    envelope.priority = typeof h.priority === 'number' ? h.priority : 4;
    envelope.firstAcquirer = h.first_acquirer === true;
    envelope.ttlMs = typeof h.ttl === 'number' && h.ttl > 0 ? h.ttl : undefined;
  }
  const ann = findSection(sections, SECTION.messageAnnotations);
  if (ann) {
    const annotations = decodeSection(raw, ann).message_annotations as Record<string, unknown> | undefined;
    const scheduled = annotations?.['x-opt-scheduled-enqueue-time'];
    envelope.scheduledEnqueueTime = scheduled instanceof Date ? scheduled.getTime() : typeof scheduled === 'number' ? scheduled : undefined;
  }
  return envelope;
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
