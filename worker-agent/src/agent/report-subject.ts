// What a report is about: the control message (its id, drain id, reason, requester) and the
// workers it names. Shared by the steps that act on a message and those that follow its drain.

import { type ControlMessage, decodeJsonBody } from '../contract/control-message.js';
import { isDrainId } from '../contract/drain-id.js';
import type { WorkerReport } from '../contract/report.js';
import type { ActedMessage, WorkerRecord } from './node-state.js';
import type { ReportSubject } from './reports.js';

export function subjectOf(messageId: string, message: Pick<ControlMessage, 'drainId' | 'reason' | 'requestedBy'>): ReportSubject {
  const subject: ReportSubject = { messageId };
  if (message.drainId !== undefined) subject.drainId = message.drainId;
  if (message.reason !== undefined) subject.reason = message.reason;
  if (message.requestedBy !== undefined) subject.requestedBy = message.requestedBy;
  return subject;
}

export function subjectOfActed(acted: ActedMessage): ReportSubject {
  return subjectOf(acted.messageId, acted.message);
}

/** An invalid message may still name its drain; the report carries it only if it is a valid drain id. */
export function bestEffortDrainId(body: unknown): { drainId?: string } {
  const decoded = decodeJsonBody(body);
  if (!decoded.ok || typeof decoded.value !== 'object' || decoded.value === null) return {};
  const drainId = (decoded.value as Record<string, unknown>)['drainId'];
  return isDrainId(drainId) ? { drainId } : {};
}

export function toWorkerReport(w: Pick<WorkerRecord, 'workerId' | 'pid'>): WorkerReport {
  return { workerId: w.workerId, pid: w.pid };
}

/** Signalled workers as a report lists them: with the signal each was sent, if any. */
export function signalledReport(records: WorkerRecord[]): WorkerReport[] {
  return records.map((w) => ({ workerId: w.workerId, pid: w.pid, ...(w.signal ? { signal: w.signal } : {}) }));
}
