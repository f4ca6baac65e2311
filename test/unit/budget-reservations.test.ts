import { describe, expect, it } from 'vitest';
import { holding, MAX_RESERVATIONS, parseReservations, RESERVATION_TTL_MS, reservedNodes, withReservation, type Reservation } from '../../src/domain/reservations.js';

const NOW = new Date('2026-03-01T10:00:00.000Z');
const at = (ms: number) => new Date(NOW.getTime() + ms).toISOString();
const r = (drainId: string, nodes: number, untilMs = 60_000): Reservation => ({ drainId, nodes, until: at(untilMs) });

describe('the admission ledger rule', () => {
  it('counts a reservation until its drain is counted among the running drains: each drain once', () => {
    const ledger = [r('a', 1), r('b', 2), r('c', 1)];
    expect(reservedNodes(holding(ledger, new Set(), NOW))).toBe(4);
    // b shows counts: it is counted in flight, its reservation no more.
    expect(holding(ledger, new Set(['b']), NOW).map((x) => x.drainId)).toEqual(['a', 'c']);
    expect(reservedNodes(holding(ledger, new Set(['a', 'b', 'c']), NOW))).toBe(0);
  });

  it('ignores expired reservations: a start that never happened holds the budget no longer than the TTL', () => {
    const ledger = [r('gone', 3, -1), r('edge', 1, 0), r('live', 1, 1)];
    expect(holding(ledger, new Set(), NOW).map((x) => x.drainId)).toEqual(['live']);
  });

  it('keeps one reservation per drain id, and never counts a drain against itself', () => {
    const ledger = [r('a', 1, 10_000), r('a', 1, 50_000), r('b', 1)];
    expect(holding(ledger, new Set(), NOW)).toEqual([r('a', 1, 50_000), r('b', 1)]);
    expect(holding(ledger, new Set(), NOW, 'a')).toEqual([r('b', 1)]);
  });

  it('writes a retried drain once, with a fresh TTL, beside the others', () => {
    const next = withReservation([r('a', 1), r('b', 2)], 'a', 1, NOW);
    expect(next).toEqual([r('b', 2), { drainId: 'a', nodes: 1, until: at(RESERVATION_TTL_MS) }]);
  });

  it('keeps the ledger bounded: full at MAX_RESERVATIONS others', () => {
    const full = Array.from({ length: MAX_RESERVATIONS }, (_, i) => r(`d-${i}`, 1));
    expect(withReservation(full, 'one-more', 1, NOW)).toBeUndefined();
    expect(withReservation(full, 'd-7', 1, NOW)).toHaveLength(MAX_RESERVATIONS);
  });

  it('reads the stored column, dropping what is not a reservation', () => {
    expect(parseReservations(undefined)).toEqual([]);
    expect(parseReservations('')).toEqual([]);
    expect(parseReservations('{not json')).toEqual([]);
    expect(parseReservations('{"drainId":"a"}')).toEqual([]);
    const stored = JSON.stringify([r('a', 1), { drainId: 'b', nodes: -1, until: at(1) }, { drainId: 'c', nodes: 1, until: 'soon' }, null, r('d', 2)]);
    expect(parseReservations(stored)).toEqual([r('a', 1), r('d', 2)]);
  });
});
