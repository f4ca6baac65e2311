// Minimal reproduction of the chaos suite's first finding (seeds 1005, 100, 101, 103): the
// emulator forgets its duplicate-detection history when it restarts on the same --data
// directory, so a control message resent after a restart (a retried publish, or seed's
// `duplicate` fault) is accepted again and a second node acts on `<drainId>/<n>`: N+1 drained.
// Azure keeps the history for duplicateDetectionHistoryTimeWindow across anything.
//
//   npx tsx --conditions=source test/chaos/repro-dedupe-after-restart.ts [SIGTERM|SIGKILL]
// prints the messages left in the subscription; Azure's behaviour would be [] after the resend.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServiceBusClient } from '@azure/service-bus';
import Long from 'long';
import { EmulatorProcess } from './emulator-process.js';

const signal = process.argv[2] === 'SIGKILL' ? 'SIGKILL' : 'SIGTERM';
const root = mkdtempSync(join(tmpdir(), 'dedupe-'));
const emulator = new EmulatorProcess(join(root, 'data'), { topic: 't1', reportsQueue: 'r', lockMs: 3000, reportsLockMs: 5000 });

async function inSubscription(): Promise<string[]> {
  const sb = new ServiceBusClient(emulator.connectionString);
  try {
    const peeked = await sb.createReceiver('t1', 'shutdown').peekMessages(10, { fromSequenceNumber: Long.fromNumber(0) });
    return peeked.map((m) => `${String(m.messageId)} (seq ${m.sequenceNumber})`);
  } finally {
    await sb.close();
  }
}

async function send(): Promise<void> {
  const sb = new ServiceBusClient(emulator.connectionString);
  try {
    await sb.createSender('t1').sendMessages({ body: { operation: 'graceful-downscale', drainId: 'x' }, messageId: 'x/1' });
  } finally {
    await sb.close();
  }
}

try {
  await emulator.start(); // topic t1: requiresDuplicateDetection, window PT1H (emulator-process.ts)
  await send();
  const sb = new ServiceBusClient(emulator.connectionString);
  const receiver = sb.createReceiver('t1', 'shutdown');
  const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5000 });
  await receiver.completeMessage(m!); // a node acted on x/1
  await sb.close();
  await send();
  console.log('resent before the restart, in the subscription:', await inSubscription()); // [] (dropped as a duplicate)
  await emulator.restart(signal, 300);
  await send();
  console.log(`resent after a ${signal} restart, in the subscription:`, await inSubscription()); // emulator: [ 'x/1 (seq 2)' ]; Azure: []
} finally {
  await emulator.stop();
  rmSync(root, { recursive: true, force: true });
}
