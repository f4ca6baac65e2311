// Simulated agents heartbeating: presence reports of nodes `first`..`first+count-1` on one topic,
// `rounds` rounds back to back (as fast as the bus takes them), in batches as the SDK builds
// them, through one ServiceBusClient: one process of bench/inventory.ts's fleet. No workers.
//
//   tsx bench/presence-senders.ts <connection string> <topic> <first> <count> <rounds>

import { ServiceBusClient } from '@azure/service-bus';
import { PRESENCE_KIND, type PresenceReport } from '@workforce/worker-agent/contract';
import { sendBatches } from '../src/adapters/service-bus.js';
import { REPORTS_QUEUE } from '../src/config.js';

const [connectionString, topic, firstText, countText, roundsText] = process.argv.slice(2);
if (!connectionString || !topic || !firstText || !countText || !roundsText) {
  console.error('usage: presence-senders <connection string> <topic> <first> <count> <rounds>');
  process.exit(2);
}
const [first, count, rounds] = [Number(firstText), Number(countText), Number(roundsText)];
const client = new ServiceBusClient(connectionString);
const startedAt = new Date().toISOString();
const started = performance.now();
for (let round = 0; round < rounds; round++) {
  const reports: PresenceReport[] = [];
  for (let i = first; i < first + count; i++) {
    const nodeId = `sim-${String(i).padStart(5, '0')}`;
    reports.push({
      kind: PRESENCE_KIND,
      presence: round === 0 ? 'online' : 'heartbeat',
      nodeId,
      topic,
      nodeState: 'active',
      since: startedAt,
      workers: [],
      workerCount: 0,
      agentVersion: '0.1.0',
      hostName: `host-${nodeId}`,
      startedAt,
      sentAt: new Date().toISOString(),
      heartbeatSeconds: 30,
    });
  }
  await sendBatches(client, REPORTS_QUEUE, reports.map((r) => ({ body: r, contentType: 'application/json', subject: 'presence' })), 'presence report');
}
const seconds = (performance.now() - started) / 1000;
await client.close();
console.log(`presence senders ${first}-${first + count - 1}: ${count * rounds} reports in ${seconds.toFixed(1)} s (${((count * rounds) / seconds).toFixed(0)}/s)`);
