// Conformance: the emulator driven only through the public @azure/service-bus API, one test per
// behaviour. Runs once per store (memory, SQLite); entity names are unique per test.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServiceBusClient } from '@azure/service-bus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningEmulator, startEmulator } from '../src/index.js';
import { STORES, startOnStore } from './support/per-store.js';
import { errorCode, receiveAll, unique } from './support/sdk.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(STORES)('conformance ($name store)', (store) => {
  let emulator: RunningEmulator;
  let client: ServiceBusClient;
  let close: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    ({ emulator, client, close } = await startOnStore(store));
  });
  afterAll(() => close?.());

  const queue = (props: Parameters<RunningEmulator['catalogue']['putQueue']>[1] = {}) => {
    const name = unique('q');
    emulator.catalogue.putQueue(name, props);
    return name;
  };

  it('sends, receives and completes, keeping body and properties', async () => {
    const q = queue();
    const sent = {
      body: { hello: 'world', n: 1 },
      messageId: 'm-1',
      correlationId: 'c-1',
      subject: 'greeting',
      contentType: 'application/json',
      applicationProperties: { text: 'x', int: 42, flag: true, neg: -7, big: 2 ** 40 },
      timeToLive: 60_000,
    };
    const sender = client.createSender(q);
    await sender.sendMessages(sent);
    const receiver = client.createReceiver(q);
    const [m] = await receiveAll(receiver, 1);
    expect(m).toMatchObject({ ...sent, deliveryCount: 0 });
    expect(m!.sequenceNumber!.toNumber()).toBe(1);
    expect(m!.enqueuedTimeUtc!.getTime()).toBeGreaterThan(Date.now() - 10_000);
    expect(m!.lockedUntilUtc!.getTime()).toBeGreaterThan(Date.now());
    expect(m!.lockToken).toMatch(/^[0-9a-f-]{36}$/);
    await receiver.completeMessage(m!);
    expect(emulator.catalogue.getQueue(q)!.messageCount).toBe(0);
    expect(await receiver.peekMessages(10)).toHaveLength(0);
  });

  it('delivers a batch as separate messages in order, with increasing sequence numbers', async () => {
    const q = queue();
    const sender = client.createSender(q);
    const batch = await sender.createMessageBatch();
    for (let i = 0; i < 10; i++) expect(batch.tryAddMessage({ body: `m${i}` })).toBe(true);
    await sender.sendMessages(batch);
    const receiver = client.createReceiver(q, { receiveMode: 'receiveAndDelete' });
    const got = await receiveAll(receiver, 10);
    expect(got.map((m) => m.body)).toEqual([...Array(10).keys()].map((i) => `m${i}`));
    const seqs = got.map((m) => m.sequenceNumber!.toNumber());
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(got.map((m) => m.messageId)).size).toBe(10);
  });

  it('assigns a message id when the sender gives none', async () => {
    const q = queue();
    await client.createSender(q).sendMessages({ body: 'no id', bodyType: 'value' } as never);
    const [m] = await receiveAll(client.createReceiver(q, { receiveMode: 'receiveAndDelete' }), 1);
    expect(m!.body).toBe('no id');
    expect(typeof m!.messageId).toBe('string');
  });

  it('refuses a wrong SAS key as unauthorized', async () => {
    const q = queue();
    const bad = new ServiceBusClient(emulator.connectionString.replace(/SharedAccessKey=[^;]+/, 'SharedAccessKey=wrong'), {
      retryOptions: { maxRetries: 0 },
    });
    try {
      expect(await errorCode(bad.createSender(q).sendMessages({ body: 'x' }))).toBe('UnauthorizedAccess');
    } finally {
      await bad.close();
    }
  });

  it('reports an unknown entity as MessagingEntityNotFound', async () => {
    const missing = unique('missing');
    expect(await errorCode(client.createSender(missing).sendMessages({ body: 'x' }))).toBe('MessagingEntityNotFound');
    expect(await errorCode(client.createReceiver(missing).receiveMessages(1, { maxWaitTimeInMs: 500 }))).toBe('MessagingEntityNotFound');
  });

  it('expires a lock on its timer: redelivery with delivery count + 1, and a late settle fails with MessageLockLost', async () => {
    const q = queue({ lockDurationMs: 1000 });
    await client.createSender(q).sendMessages({ body: 'locked' });
    // The SDK renews locks on its own by default; this test is about expiry.
    const receiver = client.createReceiver(q, { maxAutoLockRenewalDurationInMs: 0 });
    const [first] = await receiveAll(receiver, 1);
    expect(first!.deliveryCount).toBe(0);
    expect(await receiver.receiveMessages(1, { maxWaitTimeInMs: 300 })).toHaveLength(0);
    await sleep(1300);
    const [again] = await receiveAll(receiver, 1);
    expect(again!.body).toBe('locked');
    expect(again!.deliveryCount).toBe(1);
    expect(again!.lockToken).not.toBe(first!.lockToken);
    expect(await errorCode(receiver.completeMessage(first!))).toBe('MessageLockLost');
    await receiver.completeMessage(again!);
  });

  it('renews a lock', async () => {
    const q = queue({ lockDurationMs: 1000 });
    await client.createSender(q).sendMessages({ body: 'renew me' });
    const receiver = client.createReceiver(q, { maxAutoLockRenewalDurationInMs: 0 });
    const [m] = await receiveAll(receiver, 1);
    const before = m!.lockedUntilUtc!.getTime();
    await sleep(600);
    const until = await receiver.renewMessageLock(m!);
    expect(until.getTime()).toBeGreaterThan(before);
    await sleep(700); // past the original lock, within the renewed one
    await receiver.completeMessage(m!);
    expect(emulator.catalogue.getQueue(q)!.messageCount).toBe(0);
  });

  it('abandons: the message comes back with delivery count + 1', async () => {
    const q = queue();
    await client.createSender(q).sendMessages({ body: 'again' });
    const receiver = client.createReceiver(q);
    const [m] = await receiveAll(receiver, 1);
    await receiver.abandonMessage(m!);
    const [again] = await receiveAll(receiver, 1);
    expect(again!.deliveryCount).toBe(1);
    await receiver.completeMessage(again!);
  });

  // rhea, under both the SDK and the emulator, folded the second of two settlements flushed
  // together into the first one's outcome (fixed by patches/rhea+3.0.5.patch at install).
  it('keeps each outcome when neighbouring messages are settled in the same tick', async () => {
    const q = queue();
    await client.createSender(q).sendMessages(['complete', 'abandon', 'dead-letter', 'defer'].map((body) => ({ body })));
    const receiver = client.createReceiver(q);
    const [completed, abandoned, deadLettered, deferred] = await receiveAll(receiver, 4);
    expect(deferred!.body).toBe('defer');
    await Promise.all([
      receiver.completeMessage(completed!),
      receiver.abandonMessage(abandoned!),
      receiver.deadLetterMessage(deadLettered!, { deadLetterReason: 'Test', deadLetterErrorDescription: 'same tick' }),
      receiver.deferMessage(deferred!),
    ]);
    const [again] = await receiveAll(receiver, 1);
    expect(again).toMatchObject({ body: 'abandon', deliveryCount: 1 });
    await receiver.completeMessage(again!);
    const [later] = await receiver.receiveDeferredMessages(deferred!.sequenceNumber!);
    expect(later!.body).toBe('defer');
    await receiver.completeMessage(later!);
    const dlq = client.createReceiver(q, { subQueueType: 'deadLetter' });
    const [dead] = await receiveAll(dlq, 1);
    expect(dead).toMatchObject({ body: 'dead-letter', deadLetterReason: 'Test' });
    await dlq.completeMessage(dead!);
    expect(emulator.catalogue.getQueue(q)!.messageCount).toBe(0);
  });

  it('answers each of two settlements in the same tick with its own outcome', async () => {
    const q = queue({ lockDurationMs: 2000 });
    await client.createSender(q).sendMessages([{ body: 'expires' }, { body: 'valid' }]);
    const receiver = client.createReceiver(q, { maxAutoLockRenewalDurationInMs: 0 });
    const [expired] = await receiveAll(receiver, 1);
    await sleep(1200);
    const [valid] = await receiveAll(receiver, 1);
    await sleep(1200); // the first lock is gone (2.4 s), the second holds (1.2 s)
    // In delivery order, so that the two answers are neighbours that rhea would fold together.
    const [lost, ok] = await Promise.allSettled([receiver.completeMessage(expired!), receiver.completeMessage(valid!)]);
    expect(ok.status).toBe('fulfilled');
    expect(lost.status === 'rejected' && await errorCode(Promise.reject(lost.reason))).toBe('MessageLockLost');
  });

  it('dead-letters after maxDeliveryCount with MaxDeliveryCountExceeded', async () => {
    const q = queue({ maxDeliveryCount: 2 });
    await client.createSender(q).sendMessages({ body: 'poison' });
    const receiver = client.createReceiver(q);
    for (let i = 0; i < 2; i++) {
      const [m] = await receiveAll(receiver, 1);
      await receiver.abandonMessage(m!);
    }
    expect(await receiver.receiveMessages(1, { maxWaitTimeInMs: 300 })).toHaveLength(0);
    const dlq = client.createReceiver(q, { subQueueType: 'deadLetter' });
    const [dead] = await receiveAll(dlq, 1);
    expect(dead!.body).toBe('poison');
    expect(dead!.deadLetterReason).toBe('MaxDeliveryCountExceeded');
    expect(dead!.deliveryCount).toBe(2);
    await dlq.completeMessage(dead!);
  });

  it('dead-letters with a reason and description', async () => {
    const q = queue();
    await client.createSender(q).sendMessages({ body: 'bad', applicationProperties: { keep: 'me' } });
    const receiver = client.createReceiver(q);
    const [m] = await receiveAll(receiver, 1);
    await receiver.deadLetterMessage(m!, { deadLetterReason: 'InvalidControlMessage', deadLetterErrorDescription: 'not JSON' });
    const info = emulator.catalogue.getQueue(q)!;
    expect(info.deadLetterMessageCount).toBe(1);
    expect(info.activeMessageCount).toBe(0);
    const [dead] = await receiveAll(client.createReceiver(q, { subQueueType: 'deadLetter', receiveMode: 'receiveAndDelete' }), 1);
    expect(dead).toMatchObject({
      body: 'bad',
      deadLetterReason: 'InvalidControlMessage',
      deadLetterErrorDescription: 'not JSON',
      applicationProperties: { keep: 'me' },
    });
    expect(dead!.sequenceNumber!.toNumber()).toBe(m!.sequenceNumber!.toNumber());
  });

  it('defers, then receives the deferred message by sequence number and completes it', async () => {
    const q = queue();
    await client.createSender(q).sendMessages([{ body: 'later' }, { body: 'now' }]);
    const receiver = client.createReceiver(q);
    const [first, second] = await receiveAll(receiver, 2);
    await receiver.deferMessage(first!);
    await receiver.completeMessage(second!);
    expect(await receiver.receiveMessages(1, { maxWaitTimeInMs: 300 })).toHaveLength(0);
    const [peeked] = await receiver.peekMessages(1, { fromSequenceNumber: first!.sequenceNumber });
    expect(peeked!.state).toBe('deferred');
    const [deferred] = await receiver.receiveDeferredMessages(first!.sequenceNumber!);
    expect(deferred!.body).toBe('later');
    await receiver.completeMessage(deferred!);
    expect(await receiver.receiveDeferredMessages(first!.sequenceNumber!).catch((e) => e.code)).toBe('MessageNotFound');
    expect(emulator.catalogue.getQueue(q)!.messageCount).toBe(0);
  });

  it('delivers a scheduled message at its time, and a cancelled one never', async () => {
    const q = queue();
    const sender = client.createSender(q);
    const at = new Date(Date.now() + 1500);
    const [seq] = await sender.scheduleMessages({ body: 'scheduled' }, at);
    const [cancelSeq] = await sender.scheduleMessages({ body: 'cancelled' }, at);
    await sender.cancelScheduledMessages(cancelSeq!);
    expect(emulator.catalogue.getQueue(q)!.scheduledMessageCount).toBe(1);
    const receiver = client.createReceiver(q);
    const [peeked] = await receiver.peekMessages(1);
    expect(peeked!.state).toBe('scheduled');
    expect(peeked!.sequenceNumber!.toNumber()).toBe(seq!.toNumber());
    expect(await receiver.receiveMessages(1, { maxWaitTimeInMs: 500 })).toHaveLength(0);
    const got = await receiveAll(receiver, 1, 4000);
    got.push(...(await receiver.receiveMessages(1, { maxWaitTimeInMs: 300 })));
    expect(got.map((m) => m.body)).toEqual(['scheduled']);
    expect(Date.now()).toBeGreaterThanOrEqual(at.getTime() - 50);
    expect(got[0]!.enqueuedTimeUtc!.getTime()).toBeGreaterThanOrEqual(at.getTime() - 1000);
    await receiver.completeMessage(got[0]!);
  });

  it('peeks without locking, from a sequence number onwards', async () => {
    const q = queue();
    await client.createSender(q).sendMessages([1, 2, 3, 4].map((n) => ({ body: n })));
    const receiver = client.createReceiver(q);
    const peeked = await receiver.peekMessages(10);
    expect(peeked.map((m) => m.body)).toEqual([1, 2, 3, 4]);
    expect(peeked[0]!.lockToken).toBeUndefined();
    const later = await receiver.peekMessages(10, { fromSequenceNumber: peeked[2]!.sequenceNumber });
    expect(later.map((m) => m.body)).toEqual([3, 4]);
    expect(await receiveAll(receiver, 4)).toHaveLength(4); // peeking locked nothing
  });

  it('receive-and-delete removes messages on delivery', async () => {
    const q = queue();
    await client.createSender(q).sendMessages([{ body: 'a' }, { body: 'b' }]);
    const receiver = client.createReceiver(q, { receiveMode: 'receiveAndDelete' });
    const got = await receiveAll(receiver, 2);
    expect(got.map((m) => m.body)).toEqual(['a', 'b']);
    expect(got[0]!.lockToken).toBeUndefined();
    expect(emulator.catalogue.getQueue(q)!.messageCount).toBe(0);
  });

  it('expires messages: dead-lettered with TTLExpiredException when enabled, dropped otherwise', async () => {
    const dlqOn = queue({ deadLetteringOnMessageExpiration: true });
    const dlqOff = queue({ defaultMessageTimeToLiveMs: 400 });
    await client.createSender(dlqOn).sendMessages({ body: 'short-lived', timeToLive: 400 });
    await client.createSender(dlqOff).sendMessages({ body: 'gone' });
    await sleep(900);
    expect(await client.createReceiver(dlqOn).receiveMessages(1, { maxWaitTimeInMs: 300 })).toHaveLength(0);
    expect(await client.createReceiver(dlqOff).receiveMessages(1, { maxWaitTimeInMs: 300 })).toHaveLength(0);
    const [dead] = await receiveAll(client.createReceiver(dlqOn, { subQueueType: 'deadLetter' }), 1);
    expect(dead!.body).toBe('short-lived');
    expect(dead!.deadLetterReason).toBe('TTLExpiredException');
    expect(emulator.catalogue.getQueue(dlqOff)!.messageCount).toBe(0);
  });

  it('drops duplicates within the detection window', async () => {
    const q = queue({ requiresDuplicateDetection: true, duplicateDetectionHistoryTimeWindowMs: 60_000 });
    const sender = client.createSender(q);
    await sender.sendMessages({ body: 'one', messageId: 'same' });
    await sender.sendMessages({ body: 'two', messageId: 'same' });
    await sender.sendMessages({ body: 'three', messageId: 'other' });
    const got = await receiveAll(client.createReceiver(q, { receiveMode: 'receiveAndDelete' }), 3, 1500);
    expect(got.map((m) => m.body)).toEqual(['one', 'three']);
  });

  it('fans topic messages out to every matching subscription (true, false and correlation filters)', async () => {
    const topic = unique('t');
    const c = emulator.catalogue;
    c.putTopic(topic);
    c.putSubscription(topic, 'all');
    c.putSubscription(topic, 'none', {}, [{ name: 'nothing', filter: { kind: 'false' } }]);
    c.putSubscription(topic, 'shutdown', {}, [{ name: 'op', filter: { kind: 'correlation', subject: 'graceful-downscale' } }]);
    c.putSubscription(topic, 'eu', {}, [
      { name: 'region', filter: { kind: 'correlation', applicationProperties: { region: 'eu-west', tier: 2 } } },
    ]);
    await client.createSender(topic).sendMessages([
      { body: 1, subject: 'graceful-downscale' },
      { body: 2, subject: 'do-not-accept-new-tasks', applicationProperties: { region: 'eu-west', tier: 2 } },
      { body: 3, applicationProperties: { region: 'eu-west', tier: 3 } },
    ]);
    const bodies = async (sub: string, n: number) =>
      (await receiveAll(client.createReceiver(topic, sub, { receiveMode: 'receiveAndDelete' }), n, n ? 5000 : 700)).map((m) => m.body);
    expect(await bodies('all', 3)).toEqual([1, 2, 3]);
    expect(await bodies('shutdown', 1)).toEqual([1]);
    expect(await bodies('eu', 1)).toEqual([2]);
    expect(await bodies('none', 0)).toEqual([]);
    expect(c.getSubscription(topic, 'all')!.messageCount).toBe(0);
  });

  it('gives competing receivers on one subscription distinct messages', async () => {
    const topic = unique('t');
    emulator.catalogue.putTopic(topic);
    emulator.catalogue.putSubscription(topic, 'workers');
    const n = 40;
    await client.createSender(topic).sendMessages([...Array(n).keys()].map((i) => ({ body: i })));
    const receivers = [client.createReceiver(topic, 'workers'), client.createReceiver(topic, 'workers')];
    const seen: number[][] = [[], []];
    await Promise.all(
      receivers.map(async (r, i) => {
        for (;;) {
          const batch = await r.receiveMessages(5, { maxWaitTimeInMs: 400 });
          if (batch.length === 0) break;
          for (const m of batch) {
            seen[i]!.push(m.body as number);
            await r.completeMessage(m);
          }
        }
      }),
    );
    const all = [...seen[0]!, ...seen[1]!].sort((a, b) => a - b);
    expect(all).toEqual([...Array(n).keys()]);
    expect(seen[0]!.length).toBeGreaterThan(0);
    expect(seen[1]!.length).toBeGreaterThan(0);
  });

  it('serves a streaming subscriber (subscribe) with auto-complete', async () => {
    const q = queue();
    await client.createSender(q).sendMessages([{ body: 'a' }, { body: 'b' }, { body: 'c' }]);
    const receiver = client.createReceiver(q);
    const got: unknown[] = [];
    await new Promise<void>((resolve, reject) => {
      const sub = receiver.subscribe({
        processMessage: async (m) => {
          got.push(m.body);
          if (got.length === 3) void sub.close().then(resolve);
        },
        processError: async (args) => reject(args.error),
      });
    });
    expect(got).toEqual(['a', 'b', 'c']);
    await sleep(200);
    expect(emulator.catalogue.getQueue(q)!.messageCount).toBe(0);
  });

  it('rejects a message over the size limit with MessageSizeExceeded', async () => {
    const q = queue({ maxMessageSizeInBytes: 64 * 1024 });
    const sender = client.createSender(q);
    const code = await errorCode(sender.sendMessages({ body: Buffer.alloc(100 * 1024, 1) }));
    expect(code).toBe('MessageSizeExceeded');
    await sender.sendMessages({ body: Buffer.alloc(1024, 2) }); // the link still works
    const [m] = await receiveAll(client.createReceiver(q, { receiveMode: 'receiveAndDelete' }), 1);
    expect((m!.body as Buffer).length).toBe(1024);
  });

  it('accepts a large message under the limit (several frames)', async () => {
    const q = queue();
    const body = Buffer.alloc(200 * 1024, 7);
    await client.createSender(q).sendMessages({ body });
    const [m] = await receiveAll(client.createReceiver(q, { receiveMode: 'receiveAndDelete' }), 1);
    expect(Buffer.compare(m!.body as Buffer, body)).toBe(0);
  });

  it('settles through the management link once the receiver is closed', async () => {
    const q = queue();
    await client.createSender(q).sendMessages({ body: 'x' });
    const receiver = client.createReceiver(q);
    const [m] = await receiveAll(receiver, 1);
    await receiver.close();
    await client.createReceiver(q).completeMessage(m!);
    expect(emulator.catalogue.getQueue(q)!.messageCount).toBe(0);
  });
});

