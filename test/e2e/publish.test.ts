import { InvocationContext } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DrainSpecWithId } from '../../src/domain/drain-plan.js';
import { startBus, type Emulator } from '../support/control-plane.js';

// The publish activity called directly (as the host calls it) against the emulator, with a topic
// provisioned the way PUT /api/topics provisions it.
describe('publishDrain activity', () => {
  let bus: Emulator;
  let publishDrain: typeof import('../../src/functions/drain-orchestrator.js').publishDrain;
  const context = () => new InvocationContext({ functionName: 'publishDrain', invocationId: 'test' });
  const spec = (drainId: string, count: number): DrainSpecWithId => ({
    drainId, topic: 'pub-1', mode: 'graceful-downscale', count, notAfter: new Date(Date.now() + 600_000).toISOString(), requestedAt: new Date().toISOString(),
    reason: 'x'.repeat(200),
  });
  const subscriptionCount = () => bus.emulator.catalogue.getSubscription('pub-1', 'shutdown')!.activeMessageCount;

  beforeAll(async () => {
    bus = await startBus();
    bus.emulator.catalogue.putTopic('pub-1', { requiresDuplicateDetection: true, duplicateDetectionHistoryTimeWindowMs: 3_600_000 });
    bus.emulator.catalogue.putSubscription('pub-1', 'shutdown', { maxDeliveryCount: 10, lockDurationMs: 60_000 });
    // The app reads its settings once per process (vitest runs each file in its own).
    process.env.ServiceBusConnection = bus.emulator.connectionString;
    ({ publishDrain } = await import('../../src/functions/drain-orchestrator.js'));
  });
  afterAll(async () => {
    await bus?.close();
  });

  it('fails with the last attempt\'s code and message when the SDK retried (a role or key without Send), not an empty AggregateError', async () => {
    const { newServiceBusClient, publishBatches } = await import('../../src/adapters/service-bus.js');
    const { drainMessages } = await import('../../src/domain/drain-plan.js');
    const wrongKey = bus.emulator.connectionString.replace(/SharedAccessKey=[^;]+/, 'SharedAccessKey=d3Jvbmc=');
    const client = newServiceBusClient({ kind: 'connectionString', connectionString: wrongKey }, { retryOptions: { maxRetries: 1, retryDelayInMs: 10 } });
    try {
      const failure = await publishBatches(client, 'pub-1', drainMessages(spec('refused-1', 1), undefined, new Date())).then(() => undefined, (e: unknown) => e as { code?: string; message?: string });
      expect(failure).toMatchObject({ code: 'UnauthorizedAccess', message: expect.stringMatching(/\S/) });
    } finally {
      await client.close();
    }
  });

  it('splits a large drain into as few batches as fit, and a retried publish adds nothing', async () => {
    const input = { spec: spec('big-1', 2000), now: new Date().toISOString() };
    const first = await publishDrain(input, context());
    expect(first).toMatchObject({ messages: 2000, batches: expect.any(Number) });
    expect((first as { batches: number }).batches).toBeGreaterThan(1);
    await expect.poll(subscriptionCount).toBe(2000);
    // The activity runs again (a retry after a lost answer): same messageIds, dropped as duplicates.
    await publishDrain(input, context());
    await new Promise((r) => setTimeout(r, 500));
    expect(subscriptionCount()).toBe(2000);
  });
});
