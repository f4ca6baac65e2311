// Sends agent reports with @azure/service-bus, as an agent does, and reads control messages.

import type { ServiceBusClient, ServiceBusReceivedMessage } from '@azure/service-bus';
import type { AgentReport, ReportState } from '@workforce/worker-agent/contract';
import { REPORTS_QUEUE, SHUTDOWN_SUBSCRIPTION } from '../../src/config.js';

export async function sendReports(sb: ServiceBusClient, reports: AgentReport[]): Promise<void> {
  const sender = sb.createSender(REPORTS_QUEUE);
  try {
    await sender.sendMessages(reports.map((r) => ({ body: r, contentType: 'application/json', messageId: `${r.messageId}/${r.nodeId}/${r.state}` })));
  } finally {
    await sender.close();
  }
}

export function report(drainId: string, n: number, nodeId: string, state: ReportState, topic: string, at = new Date()): AgentReport {
  return { drainId, messageId: `${drainId}/${n}`, nodeId, topic, state, workers: [{ workerId: `${nodeId}-w`, pid: 1000 + n }], at: at.toISOString() };
}

/** Receives up to `count` control messages from the `shutdown` subscription (peek-lock, completed). */
export async function takeControlMessages(sb: ServiceBusClient, topic: string, count: number, maxWaitMs = 5_000): Promise<ServiceBusReceivedMessage[]> {
  const receiver = sb.createReceiver(topic, SHUTDOWN_SUBSCRIPTION);
  const got: ServiceBusReceivedMessage[] = [];
  const until = Date.now() + maxWaitMs;
  try {
    while (got.length < count && Date.now() < until) {
      for (const m of await receiver.receiveMessages(count - got.length, { maxWaitTimeInMs: 500 })) {
        got.push(m);
        await receiver.completeMessage(m);
      }
    }
    return got;
  } finally {
    await receiver.close();
  }
}
