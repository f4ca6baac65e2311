import rhea from 'rhea';
import { describe, expect, it } from 'vitest';
import { encodeForDelivery } from '../../src/amqp/delivery.js';
import { swapGuidByteOrder, uuidToString } from '../../src/amqp/guid.js';
import { parsePayload } from '../../src/amqp/payload.js';
import { splitBatch, splitSections } from '../../src/amqp/sections.js';
import type { BrokerMessage } from '../../src/broker/message.js';
import { EmulatorError } from '../../src/errors.js';

const { message: amqp, types } = rhea;

const encode = (m: Record<string, unknown>) => amqp.encode(m as never);

function broker(payload: ReturnType<typeof parsePayload>, over: Partial<BrokerMessage> = {}): BrokerMessage {
  return {
    subqueue: 'q',
    seq: 7,
    payload,
    state: 'active',
    enqueuedAt: Date.UTC(2030, 0, 1),
    scheduledAt: undefined,
    expiresAt: Infinity,
    deliveryCount: 2,
    deadLetterSource: undefined,
    lock: undefined,
    readyIn: undefined,
    removed: false,
    ...over,
  };
}

describe('lock tokens', () => {
  it('delivery tags carry the token in .NET GUID byte order', () => {
    const standard = Buffer.from('0123456789abcdef0123456789abcdef', 'hex');
    expect(swapGuidByteOrder(standard).toString('hex')).toBe('67452301ab89efcd0123456789abcdef');
    expect(swapGuidByteOrder(swapGuidByteOrder(standard))).toEqual(standard);
    expect(uuidToString(standard)).toBe('01234567-89ab-cdef-0123-456789abcdef');
  });
});

describe('message codec', () => {
  it('keeps properties, application properties and body byte-for-byte', () => {
    const raw = encode({
      message_id: 'id-1',
      subject: 's',
      application_properties: { a: types.wrap_long(5), b: 'x' },
      body: amqp.data_section(Buffer.from('hello')),
    });
    const p = parsePayload(raw);
    expect(p.raw).toBe(raw);
    expect(p.messageId).toBe('id-1');
    expect(p.filterView()).toMatchObject({ messageId: 'id-1', subject: 's', applicationProperties: { a: 5, b: 'x' } });
    const delivered = encodeForDelivery(broker(p));
    const bare = splitSections(raw).find((s) => s.code === 0x73)!;
    expect(delivered.subarray(delivered.length - (raw.length - bare.start))).toEqual(raw.subarray(bare.start));
  });

  it('assigns a message id when there is none, with or without a properties section', () => {
    const withoutProps = parsePayload(encode({ body: 'x' }));
    expect(withoutProps.messageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(amqp.decode(withoutProps.raw).message_id).toBe(withoutProps.messageId);
    const withProps = parsePayload(encode({ subject: 'keep', correlation_id: 'c', body: 'x' }));
    const decoded = amqp.decode(withProps.raw);
    expect(decoded).toMatchObject({ message_id: withProps.messageId, subject: 'keep', correlation_id: 'c', body: 'x' });
  });

  it('rebuilds header and annotations on delivery', () => {
    const raw = encode({
      message_id: 'id',
      ttl: 5000,
      durable: true,
      message_annotations: { 'x-opt-partition-key': 'pk', 'x-opt-sequence-number': 999 },
      body: 'b',
    });
    const lock = { token: Buffer.alloc(16), tokenString: '', lockedUntil: Date.UTC(2030, 0, 2), timer: undefined, owner: 'c' };
    const out = amqp.decode(encodeForDelivery(broker(parsePayload(raw), { lock, state: 'deferred' })));
    expect(out).toMatchObject({ durable: true, ttl: 5000, delivery_count: 2, message_id: 'id', body: 'b' });
    expect(out.message_annotations).toMatchObject({
      'x-opt-partition-key': 'pk',
      'x-opt-sequence-number': 7,
      'x-opt-message-state': 1,
    });
    expect((out.message_annotations as Record<string, Date>)['x-opt-enqueued-time']!.getTime()).toBe(Date.UTC(2030, 0, 1));
    expect((out.message_annotations as Record<string, Date>)['x-opt-locked-until']!.getTime()).toBe(Date.UTC(2030, 0, 2));
  });

  it('adds and replaces application properties, keeping the others', () => {
    const p = parsePayload(encode({ message_id: 'id', application_properties: { keep: 1, DeadLetterReason: 'old' }, body: 'b' }));
    const q = p.withApplicationProperties({ DeadLetterReason: 'new', DeadLetterErrorDescription: 'why' });
    expect(amqp.decode(q.raw)).toMatchObject({
      message_id: 'id',
      application_properties: { keep: 1, DeadLetterReason: 'new', DeadLetterErrorDescription: 'why' },
      body: 'b',
    });
    const r = parsePayload(encode({ message_id: 'id', body: 'b' })).withApplicationProperties({ x: 'y' });
    expect(amqp.decode(r.raw)).toMatchObject({ application_properties: { x: 'y' }, body: 'b' });
  });

  it('gives a copy with changed application properties that reads as its bytes parsed afresh', () => {
    const messages = [
      { message_id: 'id', application_properties: { keep: 1, replace: 'old' }, body: 'b' },
      { message_id: 'id', body: 'b' },
      { message_id: 'id', application_properties: { a: 1 } },
      { message_id: 'id' },
      {
        durable: true,
        ttl: 5000,
        message_id: 'id',
        subject: 's',
        message_annotations: { 'x-opt-partition-key': 'p' },
        application_properties: { a: 'x', replace: 2 },
        body: amqp.data_section(Buffer.from('bytes')),
        footer: { f: 'g' },
      },
    ];
    const changes = [{ replace: 'new', added: 'x'.repeat(300) }, { n: 42, when: new Date(0), 'ü': 'é' }, { gone: null }];
    for (const m of messages) {
      for (const c of changes) {
        const copy = parsePayload(encode(m)).withApplicationProperties(c) as ReturnType<typeof parsePayload>;
        const fresh = parsePayload(copy.raw);
        expect((copy as unknown as { sections: unknown }).sections).toEqual(splitSections(copy.raw));
        expect(encodeForDelivery(broker(copy))).toEqual(encodeForDelivery(broker(fresh)));
        expect(copy.filterView().applicationProperties).toEqual(fresh.filterView().applicationProperties);
        expect([copy.messageId, copy.ttlMs, copy.scheduledEnqueueTime]).toEqual([fresh.messageId, fresh.ttlMs, fresh.scheduledEnqueueTime]);
        // and once more, from the copy's own idea of where its sections are
        expect(copy.withApplicationProperties({ z: 'z' }).raw).toEqual(fresh.withApplicationProperties({ z: 'z' }).raw);
      }
    }
  });

  it('splits a batch into its messages', () => {
    const one = encode({ message_id: '1', body: 'a' });
    const two = encode({ message_id: '2', body: 'b' });
    const batch = encode({ body: amqp.data_sections([one, two]) });
    expect(splitBatch(batch)).toEqual([one, two]);
  });

  it('reports malformed bytes as InvalidRequest, never anything worse', () => {
    for (const bad of [Buffer.from([0x00, 0x53]), Buffer.from([0x01, 0x02, 0x03]), Buffer.from([0x00, 0x53, 0x77, 0xb1, 0xff, 0xff, 0xff, 0xff]), Buffer.from([0x00, 0x53, 0x99, 0x40])]) {
      expect(() => parsePayload(bad)).toThrow(EmulatorError);
      try {
        parsePayload(bad);
      } catch (e) {
        expect((e as EmulatorError).code).toBe('InvalidRequest');
      }
    }
  });
});
