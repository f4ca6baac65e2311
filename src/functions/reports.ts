// Service Bus trigger on the reports queue, in batches (`cardinality: 'many'`). The drain reports
// of a batch are grouped by drain, and each drain gets ONE `report` event carrying its reports
// (an array), on the orchestration whose instance id is the drainId. A drain's cost grows with
// the batches, not the reports.
//
// A report is untrusted input (any node identity can send to the queue): it can only inform the
// progress of the drain it names, and only through that drain's orchestration, which checks it
// against the drain (its messages, its topic) before folding it.
//
// - no drainId, or no such drain: logged and completed (nothing to track; a finished drain
//   takes the event and ignores it, as the durable API answers 410 and the client succeeds).
// - a messageId that is not one of the named drain's (`<drainId>/<n>`): logged and completed.
// - every valid report, presence and drain reports alike, updates the fleet inventory once per
//   node per batch (src/adapters/inventory-batch.ts).
// - malformed (a presence report too): logged with the field at fault, kept in the inventory's
//   bounded rejected-reports table, and completed. The function never throws for one report:
//   the host abandons the whole batch when it throws, so after the max delivery count the good
//   reports of the batch would be dead-lettered with it.
// - a failure to raise an event (the durable store unreachable): the function throws, the batch
//   is abandoned and delivered again; what was raised already is raised again and folds to
//   nothing (a node's state only moves forward).

import { app, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { raiseDrainEvent } from '../adapters/durable.js';
import { inventoryInput, updateInventory } from '../adapters/inventory-batch.js';
import { config, REPORTS_QUEUE, SERVICE_BUS_CONNECTION } from '../config.js';
import { REPORT_EVENT } from '../domain/drain-protocol.js';
import { sortParsedReports } from '../domain/report-batch.js';

export async function reportsReceived(messages: unknown[], context: InvocationContext): Promise<void> {
  const batch = inventoryInput(Array.isArray(messages) ? messages : [messages], context.triggerMetadata);
  for (const bad of batch.malformed) context.warn(`report ${bad.messageId} is malformed (${bad.field}: ${bad.reason}); completed without effect`);
  await updateInventory(config().inventory, batch.valid, batch.malformed, context);
  const sorted = sortParsedReports(batch.valid);
  for (const line of sorted.untracked) context.log(line);
  if (sorted.drains.size === 0) return;
  const client = df.getClient(context);
  await Promise.all([...sorted.drains].map(async ([drainId, reports]) => {
    if (!(await raiseDrainEvent(client, drainId, REPORT_EVENT, reports))) {
      context.log(`${reports.length} report(s) for unknown drain ${drainId}: not tracked`);
    }
  }));
}

app.serviceBusQueue('agentReports', {
  connection: SERVICE_BUS_CONNECTION,
  queueName: REPORTS_QUEUE,
  cardinality: 'many',
  extraInputs: [df.input.durableClient()],
  handler: reportsReceived,
});
