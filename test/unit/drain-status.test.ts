import { EXPIRY_MARGIN_MS, type AgentReport } from '@workforce/worker-agent/contract';
import { describe, expect, it } from 'vitest';
import { drainMessages, type DrainSpecWithId } from '../../src/domain/drain-plan.js';
import { applyReport, newProgress } from '../../src/domain/drain-progress.js';
import { NODE_LIMIT, STATUS_MAX_CHARS, summarize } from '../../src/domain/drain-status.js';
import { scheduledDrainId } from '../../src/domain/schedule.js';

const spec: DrainSpecWithId = {
  drainId: 'd', topic: 't', mode: 'graceful-downscale', count: 1000, deadline: '2030-01-01T02:00:00.000Z',
  notAfter: '2030-01-01T00:15:00.000Z', requestedAt: '2030-01-01T00:00:00.000Z', reason: 'nightly', requestedBy: 'ops',
};
const report = (n: number, state: AgentReport['state'], at: string): AgentReport => ({
  drainId: 'd', messageId: `d/${n}`, nodeId: `node-${String(n).padStart(4, '0')}`, topic: 't', state, at,
  workers: [{ workerId: `gpu-${n}`, pid: 10_000 + n }],
});

describe('summarize', () => {
  it('stays within Azure custom status limits for 1,000 nodes, unfinished nodes first with time in state', () => {
    const p = newProgress('d', 't', 'graceful-downscale', 1000);
    for (let n = 1; n <= 1000; n++) applyReport(p, report(n, n % 10 === 0 ? 'signalled' : 'drained', `2030-01-01T00:${String(n % 60).padStart(2, '0')}:00.000Z`));
    const s = summarize(spec, p, new Date('2030-01-01T01:00:00.000Z'));
    expect(JSON.stringify(s).length).toBeLessThan(16_000);
    expect(s.counts).toMatchObject({ requested: 1000, drained: 900, draining: 100, shortfall: 100 });
    expect(s.nodes).toHaveLength(NODE_LIMIT);
    expect(s.nodesOmitted).toBe(1000 - NODE_LIMIT);
    expect(s.nodes.every((n) => n.state === 'draining')).toBe(true);
    expect(s.nodes[0]).toMatchObject({ since: '2030-01-01T00:00:00.000Z', inStateFor: '1h' });
    expect(s).toMatchObject({ requestedBy: 'ops', reason: 'nightly', deadline: spec.deadline, status: 'running' });
  });
});

describe('summarize at 10,000 nodes', () => {
  const big = { ...spec, count: 10_000 };
  const at = (n: number) => `2030-01-01T00:${String(n % 60).padStart(2, '0')}:00.000Z`;

  it('stays within 16 KB of UTF-16 (Azure\'s custom status limit) with every node unfinished', () => {
    const p = newProgress('d', 't', 'graceful-downscale', 10_000);
    for (let n = 1; n <= 10_000; n++) applyReport(p, report(n, 'signalled', at(n)));
    const s = summarize(big, p, new Date('2030-01-01T01:00:00.000Z'));
    expect(2 * JSON.stringify(s).length).toBeLessThanOrEqual(16 * 1024);
    expect(s.counts).toMatchObject({ requested: 10_000, draining: 10_000, shortfall: 10_000 });
    expect(s.nodes.length + s.nodesOmitted).toBe(10_000);
  });

  it('stays within it when node ids are as long as a report may make them (1,024 characters)', () => {
    const p = newProgress('d', 't', 'graceful-downscale', 10_000);
    for (let n = 1; n <= 100; n++) applyReport(p, { ...report(n, 'signalled', at(n)), nodeId: `${String(n).padStart(4, '0')}${'x'.repeat(1020)}` });
    const s = summarize(big, p, new Date('2030-01-01T01:00:00.000Z'));
    expect(JSON.stringify(s).length).toBeLessThanOrEqual(STATUS_MAX_CHARS);
    expect(s.nodes.length).toBeGreaterThan(0);
    expect(s.nodes.length + s.nodesOmitted).toBe(100);
    expect(s.counts.draining).toBe(100);
  });
});

describe('drainMessages', () => {
  it('numbers the messages <drainId>/<n> and carries the drain, with a TTL to notAfter plus the expiry margin', () => {
    const messages = drainMessages({ ...spec, count: 3 }, 'workforce-reports', new Date('2030-01-01T00:00:00.000Z'));
    expect(messages.map((m) => m.messageId)).toEqual(['d/1', 'd/2', 'd/3']);
    expect(messages[0]).toMatchObject({
      subject: 'graceful-downscale', contentType: 'application/json', timeToLive: 15 * 60_000 + EXPIRY_MARGIN_MS,
      body: { operation: 'graceful-downscale', drainId: 'd', deadline: spec.deadline, notAfter: spec.notAfter, reason: 'nightly', requestedBy: 'ops', replyTo: 'workforce-reports' },
    });
  });
});

describe('scheduledDrainId', () => {
  it('is the same for the same occurrence and valid as a drain id', () => {
    expect(scheduledDrainId('nightly', new Date('2030-01-01T22:00:00Z'))).toBe('nightly-20300101T2200Z');
    expect(scheduledDrainId('fast', new Date('2030-01-01T22:00:30Z'))).toBe('fast-20300101T220030Z');
  });
});
