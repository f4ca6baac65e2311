// The agent's decisions, in-process against an in-memory bus (fake-bus.ts), with real worker
// processes and real signals. The same scenarios against the emulator are in test/bus/.
import { existsSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.js';
import { type ListenConfig, parseListenConfig } from '../../src/commands/config.js';
import { type Logger, createLogger } from '../../src/common/log.js';
import { type NodeState, NodeStateStore, initialState } from '../../src/agent/node-state.js';
import { writePidFile } from '../../src/pid-files/store.js';
import { bootId, readProcStat } from '../../src/common/proc.js';
import { LocalQueue } from '../../examples/local-queue.js';
import { FakeBus } from '../fake-bus.js';
import { type Artifacts, buildArtifacts, killAll, removeTempDirs, startExampleWorker, startProcess, tempDir, waitFor } from '../helpers.js';

let built: Artifacts;
beforeAll(async () => {
  built = await buildArtifacts();
});
const agents: Agent[] = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.close()));
  await killAll();
});
afterAll(removeTempDirs);

interface Node {
  agent: Agent;
  bus: FakeBus;
  config: ListenConfig;
  queue: LocalQueue;
  lines: string[];
}

const bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

function nodeConfig(extra: Record<string, string> = {}): ListenConfig {
  const dir = tempDir('wf-node-');
  return parseListenConfig(
    {
      WORKFORCE_BACK_CHANNEL_CONNECTION_STRING: 'Endpoint=sb://unused/;SharedAccessKeyName=k;SharedAccessKey=v',
      WORKFORCE_CONTROL_TOPIC_NAME: 'eu',
      WORKFORCE_PID_DIR: join(dir, 'pids'),
      WORKFORCE_STATE_DIR: join(dir, 'state'),
      WORKFORCE_NODE_ID: `node-${dir.slice(-6)}`,
      WORKFORCE_RELEASE_BACKOFF_MAX_MS: '200',
      ...extra,
    },
    {},
  );
}

async function startNode(options: { config?: ListenConfig; bus?: FakeBus; state?: NodeState } = {}): Promise<Node> {
  const config = options.config ?? nodeConfig();
  const bus = options.bus ?? new FakeBus();
  if (options.state) new NodeStateStore(config.stateDir).save(options.state);
  const lines: string[] = [];
  const log: Logger = createLogger('debug', (l) => lines.push(l));
  const agent = new Agent(config, { bus, log });
  agents.push(agent);
  await agent.start();
  return { agent, bus, config, queue: new LocalQueue(tempDir('wf-queue-')), lines };
}

function startWorker(node: Node, kind: 'node' | 'python' | 'legacy', workerId: string, extra: string[] = []) {
  return startExampleWorker(built, kind, { queueDir: node.queue.dir, pidDir: node.config.pidDir, topic: 'eu', workerId, extra });
}

async function registered(node: Node, ...workerIds: string[]) {
  await waitFor(() => workerIds.every((id) => existsSync(join(node.config.pidDir, `${id}.pid`)) && node.queue.events().some((e) => e.event === 'registered' && e.workerId === id)));
}

function eventsOf(node: Node, workerId: string): string[] {
  return node.queue.events().filter((e) => e.workerId === workerId).map((e) => `${e.event}${e.signal ? `:${String(e.signal)}` : ''}`);
}

