// Service Bus trigger on the reports queue, in batches (`cardinality: 'many'`): each valid drain
// report becomes a `report` event on the orchestration whose instance id is its drainId, and
// every valid report, presence and drain reports alike, updates the fleet inventory once per
// node per batch (src/adapters/inventory-batch.ts).
//
// A report is untrusted input (any node identity can send to the queue): it can only inform the
// progress of the drain it names, and only through that drain's orchestration, which checks it
// against the drain (its messages, its topic) before folding it.
//
// - no drainId, or no such drain: logged and completed (nothing to track; a finished drain
//   takes the event and ignores it, as the durable API answers 410 and the client succeeds).
// - a messageId that is not one of the named drain's (`<drainId>/<n>`): logged and completed.
// - a presence report (`kind: "presence"`, from every agent every heartbeat): into the inventory.
// - malformed (a presence report too): logged with the field at fault, kept in the inventory's
//   bounded rejected-reports table, and completed. Throwing would abandon the whole batch, and
//   after the queue's max delivery count dead-letter the good reports with it.

import { app, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { type AgentReport, drainMessageNumber } from '@workforce/worker-agent/contract';
import { raiseDrainEvent } from '../adapters/durable.js';
import { inventoryInput, updateInventory } from '../adapters/inventory-batch.js';
import { config, REPORTS_QUEUE, SERVICE_BUS_CONNECTION } from '../config.js';
import { REPORT_EVENT } from '../domain/drain-protocol.js';

export async function reportsReceived(messages: unknown[], context: InvocationContext): Promise<void> {
  const batch = inventoryInput(Array.isArray(messages) ? messages : [messages], context.triggerMetadata);
  for (const bad of batch.malformed) context.warn(`report ${bad.messageId} is malformed (${bad.field}: ${bad.reason}); completed without effect`);
  await updateInventory(config().inventory, batch.valid, batch.malformed, context);
  for (const { messageId, report } of batch.valid) if (!('kind' in report)) await drainReportReceived(messageId, report, context);
}

async function drainReportReceived(messageId: string, report: AgentReport, context: InvocationContext): Promise<void> {
  if (report.drainId === undefined) {
    context.log(`report ${messageId} from ${report.nodeId} (${report.state}) names no drain: not tracked`);
    return;
  }
  if (drainMessageNumber(report.drainId, report.messageId) === undefined) {
    context.warn(`report ${messageId} from ${report.nodeId} (${report.state}) is about message ${JSON.stringify(report.messageId)}, not a message of drain ${report.drainId}: ignored`);
    return;
  }
  if (!(await raiseDrainEvent(df.getClient(context), report.drainId, REPORT_EVENT, report))) {
    context.log(`report ${messageId} from ${report.nodeId} (${report.state}) is for unknown drain ${report.drainId}: not tracked`);
  }
}

app.serviceBusQueue('agentReports', {
  connection: SERVICE_BUS_CONNECTION,
  queueName: REPORTS_QUEUE,
  cardinality: 'many',
  extraInputs: [df.input.durableClient()],
  handler: reportsReceived,
});
