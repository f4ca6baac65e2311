import { EXPIRY_MARGIN_MS, type AgentReport, type ReportState } from '@workforce/worker-agent/contract';
import { describe, expect, it } from 'vitest';
import { judge, REPORT_GRACE_MS } from '../../src/domain/drain-end.js';
import type { DrainSpecWithId } from '../../src/domain/drain-plan.js';
import { applyReport, newProgress } from '../../src/domain/drain-progress.js';

const t0 = Date.parse('2030-01-01T00:00:00Z');
const at = (ms: number) => new Date(t0 + ms);
const spec = (extra: Partial<DrainSpecWithId> = {}): DrainSpecWithId => ({
  drainId: 'd', topic: 't', mode: 'graceful-downscale', count: 2, notAfter: at(600_000).toISOString(), requestedAt: at(0).toISOString(), ...extra,
});
const report = (n: number, node: string, state: ReportState): AgentReport => ({ drainId: 'd', messageId: `d/${n}`, nodeId: node, topic: 't', state, workers: [], at: at(1000).toISOString() });
const progressOf = (s: DrainSpecWithId, reports: AgentReport[]) => {
  const p = newProgress(s.drainId, s.topic, s.mode, s.count);
  for (const r of reports) applyReport(p, r);
  return p;
};

describe('judge', () => {
  it('completes when count nodes reached the target state', () => {
    const s = spec();
    expect(judge(s, progressOf(s, [report(1, 'a', 'drained'), report(2, 'b', 'drained')]), at(5000))).toMatchObject({ end: 'completed' });
    const intake = spec({ mode: 'do-not-accept-new-tasks', count: 1 });
    expect(judge(intake, progressOf(intake, [report(1, 'a', 'intake-stopped')]), at(5000)).end).toBe('completed');
  });

  it('waits until the deadline plus the report grace, then times out with the shortfall', () => {
    const s = spec({ deadline: at(3_600_000).toISOString() });
    const p = progressOf(s, [report(1, 'a', 'drained'), report(2, 'b', 'signalled')]);
    expect(judge(s, p, at(3_600_000))).toEqual({ end: false, wakeAt: at(3_600_000 + REPORT_GRACE_MS).toISOString() });
    const verdict = judge(s, p, at(3_600_000 + REPORT_GRACE_MS));
    expect(verdict).toMatchObject({ end: 'timed-out' });
    expect(verdict.end && verdict.outcome).toContain('1 of 2 nodes did not reach');
  });

  it('without a deadline, keeps waiting for nodes that accepted, past notAfter', () => {
    const s = spec();
    const p = progressOf(s, [report(1, 'a', 'accepted')]);
    expect(judge(s, p, at(0))).toEqual({ end: false, wakeAt: at(600_000 + REPORT_GRACE_MS).toISOString() });
    expect(judge(s, p, at(700_000))).toEqual({ end: false });
    applyReport(p, report(1, 'a', 'drained'));
    expect(judge(s, p, at(700_000))).toMatchObject({ end: 'timed-out' });
  });

  it('with a deadline, times out when the untaken messages expired and no node is on its way, not at the deadline', () => {
    const s = spec({ deadline: at(3_600_000).toISOString() });
    const none = progressOf(s, []);
    expect(judge(s, none, at(0))).toEqual({ end: false, wakeAt: at(600_000 + REPORT_GRACE_MS).toISOString() });
    const verdict = judge(s, none, at(600_000 + REPORT_GRACE_MS));
    expect(verdict).toMatchObject({ end: 'timed-out' });
    expect(verdict.end && verdict.outcome).toContain('2 of 2 nodes did not reach the target state; 2 messages expired untaken');

    // A node still on its way is waited for until the deadline.
    const one = progressOf(s, [report(1, 'a', 'signalled')]);
    expect(judge(s, one, at(600_000 + REPORT_GRACE_MS))).toEqual({ end: false, wakeAt: at(3_600_000 + REPORT_GRACE_MS).toISOString() });
    applyReport(one, report(1, 'a', 'drained'));
    expect(judge(s, one, at(600_000 + REPORT_GRACE_MS))).toMatchObject({ end: 'timed-out', outcome: expect.stringContaining('1 message expired untaken') });
  });

  it('completes with an escalation in the outcome, saying how many workers were SIGKILLed', () => {
    const s = spec({ count: 1, deadline: at(60_000).toISOString() });
    const killed = { workers: [{ workerId: 'w', pid: 7, signal: 'SIGKILL' }] };
    const p = progressOf(s, [{ ...report(1, 'a', 'escalated'), ...killed }, report(1, 'a', 'drained')]);
    expect(judge(s, p, at(61_000))).toEqual({
      end: 'completed', outcome: '1 of 1 nodes reached the target state; 1 worker on 1 node was SIGKILLed at the deadline (their tasks may be lost)',
    });
  });

  it('waits for the escalation of a node that drained after the deadline when its reports arrive out of order', () => {
    const s = spec({ count: 1, deadline: at(60_000).toISOString() });
    const drained = { ...report(1, 'a', 'drained'), at: at(60_500).toISOString() };
    const p = progressOf(s, [report(1, 'a', 'signalled'), drained]);
    expect(judge(s, p, at(61_000))).toEqual({ end: false, wakeAt: at(60_000 + REPORT_GRACE_MS).toISOString() });
    applyReport(p, { ...report(1, 'a', 'escalated'), workers: [{ workerId: 'w', pid: 7, signal: 'SIGKILL' }], at: at(60_000).toISOString() });
    expect(judge(s, p, at(61_000))).toMatchObject({ end: 'completed', outcome: expect.stringContaining('1 worker on 1 node was SIGKILLed') });
    // Never beyond the grace: without the escalated report it completes then.
    expect(judge(s, progressOf(s, [drained]), at(60_000 + REPORT_GRACE_MS))).toEqual({ end: 'completed', outcome: '1 of 1 nodes reached the target state' });
    // A node that drained before the deadline completes the drain at once.
    expect(judge(s, progressOf(s, [report(1, 'a', 'drained')]), at(61_000))).toMatchObject({ end: 'completed' });
  });

  it('ends at once when every message has a final answer and too few reached the target', () => {
    const s = spec();
    expect(judge(s, progressOf(s, [report(1, 'a', 'drained'), report(2, 'b', 'expired')]), at(1000))).toMatchObject({ end: 'timed-out' });
  });
});

describe('control message expiry and the report grace', () => {
  it('lets untaken messages expire before a drain times out for notAfter', () => {
    // A drain judged timed-out at notAfter + grace must not leave messages a node could still take.
    expect(EXPIRY_MARGIN_MS).toBeGreaterThan(0);
    expect(EXPIRY_MARGIN_MS).toBeLessThan(REPORT_GRACE_MS);
  });
});