describe('graceful-downscale', () => {
  it('signals each verified worker with its declared signal, lets the task in flight finish, and reports drained', async () => {
    const node = await startNode();
    startWorker(node, 'node', 'n1');
    startWorker(node, 'python', 'p1');
    startWorker(node, 'legacy', 'l1');
    await registered(node, 'n1', 'p1', 'l1');
    // Queued once all three poll, and long enough that each is still on its first task when the
    // drain arrives, however loaded the machine (300 ms tasks queued before the workers started
    // let a fast worker finish one and take the next first).
    for (let i = 0; i < 3; i++) node.queue.enqueue(`t${i}`, 2_000);
    await waitFor(() => node.queue.events().filter((e) => e.event === 'started').length >= 3);
    for (let i = 3; i < 6; i++) node.queue.enqueue(`t${i}`, 300); // no worker takes these: they drain

    node.bus.send(bytes({ operation: 'graceful-downscale' }), 'd1/0');
    await waitFor(() => node.agent.snapshot().state === 'drained', 15_000);

    expect(node.bus.settlements).toEqual(['defer:1', 'complete-deferred:1']);
    expect(eventsOf(node, 'n1')).toEqual(['registered', 'started', 'drain-requested:SIGTERM', 'finished', 'exiting']);
    expect(eventsOf(node, 'p1')).toEqual(['registered', 'started', 'drain-requested:SIGTERM', 'finished', 'exiting']);
    expect(eventsOf(node, 'l1')).toEqual(['registered', 'started', 'drain-requested:SIGUSR2', 'finished', 'exiting']);
    expect(node.queue.done().sort()).toEqual(['t0', 't1', 't2']);
    await waitFor(() => node.bus.states().includes('drained'));
    const states = node.bus.states();
    expect(states.slice(0, 2)).toEqual(['accepted', 'signalled']);
    expect(states.filter((s) => s === 'worker-exited')).toHaveLength(3);
    expect(states.at(-1)).toBe('drained');
    const drained = node.bus.reports.find((r) => r.report.state === 'drained');
    expect(drained?.queue).toBe('workforce-reports');
    expect(drained?.report).toMatchObject({ messageId: 'd1/0', nodeId: node.config.nodeId, topic: 'eu' });
    expect(drained?.report.workers.map((w) => w.workerId).sort()).toEqual(['l1', 'n1', 'p1']);
    // A drained node takes nothing more.
    node.bus.send(bytes({ operation: 'graceful-downscale' }), 'd1/1');
    await new Promise((r) => setTimeout(r, 200));
    expect(node.bus.messages[1]?.state).toBe('active');
  });

  it('does not signal a PID file whose PID now belongs to another process, and removes it', async () => {
    const node = await startNode();
    const canary = startProcess(process.execPath, ['-e', "for (const s of ['SIGTERM','SIGUSR1','SIGUSR2']) process.on(s, () => console.log('got ' + s)); console.log('ready'); setInterval(() => {}, 1000)"]);
    await waitFor(() => canary.output().includes('ready'));
    const stat = readProcStat(canary.pid)!;
    // A JSON file whose start time does not match, and a legacy file older than the process.
    writePidFile(node.config.pidDir, { pid: canary.pid, startTime: stat.startTime - 100, bootId: bootId(), topic: 'eu', workerId: 'reused', signals: {} });
    const legacy = join(node.config.pidDir, 'old-legacy.pid');
    writeFileSync(legacy, String(canary.pid));
    const before = new Date(Date.now() - 3600_000);
    utimesSync(legacy, before, before);

    node.bus.send(bytes({ operation: 'graceful-downscale', drainId: 'd2' }), 'd2/0');
    await waitFor(() => node.agent.snapshot().state === 'drained');
    await new Promise((r) => setTimeout(r, 100));
    expect(canary.output()).not.toContain('got');
    expect(existsSync(join(node.config.pidDir, 'reused.pid'))).toBe(false);
    expect(existsSync(legacy)).toBe(false);
    expect(node.lines.filter((l) => l.includes('pid-file-stale'))).toHaveLength(2);
  });

  it('at the deadline, SIGKILLs the process group of a worker that ignores the drain, and reports escalated', async () => {
    const node = await startNode();
    // The command ignores SIGTERM and so do its children; all of them are one process group.
    const wrapper = startProcess(process.execPath, [built.agent, 'run', '--topic', 'eu', '--pid-dir', node.config.pidDir, '--worker-id', 'stubborn', '--', 'sh', '-c', 'trap "" TERM; sleep 100 & sleep 100; wait'], {});
    await waitFor(() => existsSync(join(node.config.pidDir, 'stubborn.pid')));
    const leader = (JSON.parse(readFileSync(join(node.config.pidDir, 'stubborn.pid'), 'utf8')) as { pid: number }).pid;
    await waitFor(() => readFileSync(`/proc/${leader}/task/${leader}/children`, 'utf8').trim() !== '');
    const children = readFileSync(`/proc/${leader}/task/${leader}/children`, 'utf8').trim().split(' ').map(Number);

    const deadline = new Date(Date.now() + 700).toISOString();
    node.bus.send(bytes({ operation: 'graceful-downscale', drainId: 'd3', deadline }), 'd3/0');
    await waitFor(() => node.agent.snapshot().state === 'draining');
    await new Promise((r) => setTimeout(r, 300));
    expect(readProcStat(leader)?.state).not.toBe('Z'); // still alive: it ignored SIGTERM
    await waitFor(() => node.agent.snapshot().state === 'drained', 10_000);
    expect(await wrapper.exited).toEqual({ code: null, signal: 'SIGKILL' });
    for (const pid of [leader, ...children]) expect(readProcStat(pid)?.state ?? 'gone').toMatch(/gone|Z/);
    await waitFor(() => node.bus.states().includes('drained'));
    expect(node.bus.states()).toEqual(['accepted', 'signalled', 'escalated', 'worker-exited', 'drained']);
    expect(node.bus.reports.find((r) => r.report.state === 'escalated')?.report.workers).toEqual([{ workerId: 'stubborn', pid: leader, signal: 'SIGKILL' }]);
  });
});

