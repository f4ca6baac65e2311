// Bounds of the reports outbox. Reports wait there until Service Bus accepts them; when it never
// does (a reports queue deleted or misnamed, a long outage), they must not pile up for ever in
// the node state, which is rewritten on every change: each report has a time to live, and the
// outbox a cap (the oldest go first). What is dropped is logged.

import type { Logger } from '../common/log.js';
import type { OutboxItem } from './node-state.js';

export interface OutboxLimits {
  /** A report older than this (by its `at`) is dropped unsent. */
  readonly ttlMs: number;
  /** At most this many reports wait; beyond it the oldest are dropped. */
  readonly max: number;
}

export const DEFAULT_OUTBOX_TTL_MS = 24 * 60 * 60_000;
export const DEFAULT_OUTBOX_MAX = 500;

/** The outbox without its expired reports and its overflow (oldest first); logs what went. */
export function boundOutbox(outbox: readonly OutboxItem[], limits: OutboxLimits, now: Date, log: Logger): OutboxItem[] {
  const t = now.getTime();
  // An unreadable `at` counts as expired: nothing could ever make it young again.
  const expired = outbox.filter((item) => !(t - Date.parse(item.report.at) <= limits.ttlMs));
  const fresh = expired.length === 0 ? [...outbox] : outbox.filter((item) => !expired.includes(item));
  const overflow = fresh.splice(0, Math.max(0, fresh.length - limits.max));
  if (expired.length > 0) log.warn('reports-dropped', { why: 'expired', ttlMs: limits.ttlMs, reports: expired.map(describe) });
  if (overflow.length > 0) log.warn('reports-dropped', { why: 'outbox-full', max: limits.max, reports: overflow.map(describe) });
  return fresh;
}

function describe(item: OutboxItem): string {
  return `${item.report.messageId}:${item.report.state}@${item.report.at}`;
}
