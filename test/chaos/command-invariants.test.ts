// The per-node command invariants check themselves on made-up nodes and agent logs: a command
// acted on by a node it does not name, acted on twice, acted on and also answered, never
// answered, or shown in its drain's status otherwise than the node answered; a resumed node not
// active, its flag still up or a worker still idle; a targeted drain timed out with nobody
// refusing. A run where one named node refused, one expired and the rest acted must pass.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { QueueEvent } from '../../worker-agent/examples/local-queue.js';
import type { NodeState } from '../../worker-agent/src/agent/node-state.js';
import { checkCommands } from './command-invariants.js';
import type { ChaosNode } from './fleet.js';
import { checkDrains, checkNodes, type DrainOutcome } from './invariants.js';

const dir = mkdtempSync(join(tmpdir(), 'chaos-commands-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const DRAIN = 'chaos-1-t0';
const RESUME = 'chaos-1-r1';
type Log = Array<Record<string, unknown>>;

/** A node whose agents logged `logs` (one array per agent life). */
function node(id: string, opts: { state?: NodeState['state']; logs: Log[]; flag?: boolean; idle?: boolean }): ChaosNode {
  const flag = join(dir, `${id}.intake-stopped`);
  if (opts.flag) writeFileSync(flag, '{}');
  const st: NodeState = { version: 1, nodeId: id, topic: 'chaos-1', state: opts.state ?? 'active', since: '', seen: [], outbox: [] };
  const worker = { workerId: `${id}-node-0`, kind: 'node', child: { exitCode: null, signalCode: null } };
  const events: QueueEvent[] = [
    { event: 'registered', workerId: worker.workerId, at: 0, mono: '0' },
    { event: opts.idle ? 'idle' : 'started', workerId: worker.workerId, at: 1, mono: '0', taskId: 't1' },
  ];
  return {
    id,
    intakeFlag: flag,
    workers: [worker],
    agents: opts.logs.map((log) => ({ events: () => log })),
    state: () => st,
    liveWorkers: () => [worker],
    queue: { events: () => events, pending: () => [] },
  } as unknown as ChaosNode;
}

const accepted = (messageId: string, operation = 'graceful-downscale') => ({ event: 'message-accepted', messageId, operation });
const answered = (messageId: string, report: string) => ({ event: 'command-answered', messageId, report, reason: 'drained: resume it first' });

function drain(states: Record<string, string>, status = 'timed-out', over: Record<string, number> = {}): DrainOutcome {
  const progress = Object.fromEntries(Object.entries(states).map(([nodeId, state], i) => [nodeId, { nodeId, state, messageId: `${DRAIN}/${i + 1}` }]));
  const all = Object.values(states);
  const n = (s: string) => all.filter((x) => x === s).length;
  return {
    drainId: DRAIN,
    count: 3,
    mode: 'graceful-downscale',
    targets: ['a', 'b', 'c'],
    status: { status, mode: 'graceful-downscale', progress: { nodes: progress }, counts: { drained: n('drained'), refused: n('refused'), expired: n('expired'), done: n('drained'), shortfall: 3 - n('drained'), ...over }, anomalies: [] },
  };
}

// a drained for its command, b refused (it was drained already by another drain), c's expired.
const good = () => [
  node('a', { state: 'drained', logs: [[accepted(`${DRAIN}/1`)]] }),
  node('b', { state: 'drained', logs: [[answered(`${DRAIN}/2`, 'refused')]] }),
  node('c', { logs: [[{ event: 'message-expired', messageId: `${DRAIN}/3` }]] }),
  node('d', { logs: [] }),
];
const goodStatus = () => drain({ a: 'drained', b: 'refused', c: 'expired' });

describe('per-node command invariants', () => {
  it('accept a targeted drain where one named node acted, one refused and one let its command expire', () => {
    expect(checkCommands(good(), [goodStatus()])).toEqual([]);
  });

  it('report a node acting on a command addressed to another', () => {
    const nodes = [...good(), node('e', { state: 'drained', logs: [[accepted(`${DRAIN}/1`)]] })];
    expect(checkCommands(nodes, [goodStatus()])).toEqual([`e acted ${DRAIN}/1, a command addressed to a`]);
  });

  it('report a command acted on twice, or acted on and also answered', () => {
    const twice = [node('a', { state: 'drained', logs: [[accepted(`${DRAIN}/1`)], [accepted(`${DRAIN}/1`)]] })];
    expect(checkNodes(twice, [goodStatus()])).toContain(`a accepted ${DRAIN}/1 2 times (acted on it more than once)`);
    const both = [node('a', { state: 'drained', logs: [[accepted(`${DRAIN}/1`)], [answered(`${DRAIN}/1`, 'refused')]] }), ...good().slice(1)];
    expect(checkCommands(both, [goodStatus()])).toEqual([`a acted on ${DRAIN}/1 and also answered it (refused)`]);
  });

  it('report a named node that never answered, and a status that says otherwise than the node', () => {
    const silent = [good()[0]!, node('b', { logs: [] }), good()[2]!];
    expect(checkCommands(silent, [goodStatus()])).toEqual([`b neither acted on nor answered its command ${DRAIN}/2 (status: refused)`]);
    expect(checkCommands(good(), [drain({ a: 'drained', b: 'drained', c: 'expired' })])).toContain(`drain ${DRAIN} shows b drained, but the node answered refused ${DRAIN}/2 (want refused)`);
    expect(checkCommands(good(), [drain({ a: 'drained', b: 'refused', c: 'expired', d: 'drained' })])).toContain(`drain ${DRAIN} status lists d, which it does not name`);
  });

  it('report counts that disagree with the nodes, and a targeted drain timed out with nobody refusing', () => {
    expect(checkCommands(good(), [drain({ a: 'drained', b: 'refused', c: 'expired' }, 'timed-out', { refused: 0 })])).toEqual([`drain ${DRAIN} counts.refused 0 but progress lists 1`]);
    const allActed = [node('a', { state: 'drained', logs: [[accepted(`${DRAIN}/1`)]] }), node('b', { state: 'drained', logs: [[accepted(`${DRAIN}/2`)]] }), node('c', { state: 'drained', logs: [[accepted(`${DRAIN}/3`)]] })];
    expect(checkCommands(allActed, [drain({ a: 'drained', b: 'drained', c: 'drained' }, 'timed-out')])).toEqual([`drain ${DRAIN} timed out although no named node refused or let its command expire`]);
    expect(checkDrains(allActed, [drain({ a: 'drained', b: 'drained', c: 'drained' }, 'timed-out')])).toContain(`drain ${DRAIN} timed out (shortfall 0, outcome: undefined) although enough nodes were able to act`);
  });

  it('report a node resumed last that is not active, keeps its flag up, or whose worker stays idle', () => {
    const resume: DrainOutcome = { drainId: RESUME, count: 1, mode: 'resume', targets: ['r'], status: undefined };
    const stop: DrainOutcome = { drainId: 'chaos-1-s0', count: 1, mode: 'do-not-accept-new-tasks', targets: ['r'], status: undefined };
    const logs = [[accepted('chaos-1-s0/1', 'do-not-accept-new-tasks'), accepted(`${RESUME}/1`, 'resume')]];
    expect(checkNodes([node('r', { logs })], [stop, resume])).toEqual([]);
    expect(checkNodes([node('r', { state: 'intake-stopped', logs, flag: true, idle: true })], [stop, resume])).toEqual([
      `r acted on resume ${RESUME}/1 last but is intake-stopped, not active`,
      `r was resumed by ${RESUME}/1 but its intake flag ${join(dir, 'r.intake-stopped')} is still there`,
      `r was resumed by ${RESUME}/1 but worker r-node-0 is still idle`,
      'r acted on nothing but is intake-stopped, not active',
    ]);
  });
});