describe('do-not-accept-new-tasks', () => {
  it('raises the intake flag, sends declared intake signals only, keeps workers alive and idle; resume brings them back', async () => {
    const node = await startNode();
    startWorker(node, 'node', 'quiet'); // declares no intake signal: the flag alone
    startWorker(node, 'python', 'loud', ['--intake-signal', 'SIGUSR1']);
    await registered(node, 'quiet', 'loud');

    node.bus.send(bytes({ operation: 'do-not-accept-new-tasks', drainId: 'i1', reason: 'maintenance' }), 'i1/0');
    await waitFor(() => node.agent.snapshot().state === 'intake-stopped');
    expect(existsSync(node.config.intakeFlag)).toBe(true);
    expect(JSON.parse(readFileSync(node.config.intakeFlag, 'utf8'))).toMatchObject({ drainId: 'i1', messageId: 'i1/0', reason: 'maintenance' });
    await waitFor(() => eventsOf(node, 'quiet').includes('idle') && eventsOf(node, 'loud').includes('idle'));
    expect(eventsOf(node, 'loud')).toContain('intake-signal:SIGUSR1');
    expect(eventsOf(node, 'quiet').some((e) => e.startsWith('intake-signal'))).toBe(false);
    node.queue.enqueue('late', 10);
    await new Promise((r) => setTimeout(r, 200));
    expect(node.queue.pending()).toEqual(['late']); // nobody takes it while intake is stopped

    // A duplicate of the message it acted on is completed without acting again.
    node.bus.send(bytes({ operation: 'do-not-accept-new-tasks', drainId: 'i1' }), 'i1/0');
    await waitFor(() => node.bus.settlements.includes('complete:2'));
    // A second intake stop cannot act here: it goes back (abandon) and the agent pauses
    // (200 ms, 400 ms, …: WORKFORCE_RELEASE_BACKOFF_MAX_MS is 200 here), so no hot loop.
    node.bus.send(bytes({ operation: 'do-not-accept-new-tasks', drainId: 'i1' }), 'i1/1');
    await waitFor(() => node.bus.settlements.includes('abandon:3'));
    await new Promise((r) => setTimeout(r, 500));
    const abandons = node.bus.settlements.filter((s) => s === 'abandon:3').length;
    expect(abandons).toBeGreaterThanOrEqual(2);
    expect(abandons).toBeLessThanOrEqual(4);

    // Another node takes the released message.
    await waitFor(() => node.bus.messages[2]?.state === 'active');
    node.bus.messages[2]!.state = 'completed';

    expect(node.agent.resume()).toBe(true);
    expect(node.agent.snapshot().state).toBe('active');
    expect(existsSync(node.config.intakeFlag)).toBe(false);
    await waitFor(() => node.queue.done().includes('late'));
    await waitFor(() => node.bus.states().includes('resumed'));
    expect(node.bus.states()).toEqual(['accepted', 'intake-stopped', 'resumed']);
    expect(eventsOf(node, 'quiet').concat(eventsOf(node, 'loud'))).toContain('resumed');
  });
  it('stamps the intake stop with the time the bus answered the defer, not the time it was sent', async () => {
    // Until the answer the node has not accepted anything, and its workers rightly go on taking
    // tasks: a stamp from before a slow answer would date their tasks after the intake stop.
    const node = await startNode();
    node.bus.deferAnswerMs = 300;
    node.bus.send(bytes({ operation: 'do-not-accept-new-tasks', drainId: 'i2' }), 'i2/0');
    await waitFor(() => node.agent.snapshot().state === 'intake-stopped');
    const answered = node.bus.deferAnsweredAt[0]!;
    expect(Date.parse(node.agent.snapshot().intake!.acceptedAt)).toBeGreaterThanOrEqual(answered);
    await waitFor(() => node.bus.states().includes('accepted'));
    expect(Date.parse(node.bus.reports.find((r) => r.report.state === 'accepted')!.report.at)).toBeGreaterThanOrEqual(answered);
  });
});

