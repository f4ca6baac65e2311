// Simulated agents in one process (the benchmark starts a few): take the drain's control messages
// from the `shutdown` subscription (one per "node", competing with the other processes) and answer
// each as a real agent's outbox would: `accepted` and `signalled` together, coalesced into one
// message as the agent sends them, then `drained` in a message of its own once the "workers"
// exited (here: with the next batch of nodes), sent in batches as a fleet's agents would send them.
//
//   tsx bench/simulated-agents.ts <connection string> <topic> <count> <process index>

import { ServiceBusClient } from '@azure/service-bus';
import { coalesceReports, type AgentReport, type ControlMessage, type ReportState } from '@workforce/worker-agent/contract';
import { sendBatches } from '../src/adapters/service-bus.js';
import { REPORTS_QUEUE, SHUTDOWN_SUBSCRIPTION } from '../src/config.js';

const [connectionString, topic, countText, indexText] = process.argv.slice(2);
if (!connectionString || !topic || !countText || !indexText) {
  console.error('usage: simulated-agents <connection string> <topic> <count> <process index>');
  process.exit(2);
}
const count = Number(countText);
const client = new ServiceBusClient(connectionString);
const receiver = client.createReceiver(topic, SHUTDOWN_SUBSCRIPTION);

let taken = 0;
let messages = 0;
const send = async (reports: AgentReport[]) => {
  const wire = coalesceReports(reports);
  messages += wire.length;
  const key = (r: AgentReport) => [...(r.earlier ?? []).map((s) => s.state), r.state].join('+');
  await sendBatches(client, REPORTS_QUEUE, wire.map((r) => ({ body: r, contentType: 'application/json', messageId: `${r.messageId}/${r.nodeId}/${key(r)}` })));
};
let drained: AgentReport[] = [];
console.log('ready'); // the benchmark posts the drain once every process got this far
while (taken < count) {
  const got = await receiver.receiveMessages(Math.min(250, count - taken), { maxWaitTimeInMs: 2_000 });
  await Promise.all(got.map((m) => receiver.completeMessage(m)));
  const now: AgentReport[] = [];
  const later: AgentReport[] = [];
  for (const m of got) {
    const body = m.body as ControlMessage;
    const nodeId = `sim-${indexText}-${String(taken++).padStart(5, '0')}`;
    const report = (state: ReportState): AgentReport => ({
      ...(body.drainId !== undefined && { drainId: body.drainId }),
      messageId: String(m.messageId), nodeId, topic, state, at: new Date().toISOString(),
      workers: [{ workerId: `${nodeId}-w0`, pid: 10_000 + taken }],
    });
    now.push(report('accepted'), report('signalled'));
    later.push(report('drained'));
  }
  // The nodes of the previous round drained meanwhile.
  await send([...drained, ...now]);
  drained = later;
}
await send(drained);
await receiver.close();
await client.close();
console.log(`simulated agents ${indexText}: took ${taken} messages, sent ${taken * 3} report states in ${messages} messages`);
