// Conformance of sessions: the emulator driven only through the public @azure/service-bus API
// (acceptSession, acceptNextSession, session receivers), one test per behaviour, once with the
// memory store and once with SQLite; entity names are unique per test.
import { ServiceBusClient, isServiceBusError } from '@azure/service-bus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../src/index.js';
import { STORES, startOnStore } from './support/per-store.js';
import { failure, receiveAll, unique } from './support/sdk.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(STORES)('sessions ($name store)', (store) => {
  let emulator: RunningEmulator;
  let client: ServiceBusClient;
  let close: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    ({ emulator, client, close } = await startOnStore(store));
  });
  afterAll(() => close?.());

  const sessionQueue = (props: Parameters<RunningEmulator['catalogue']['putQueue']>[1] = {}) => {
    const name = unique('sq');
    emulator.catalogue.putQueue(name, { requiresSession: true, ...props });
    return name;
  };

  /** A client that gives up waiting for a session after `timeoutInMs`. */
  const impatientClient = (timeoutInMs: number) =>
    new ServiceBusClient(emulator.connectionString, { retryOptions: { maxRetries: 0, timeoutInMs } });

  it('delivers the messages of the accepted session only, in sequence order', async () => {
    const q = sessionQueue();
    await client.createSender(q).sendMessages([
      { body: 'a1', sessionId: 'a' },
      { body: 'b1', sessionId: 'b' },
      { body: 'a2', sessionId: 'a' },
      { body: 'a3', sessionId: 'a' },
    ]);
    const receiver = await client.acceptSession(q, 'a');
    expect(receiver.sessionId).toBe('a');
    expect(receiver.sessionLockedUntilUtc!.getTime()).toBeGreaterThan(Date.now());
    const got = await receiveAll(receiver, 3);
    expect(got.map((m) => [m.body, m.sessionId])).toEqual([['a1', 'a'], ['a2', 'a'], ['a3', 'a']]);
    const seqs = got.map((m) => m.sequenceNumber!.toNumber());
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(await receiver.receiveMessages(1, { maxWaitTimeInMs: 300 })).toHaveLength(0);
    for (const m of got) await receiver.completeMessage(m);
    expect(emulator.catalogue.getQueue(q)!.activeMessageCount).toBe(1); // b1
    await receiver.close();
  });

  it('matches session ids regardless of case, as Service Bus does', async () => {
    const q = sessionQueue();
    await client.createSender(q).sendMessages([
      { body: 1, sessionId: 'Node-1' },
      { body: 2, sessionId: 'node-1' },
    ]);
    const receiver = await client.acceptSession(q, 'NODE-1');
    expect(receiver.sessionId).toBe('NODE-1');
    const got = await receiveAll(receiver, 2);
    expect(got.map((m) => m.body)).toEqual([1, 2]);
    for (const m of got) await receiver.completeMessage(m);
    await receiver.setSessionState('applied');
    expect((await failure(client.acceptSession(q, 'node-1')))?.code).toBe('SessionCannotBeLocked');
    await receiver.close();
    const again = await client.acceptSession(q, 'node-1');
    expect(await again.getSessionState()).toBe('applied');
    await again.close();
  });

  it('redelivers an abandoned message before the later ones of its session', async () => {
    const q = sessionQueue();
    await client.createSender(q).sendMessages([1, 2].map((n) => ({ body: n, sessionId: 's' })));
    const receiver = await client.acceptSession(q, 's');
    const [first] = await receiveAll(receiver, 1);
    await receiver.abandonMessage(first!);
    const [again, second] = await receiveAll(receiver, 2);
    expect([again!.body, again!.deliveryCount, second!.body]).toEqual([1, 1, 2]);
    await receiver.completeMessage(again!);
    await receiver.completeMessage(second!);
    await receiver.close();
  });

  it('refuses a message without a session id on a session-enabled queue, as Azure does', async () => {
    const q = sessionQueue();
    const err = await failure(client.createSender(q).sendMessages({ body: 'no session' }));
    expect(err?.message).toMatch(/SessionId was not set on a message/);
    expect(emulator.catalogue.getQueue(q)!.messageCount).toBe(0);
  });

  it('refuses a plain receiver on a session-enabled queue, and a session receiver on a plain queue', async () => {
    const q = sessionQueue();
    const plain = unique('q');
    emulator.catalogue.putQueue(plain);
    const receiver = client.createReceiver(q);
    expect((await failure(receiver.receiveMessages(1, { maxWaitTimeInMs: 500 })))?.message).toMatch(/requires sessions/);
    await receiver.close();
    expect((await failure(client.acceptNextSession(plain)))?.message).toMatch(/does not require sessions/);
    // For a named session the SDK reports any refused link as SessionCannotBeLocked, Azure's too.
    expect((await failure(client.acceptSession(plain, 'x')))?.code).toBe('SessionCannotBeLocked');
  });

  it('accepts the next session with available messages, the oldest first, and skips locked ones', async () => {
    const q = sessionQueue();
    await client.createSender(q).sendMessages([
      { body: 'x1', sessionId: 'x' },
      { body: 'y1', sessionId: 'y' },
    ]);
    await client.acceptSession(q, 'empty'); // no messages: never the next available session
    const first = await client.acceptNextSession(q);
    const second = await client.acceptNextSession(q);
    expect([first.sessionId, second.sessionId]).toEqual(['x', 'y']);
    const [m] = await receiveAll(second, 1);
    expect(m!.body).toBe('y1');
    await second.completeMessage(m!);
  });

  it('makes acceptNextSession wait for a session, and take the one that gets a message', async () => {
    const q = sessionQueue();
    const accepting = client.acceptNextSession(q);
    await sleep(500);
    await client.createSender(q).sendMessages({ body: 'late', sessionId: 'late' });
    const receiver = await accepting;
    expect(receiver.sessionId).toBe('late');
    const [m] = await receiveAll(receiver, 1);
    expect(m!.body).toBe('late');
    await receiver.completeMessage(m!);
  });

  it('forgets a receiver that stopped waiting for a session: the session goes to the next one', async () => {
    const q = sessionQueue();
    // It would wait 10 s; the SDK's promise settles only then, the connection closes at once.
    const gone = new ServiceBusClient(emulator.connectionString, { retryOptions: { maxRetries: 0, timeoutInMs: 10_000 } });
    void gone.acceptNextSession(q).catch(() => {});
    await sleep(300);
    await gone.close(); // while its attach is held
    await client.createSender(q).sendMessages({ body: 'for the next one', sessionId: 's' });
    const impatient = impatientClient(3000);
    try {
      const receiver = await impatient.acceptNextSession(q);
      expect(receiver.sessionId).toBe('s');
    } finally {
      await impatient.close();
    }
  });

  it('keeps a session while the SDK renews its lock on its own', async () => {
    const q = sessionQueue({ lockDurationMs: 1000 });
    await client.createSender(q).sendMessages({ body: 'renewed', sessionId: 's' });
    const receiver = await client.acceptSession(q, 's'); // auto-renewal on (the default)
    const [m] = await receiveAll(receiver, 1);
    await sleep(2500);
    await receiver.completeMessage(m!);
    expect(receiver.sessionLockedUntilUtc!.getTime()).toBeGreaterThan(Date.now());
    await receiver.close();
  });

  it('fails acceptNextSession with ServiceTimeout when no session becomes available in time', async () => {
    const q = sessionQueue();
    const impatient = impatientClient(1000);
    try {
      const started = Date.now();
      const err = await failure(impatient.acceptNextSession(q));
      expect(err?.code).toBe('ServiceTimeout');
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    } finally {
      await impatient.close();
    }
  });

  it('lets one receiver hold a session: a second acceptSession fails with SessionCannotBeLocked', async () => {
    const q = sessionQueue();
    await client.createSender(q).sendMessages({ body: 'mine', sessionId: 's' });
    const holder = await client.acceptSession(q, 's');
    const other = new ServiceBusClient(emulator.connectionString, { retryOptions: { maxRetries: 0 } });
    try {
      expect((await failure(other.acceptSession(q, 's')))?.code).toBe('SessionCannotBeLocked');
      expect((await failure(client.acceptSession(q, 's')))?.code).toBe('SessionCannotBeLocked');
    } finally {
      await other.close();
    }
    await holder.close();
  });

  it('releases the session when its receiver closes: unsettled messages come back to the next holder', async () => {
    const q = sessionQueue();
    await client.createSender(q).sendMessages({ body: 'unsettled', sessionId: 's' });
    const first = await client.acceptSession(q, 's');
    const [m] = await receiveAll(first, 1);
    expect(m!.deliveryCount).toBe(0);
    await first.close();
    const second = await client.acceptSession(q, 's');
    const [again] = await receiveAll(second, 1);
    expect([again!.body, again!.deliveryCount]).toEqual(['unsettled', 1]);
    await second.completeMessage(again!);
    await second.close();
  });

  it('expires a session lock: the holder loses the session (SessionLockLost) and another receiver gets it', async () => {
    const q = sessionQueue({ lockDurationMs: 1000 });
    await client.createSender(q).sendMessages({ body: 'expiring', sessionId: 's' });
    // The SDK renews session locks on its own by default; this test is about expiry.
    const first = await client.acceptSession(q, 's', { maxAutoLockRenewalDurationInMs: 0 });
    const [m] = await receiveAll(first, 1);
    await sleep(1400);
    expect((await failure(first.completeMessage(m!)))?.code).toBe('SessionLockLost');
    const second = await client.acceptSession(q, 's', { maxAutoLockRenewalDurationInMs: 0 });
    const [again] = await receiveAll(second, 1);
    expect([again!.body, again!.deliveryCount]).toEqual(['expiring', 1]);
    await second.completeMessage(again!);
    await second.close();
  });

  it('renews a session lock: the holder keeps the session past the first expiry', async () => {
    const q = sessionQueue({ lockDurationMs: 1000 });
    await client.createSender(q).sendMessages({ body: 'kept', sessionId: 's' });
    const receiver = await client.acceptSession(q, 's', { maxAutoLockRenewalDurationInMs: 0 });
    const before = receiver.sessionLockedUntilUtc!.getTime();
    const [m] = await receiveAll(receiver, 1);
    await sleep(600);
    const until = await receiver.renewSessionLock();
    expect(until.getTime()).toBeGreaterThan(before);
    expect(receiver.sessionLockedUntilUtc!.getTime()).toBe(until.getTime());
    await sleep(700); // past the first lock, within the renewed one
    await receiver.completeMessage(m!);
    expect(emulator.catalogue.getQueue(q)!.messageCount).toBe(0);
    await receiver.close();
  });

  it('gets and sets session state, whether the session has messages or not', async () => {
    const q = sessionQueue();
    const receiver = await client.acceptSession(q, 'stateful');
    expect(await receiver.getSessionState()).toBeFalsy();
    await receiver.setSessionState({ step: 3, items: ['a'] });
    expect(await receiver.getSessionState()).toEqual({ step: 3, items: ['a'] });
    await receiver.close();
    const again = await client.acceptSession(q, 'stateful');
    expect(await again.getSessionState()).toEqual({ step: 3, items: ['a'] });
    const other = await client.acceptSession(q, 'other');
    expect(await other.getSessionState()).toBeFalsy();
    expect((await failure(other.setSessionState(Buffer.alloc(300 * 1024))))?.code).toBe('MessageSizeExceeded');
    await again.close();
    await other.close();
  });

  it('defers within a session, then receives the deferred message by sequence number', async () => {
    const q = sessionQueue();
    await client.createSender(q).sendMessages([
      { body: 'later', sessionId: 's' },
      { body: 'now', sessionId: 's' },
    ]);
    const receiver = await client.acceptSession(q, 's');
    const [first, second] = await receiveAll(receiver, 2);
    await receiver.deferMessage(first!);
    await receiver.completeMessage(second!);
    expect(await receiver.receiveMessages(1, { maxWaitTimeInMs: 300 })).toHaveLength(0);
    const [deferred] = await receiver.receiveDeferredMessages(first!.sequenceNumber!);
    expect([deferred!.body, deferred!.sessionId]).toEqual(['later', 's']);
    await receiver.completeMessage(deferred!);
    expect(emulator.catalogue.getQueue(q)!.messageCount).toBe(0);
    await receiver.close();
  });

  it('peeks within a session: only its messages, without locking them', async () => {
    const q = sessionQueue();
    await client.createSender(q).sendMessages([
      { body: 'a1', sessionId: 'a' },
      { body: 'b1', sessionId: 'b' },
      { body: 'a2', sessionId: 'a' },
    ]);
    const receiver = await client.acceptSession(q, 'a');
    const peeked = await receiver.peekMessages(10);
    expect(peeked.map((m) => m.body)).toEqual(['a1', 'a2']);
    const got = await receiveAll(receiver, 2);
    expect(got.map((m) => m.deliveryCount)).toEqual([0, 0]);
    await receiver.close();
  });

  it('dead-letters from a session into the dead-letter queue, which a plain receiver reads', async () => {
    const q = sessionQueue();
    await client.createSender(q).sendMessages({ body: 'poison', sessionId: 's' });
    const receiver = await client.acceptSession(q, 's');
    const [m] = await receiveAll(receiver, 1);
    await receiver.deadLetterMessage(m!, { deadLetterReason: 'Bad', deadLetterErrorDescription: 'in a session' });
    const dlq = client.createReceiver(q, { subQueueType: 'deadLetter' });
    const [dead] = await receiveAll(dlq, 1);
    expect(dead).toMatchObject({ body: 'poison', sessionId: 's', deadLetterReason: 'Bad' });
    await dlq.completeMessage(dead!);
    await receiver.close();
  });

  it('defers and settles a message of the dead-letter queue, which has no sessions, though it names one', async () => {
    const q = sessionQueue();
    await client.createSender(q).sendMessages({ body: 'poison', sessionId: 's' });
    const receiver = await client.acceptSession(q, 's');
    await receiver.deadLetterMessage((await receiveAll(receiver, 1))[0]!);
    await receiver.close();
    // The SDK names the message's session in the management requests about it (deferred
    // receive, settlement): on a dead-letter queue those are plain requests.
    const dlq = client.createReceiver(q, { subQueueType: 'deadLetter' });
    const [dead] = await receiveAll(dlq, 1);
    await dlq.deferMessage(dead!);
    const [deferred] = await dlq.receiveDeferredMessages(dead!.sequenceNumber!);
    expect(deferred).toMatchObject({ body: 'poison', sessionId: 's' });
    await dlq.completeMessage(deferred!);
    expect(await dlq.peekMessages(1)).toEqual([]);
    await dlq.close();
  });

  it('dead-letters a topic message without a session id in a session-enabled subscription, as Azure does', async () => {
    const topic = unique('t');
    emulator.catalogue.putTopic(topic);
    emulator.catalogue.putSubscription(topic, 'commands', { requiresSession: true });
    await client.createSender(topic).sendMessages([{ body: 'anonymous' }, { body: 'addressed', sessionId: 'node-1' }]);
    const receiver = await client.acceptSession(topic, 'commands', 'node-1');
    const [m] = await receiveAll(receiver, 1);
    expect(m!.body).toBe('addressed');
    await receiver.completeMessage(m!);
    const dlq = client.createReceiver(topic, 'commands', { subQueueType: 'deadLetter', receiveMode: 'receiveAndDelete' });
    const [dead] = await receiveAll(dlq, 1);
    expect(dead).toMatchObject({ body: 'anonymous', deadLetterReason: 'Session id is null.' });
    await receiver.close();
  });

  it('drops a duplicate on a session-enabled queue with duplicate detection', async () => {
    const q = sessionQueue({ requiresDuplicateDetection: true });
    const sender = client.createSender(q);
    await sender.sendMessages({ body: 'once', messageId: 'cmd-1', sessionId: 's' });
    await sender.sendMessages({ body: 'twice', messageId: 'cmd-1', sessionId: 's' });
    const receiver = await client.acceptSession(q, 's');
    const got = await receiveAll(receiver, 2, 1500);
    expect(got.map((m) => m.body)).toEqual(['once']);
    await receiver.close();
  });

  it('streams a session with subscribe(), settling each message in order', async () => {
    const q = sessionQueue();
    await client.createSender(q).sendMessages([1, 2, 3].map((n) => ({ body: n, sessionId: 's' })));
    const receiver = await client.acceptSession(q, 's');
    const bodies: number[] = [];
    const done = new Promise<void>((resolve, reject) => {
      receiver.subscribe({
        processMessage: async (m) => {
          bodies.push(m.body as number);
          if (bodies.length === 3) resolve();
        },
        processError: async (args) => reject(args.error),
      });
    });
    await done;
    await sleep(100); // the last auto-complete
    expect(bodies).toEqual([1, 2, 3]);
    await receiver.close();
    expect(emulator.catalogue.getQueue(q)!.messageCount).toBe(0);
  });

  it('drains every session with acceptNextSession in a loop (the processor pattern)', async () => {
    const q = sessionQueue();
    const ids = ['n1', 'n2', 'n3'];
    await client.createSender(q).sendMessages(ids.flatMap((id) => [1, 2].map((n) => ({ body: `${id}-${n}`, sessionId: id }))));
    const impatient = impatientClient(1000);
    const seen: string[] = [];
    try {
      for (;;) {
        const receiver = await impatient.acceptNextSession(q).catch((e: unknown) => {
          if (isServiceBusError(e) && e.code === 'ServiceTimeout') return undefined;
          throw e;
        });
        if (!receiver) break;
        for (const m of await receiveAll(receiver, 2)) {
          seen.push(m.body as string);
          await receiver.completeMessage(m);
        }
        await receiver.close();
      }
    } finally {
      await impatient.close();
    }
    expect(seen).toEqual(['n1-1', 'n1-2', 'n2-1', 'n2-2', 'n3-1', 'n3-2']);
  });
});