describe('messages this node must not act on', () => {
  it('dead-letters invalid ones with a reason, completes expired and duplicate ones, and keeps serving', async () => {
    const node = await startNode();
    node.bus.send(new TextEncoder().encode('not json'), 'bad/0');
    node.bus.send(bytes({ operation: 'reboot', drainId: 'bad' }), 'bad/1');
    node.bus.send(bytes({ operation: 'graceful-downscale', notAfter: '2020-01-01T00:00:00Z', drainId: 'old' }), 'old/0');
    node.bus.send(bytes({ operation: 'do-not-accept-new-tasks' }), 'ok/0');
    node.bus.send(bytes({ operation: 'do-not-accept-new-tasks' }), 'ok/0');
    await waitFor(() => node.bus.messages.every((m) => m.state === 'dead-lettered' || m.state === 'completed'));
    const [notJson, unknownOp, expired, ok, duplicate] = node.bus.messages;
    expect(notJson).toMatchObject({ state: 'dead-lettered', deadLetterReason: 'InvalidControlMessage', deadLetterDescription: expect.stringMatching(/not JSON/) });
    expect(unknownOp).toMatchObject({ state: 'dead-lettered', deadLetterReason: 'InvalidControlMessage', deadLetterDescription: expect.stringMatching(/unknown operation "reboot"/) });
    expect(expired?.state).toBe('completed');
    expect(ok?.state).toBe('completed');
    expect(duplicate?.state).toBe('completed');
    expect(node.bus.settlements).toEqual(['dead-letter:1', 'dead-letter:2', 'complete:3', 'defer:4', 'complete-deferred:4', 'complete:5']);
    await waitFor(() => node.bus.reports.length === 5);
    expect(node.bus.reports.map((r) => `${r.report.messageId}:${r.report.state}`)).toEqual([
      'bad/0:rejected',
      'bad/1:rejected',
      'old/0:expired',
      'ok/0:accepted',
      'ok/0:intake-stopped',
    ]);
    expect(node.bus.reports[1]?.report).toMatchObject({ drainId: 'bad', reason: expect.stringMatching(/^InvalidControlMessage: unknown operation/) });
  });
});

