// 1,000 simulated agents in one process: takes the drain's control messages from the `shutdown`
// subscription (one per "node") and answers each with accepted → signalled → drained reports,
// sent in batches as a fleet's agents would send them (at roughly the same time).
//
//   tsx bench/simulated-agents.ts <connection string> <topic> <count>

import { ServiceBusClient } from '@azure/service-bus';
import type { AgentReport, ControlMessage } from '@workforce/worker-agent/contract';
import { SHUTDOWN_SUBSCRIPTION } from '../src/config.js';
import { sendReports } from '../test/support/agents.js';

const [connectionString, topic, countText] = process.argv.slice(2);
if (!connectionString || !topic || !countText) {
  console.error('usage: simulated-agents <connection string> <topic> <count>');
  process.exit(2);
}
const count = Number(countText);
const client = new ServiceBusClient(connectionString);
const receiver = client.createReceiver(topic, SHUTDOWN_SUBSCRIPTION);

let taken = 0;
while (taken < count) {
  const got = await receiver.receiveMessages(Math.min(200, count - taken), { maxWaitTimeInMs: 2_000 });
  const reports: AgentReport[] = [];
  for (const m of got) {
    await receiver.completeMessage(m);
    const body = m.body as ControlMessage;
    const nodeId = `sim-${String(taken++).padStart(4, '0')}`;
    for (const state of ['accepted', 'signalled', 'drained'] as const) {
      reports.push({
        ...(body.drainId !== undefined && { drainId: body.drainId }),
        messageId: String(m.messageId), nodeId, topic, state, at: new Date().toISOString(),
        workers: [{ workerId: `${nodeId}-w0`, pid: 10_000 + taken }],
      });
    }
  }
  await sendReports(client, reports);
}
await receiver.close();
await client.close();
console.log(`simulated agents: took ${taken} messages, sent ${taken * 3} reports`);
