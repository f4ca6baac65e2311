// Service Bus trigger on the reports queue: each valid agent report becomes a `report` event on
// the orchestration whose instance id is the report's drainId.
//
// - no drainId, or no such drain: logged and completed (nothing to track; a finished drain
//   takes the event and ignores it, as the durable API answers 410 and the client succeeds).
// - malformed: the function throws, so the message is abandoned and, after the queue's max
//   delivery count (5, set when provisioning), dead-lettered (`MaxDeliveryCountExceeded`). The
//   Node.js programming model has no dead-letter action with a custom reason in GA (only the
//   preview SDK bindings have one, and the local host does not model them), so the reason is in
//   the log and in the error of every attempt.

import { app, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { parseAgentReport } from '@workforce/worker-agent/contract';
import { isNotFoundError } from '../adapters/durable.js';
import { REPORTS_QUEUE, SERVICE_BUS_CONNECTION } from '../config.js';
import { REPORT_EVENT } from './drain-orchestrator.js';

export class InvalidReportError extends Error {
  constructor(readonly field: string, message: string) {
    super(`InvalidReport: ${field}: ${message}`);
    this.name = 'InvalidReportError';
  }
}

export async function reportReceived(message: unknown, context: InvocationContext): Promise<void> {
  const parsed = parseAgentReport(message);
  const messageId = String(context.triggerMetadata?.messageId ?? '?');
  if (!parsed.ok) {
    context.warn(`report ${messageId} is malformed (${parsed.error.field}: ${parsed.error.message}); it will be dead-lettered after the queue's max delivery count`);
    throw new InvalidReportError(parsed.error.field, parsed.error.message);
  }
  const report = parsed.value;
  if (report.drainId === undefined) {
    context.log(`report ${messageId} from ${report.nodeId} (${report.state}) names no drain: not tracked`);
    return;
  }
  try {
    await df.getClient(context).raiseEvent(report.drainId, REPORT_EVENT, report);
  } catch (err) {
    if (!isNotFoundError(err)) throw err;
    context.log(`report ${messageId} from ${report.nodeId} (${report.state}) is for unknown drain ${report.drainId}: not tracked`);
  }
}

app.serviceBusQueue('agentReports', {
  connection: SERVICE_BUS_CONNECTION,
  queueName: REPORTS_QUEUE,
  extraInputs: [df.input.durableClient()],
  handler: reportReceived,
});
