// Presence reports as an agent sends them (online, heartbeat, offline), for nodes the tests
// only simulate: many nodes, a node that falls silent, a node whose text is hostile.

import type { ServiceBusClient } from '@azure/service-bus';
import { PRESENCE_KIND, type PresenceReport } from '@workforce/worker-agent/contract';
import { sendBatches } from '../../src/adapters/service-bus.js';
import { REPORTS_QUEUE } from '../../src/config.js';

export function presenceReport(topic: string, nodeId: string, fields: Partial<PresenceReport> & { heartbeatSeconds?: number } = {}): PresenceReport {
  const now = new Date().toISOString();
  return {
    kind: PRESENCE_KIND, presence: 'heartbeat', nodeId, topic, nodeState: 'active', since: now,
    workers: [], workerCount: 0, agentVersion: '0.1.0-sim', hostName: `${nodeId}.sim`, startedAt: now, sentAt: now, ...fields,
  };
}

/** Sends them to the reports queue as an agent does (subject `presence`). */
export async function sendPresence(sb: ServiceBusClient, reports: PresenceReport[]): Promise<void> {
  await sendBatches(sb, REPORTS_QUEUE, reports.map((r) => ({ body: r, contentType: 'application/json', subject: 'presence' })));
}
