// Sends agent reports with @azure/service-bus, as an agent does, reads control messages and a
// node's commands, and sends or peeks at any message the way a principal with rights on the entity could.

import type { ServiceBusClient, ServiceBusMessage, ServiceBusReceivedMessage } from '@azure/service-bus';
import { commandsQueueName, type AgentReport, type ReportState } from '@workforce/worker-agent/contract';
import { sendBatches } from '../../src/adapters/service-bus.js';
import { REPORTS_QUEUE, SHUTDOWN_SUBSCRIPTION } from '../../src/config.js';
import { waitFor } from './control-plane.js';

/** Sends the reports to the reports queue, in as many batches as they need. */
export async function sendReports(sb: ServiceBusClient, reports: AgentReport[]): Promise<void> {
  await sendBatches(sb, REPORTS_QUEUE, reports.map((r) => ({ body: r, contentType: 'application/json', messageId: `${r.messageId}/${r.nodeId}/${r.state}` })));
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

/** The commands waiting in one node's session of the topic's commands queue, looked at, not taken. */
export async function commandsFor(sb: ServiceBusClient, topic: string, nodeId: string): Promise<ServiceBusReceivedMessage[]> {
  const receiver = await sb.acceptSession(commandsQueueName(topic), nodeId);
  try {
    return await receiver.peekMessages(50);
  } finally {
    await receiver.close();
  }
}

/** The orchestration publishes after the API answered: waits for the node's commands to arrive. */
export const commandsArrived = (sb: ServiceBusClient, topic: string, nodeId: string) =>
  waitFor(async () => {
    const got = await commandsFor(sb, topic, nodeId);
    return got.length > 0 && got;
  }, `a command in ${nodeId}'s session`);

/** Sends messages as they are to a queue or topic, in one batch. */
export async function sendRaw(sb: ServiceBusClient, entity: string, messages: ServiceBusMessage | ServiceBusMessage[]): Promise<void> {
  const sender = sb.createSender(entity);
  try {
    await sender.sendMessages(messages);
  } finally {
    await sender.close();
  }
}

/** Up to 50 messages of a queue or a subscription (or of its dead-letter queue), looked at, not taken. */
export async function peek(sb: ServiceBusClient, entity: string, opts: { subscription?: string; deadLetter?: boolean } = {}): Promise<ServiceBusReceivedMessage[]> {
  const options = opts.deadLetter ? { subQueueType: 'deadLetter' as const } : {};
  const receiver = opts.subscription ? sb.createReceiver(entity, opts.subscription, options) : sb.createReceiver(entity, options);
  try {
    return await receiver.peekMessages(50);
  } finally {
    await receiver.close();
  }
}