describe.each(STORES)('restart with the same options ($name store)', ({ name, dataDir }) => {
  it(name === 'sqlite' ? 'keeps entities, messages and their states' : 'starts empty', async () => {
    const dir = dataDir();
    const options = { port: 0, armPort: false as const, amqpsPort: false as const, ...(dir ? { dataDir: dir } : {}) };
    try {
      const first = await startEmulator(options);
      first.catalogue.putQueue('kept', { maxDeliveryCount: 3 });
      const client = new ServiceBusClient(first.connectionString);
      await client.createSender('kept').sendMessages([{ body: 'a' }, { body: 'b' }, { body: 'c' }]);
      const receiver = client.createReceiver('kept');
      const [a, b] = await receiveAll(receiver, 2);
      await receiver.completeMessage(a!);
      await receiver.deadLetterMessage(b!, { deadLetterReason: 'r', deadLetterErrorDescription: 'd' });
      await client.close();
      await first.close();

      const second = await startEmulator(options);
      try {
        if (name === 'memory') {
          expect(second.catalogue.getQueue('kept')).toBeUndefined();
          return;
        }
        expect(second.catalogue.getQueue('kept')).toMatchObject({
          properties: { maxDeliveryCount: 3 },
          activeMessageCount: 1,
          deadLetterMessageCount: 1,
        });
        const again = new ServiceBusClient(second.connectionString);
        const [c] = await receiveAll(again.createReceiver('kept', { receiveMode: 'receiveAndDelete' }), 1);
        expect(c!.body).toBe('c');
        await again.close();
      } finally {
        await second.close();
      }
    } finally {
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('restart with a data directory', () => {
  it('keeps the duplicate-detection history, as Azure does (a resend after a restart is dropped)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-emulator-'));
    const options = { port: 0, armPort: false as const, amqpsPort: false as const, dataDir: dir };
    try {
      const first = await startEmulator(options);
      first.catalogue.putTopic('dedupe', { requiresDuplicateDetection: true, duplicateDetectionHistoryTimeWindowMs: 600_000 });
      first.catalogue.putSubscription('dedupe', 'all');
      const client = new ServiceBusClient(first.connectionString);
      await client.createSender('dedupe').sendMessages({ body: 'once', messageId: 'drain-1/1' });
      await client.close();
      await first.close();

      const second = await startEmulator(options);
      try {
        const again = new ServiceBusClient(second.connectionString);
        await again.createSender('dedupe').sendMessages([{ body: 'twice', messageId: 'drain-1/1' }, { body: 'new', messageId: 'drain-1/2' }]);
        const got = await receiveAll(again.createReceiver('dedupe', 'all', { receiveMode: 'receiveAndDelete' }), 2);
        expect(got.map((m) => m.body)).toEqual(['once', 'new']);
        await again.close();
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('auto-create', () => {
  it('creates a queue, and a topic with its subscription, on first use', async () => {
    const emulator = await startEmulator({ port: 0, armPort: false, amqpsPort: false, autoCreate: true });
    const client = new ServiceBusClient(emulator.connectionString);
    try {
      const q = unique('auto');
      await client.createSender(q).sendMessages({ body: 'hi' });
      expect(emulator.catalogue.getQueue(q)!.messageCount).toBe(1);
      const topic = unique('autot');
      const receiver = client.createReceiver(topic, 'sub');
      expect(await receiver.receiveMessages(1, { maxWaitTimeInMs: 300 })).toHaveLength(0);
      expect(emulator.catalogue.getSubscription(topic, 'sub')).toBeDefined();
    } finally {
      await client.close();
      await emulator.close();
    }
  });
});
