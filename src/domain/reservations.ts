// The admission ledger's entries (docs/DESIGN.md "Safety budget"): a drain admitted against its
// topic's budget reserves its nodes until its drain shows counts among the running drains (from
// then on the drain itself counts, as in flight) or the reservation's TTL passes. The judgment
// and the reservation are one conditional write of the topic's row (adapters/budget-table.ts),
// so two admissions can never both take the last of a budget. Pure.

export interface Reservation {
  drainId: string;
  /** Nodes the drain will make unavailable. */
  nodes: number;
  /** When the reservation stops counting, ISO 8601. */
  until: string;
}

/**
 * How long a reservation counts while its drain shows no counts. A started drain shows counts
 * from its first status on (its input while Pending, then `publishing`), so a reservation normally
 * bridges only admission → start; the TTL bounds one whose start never happened (startNew failed,
 * the worker died in between). It outlasts publishing all the same: 5 attempts with 2 + 4 + 8 +
 * 16 = 30 s of back-off between them, each attempt seconds unless the namespace is failing, so 2
 * minutes covers a slow publish; a failed start holds the budget no longer than that.
 */
export const RESERVATION_TTL_MS = 2 * 60_000;

/**
 * Reservations kept in one row at most: a bounded column (about 120 characters each, well within
 * Table Storage's 32 K-character string property). Drains show counts at once, so only a burst of
 * starts or of failed starts within the TTL gets near it; past it an admission waits (503).
 */
export const MAX_RESERVATIONS = 100;

/** The stored column as reservations; entries that are not reservations are dropped (it is ours alone to write). */
export function parseReservations(stored: unknown): Reservation[] {
  if (typeof stored !== 'string' || stored === '') return [];
  let value: unknown;
  try {
    value = JSON.parse(stored);
  } catch {
    return [];
  }
  if (!Array.isArray(value)) return [];
  return value.filter((r): r is Reservation =>
    typeof r === 'object' && r !== null && typeof r.drainId === 'string' && Number.isInteger(r.nodes) && r.nodes >= 0 && typeof r.until === 'string' && !Number.isNaN(Date.parse(r.until)));
}

/**
 * The reservations that still count: not expired, not of a drain already counted among the
 * running drains (`counted`), not of `except` (the drain being asked: a retried request is not
 * judged against itself); one per drain id (the latest `until`).
 */
export function holding(reservations: readonly Reservation[], counted: ReadonlySet<string>, now: Date, except?: string): Reservation[] {
  const byId = new Map<string, Reservation>();
  for (const r of reservations) {
    if (Date.parse(r.until) <= now.getTime() || counted.has(r.drainId) || r.drainId === except) continue;
    const known = byId.get(r.drainId);
    if (!known || Date.parse(known.until) < Date.parse(r.until)) byId.set(r.drainId, r);
  }
  return [...byId.values()];
}

/** Nodes the reservations hold. */
export function reservedNodes(reservations: readonly Reservation[]): number {
  return reservations.reduce((sum, r) => sum + r.nodes, 0);
}

/**
 * The ledger once `drainId` is admitted: the reservations still holding (`held`, without
 * `drainId`'s own: one per drain, a retried request replaces it) and the new one; undefined when
 * the ledger is full (MAX_RESERVATIONS).
 */
export function withReservation(held: readonly Reservation[], drainId: string, nodes: number, now: Date): Reservation[] | undefined {
  const others = held.filter((r) => r.drainId !== drainId);
  if (others.length >= MAX_RESERVATIONS) return undefined;
  return [...others, { drainId, nodes, until: new Date(now.getTime() + RESERVATION_TTL_MS).toISOString() }];
}
