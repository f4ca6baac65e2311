// The intake-stop invariants check themselves on made-up nodes: each breach of the feature (a
// worker that exits or keeps taking tasks, a flag not written, a signal not declared, a wrong
// count or status) must be reported, and a node that held an intake stop and then drained must not.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { QueueEvent } from '../../worker-agent/examples/local-queue.js';
import type { ActedMessage, NodeState } from '../../worker-agent/src/agent/node-state.js';
import type { ChaosNode, WorkerKind } from './fleet.js';
import { checkDrains, checkNodes, checkTasks, type DrainOutcome } from './invariants.js';

const dir = mkdtempSync(join(tmpdir(), 'chaos-invariants-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const T0 = Date.parse('2026-01-01T00:00:10Z');
const INTAKE = 'chaos-1-i1';
const DRAIN = 'chaos-1-d0';

function acted(drainId: string, n: number, operation: ActedMessage['operation'], flags: string[]): ActedMessage {
  return { messageId: `${drainId}/${n}`, sequenceNumber: String(n), operation, message: { operation, drainId }, replyTo: 'workforce-reports', acceptedAt: new Date(T0).toISOString(), flags, workers: [] };
}

interface FakeWorker {
  kind: WorkerKind;
  exit?: number;
  /** Events after `registered`, with times relative to the intake stop. */
  events: Array<[string, number, Record<string, unknown>?]>;
}

function node(id: string, opts: { intake?: number; drain?: number; flag?: boolean; workers: FakeWorker[] }): ChaosNode {
  const flag = join(dir, `${id}.intake-stopped`);
  if (opts.flag ?? opts.intake !== undefined) writeFileSync(flag, '{}');
  const st: NodeState = { version: 1, nodeId: id, topic: 'chaos-1', state: opts.drain !== undefined ? 'drained' : opts.intake !== undefined ? 'intake-stopped' : 'active', since: '', seen: [], outbox: [] };
  if (opts.intake !== undefined) st.intake = acted(INTAKE, opts.intake, 'do-not-accept-new-tasks', [flag]);
  if (opts.drain !== undefined) st.drain = acted(DRAIN, opts.drain, 'graceful-downscale', [flag]);
  const workers = opts.workers.map((w, i) => ({ workerId: `${id}-${w.kind}-${i}`, kind: w.kind, child: { exitCode: w.exit ?? null, signalCode: null } }));
  const events: QueueEvent[] = opts.workers.flatMap((w, i) => [
    { event: 'registered', workerId: workers[i]!.workerId, at: T0 - 5_000, mono: '0' },
    ...w.events.map(([event, dt, fields]) => ({ event, workerId: workers[i]!.workerId, at: T0 + dt, mono: '0', ...fields })),
  ]);
  return {
    id,
    intakeFlag: flag,
    workers,
    state: () => st,
    liveWorkers: () => workers.filter((w) => w.child.exitCode === null),
    queue: { events: () => events, pending: () => [] },
  } as unknown as ChaosNode;
}

// An intake-stopped node's workers: a library worker finishing the task it had, then idle; a
// legacy one that got SIGUSR1 mid-task.
const idleNode: FakeWorker = { kind: 'node', events: [['started', -500, { taskId: 't1' }], ['finished', 300, { taskId: 't1' }], ['idle', 310]] };
const idleLegacy: FakeWorker = { kind: 'legacy', events: [['started', -200, { taskId: 't1' }], ['intake-signal', 5, { signal: 'SIGUSR1' }], ['finished', 900, { taskId: 't1' }], ['idle', 905]] };
const busy: FakeWorker = { kind: 'python', events: [['started', -100, { taskId: 't1' }], ['finished', 400, { taskId: 't1' }]] };
const drainedAfterIntake = (kind: WorkerKind): FakeWorker => ({
  kind,
  exit: 0,
  events: [...(kind === 'legacy' ? [['intake-signal', 5, { signal: 'SIGUSR1' }] as [string, number, Record<string, unknown>]] : []), ['idle', 20], ['drain-requested', 3_000], ['exiting', 3_020]],
});

const drains: DrainOutcome[] = [
  { drainId: INTAKE, count: 2, mode: 'do-not-accept-new-tasks', status: undefined },
  { drainId: DRAIN, count: 1, mode: 'graceful-downscale', status: undefined },
];
const status = (mode: string, states: Record<string, string>, count: number) => {
  const done = Object.values(states).length;
  return {
    status: 'completed',
    mode,
    progress: { nodes: Object.fromEntries(Object.entries(states).map(([nodeId, state]) => [nodeId, { nodeId, state }])) },
    counts: { intakeStopped: mode === 'do-not-accept-new-tasks' ? done : 0, drained: mode === 'graceful-downscale' ? done : 0, done, shortfall: Math.max(0, count - done) },
    anomalies: [],
  };
};
const withStatus = (intake: Record<string, string>, count = 2): DrainOutcome[] => [
  { ...drains[0]!, count, status: status('do-not-accept-new-tasks', intake, count) },
  { ...drains[1]!, status: status('graceful-downscale', { b: 'drained' }, 1) },
];

describe('intake-stop invariants', () => {
  const good = () => [
    node('a', { intake: 1, workers: [idleNode, idleLegacy] }),
    node('b', { intake: 2, drain: 1, workers: [drainedAfterIntake('legacy'), drainedAfterIntake('node')] }),
    node('c', { workers: [busy] }),
    // Its agent died between signalling and recording, and signalled again after the restart.
    node('r', { intake: 3, workers: [{ ...idleLegacy, events: [...idleLegacy.events, ['intake-signal', 6_000, { signal: 'SIGUSR1' }]] }] }),
  ];

  it('accept a run where the intake stop held and one of its nodes drained afterwards', () => {
    const intake3 = [{ ...drains[0]!, count: 3 }, drains[1]!];
    expect(checkNodes(good(), intake3)).toEqual([]);
    expect(checkDrains(good(), withStatus({ a: 'intake-stopped', b: 'intake-stopped', r: 'intake-stopped' }, 3))).toEqual([]);
    expect(checkTasks(good())).toEqual([]);
  });

  it('report an intake stop that completed on the wrong nodes, or whose status names others', () => {
    const nodes = [node('a', { intake: 1, workers: [idleNode] }), node('b', { drain: 1, workers: [drainedAfterIntake('node')] })];
    expect(checkDrains(nodes, withStatus({ a: 'intake-stopped', b: 'intake-stopped' }))).toEqual([
      'drain chaos-1-i1 completed but 1 nodes acted on it (want 2): a',
      'drain chaos-1-i1 completed but 1 nodes are intake-stopped for it: a',
      'drain chaos-1-i1 status names intake-stopped [a,b] but the nodes\' state says [a]',
    ]);
    const twice = [node('a', { intake: 1, workers: [idleNode] }), node('b', { intake: 1, workers: [idleNode] })];
    expect(checkNodes(twice, drains)).toContain('message chaos-1-i1/1 acted on by 2 nodes: a,b');
  });

  it('report a worker that exited, kept taking tasks or never went idle on an intake-stopped node', () => {
    expect(checkNodes([node('a', { intake: 1, workers: [{ ...idleNode, exit: 0 }] })], drains)).toEqual(['a acted on no drain (intake stop chaos-1-i1/1 only) but worker a-node-0 exited (0)']);
    const greedy: FakeWorker = { kind: 'python', events: [['started', 50, { taskId: 't2' }], ['finished', 150, { taskId: 't2' }], ['started', 160, { taskId: 't3' }], ['finished', 260, { taskId: 't3' }], ['idle', 270]] };
    expect(checkNodes([node('a', { intake: 1, workers: [greedy] })], drains)).toEqual(['a: worker a-python-0 started 2 tasks after the intake stop chaos-1-i1/1 at 2026-01-01T00:00:10.000Z (t2,t3)']);
    expect(checkNodes([node('a', { intake: 1, workers: [busy] })], drains)).toEqual(['a intake-stopped but worker a-python-0 is not idle (its last event: finished)']);
  });

  it('report a missing flag, a legacy worker without SIGUSR1, and intake signals nobody declared or nobody sent', () => {
    expect(checkNodes([node('m', { intake: 1, flag: false, workers: [idleNode] })], drains)).toEqual([`m acted on intake stop chaos-1-i1/1 but its intake flag ${join(dir, 'm.intake-stopped')} is not there`]);
    const deaf: FakeWorker = { kind: 'legacy', events: [['idle', 10]] };
    expect(checkNodes([node('d', { intake: 1, workers: [deaf] })], drains)).toEqual(['d acted on intake stop chaos-1-i1/1 but legacy worker d-legacy-0 never got its intake signal (SIGUSR1)']);
    const undeclared: FakeWorker = { kind: 'node', events: [['intake-signal', 5, { signal: 'SIGUSR1' }], ['idle', 10]] };
    expect(checkNodes([node('e', { intake: 1, workers: [undeclared] })], drains)).toEqual(['e: worker e-node-0 declared no intake signal but got one (SIGUSR1)']);
    const stray: FakeWorker = { kind: 'legacy', events: [['intake-signal', 5, { signal: 'SIGUSR1' }]] };
    expect(checkNodes([node('f', { workers: [stray] })], drains)).toEqual(['f: worker f-legacy-0 got an intake signal (SIGUSR1) though no intake stop reached its node']);
  });
});
