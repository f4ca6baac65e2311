import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { boundDispositionRanges, transferFrame } from '../../src/amqp/rhea-internals.js';

/** A session shaped as rhea's: each side holds its unsettled deliveries contiguously by id. */
function fakeSession(ids: number[]) {
  const seen: Array<{ side: string; first: number; last?: number }> = [];
  const side = (name: string) => ({
    deliveries: {
      get_head: () => (ids.length ? { id: ids[0]! } : undefined),
      get_tail: () => (ids.length ? { id: ids[ids.length - 1]! } : undefined),
    },
    on_disposition(fields: { first: number; last?: number }) {
      seen.push({ side: name, first: fields.first, last: fields.last });
    },
  });
  return { session: { incoming: side('incoming'), outgoing: side('outgoing') }, seen };
}

describe('boundDispositionRanges', () => {
  it('clamps a disposition range to the deliveries the session holds', () => {
    const { session, seen } = fakeSession([5, 6, 7]);
    boundDispositionRanges(session as never);
    session.outgoing.on_disposition({ first: 0, last: 0xffffffff });
    session.incoming.on_disposition({ first: 6 });
    expect(seen).toEqual([{ side: 'outgoing', first: 5, last: 7 }, { side: 'incoming', first: 6, last: 6 }]);
  });

  it("keeps the frame's other fields, which rhea holds behind accessors", () => {
    const { session } = fakeSession([5]);
    const received: unknown[] = [];
    session.outgoing.on_disposition = (fields) => void received.push(fields);
    boundDispositionRanges(session as never);
    const frames = createRequire(import.meta.url)('rhea/lib/frames.js') as { disposition(f: object): object };
    const fields = frames.disposition({ role: true, first: 0, last: 9, settled: true });
    session.outgoing.on_disposition(fields as never);
    expect(received[0]).toBe(fields);
    expect(received[0]).toMatchObject({ role: true, first: 5, last: 5, settled: true });
  });

  it('ignores a range that holds none of them, and any range when nothing is unsettled', () => {
    const { session, seen } = fakeSession([5, 6, 7]);
    boundDispositionRanges(session as never);
    session.outgoing.on_disposition({ first: 8, last: 0xffffffff });
    session.incoming.on_disposition({ first: 0, last: 4 });
    const empty = fakeSession([]);
    boundDispositionRanges(empty.session as never);
    empty.session.outgoing.on_disposition({ first: 0, last: 0xffffffff });
    expect([...seen, ...empty.seen]).toEqual([]);
  });
});

describe('transferFrame', () => {
  it("writes the bytes rhea's frame encoder writes for an unsettled transfer", () => {
    const frames = createRequire(import.meta.url)('rhea/lib/frames.js') as {
      transfer(fields: Record<string, unknown>): unknown;
      amqp_frame(channel: number, performative: unknown, payload: Buffer): unknown;
      write_frame(frame: unknown): Buffer;
    };
    const payload = Buffer.from('the message');
    for (const channel of [0, 1, 300, 65535]) {
      for (const handle of [0, 1, 255, 256, 0xffffffff]) {
        for (const id of [0, 7, 255, 256, 70000, 0xffffffff]) {
          for (const tag of [Buffer.alloc(16, 9), Buffer.from('12'), Buffer.alloc(0), Buffer.alloc(255, 1)]) {
            const rhea = frames.write_frame(
              frames.amqp_frame(channel, frames.transfer({ handle, message_format: 0, delivery_id: id, delivery_tag: tag, settled: false, more: false }), payload),
            );
            expect(transferFrame(channel, handle, id, tag, payload)).toEqual(rhea);
          }
        }
      }
    }
  });
});
