// Service Bus trigger on the reports queue: each valid agent report becomes a `report` event on
// the orchestration whose instance id is the report's drainId.
//
// A report is untrusted input (any node identity can send to the queue): it can only inform the
// progress of the drain it names, and only through that drain's orchestration, which checks it
// against the drain (its messages, its topic) before folding it.
//
// - no drainId, or no such drain: logged and completed (nothing to track; a finished drain
//   takes the event and ignores it, as the durable API answers 410 and the client succeeds).
// - a messageId that is not one of the named drain's (`<drainId>/<n>`): logged and completed.
// - a presence report (`kind: "presence"`, from every agent every heartbeat): logged at debug
//   level and completed. It names no drain; the fleet inventory that stores it comes next
//   (issue #15, "Inventory in the control plane"). Never dead-lettered unless malformed.
// - malformed (a presence report too): the function throws, so the message is abandoned and, after the queue's max
//   delivery count (5, set when provisioning), dead-lettered (`MaxDeliveryCountExceeded`). The
//   Node.js programming model has no dead-letter action with a custom reason in GA (only the
//   preview SDK bindings have one, and the local host does not model them), so the reason is in
//   the log and in the error of every attempt.

import { app, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { type ContractError, drainMessageNumber, isPresenceBody, parseAgentReport, parsePresenceReport } from '@workforce/worker-agent/contract';
import { raiseDrainEvent } from '../adapters/durable.js';
import { REPORTS_QUEUE, SERVICE_BUS_CONNECTION } from '../config.js';
import { REPORT_EVENT } from '../domain/drain-protocol.js';

export class InvalidReportError extends Error {
  constructor(readonly field: string, message: string) {
    super(`InvalidReport: ${field}: ${message}`);
    this.name = 'InvalidReportError';
  }
}

export async function reportReceived(message: unknown, context: InvocationContext): Promise<void> {
  const messageId = String(context.triggerMetadata?.messageId ?? '?');
  if (isPresenceBody(message)) {
    const presence = parsePresenceReport(message);
    if (!presence.ok) return malformed(messageId, presence.error, context);
    const p = presence.value;
    context.debug(`presence ${messageId} from ${p.nodeId} on ${p.topic}: ${p.presence}, ${p.nodeState} since ${p.since}, ${p.workerCount} workers`);
    return;
  }
  const parsed = parseAgentReport(message);
  if (!parsed.ok) return malformed(messageId, parsed.error, context);
  const report = parsed.value;
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

function malformed(messageId: string, error: ContractError, context: InvocationContext): never {
  context.warn(`report ${messageId} is malformed (${error.field}: ${error.message}); it will be dead-lettered after the queue's max delivery count`);
  throw new InvalidReportError(error.field, error.message);
}

app.serviceBusQueue('agentReports', {
  connection: SERVICE_BUS_CONNECTION,
  queueName: REPORTS_QUEUE,
  extraInputs: [df.input.durableClient()],
  handler: reportReceived,
});
