// Sessions in the broker without AMQP: fake consumers, the memory store, real timers with short
// durations. The SDK-facing behaviour is in test/sessions.test.ts.
import rhea from 'rhea';
import { describe, expect, it } from 'vitest';
import { parsePayload } from '../../src/amqp/payload.js';
import { Broker } from '../../src/broker/broker.js';
import type { Consumer } from '../../src/broker/entities.js';
import type { BrokerMessage } from '../../src/broker/message.js';
import { silentLogger } from '../../src/log.js';
import { MemoryStore } from '../../src/store/memory.js';

const message = (body: string, session?: string) =>
  parsePayload(rhea.message.encode({ message_id: body, body, ...(session === undefined ? {} : { group_id: session }) } as never));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function consumer(credit: number, owner = 'conn-1') {
  const got: BrokerMessage[] = [];
  const detached: Error[] = [];
  const c: Consumer & { got: BrokerMessage[]; detached: Error[] } = {
    owner,
    receiveAndDelete: false,
    got,
    detached,
    credit: () => credit - got.length,
    deliver: (m) => got.push(m),
    detach: (e) => detached.push(e),
  };
  return c;
}

function setup(lockDurationMs = 60_000) {
  const broker = new Broker({ store: new MemoryStore(), parse: parsePayload, autoCreate: false, logger: silentLogger });
  broker.namespace.putQueue('q', { requiresSession: true, lockDurationMs });
  return { broker, sq: broker.subqueue('q'), target: broker.sendTarget('q') };
}

const bodies = (c: { got: BrokerMessage[] }) => c.got.map((m) => m.payload.messageId);

describe('sessions in the broker', () => {
  it('delivers a session to its holder only, in sequence order, and never to a second holder', () => {
    const { broker, sq, target } = setup();
    broker.send(target, [message('a1', 'a'), message('b1', 'b'), message('a2', 'a')]);
    const a = consumer(10);
    const holder = broker.sessions.accept(sq, 'a', a);
    broker.pumpFor(sq, a);
    expect(bodies(a)).toEqual(['a1', 'a2']);
    expect(a.got.every((m) => m.lock!.lockedUntil === holder.lockedUntil)).toBe(true);
    expect(() => broker.sessions.accept(sq, 'A', consumer(10))).toThrow(/cannot be accepted/);
    expect(() => broker.renewLocks(sq, [a.got[0]!.lock!.tokenString])).toThrow(/renew the session lock/);
    broker.close();
  });

  it('gives a waiting receiver the first session that gets a message', () => {
    const { broker, sq, target } = setup();
    const waiting = consumer(10);
    const granted: string[] = [];
    broker.sessions.wait(sq, waiting, 10_000, new Error('timeout'), { stillWaiting: () => true, granted: (h) => granted.push(h.sessionId), ended: () => granted.push('ended') });
    broker.send(target, [message('late', 'late')]);
    expect(granted).toEqual(['late']);
    expect(broker.sessions.acceptNext(sq, consumer(10))).toBeUndefined(); // the only session is held
    broker.close();
  });

  it('skips a waiting receiver that is gone without a word (its AMQP session ended)', () => {
    const { broker, sq, target } = setup();
    const events: string[] = [];
    const wait = (name: string, present: boolean) =>
      broker.sessions.wait(sq, consumer(10), 10_000, new Error('timeout'), {
        stillWaiting: () => present,
        granted: (h) => events.push(`${name} got ${h.sessionId}`),
        ended: (e) => events.push(`${name} ended${e ? ` (${e.message})` : ''}`),
      });
    wait('gone', false);
    wait('present', true);
    broker.send(target, [message('m', 's')]);
    expect(events).toEqual(['gone ended', 'present got s']);
    broker.close();
  });

  it('releases a closed holder’s session: its unsettled messages come back in order, delivery count + 1', () => {
    const { broker, sq, target } = setup();
    broker.send(target, [message('1', 's'), message('2', 's'), message('3', 's')]);
    const first = consumer(2);
    broker.sessions.accept(sq, 's', first);
    broker.pumpFor(sq, first);
    expect(bodies(first)).toEqual(['1', '2']);
    broker.removeConsumer(sq, first);
    const next = consumer(10);
    const holder = broker.sessions.acceptNext(sq, next)!;
    expect(holder.sessionId).toBe('s');
    broker.pumpFor(sq, next);
    expect(next.got.map((m) => [m.payload.messageId, m.deliveryCount])).toEqual([['1', 1], ['2', 1], ['3', 0]]);
    expect(() => broker.sessions.assertHolds(first)).toThrow(/session lock/);
    broker.close();
  });

  it('expires a session lock on its timer: the holder is detached and the session is free', async () => {
    const { broker, sq, target } = setup(100);
    broker.send(target, [message('x', 's')]);
    const holder = consumer(10);
    broker.sessions.accept(sq, 's', holder);
    broker.pumpFor(sq, holder);
    await sleep(180);
    expect(holder.detached.map((e) => e.message)).toEqual([expect.stringMatching(/session lock of session 's'/)]);
    expect(() => broker.sessions.assertHolds(holder)).toThrow(/session lock/);
    const next = consumer(10);
    broker.sessions.accept(sq, 's', next);
    broker.pumpFor(sq, next);
    expect(next.got.map((m) => m.deliveryCount)).toEqual([1]);
    broker.close();
  });

  it('keeps session state per session, for the holder on its own connection only', () => {
    const { broker, sq } = setup();
    const holder = broker.sessions.accept(sq, 's', consumer(1, 'conn-1'));
    broker.sessions.setState(holder, Buffer.from('state'));
    expect(broker.sessions.getState(broker.sessions.held(sq, 'S', 'conn-1'))?.toString()).toBe('state');
    expect(() => broker.sessions.held(sq, 's', 'conn-2')).toThrow(/session lock/);
    broker.close();
  });
});
