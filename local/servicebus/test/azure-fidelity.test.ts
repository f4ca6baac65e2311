// Behaviours where the emulator answered differently from Azure, as the SDK's own live tests
// showed (issue #18), each checked through the public @azure/service-bus API.
import { ServiceBusClient } from '@azure/service-bus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningEmulator, jsonLogger, startEmulator } from '../src/index.js';
import { receiveAll, unique } from './support/sdk.js';

describe('answers as Azure does', () => {
  let emulator: RunningEmulator;
  let client: ServiceBusClient;
  const log: string[] = [];

  beforeAll(async () => {
    emulator = await startEmulator({ port: 0, armPort: false, amqpsPort: false, logger: jsonLogger('info', (line) => log.push(line)) });
    client = new ServiceBusClient(emulator.connectionString, { retryOptions: { maxRetries: 0 } });
  });

  afterAll(async () => {
    await client?.close();
    await emulator?.close();
  });

  const queue = () => {
    const name = unique('q');
    emulator.catalogue.putQueue(name);
    return name;
  };

  it('counts the delivery that ended in defer(): received by sequence number, deliveryCount is 1', async () => {
    const q = queue();
    await client.createSender(q).sendMessages({ body: 'later' });
    const receiver = client.createReceiver(q);
    const [first] = await receiveAll(receiver, 1);
    expect(first!.deliveryCount).toBe(0);
    await receiver.deferMessage(first!);
    const [deferred] = await receiver.receiveDeferredMessages(first!.sequenceNumber!);
    expect(deferred).toMatchObject({ body: 'later', state: 'deferred', deliveryCount: 1 });
    // Deferred again: that delivery counts too.
    await receiver.deferMessage(deferred!);
    const [again] = await receiver.receiveDeferredMessages(first!.sequenceNumber!);
    expect(again!.deliveryCount).toBe(2);
    await receiver.completeMessage(again!);
  });

  it("words an unknown entity as Azure does: 'sb://<namespace>/<path>', the hint only in the log", async () => {
    const missing = unique('missing');
    const error = await client
      .createReceiver(missing)
      .receiveMessages(1, { maxWaitTimeInMs: 500 })
      .then(() => undefined, (e: Error & { code?: string }) => e);
    expect(error?.code).toBe('MessagingEntityNotFound');
    // The SDK's own test matches this sentence, with the namespace the client connected to.
    expect(error!.message).toContain(`The messaging entity 'sb://${client.fullyQualifiedNamespace}/${missing}' could not be found.`);
    expect(error!.message).not.toContain('--auto-create');
    expect(log.some((line) => line.includes(missing) && line.includes('--auto-create'))).toBe(true);

    const sendError = await client
      .createSender(missing)
      .sendMessages({ body: 'x' })
      .then(() => undefined, (e: Error & { code?: string }) => e);
    expect(sendError?.message).toContain(`'sb://${client.fullyQualifiedNamespace}/${missing}' could not be found.`);
  });

  it('hands back header.firstAcquirer as sent', async () => {
    const q = queue();
    const sender = client.createSender(q);
    await sender.sendMessages({ body: 'first', bodyType: 'value', header: { firstAcquirer: false, durable: true } });
    await sender.sendMessages({ body: 'second', bodyType: 'value', header: { firstAcquirer: true } });
    const receiver = client.createReceiver(q, { receiveMode: 'receiveAndDelete' });
    const got = await receiveAll(receiver, 2);
    expect(got.map((m) => [m.body, m._rawAmqpMessage.header?.firstAcquirer])).toEqual([
      ['first', false],
      ['second', true],
    ]);
  });

  it('reports a scheduled message as scheduled, also once it is enqueued and received', async () => {
    const q = queue();
    const at = new Date(Date.now() + 1000);
    await client.createSender(q).scheduleMessages({ body: 'on time' }, at);
    const receiver = client.createReceiver(q);
    const [m] = await receiveAll(receiver, 1, 5000);
    expect(m).toMatchObject({ body: 'on time', state: 'scheduled' });
    expect(m!.enqueuedTimeUtc!.getTime()).toBeGreaterThanOrEqual(at.getTime());
    await receiver.completeMessage(m!);
  });

  it('refuses to dead-letter a message of a dead-letter queue, and counts no delivery there', async () => {
    const q = queue();
    await client.createSender(q).sendMessages({ body: 'poison' });
    const receiver = client.createReceiver(q);
    const [m] = await receiveAll(receiver, 1);
    await receiver.deadLetterMessage(m!);
    const dlq = client.createReceiver(q, { subQueueType: 'deadLetter' });
    const [dead] = await receiveAll(dlq, 1);
    const error = await dlq.deadLetterMessage(dead!).then(() => undefined, (e: Error & { code?: string }) => e);
    // Azure's refusal (amqp:not-allowed) has no Service Bus code of its own: the SDK says GeneralError.
    expect(error?.code).toBe('GeneralError');
    const [again] = await receiveAll(dlq, 1);
    expect(again).toMatchObject({ body: 'poison', deliveryCount: 0 });
    // Abandoning it there does not count either (Azure's dead-letter queue keeps no count).
    await dlq.abandonMessage(again!);
    const [third] = await receiveAll(dlq, 1);
    expect(third).toMatchObject({ body: 'poison', deliveryCount: 0 });
    await dlq.completeMessage(third!);
    expect(emulator.catalogue.getQueue(q)!.messageCount).toBe(0);
  });
});
