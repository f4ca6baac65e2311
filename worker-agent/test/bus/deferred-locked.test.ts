// What the agent's step 5 relies on, against the emulator: a deferred message that another
// receive holds locked cannot be received by sequence number (the adapter reads the answer as
// "not there"), yet a peek still shows it deferred with the owner's stamp; once the lock goes it
// can be completed. The agent relies on exactly this to retry instead of forgetting the message
// (test/process/agent-fake-bus.test.ts, "late receive").
import { ServiceBusClient } from '@azure/service-bus';
import { type RunningEmulator, startEmulator } from '@workforce/servicebus-emulator';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { OWNER_PROPERTY } from '../../src/agent/bus.js';
import { ServiceBusControlBus } from '../../src/agent/servicebus.js';
import { sleep } from '../helpers.js';

let emulator: RunningEmulator;
beforeAll(async () => {
  emulator = await startEmulator({ port: 0, armPort: false, amqpsPort: false });
  emulator.catalogue.putTopic('locked-deferred');
  emulator.catalogue.putSubscription('locked-deferred', 'shutdown', { lockDurationMs: 1500 });
});
afterAll(async () => {
  await emulator?.close();
});

it('a locked deferred message is "not found" to a receive but still deferred and ours to a peek, and completes once the lock goes', async () => {
  const client = new ServiceBusClient(emulator.connectionString);
  const bus = new ServiceBusControlBus({ bus: { kind: 'connection-string', connectionString: emulator.connectionString }, topic: 'locked-deferred', subscription: 'shutdown', maxLockRenewalMs: 0 });
  try {
    await client.createSender('locked-deferred').sendMessages({ body: 'drain', messageId: 'd/1' });
    const first = client.createReceiver('locked-deferred', 'shutdown');
    const [m] = await first.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    await first.deferMessage(m!, { [OWNER_PROPERTY]: 'node-a' });
    const sequenceNumber = m!.sequenceNumber!.toString();

    // A late receive (an earlier agent's, say) locks the deferred message.
    const late = client.createReceiver('locked-deferred', 'shutdown');
    expect(await late.receiveDeferredMessages(m!.sequenceNumber!)).toHaveLength(1);

    expect(await bus.completeDeferred(sequenceNumber)).toBe(false);
    expect(await bus.peek(sequenceNumber)).toEqual({ sequenceNumber, state: 'deferred', applicationProperties: { [OWNER_PROPERTY]: 'node-a' } });

    await sleep(2_000); // the late receive's lock expires
    expect(await bus.completeDeferred(sequenceNumber)).toBe(true);
    expect(await bus.peek(sequenceNumber)).toBeUndefined();
  } finally {
    await bus.close();
    await client.close();
  }
}, 30_000);
