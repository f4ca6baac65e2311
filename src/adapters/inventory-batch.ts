// What the reports trigger does for the fleet inventory with one batch: the valid reports are
// grouped by node and written once per node (docs/DESIGN.md "Fleet inventory"), and the refused
// ones are logged with the field at fault and kept in the bounded rejected-reports table. A
// failure of Table Storage is logged and does not fail the batch: the next heartbeat of each
// node writes its row again, and the batch's drain reports still reach their drains.

import { isPresenceBody, parseAgentReport, parsePresenceReport } from '@workforce/worker-agent/contract';
import type { InventoryStorage } from '../config.js';
import { groupByNode, type ReceivedReport } from '../domain/node-inventory.js';
import { nodeInventory, REJECTED_TABLE, type RejectedReport } from './inventory-table.js';

export interface BatchLog {
  debug(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** A valid report of the batch, with its message's identity. */
export interface BatchReport extends ReceivedReport {
  messageId: string;
  sequenceNumber: number;
}

const EXCERPT = 512;

export function excerpt(body: unknown): string {
  let text: string;
  if (body instanceof Uint8Array) text = new TextDecoder().decode(body.subarray(0, EXCERPT * 4));
  else if (typeof body === 'string') text = body;
  else {
    try {
      text = JSON.stringify(body) ?? String(body);
    } catch {
      text = String(body);
    }
  }
  return text.slice(0, EXCERPT);
}

/** The i-th value of a batch's `<name>Array` trigger metadata. */
function batchMeta(metadata: Record<string, unknown> | undefined, name: string, i: number): unknown {
  const values = metadata?.[`${name}Array`];
  return Array.isArray(values) ? values[i] : undefined;
}

/**
 * A batch's messages as the inventory takes them: each report parsed, with its message id,
 * sequence number and the time Service Bus took it (the trigger's `...Array` metadata), and the
 * malformed ones with the field at fault.
 */
export function inventoryInput(messages: readonly unknown[], metadata: Record<string, unknown> | undefined): { valid: BatchReport[]; malformed: RejectedReport[] } {
  const valid: BatchReport[] = [];
  const malformed: RejectedReport[] = [];
  messages.forEach((body, i) => {
    const messageId = String(batchMeta(metadata, 'messageId', i) ?? '?');
    const sequenceNumber = Number(batchMeta(metadata, 'sequenceNumber', i) ?? i);
    const enqueued = new Date(String(batchMeta(metadata, 'enqueuedTimeUtc', i) ?? ''));
    const receivedAt = Number.isNaN(enqueued.getTime()) ? new Date() : enqueued;
    const parsed = isPresenceBody(body) ? parsePresenceReport(body) : parseAgentReport(body);
    if (parsed.ok) valid.push({ report: parsed.value, receivedAt, messageId, sequenceNumber });
    else malformed.push({ sequenceNumber, messageId, field: parsed.error.field, reason: parsed.error.message, excerpt: excerpt(body) });
  });
  return { valid, malformed };
}

export async function updateInventory(storage: InventoryStorage | undefined, reports: readonly BatchReport[], malformed: readonly RejectedReport[], log: BatchLog): Promise<void> {
  const { nodes, rejected } = groupByNode(reports);
  const refused = [...malformed];
  for (const r of rejected) {
    const report = reports[r.index]!;
    log.warn(`report ${report.messageId} from ${JSON.stringify(report.report.nodeId.slice(0, 64))} is not taken into the inventory (${r.field}: ${r.reason})`);
    refused.push({ sequenceNumber: report.sequenceNumber, messageId: report.messageId, field: r.field, reason: `not taken into the inventory: ${r.reason}`, excerpt: excerpt(report.report) });
  }
  if (!storage) {
    if (nodes.length > 0) log.debug(`inventory not configured: ${nodes.length} nodes reported, nothing stored`);
    return;
  }
  const inventory = nodeInventory(storage);
  try {
    const started = performance.now();
    const { written, unchanged, failed } = await inventory.apply(nodes);
    log.debug(`inventory: ${reports.length} reports, ${written} node rows written, ${unchanged} nodes had a newer row, in ${Math.round(performance.now() - started)} ms`);
    for (const f of failed) log.error(`inventory: writing ${f.nodes} node rows failed (${f.error}); their next heartbeats write them again`);
  } catch (err) {
    log.error(`inventory: writing ${nodes.length} node rows failed (${String((err as Error)?.message ?? err).split('\n')[0]}); the next heartbeats write them again`);
  }
  try {
    await inventory.recordRejected(refused);
  } catch (err) {
    log.error(`inventory: recording ${refused.length} refused reports in ${REJECTED_TABLE} failed (${String((err as Error)?.message ?? err).split('\n')[0]})`);
  }
}
