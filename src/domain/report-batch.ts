// One Service Bus batch of the reports queue, sorted: drain reports grouped by the drain they
// name (the trigger raises one event per drain per batch), presence reports, and what is neither.
// Pure. A malformed body is a value here, never a throw: the Functions host abandons the whole
// batch when the function throws, so one bad report would take the good ones to the dead-letter
// queue with it.

import {
  drainMessageNumber, isPresenceBody, parseAgentReport, parsePresenceReport, type AgentReport, type PresenceReport,
} from '@workforce/worker-agent/contract';

export interface RejectedReport {
  /** The Service Bus message id, or `?` when the host gave none. */
  messageId: string;
  /** The field at fault (`body` when the body is not a report at all). */
  field: string;
  message: string;
}

export interface SortedReports {
  /** Drain reports by drain id, in the batch's order. */
  drains: Map<string, AgentReport[]>;
  presence: PresenceReport[];
  /** Valid reports the control plane does not track, with why (logged). */
  untracked: string[];
  /** Malformed reports, with the field at fault. */
  rejected: RejectedReport[];
}

export function sortReports(bodies: readonly unknown[], messageIds: readonly unknown[] = []): SortedReports {
  const parsed: ParsedReport[] = [];
  const rejected: RejectedReport[] = [];
  bodies.forEach((body, i) => {
    const messageId = typeof messageIds[i] === 'string' ? (messageIds[i] as string) : '?';
    const result = isPresenceBody(body) ? parsePresenceReport(body) : parseAgentReport(body);
    if (result.ok) parsed.push({ messageId, report: result.value });
    else rejected.push({ messageId, field: result.error.field, message: result.error.message });
  });
  return { ...sortParsedReports(parsed), rejected };
}

/** A report of the batch that parsed, with its message id. */
export interface ParsedReport {
  messageId: string;
  report: AgentReport | PresenceReport;
}

/** The same for reports parsed already (the trigger parses each once, for the inventory too). */
export function sortParsedReports(reports: readonly ParsedReport[]): Omit<SortedReports, 'rejected'> {
  const sorted: Omit<SortedReports, 'rejected'> = { drains: new Map(), presence: [], untracked: [] };
  for (const { messageId, report } of reports) {
    if ('kind' in report) {
      sorted.presence.push(report);
      continue;
    }
    const about = `report ${messageId} from ${report.nodeId} (${report.state})`;
    if (report.drainId === undefined) {
      sorted.untracked.push(`${about} names no drain: not tracked`);
    } else if (drainMessageNumber(report.drainId, report.messageId) === undefined) {
      sorted.untracked.push(`${about} is about message ${JSON.stringify(report.messageId)}, not a message of drain ${report.drainId}: ignored`);
    } else {
      const group = sorted.drains.get(report.drainId);
      if (group) group.push(report);
      else sorted.drains.set(report.drainId, [report]);
    }
  }
  return sorted;
}
