import { describe, expect, it } from 'vitest';
import { allowedUnavailable, describeBudget, inFlightOf, judgeBudget, parseMaxUnavailable, parsePolicy } from '../../src/domain/budget.js';
import { emptyCounts, type NodeCounts } from '../../src/domain/node-view.js';

function counts(by: Partial<NodeCounts>): NodeCounts {
  const c = { ...emptyCounts(), ...by };
  c.total = c.active + c['intake-stopped'] + c.draining + c.drained + c.stale + c.offline;
  return c;
}

describe('the budget rule', () => {
  it('takes a whole number or a percentage of 0-100, and names maxUnavailable otherwise', () => {
    expect(parseMaxUnavailable(5)).toEqual({ ok: true, value: 5 });
    expect(parseMaxUnavailable(0)).toEqual({ ok: true, value: 0 });
    expect(parseMaxUnavailable('20%')).toEqual({ ok: true, value: '20%' });
    expect(parseMaxUnavailable('007%')).toEqual({ ok: true, value: '7%' });
    for (const [bad, why] of [[-1, 'negative'], [1.5, 'not a whole number'], ['101%', 'over 100%'], ['20', 'not a percentage'], ['-5%', 'not a percentage'], [null, 'maxUnavailable must be']] as const) {
      const r = parseMaxUnavailable(bad);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.problem).toMatchObject({ status: 400, field: 'maxUnavailable', detail: expect.stringContaining(why) });
    }
    const body = parsePolicy({ maxUnavailable: '20%', extra: 1 });
    expect(!body.ok && body.problem.field).toBe('extra');
    const missing = parsePolicy({});
    expect(!missing.ok && missing.problem.field).toBe('maxUnavailable');
  });

  it('rounds a percentage up over the online nodes, as Kubernetes rounds maxUnavailable', () => {
    expect(allowedUnavailable({ maxUnavailable: '20%' }, 10)).toBe(2);
    expect(allowedUnavailable({ maxUnavailable: '20%' }, 11)).toBe(3);
    expect(allowedUnavailable({ maxUnavailable: '1%' }, 1)).toBe(1);
    expect(allowedUnavailable({ maxUnavailable: '0%' }, 50)).toBe(0);
    expect(allowedUnavailable({ maxUnavailable: 4 }, 2)).toBe(4);
  });

  it('counts intake-stopped, draining, drained and stale nodes and in-flight messages as unavailable; offline nodes as neither', () => {
    const c = counts({ active: 5, 'intake-stopped': 1, draining: 1, drained: 1, stale: 1, offline: 3 });
    const v = judgeBudget({ maxUnavailable: '50%' }, c, { inFlight: 1, reserved: 0 }, 0);
    expect(v).toMatchObject({ online: 9, unavailable: 5, inFlight: 1, reserved: 0, allowed: 5, exceeded: false });
    expect(judgeBudget({ maxUnavailable: '50%' }, c, { inFlight: 1, reserved: 0 }, 1)).toMatchObject({ requested: 1, exceeded: true });
    expect(judgeBudget({ maxUnavailable: '50%' }, c, { inFlight: 0, reserved: 0 }, 1)).toMatchObject({ unavailable: 4, exceeded: false });
  });

  it('counts the reservations of admitted drains as unavailable, and names them', () => {
    const c = counts({ active: 6 });
    const v = judgeBudget({ maxUnavailable: 2 }, c, { inFlight: 1, reserved: 1 }, 1);
    expect(v).toMatchObject({ online: 6, unavailable: 2, inFlight: 1, reserved: 1, requested: 1, allowed: 2, exceeded: true });
    expect(describeBudget(v)).toBe('online 6, unavailable 2 (1 in flight, 1 reserved), requested 1, allowed 2 (maxUnavailable 2)');
    expect(judgeBudget({ maxUnavailable: 2 }, c, { inFlight: 0, reserved: 1 }, 1).exceeded).toBe(false);
  });

  it('never refuses a request for no node, even over budget', () => {
    expect(judgeBudget({ maxUnavailable: 0 }, counts({ drained: 3 }), { inFlight: 0, reserved: 2 }, 0).exceeded).toBe(false);
  });

  it('takes as in flight the messages no node acted on: untaken, or only accepted', () => {
    expect(inFlightOf({ untaken: 2, accepted: 3, intakeStopped: 1, draining: 1, drained: 0 })).toBe(3);
  });
});