describe('recovery of a message left pending by a crash', () => {
  function pendingState(config: ListenConfig, sequenceNumber: string): NodeState {
    const state = initialState(config.nodeId, config.topic, new Date());
    state.pending = {
      messageId: 'r/0',
      sequenceNumber,
      operation: 'graceful-downscale',
      message: { operation: 'graceful-downscale', drainId: 'r' },
      replyTo: 'workforce-reports',
      phase: 'accepting',
      receivedAt: new Date().toISOString(),
    };
    return state;
  }

  it.each([
    ['deferred with our stamp: we committed, so we act', 'mine', 'drained', 'completed'],
    ['still locked by the dead agent: not committed, forget it', 'locked', 'active', 'locked'],
    ['deferred by another node: not ours', 'other', 'active', 'deferred'],
    ['gone from the subscription: not ours', 'gone', 'active', 'completed'],
  ])('%s', async (_title, situation, nodeState, messageState) => {
    const config = nodeConfig();
    const bus = new FakeBus();
    const m = bus.send(bytes({ operation: 'graceful-downscale', drainId: 'r' }), 'r/0');
    m.deliveryCount = 1;
    if (situation === 'mine') Object.assign(m, { state: 'deferred', applicationProperties: { 'workforce-owner': config.nodeId } });
    if (situation === 'locked') m.state = 'locked';
    if (situation === 'other') Object.assign(m, { state: 'deferred', applicationProperties: { 'workforce-owner': 'someone-else' } });
    if (situation === 'gone') m.state = 'completed';
    const node = await startNode({ config, bus, state: pendingState(config, m.sequenceNumber) });
    await waitFor(() => node.agent.snapshot().pending === undefined);
    await waitFor(() => node.agent.snapshot().state === nodeState);
    expect(m.state).toBe(messageState);
    if (nodeState === 'active') expect(bus.reports).toEqual([]);
    else await waitFor(() => bus.states().includes('drained'));
  });

  it('keeps asking the bus while it is unreachable, and receives nothing meanwhile', async () => {
    const config = nodeConfig();
    const bus = new FakeBus();
    const m = bus.send(bytes({ operation: 'graceful-downscale' }), 'r/0');
    Object.assign(m, { state: 'deferred', applicationProperties: { 'workforce-owner': config.nodeId } });
    bus.send(bytes({ operation: 'do-not-accept-new-tasks' }), 'other/0');
    bus.failing.add('peek');
    const node = await startNode({ config, bus, state: pendingState(config, m.sequenceNumber) });
    await new Promise((r) => setTimeout(r, 300));
    expect(node.agent.snapshot().pending?.phase).toBe('accepting');
    expect(bus.messages[1]?.state).toBe('active');
    bus.failing.delete('peek');
    await waitFor(() => node.agent.snapshot().state === 'drained', 10_000);
    expect(bus.messages[1]?.state).toBe('active'); // a draining node never takes a second message
  });

  it('completes its deferred message once a late receive of an earlier agent lets go of it, instead of forgetting it', async () => {
    // Receiving a deferred message that another receive holds locked finds nothing; taken for
    // "already completed", the message would stay deferred with nobody to complete it.
    const config = nodeConfig();
    const bus = new FakeBus();
    const m = bus.send(bytes({ operation: 'graceful-downscale', drainId: 'r' }), 'r/0');
    Object.assign(m, { state: 'deferred', applicationProperties: { 'workforce-owner': config.nodeId } });
    bus.lockedDeferred.add(m.sequenceNumber);
    const node = await startNode({ config, bus, state: pendingState(config, m.sequenceNumber) });
    await waitFor(() => node.agent.snapshot().state === 'drained');
    await new Promise((r) => setTimeout(r, 300));
    expect(node.agent.snapshot().pending?.phase).toBe('committed'); // still tracked
    expect(m.state).toBe('deferred');
    bus.lockedDeferred.delete(m.sequenceNumber); // the lock goes (expiry, or its holder settles it)
    await waitFor(() => node.agent.snapshot().pending === undefined, 15_000);
    expect(m.state).toBe('completed');
    expect(bus.states().filter((s) => s === 'accepted')).toHaveLength(1);
  });
});

