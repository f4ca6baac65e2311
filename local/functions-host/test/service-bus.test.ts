import { ServiceBusClient, type ServiceBusReceivedMessage } from '@azure/service-bus';
import { startEmulator, type RunningEmulator } from '@workforce/servicebus-emulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Host } from '../src/index.js';
import { createServiceBusClient } from '../src/triggers/service-bus.js';
import { getJson, startSample, waitFor } from './helpers.js';

interface Call {
  message: unknown;
  triggerMetadata: Record<string, any>;
}

/** Service Bus triggers fed by the real @azure/service-bus client from the emulator the repository ships. */
describe('Service Bus queue and topic-subscription triggers against the emulator', () => {
  let emulator: RunningEmulator;
  let host: Host;
  let client: ServiceBusClient;
  const calls = async (fn: string) => (await getJson<Call[]>(`${host.url}/api/calls/${fn}`)).body;
  const callsFor = async (fn: string, messageId: string) => (await calls(fn)).filter((c) => c.triggerMetadata.messageId === messageId);

  beforeAll(async () => {
    emulator = await startEmulator({ port: 0 });
    emulator.catalogue.putQueue('orders', { maxDeliveryCount: 3, lockDurationMs: 5_000 });
    emulator.catalogue.putTopic('events');
    // Short locks: if an abandon is lost on a busy machine, the lock expiry still redelivers soon.
    emulator.catalogue.putSubscription('events', 'audit', { maxDeliveryCount: 2, lockDurationMs: 5_000 });
    emulator.catalogue.putQueue('batches');
    emulator.catalogue.putQueue('poisoned-batches', { maxDeliveryCount: 2, lockDurationMs: 5_000 });
    host = await startSample({
      settings: {
        ServiceBusConnection: emulator.connectionString,
        SB_QUEUE: 'orders',
        SB_TOPIC: 'events',
        SB_SUBSCRIPTION: 'audit',
        SB_BATCH_QUEUE: 'batches',
        SB_POISON_BATCH_QUEUE: 'poisoned-batches',
      },
    });
    client = new ServiceBusClient(emulator.connectionString);
  });
  afterAll(async () => {
    await client?.close();
    await host?.close();
    await emulator?.close();
  });

  const deadLetters = async (receiverArgs: [string] | [string, string], count: number): Promise<ServiceBusReceivedMessage[]> => {
    const receiver =
      receiverArgs.length === 1
        ? client.createReceiver(receiverArgs[0], { subQueueType: 'deadLetter' })
        : client.createReceiver(receiverArgs[0], receiverArgs[1], { subQueueType: 'deadLetter' });
    try {
      const got: ServiceBusReceivedMessage[] = [];
      // Generous: redelivery after an abandon waits for the host's receive loop, slow on a busy machine.
      const deadline = Date.now() + 45_000;
      while (got.length < count && Date.now() < deadline) {
        for (const m of await receiver.receiveMessages(count - got.length, { maxWaitTimeInMs: 1000 })) {
          got.push(m);
          await receiver.completeMessage(m);
        }
      }
      return got;
    } finally {
      await receiver.close();
    }
  };

  it('invokes the queue trigger with the body and Azure-style triggerMetadata, then completes the message', async () => {
    const sender = client.createSender('orders');
    await sender.sendMessages({
      body: { order: 42 },
      messageId: 'ok-1',
      contentType: 'application/json',
      correlationId: 'corr-1',
      subject: 'order-created',
      applicationProperties: { region: 'eu-west' },
    });
    await sender.close();
    const [call] = await waitFor(async () => {
      const c = await callsFor('sbQueue', 'ok-1');
      return c.length === 1 && c;
    });
    expect(call!.message).toEqual({ order: 42 });
    expect(call!.triggerMetadata).toMatchObject({
      messageId: 'ok-1',
      deliveryCount: 1,
      contentType: 'application/json',
      correlationId: 'corr-1',
      subject: 'order-created',
      label: 'order-created',
      applicationProperties: { region: 'eu-west' },
    });
    expect(Date.parse(call!.triggerMetadata.enqueuedTimeUtc)).toBeGreaterThan(Date.now() - 60_000);
    expect(typeof call!.triggerMetadata.sequenceNumber).toBe('number');
    expect(typeof call!.triggerMetadata.lockToken).toBe('string');

    // Completed: nothing left to receive, nothing dead-lettered.
    await new Promise((r) => setTimeout(r, 300));
    const peeker = client.createReceiver('orders');
    expect(await peeker.peekMessages(10)).toHaveLength(0);
    await peeker.close();
    expect(await callsFor('sbQueue', 'ok-1')).toHaveLength(1);
  });

  it('abandons on a thrown error, so that max delivery count moves the poison message to the DLQ', async () => {
    const sender = client.createSender('orders');
    await sender.sendMessages({ body: { fail: true }, messageId: 'poison-1' });
    await sender.close();
    const [dead] = await deadLetters(['orders'], 1);
    expect(dead!.messageId).toBe('poison-1');
    expect(dead!.deadLetterReason).toBe('MaxDeliveryCountExceeded');
    const attempts = await callsFor('sbQueue', 'poison-1');
    expect(attempts.map((c) => c.triggerMetadata.deliveryCount)).toEqual([1, 2, 3]);
  });

  it('invokes the topic-subscription trigger and dead-letters its poison messages too', async () => {
    const sender = client.createSender('events');
    await sender.sendMessages([
      { body: 'plain text', messageId: 'evt-1' },
      { body: { fail: true }, messageId: 'evt-poison' },
    ]);
    await sender.close();
    const [ok] = await waitFor(async () => {
      const c = await callsFor('sbTopic', 'evt-1');
      return c.length === 1 && c;
    });
    expect(ok!.message).toBe('plain text');
    const [dead] = await deadLetters(['events', 'audit'], 1);
    expect(dead!.messageId).toBe('evt-poison');
    expect((await callsFor('sbTopic', 'evt-poison')).length).toBe(2);
  });

  it('delivers batches to a cardinality "many" trigger, with array metadata', async () => {
    const sender = client.createSender('batches');
    await sender.sendMessages(Array.from({ length: 5 }, (_, i) => ({ body: { n: i }, messageId: `batch-${i}` })));
    await sender.close();
    const batches = await waitFor(async () => {
      const c = (await calls('sbBatch')) as unknown as { messages: { n: number }[]; triggerMetadata: { messageIdArray: string[]; deliveryCountArray: number[] } }[];
      return c.reduce((n, b) => n + b.messages.length, 0) === 5 && c;
    });
    expect(batches.flatMap((b) => b.messages.map((m) => m.n)).sort()).toEqual([0, 1, 2, 3, 4]);
    expect(batches.flatMap((b) => b.triggerMetadata.messageIdArray).sort()).toEqual(['batch-0', 'batch-1', 'batch-2', 'batch-3', 'batch-4']);
    expect(batches[0]!.triggerMetadata.deliveryCountArray.every((d) => d === 1)).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    const peeker = client.createReceiver('batches');
    expect(await peeker.peekMessages(10)).toHaveLength(0);
    await peeker.close();
  });

  it('abandons the whole batch when a batch function throws, as the extension does: the good messages are dead-lettered with the poison one', async () => {
    const sender = client.createSender('poisoned-batches');
    await sender.sendMessages([{ body: { n: 1 }, messageId: 'good-1' }, { body: { fail: true }, messageId: 'bad' }, { body: { n: 2 }, messageId: 'good-2' }]);
    await sender.close();
    const dead = await deadLetters(['poisoned-batches'], 3);
    expect(dead.map((m) => m.messageId).sort()).toEqual(['bad', 'good-1', 'good-2']);
    expect(dead.every((m) => m.deadLetterReason === 'MaxDeliveryCountExceeded')).toBe(true);
    const attempts = (await calls('sbPoisonBatch')) as unknown as { triggerMetadata: { messageIdArray: string[]; deliveryCountArray: number[] } }[];
    const goodDeliveries = attempts.flatMap((b) => b.triggerMetadata.messageIdArray.map((id, i) => [id, b.triggerMetadata.deliveryCountArray[i]])).filter(([id]) => id === 'good-1');
    expect(goodDeliveries.map(([, count]) => count)).toEqual([1, 2]);
  });

  it('runs a Service Bus function by hand through the admin API', async () => {
    const res = await fetch(`${host.url}/admin/functions/sbQueue`, {
      method: 'POST',
      headers: { 'x-functions-key': host.keys.master },
      body: JSON.stringify({ input: 'manual' }),
    });
    expect(res.status).toBe(202);
    await waitFor(async () => (await calls('sbQueue')).some((c) => c.message === 'manual'));
  });
});

describe('Service Bus connection settings', () => {
  it('names the settings it looked for when a connection is missing', async () => {
    await expect(createServiceBusClient('MyBus', {})).rejects.toThrow(/set the app setting MyBus to a connection string, or MyBus__fullyQualifiedNamespace/);
  });

  it('refuses identity settings that this process\'s environment does not hold (the credential would use another identity)', async () => {
    const settings = { MyBus__fullyQualifiedNamespace: 'localhost:5671', IDENTITY_ENDPOINT: 'http://127.0.0.1:1/msi/token', IDENTITY_HEADER: 'secret' };
    await expect(createServiceBusClient('MyBus', settings)).rejects.toThrow(/the settings give IDENTITY_ENDPOINT, IDENTITY_HEADER, but @azure\/identity reads them from this process's environment/);
  });

  it('uses an identity connection for <name>__fullyQualifiedNamespace', async () => {
    const c = await createServiceBusClient('MyBus', { MyBus__fullyQualifiedNamespace: 'example.servicebus.windows.net' });
    expect(c.fullyQualifiedNamespace).toBe('example.servicebus.windows.net');
    await c.close();
  });
});
