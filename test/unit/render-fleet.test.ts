import { describe, expect, it } from 'vitest';
import { printable } from '../../src/cli/printable.js';
import { nodesTable, topicsTable, type NodeJson } from '../../src/cli/render-fleet.js';
import { progressBlock } from '../../src/cli/render.js';

const now = Date.parse('2030-01-01T10:00:00.000Z');
const node = (n: Partial<NodeJson>): NodeJson => ({
  nodeId: 'node-1', state: 'active', since: '2030-01-01T09:00:00.000Z', lastSeen: '2030-01-01T09:59:50.000Z', stale: false, presence: 'heartbeat',
  workers: [{ workerId: 'w-1', pid: 41, alive: true }], workerCount: 1, agentVersion: '0.1.0', hostName: 'vm-1', ...n,
});
// What a sender on the reports queue could put in a node id or host name: clear the screen,
// retitle the terminal, write an OSC 8 link, reverse the line with a bidi override.
const HOSTILE = 'evil\x1b[2J\x1b]0;owned\x07\x1b]8;;https://x.example\x1b\\click\r\u202Egnp.exe';

describe('fleet views in the terminal', () => {
  it('shows control characters of report text as visible escapes, so a report cannot drive the terminal', () => {
    expect(printable(HOSTILE)).toBe('evil\\u001b[2J\\u001b]0;owned\\u0007\\u001b]8;;https://x.example\\u001b\\click\\u000d\\u202egnp.exe');
    const table = nodesTable('t', [node({ nodeId: HOSTILE, hostName: HOSTILE, agentVersion: HOSTILE, workers: [{ workerId: HOSTILE, pid: 1, alive: true }] })], now, false);
    expect(table).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f\u202e]/);
    expect(table).toContain('evil\\u001b[2J');
    // The live drain block prints node and worker ids from drain reports the same way.
    const block = progressBlock({ drainId: 'd', status: 'running', nodes: [{ nodeId: HOSTILE, state: 'draining', since: '2030-01-01T09:00:00.000Z' }], unfinished: [HOSTILE] }, now, new Map([[HOSTILE, [{ workerId: HOSTILE, pid: 7, exited: false }]]]));
    expect(block.join('\n')).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f\u202e]/);
  });

  it('marks stale and offline nodes in the text, and colours stale rows on a terminal only', () => {
    const nodes = [node({}), node({ nodeId: 'node-2', stale: true, lastSeen: '2030-01-01T09:58:00.000Z' }), node({ nodeId: 'node-3', presence: 'offline', state: 'drained' })];
    const plain = nodesTable('t', nodes, now, false);
    const lines = plain.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NODE\s+STATE\s+FOR\s+LAST SEEN\s+DRAIN\s+AGENT\s+HOST\s+WORKERS$/);
    expect(lines[1]).toMatch(/^node-1\s+active\s+1h\s+10s ago\s+-\s+0\.1\.0\s+vm-1\s+1\/1 alive: w-1 \(pid 41\)$/);
    expect(lines[2]).toMatch(/^node-2\s+stale \(was active\)\s+1h\s+2m ago/);
    expect(lines[3]).toMatch(/^node-3\s+offline \(was drained\)/);
    expect(plain).not.toContain('\x1b');
    const coloured = nodesTable('t', nodes, now, true).split('\n');
    expect(coloured[2]).toMatch(/^\x1b\[33mnode-2 .*\x1b\[0m$/);
    expect(coloured.filter((l) => l.includes('\x1b'))).toHaveLength(1);
  });

  it('lists topics with their nodes by state and running drains, and says when there is no inventory', () => {
    const out = topicsTable([
      {
        name: 'eu-west', nodes: { active: 2, 'intake-stopped': 1, draining: 0, drained: 3, stale: 1, offline: 0, total: 7 }, runningDrains: [{ drainId: 'd-1', mode: 'graceful-downscale', requested: 2 }],
        policy: { maxUnavailable: '80%' }, budget: { online: 7, unavailable: 6, inFlight: 1, allowed: 6 },
        skippedRuns: [{ at: '2026-01-01T22:00:00.000Z', schedule: 'nightly', why: 'online 7, unavailable 6, requested 2, allowed 6' }, { at: '2025-12-31T22:00:00.000Z', schedule: 'nightly' }],
      },
      { name: 'us-east' },
    ]).trimEnd().split('\n');
    expect(out[0]).toMatch(/^TOPIC\s+ACTIVE\s+INTAKE-STOPPED\s+DRAINING\s+DRAINED\s+STALE\s+OFFLINE\s+TOTAL\s+BUDGET\s+RUNNING DRAINS$/);
    expect(out[1]).toMatch(/^eu-west\s+2\s+1\s+0\s+3\s+1\s+0\s+7\s+6\/6 \(max 80%\)\s+d-1 \(graceful-downscale x2\)$/);
    expect(out[2]).toMatch(/^us-east(\s+-){8}\s+-$/);
    // The newest skipped run only.
    expect(out.slice(3)).toEqual(['eu-west: scheduled run nightly at 2026-01-01T22:00:00.000Z skipped by the budget: online 7, unavailable 6, requested 2, allowed 6']);
  });
});
