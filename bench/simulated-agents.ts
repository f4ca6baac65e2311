// 1,000 simulated agents in one process: takes the drain's control messages from the `shutdown`
// subscription (one per "node") and answers each with accepted → signalled → drained reports,
// sent in batches as a fleet's agents would send them (at roughly the same time).
//
//   tsx bench/simulated-agents.ts <connection string> <topic> <count>

import { ServiceBusClient, type ServiceBusMessage } from '@azure/service-bus';
import type { AgentReport, ControlMessage } from '@workforce/worker-agent/contract';

const [connectionString, topic, countText] = process.argv.slice(2);
if (!connectionString || !topic || !countText) {
  console.error('usage: simulated-agents <connection string> <topic> <count>');
  process.exit(2);
}
const count = Number(countText);
const client = new ServiceBusClient(connectionString);
const receiver = client.createReceiver(topic, 'shutdown');
const sender = client.createSender('workforce-reports');

async function sendAll(messages: ServiceBusMessage[]): Promise<void> {
  let batch = await sender.createMessageBatch();
  for (const m of messages) {
    if (batch.tryAddMessage(m)) continue;
    await sender.sendMessages(batch);
    batch = await sender.createMessageBatch();
    batch.tryAddMessage(m);
  }
  if (batch.count > 0) await sender.sendMessages(batch);
}

let taken = 0;
while (taken < count) {
  const got = await receiver.receiveMessages(Math.min(200, count - taken), { maxWaitTimeInMs: 2_000 });
  const reports: ServiceBusMessage[] = [];
  for (const m of got) {
    await receiver.completeMessage(m);
    const body = m.body as ControlMessage;
    const nodeId = `sim-${String(taken++).padStart(4, '0')}`;
    for (const state of ['accepted', 'signalled', 'drained'] as const) {
      const report: AgentReport = {
        ...(body.drainId !== undefined && { drainId: body.drainId }),
        messageId: String(m.messageId), nodeId, topic, state, at: new Date().toISOString(),
        workers: [{ workerId: `${nodeId}-w0`, pid: 10_000 + taken }],
      };
      reports.push({ body: report, contentType: 'application/json', messageId: `${m.messageId}/${state}` });
    }
  }
  await sendAll(reports);
}
await receiver.close();
await sender.close();
await client.close();
console.log(`simulated agents: took ${taken} messages, sent ${taken * 3} reports`);
