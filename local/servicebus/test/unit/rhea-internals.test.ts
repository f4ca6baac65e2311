import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { boundDispositionRanges } from '../../src/amqp/rhea-internals.js';

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