describe('lifecycle', () => {
  it('start() and close() are idempotent; a second agent on the same state directory is refused', async () => {
    const node = await startNode();
    expect(node.agent.start()).toBe(node.agent.start());
    const second = new Agent(node.config, { bus: new FakeBus(), log: createLogger('error', () => {}) });
    await expect(second.start()).rejects.toThrow(/another agent .* is running with state directory .*; a second agent on this machine needs its own --state-dir, and its own --pid-dir/);
    const closing = node.agent.close();
    expect(node.agent.close()).toBe(closing);
    await closing;
    expect(node.agent.lifecycle).toBe('closed');
    // The lock is released: a new agent can take over the same node state.
    const third = new Agent(node.config, { bus: new FakeBus(), log: createLogger('error', () => {}) });
    agents.push(third);
    await third.start();
  });

  it('keeps a drain in progress across a restart (SIGTERM of the agent)', async () => {
    const node = await startNode();
    node.queue.enqueue('long', 1500);
    startWorker(node, 'node', 'w');
    await waitFor(() => node.queue.events().some((e) => e.event === 'started'));
    node.bus.send(bytes({ operation: 'graceful-downscale' }), 'k/0');
    await waitFor(() => node.agent.snapshot().state === 'draining' && node.agent.snapshot().pending === undefined);
    await node.agent.close();
    const restarted = await startNode({ config: node.config, bus: node.bus });
    expect(restarted.agent.snapshot().state).toBe('draining');
    await waitFor(() => restarted.agent.snapshot().state === 'drained', 10_000);
    expect(node.queue.done()).toEqual(['long']);
  });
});

describe('log', () => {
  const events = (node: Node) => node.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  const named = (node: Node, event: string) => events(node).filter((e) => e['event'] === event);

  it('says when the bus first answers, each retry while it is unreachable, and when it answers again', async () => {
    const bus = new FakeBus();
    bus.failing.add('receiveOne');
    const node = await startNode({ bus });
    await waitFor(() => named(node, 'bus-retry').length >= 2);
    expect(named(node, 'bus-error')).toHaveLength(1);
    expect(named(node, 'bus-connected')).toHaveLength(0);
    bus.failing.delete('receiveOne');
    await waitFor(() => named(node, 'bus-reconnected').length === 1);
    const failed = named(node, 'bus-retry').length + 1;
    expect(named(node, 'bus-reconnected')[0]).toMatchObject({ level: 'info', failedAttempts: failed });
    expect(named(node, 'bus-retry').map((e) => e['attempt'])).toEqual(Array.from({ length: failed - 1 }, (_, i) => i + 2));
  });

  it('logs bus-connected once the bus answers at start-up', async () => {
    const node = await startNode();
    await waitFor(() => named(node, 'bus-connected').length === 1);
    expect(named(node, 'bus-error')).toHaveLength(0);
  });

  it('logs where the time of a message acted on went only with --timings (the benchmark reads it)', async () => {
    const quiet = await startNode();
    const timed = await startNode({ config: nodeConfig({ WORKFORCE_AGENT_TIMINGS: '1' }) });
    for (const node of [quiet, timed]) node.bus.send(bytes({ operation: 'graceful-downscale' }), 't/0');
    await waitFor(() => [quiet, timed].every((n) => named(n, 'message-accepted').length === 1));
    expect(named(quiet, 'drain-timings')).toHaveLength(0);
    expect(named(timed, 'drain-timings')).toHaveLength(1);
    expect(named(timed, 'drain-timings')[0]).toHaveProperty('deferUs');
  });
});
