import { ServiceBusClient } from '@azure/service-bus';
import { startEmulator, type RunningEmulator } from '@workforce/servicebus-emulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ONE_TRY, sendBatches, withdrawMessages } from '../../src/adapters/service-bus.js';
import { AmqpCutProxy } from '../support/amqp-cut-proxy.js';

/**
 * A cancel's withdraw tried again after the connection dropped in the middle of a try: the
 * messages the failed try completed are gone from the subscription, so the count withdrawn
 * (what the withdraw activity reports) must include them.
 */
describe('withdrawing across tries', () => {
  let emulator: RunningEmulator;
  let proxy: AmqpCutProxy;
  const closers: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    emulator = await startEmulator({ port: 0 });
    emulator.catalogue.putTopic('wr');
    emulator.catalogue.putSubscription('wr', 'shutdown');
    proxy = await new AmqpCutProxy(emulator.port).listen();
  });
  afterAll(async () => {
    for (const close of closers.reverse()) await close().catch(() => {});
    await proxy?.close();
    await emulator?.close();
  });

  it('counts the messages a failed try took back', async () => {
    const sender = new ServiceBusClient(emulator.connectionString);
    closers.push(() => sender.close());
    // More than one receive round takes (100): the second round's receive is cut.
    const ids = Array.from({ length: 150 }, (_, i) => `d1/${i + 1}`);
    await sendBatches(sender, 'wr', ids.map((messageId) => ({ body: 'x', messageId })));

    const client = new ServiceBusClient(proxy.via(emulator.connectionString), ONE_TRY);
    closers.push(() => client.close());
    // The connection drops as the second receive round asks for credit, once the first round
    // (100 messages, the most one round takes) completed its messages.
    let completed = 0;
    const cut = proxy.cutBeforeFrame((f) => {
      if (f.performative === 'disposition') completed++;
      return completed >= 100 && f.performative === 'flow';
    });
    // One try and its retry, as the withdraw activity makes them, with the ids in between.
    const taken: string[] = [];
    await expect(withdrawMessages(client, 'wr', 'shutdown', 'd1', 150, taken)).rejects.toThrow();
    await cut;
    const withdrawn = await withdrawMessages(client, 'wr', 'shutdown', 'd1', 150, taken);
    expect(new Set(withdrawn).size).toBe(withdrawn.length);
    expect([...withdrawn].sort()).toEqual([...ids].sort());
  });
});
