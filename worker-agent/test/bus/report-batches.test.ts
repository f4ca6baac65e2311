// Reports waiting in the outbox are sent in as many batches as the reports queue's message size
// needs: 25 reports of nodes with long worker lists (about 650 KB) all arrive, where one
// oversized send would fail every time and hold the outbox back.
import { ServiceBusClient } from '@azure/service-bus';
import { type RunningEmulator, startEmulator } from '@workforce/servicebus-emulator';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { AgentReport } from '../../src/contract/report.js';
import { ServiceBusControlBus } from '../../src/agent/servicebus.js';

let emulator: RunningEmulator;
beforeAll(async () => {
  emulator = await startEmulator({ port: 0, armPort: false, amqpsPort: false });
  emulator.catalogue.putTopic('big-reports');
  emulator.catalogue.putSubscription('big-reports', 'shutdown');
  emulator.catalogue.putQueue('big-reports-queue');
});
afterAll(async () => {
  await emulator?.close();
});

it('sends 25 reports of 26 KB each, more than one batch holds', async () => {
  const bus = new ServiceBusControlBus({ bus: { kind: 'connection-string', connectionString: emulator.connectionString }, topic: 'big-reports', subscription: 'shutdown', maxLockRenewalMs: 0 });
  const client = new ServiceBusClient(emulator.connectionString);
  try {
    const workers = Array.from({ length: 200 }, (_, i) => ({ workerId: `worker-${i}-${'x'.repeat(100)}`, pid: 10_000 + i }));
    const reports: AgentReport[] = Array.from({ length: 25 }, (_, n) => ({
      drainId: 'big',
      messageId: `big/${n + 1}`,
      nodeId: `node-${n}`,
      topic: 'big-reports',
      state: 'signalled',
      workers,
      at: new Date().toISOString(),
    }));
    expect(JSON.stringify(reports).length).toBeGreaterThan(600_000);
    await bus.sendReports('big-reports-queue', reports);
    const receiver = client.createReceiver('big-reports-queue', { receiveMode: 'receiveAndDelete' });
    const got: string[] = [];
    while (got.length < 25) {
      const batch = await receiver.receiveMessages(25, { maxWaitTimeInMs: 2_000 });
      if (batch.length === 0) break;
      got.push(...batch.map((m) => (m.body as AgentReport).messageId));
    }
    expect(got.sort()).toEqual(reports.map((r) => r.messageId).sort());
  } finally {
    await bus.close();
    await client.close();
  }
}, 60_000);
