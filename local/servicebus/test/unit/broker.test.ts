// The broker without AMQP: fake consumers, the memory store, real timers with short durations.
import rhea from 'rhea';
import { describe, expect, it } from 'vitest';
import { parsePayload } from '../../src/amqp/payload.js';
import { Broker } from '../../src/broker/broker.js';
import type { Consumer } from '../../src/broker/entities.js';
import type { BrokerMessage } from '../../src/broker/message.js';
import { silentLogger } from '../../src/log.js';
import { MemoryStore } from '../../src/store/memory.js';

const payload = (id: string, extra: Record<string, unknown> = {}) => parsePayload(rhea.message.encode({ message_id: id, body: id, ...extra } as never));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function consumer(credit: number, receiveAndDelete = false) {
  const got: BrokerMessage[] = [];
  const c: Consumer & { got: BrokerMessage[]; credit(): number } = {
    owner: 'test',
    receiveAndDelete,
    got,
    credit: () => credit - got.length,
    deliver: (m) => got.push(m),
    detach: () => {},
  };
  return c;
}

function setup() {
  const broker = new Broker({ store: new MemoryStore(), parse: parsePayload, autoCreate: false, logger: silentLogger });
  return broker;
}

describe('broker', () => {
  it('hands competing consumers distinct messages, round-robin', () => {
    const broker = setup();
    broker.namespace.putQueue('q');
    const a = consumer(10);
    const b = consumer(10);
    const sq = broker.subqueue('Q');
    broker.addConsumer(sq, a);
    broker.addConsumer(sq, b);
    broker.send(broker.sendTarget('q'), ['1', '2', '3', '4'].map((id) => payload(id)));
    expect(a.got.map((m) => m.payload.messageId)).toEqual(['1', '3']);
    expect(b.got.map((m) => m.payload.messageId)).toEqual(['2', '4']);
    broker.close();
  });

  it('expires a lock on its timer and redelivers with delivery count + 1', async () => {
    const broker = setup();
    broker.namespace.putQueue('q', { lockDurationMs: 100 });
    const sq = broker.subqueue('q');
    const c = consumer(2);
    broker.addConsumer(sq, c);
    broker.send(broker.sendTarget('q'), [payload('x')]);
    const first = c.got[0]!;
    const token = first.lock!.tokenString;
    expect(first.deliveryCount).toBe(0);
    await sleep(180);
    expect(c.got).toHaveLength(2);
    expect(c.got[1]!.deliveryCount).toBe(1);
    expect(() => broker.settle(token, { kind: 'complete' })).toThrow(/lock supplied is invalid/);
    broker.settle(c.got[1]!.lock!.tokenString, { kind: 'complete' });
    expect(broker.namespace.getQueue('q')!.messageCount).toBe(0);
    broker.close();
  });

  it('fans out only to subscriptions whose rules match, sharing the sequence number', () => {
    const broker = setup();
    const ns = broker.namespace;
    ns.putTopic('t');
    ns.putSubscription('t', 'all');
    ns.putSubscription('t', 'some', {}, [{ name: 'r', filter: { kind: 'correlation', subject: 'yes' } }]);
    broker.send(broker.sendTarget('t'), [payload('a', { subject: 'yes' }), payload('b', { subject: 'no' })]);
    expect(ns.getSubscription('t', 'all')!.activeMessageCount).toBe(2);
    expect(ns.getSubscription('t', 'some')!.activeMessageCount).toBe(1);
    expect(broker.peek(broker.subqueue('t/subscriptions/some'), 0, 10).map((m) => m.seq)).toEqual([1]);
    broker.close();
  });

  it('refuses unknown entities unless auto-create is on', () => {
    const broker = setup();
    expect(() => broker.sendTarget('nope')).toThrow(/The messaging entity 'nope' could not be found/);
    expect(() => broker.subqueue('t/Subscriptions/s')).toThrow(/could not be found/);
    const auto = new Broker({ store: new MemoryStore(), parse: parsePayload, autoCreate: true, logger: silentLogger });
    expect(auto.subqueue('T/Subscriptions/S').path).toBe('T/Subscriptions/S');
    expect(auto.sendTarget('fresh').name).toBe('fresh');
    broker.close();
    auto.close();
  });
});
