// Per-node commands (DESIGN "Per-node commands"): real agents (the bundle) against the emulator,
// each holding the session of its node id on the topic's session-enabled commands queue,
// commands sent with @azure/service-bus `sendMessages` and a `sessionId`, real worker processes.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CommandMessage } from '../../src/contract/index.js';
import { sleep, tempDir, waitFor } from '../helpers.js';
import { type Cluster, type TestNode, useClusters } from './cluster.js';

const clusters = useClusters();

const inAMinute = () => new Date(Date.now() + 60_000).toISOString();
const command = (nodeId: string, operation: CommandMessage['operation'], drainId: string, extra: Partial<CommandMessage> = {}): CommandMessage => ({
  operation,
  nodeId,
  drainId,
  notAfter: inAMinute(),
  ...extra,
});
/** Sends one command to `node`'s session, with the id `<drainId>/1`. */
async function send(cluster: Cluster, node: TestNode, body: CommandMessage, sessionId = node.id): Promise<string> {
  const messageId = `${body.drainId}/1`;
  await cluster.sendCommands([{ sessionId, body, messageId }]);
  return messageId;
}
const reportOf = (cluster: Cluster, messageId: string, state: string) => cluster.reports.find((r) => r.messageId === messageId && r.state === state);
async function waitReport(cluster: Cluster, messageId: string, state: string, timeoutMs = 20_000) {
  await waitFor(() => reportOf(cluster, messageId, state) !== undefined, timeoutMs, () => `a ${state} report for ${messageId}; got ${JSON.stringify(cluster.reports.map((r) => `${r.messageId}:${r.state}`))}`);
  return reportOf(cluster, messageId, state)!;
}
const events = (node: TestNode, event: string) => node.queue.events().filter((e) => e.event === event);

describe('a command reaches its node only', () => {
  it('drains the addressed node (session ids compare case-insensitively) and no other', async () => {
    const cluster = await clusters.start({ commands: {} });
    const other = await cluster.addNode(['node']);
    const target = await cluster.addNode(['node', 'python']);
    await Promise.all([other, target].map((n) => n.agent.waitForEvent('commands-session-accepted')));
    const id = await send(cluster, target, command('node-1', 'graceful-downscale', 'only-1'), 'NODE-1');
    await waitFor(() => target.state()?.state === 'drained', 20_000, () => `node-1 drained; state ${target.state()?.state}`);
    expect((await waitReport(cluster, id, 'drained')).nodeId).toBe('node-1');
    expect(target.drainRequested().sort()).toEqual(['node-1-node-0', 'node-1-python-1']);
    await sleep(1000);
    expect(other.state()?.state ?? 'active').toBe('active');
    expect(other.drainRequested()).toEqual([]);
    expect(other.workers[0]?.child.exitCode).toBeNull();
    expect(cluster.reports.filter((r) => r.nodeId === 'node-0')).toEqual([]);
    expect(await cluster.commandsRemaining()).toEqual([]);
    expect(target.state()?.drain).toMatchObject({ messageId: id, operation: 'graceful-downscale' });
    // A worker that declares no resume signal is reported as before (an older control plane
    // refuses a presence report naming an operation it does not know).
    await waitFor(() => cluster.presenceOf('node-0').length > 0, 10_000, () => 'presence of node-0');
    expect(Object.keys(cluster.presenceOf('node-0')[0]!.workers[0]!.signals).sort()).toEqual(['do-not-accept-new-tasks', 'graceful-downscale']);
  });
});

describe('both receivers at once', () => {
  it('handles a control message and a command that arrive together one at a time: nothing stuck, each answered', async () => {
    const cluster = await clusters.start({ commands: {} });
    const nodes: TestNode[] = [];
    for (let i = 0; i < 4; i++) nodes.push(await cluster.addNode(['node']));
    await Promise.all(nodes.map((n) => n.agent.waitForEvent('commands-session-accepted')));
    await Promise.all([
      cluster.publish(nodes.map((_, i) => ({ body: { operation: 'graceful-downscale', drainId: 'both' }, messageId: `both/${i + 1}` }))),
      cluster.sendCommands(nodes.map((n, i) => ({ sessionId: n.id, messageId: `stop/${i + 1}`, body: command(n.id, 'do-not-accept-new-tasks', 'stop') }))),
    ]);
    await waitFor(() => nodes.every((n) => n.state()?.state === 'drained' && n.state()?.pending === undefined), 30_000, () => `all drained; ${nodes.map((n) => n.state()?.state).join(',')}`);
    await waitFor(async () => (await cluster.remaining()).length === 0 && (await cluster.commandsRemaining()).length === 0, 15_000, () => 'both entities empty');
    // Each command was acted on before the drain (intake-stopped) or answered after it (refused).
    for (let i = 1; i <= 4; i++) {
      await waitFor(() => cluster.reports.some((r) => r.messageId === `stop/${i}` && (r.state === 'intake-stopped' || r.state === 'refused')), 10_000, () => `an answer to stop/${i}`);
    }
    expect(nodes.map((n) => n.state()?.drain?.messageId).sort()).toEqual(['both/1', 'both/2', 'both/3', 'both/4']);
  });
});

describe('intake stop and resume', () => {
  it('stops intake, answers a second stop, resumes with the declared resume signal, and the example workers take tasks again', async () => {
    const cluster = await clusters.start({ commands: {} });
    const workerArgs = ['--intake-signal', 'SIGUSR1', '--resume-signal', 'SIGUSR2'];
    const node = await cluster.addNode(['node', 'python'], { workerArgs });
    await node.agent.waitForEvent('commands-session-accepted');
    const stop = await send(cluster, node, command('node-0', 'do-not-accept-new-tasks', 'stop-1', { reason: 'maintenance' }));
    await waitReport(cluster, stop, 'intake-stopped');
    expect(node.state()?.state).toBe('intake-stopped');
    await waitFor(() => events(node, 'idle').length === 2, 10_000, () => 'both workers idle');
    expect(events(node, 'intake-signal').map((e) => e.signal)).toEqual(['SIGUSR1', 'SIGUSR1']);
    await waitFor(() => cluster.presenceOf('node-0').some((p) => p.nodeState === 'intake-stopped'), 10_000, () => 'a heartbeat at the change');
    expect(cluster.presenceOf('node-0').at(-1)?.workers.map((w) => w.signals.resume)).toEqual(['SIGUSR2', 'SIGUSR2']);

    const again = await send(cluster, node, command('node-0', 'do-not-accept-new-tasks', 'stop-2'));
    expect((await waitReport(cluster, again, 'intake-stopped')).reason).toBe('already intake-stopped by stop-1');
    expect(reportOf(cluster, again, 'accepted')).toBeUndefined();

    const resume = await send(cluster, node, command('node-0', 'resume', 'resume-1'));
    const resumed = await waitReport(cluster, resume, 'resumed');
    expect(resumed.reason).toBe('intake resumed');
    expect(resumed.workers.map((w) => w.signal)).toEqual(['SIGUSR2', 'SIGUSR2']);
    expect(node.state()).toMatchObject({ state: 'active' });
    expect(node.state()?.intake).toBeUndefined();
    // The intake stop's own message is answered too: that node's part of drain stop-1 ended.
    expect((await waitReport(cluster, stop, 'resumed')).reason).toBe(`intake resumed by command ${resume}`);
    await waitFor(() => events(node, 'resume-signal').length === 2, 10_000, () => 'the resume signal in both workers');
    expect(events(node, 'resume-signal').map((e) => e.signal)).toEqual(['SIGUSR2', 'SIGUSR2']);
    await waitFor(() => events(node, 'resumed').length === 2, 10_000, () => 'both workers taking tasks');
    for (let i = 0; i < 4; i++) node.queue.enqueue(`after-${i}`, 50);
    await waitFor(() => events(node, 'finished').length === 4, 15_000, () => 'the tasks queued after the resume to finish');
    await waitFor(() => cluster.presenceOf('node-0').at(-1)?.nodeState === 'active', 10_000, () => 'a heartbeat back to active');

    const noop = await send(cluster, node, command('node-0', 'resume', 'resume-2'));
    expect((await waitReport(cluster, noop, 'resumed')).reason).toBe('already active');
    expect(await cluster.commandsRemaining()).toEqual([]);
  });
});

describe('refused and re-armed', () => {
  it('refuses what a draining node cannot do, with a report, and completes the command', async () => {
    const cluster = await clusters.start({ commands: {} });
    const node = await cluster.addNode(['stubborn']);
    await node.agent.waitForEvent('commands-session-accepted');
    const drain = await send(cluster, node, command('node-0', 'graceful-downscale', 'first', { deadline: new Date(Date.now() + 120_000).toISOString() }));
    await waitReport(cluster, drain, 'signalled');
    expect(node.state()?.state).toBe('draining');
    const second = await send(cluster, node, command('node-0', 'graceful-downscale', 'second'));
    expect(await waitReport(cluster, second, 'refused')).toMatchObject({ nodeId: 'node-0', drainId: 'second', reason: 'already draining for drain first' });
    const resume = await send(cluster, node, command('node-0', 'resume', 'undo'));
    expect((await waitReport(cluster, resume, 'refused')).reason).toBe('draining for drain first: a drain cannot be undone');
    expect(node.state()?.state).toBe('draining');
    expect(await cluster.commandsRemaining()).toHaveLength(0);
    expect(await cluster.commandDeadLetters()).toEqual([]);
  });

  it('refuses a drain of a drained node, refuses its re-arm while a worker lives, then re-arms it; new workers take tasks', async () => {
    const cluster = await clusters.start({ commands: {} });
    const node = await cluster.addNode(['node']);
    await node.agent.waitForEvent('commands-session-accepted');
    const drain = await send(cluster, node, command('node-0', 'graceful-downscale', 'down'));
    await waitReport(cluster, drain, 'drained');
    const intakeFlag = join(node.dir, 'intake', `${cluster.topic}.intake-stopped`);
    expect(existsSync(intakeFlag)).toBe(true); // a drain raises the flag too
    const again = await send(cluster, node, command('node-0', 'graceful-downscale', 'down-again'));
    expect((await waitReport(cluster, again, 'refused')).reason).toBe('drained: resume it first');
    const stop = await send(cluster, node, command('node-0', 'do-not-accept-new-tasks', 'stop'));
    expect((await waitReport(cluster, stop, 'refused')).reason).toBe('drained: resume it first');

    const late = node.startWorker('node', 'late-worker');
    await waitFor(() => existsSync(join(node.pidDir, 'late-worker.pid')), 15_000, () => 'the late worker to register');
    const early = await send(cluster, node, command('node-0', 'resume', 'rearm-1'));
    expect((await waitReport(cluster, early, 'refused')).reason).toContain(`worker late-worker (pid ${late.pid}`);
    expect(node.state()?.state).toBe('drained');
    late.kill('SIGKILL');
    await late.exited;

    const rearm = await send(cluster, node, command('node-0', 'resume', 'rearm-2'));
    expect((await waitReport(cluster, rearm, 'resumed')).reason).toBe('re-armed');
    expect(node.state()).toMatchObject({ state: 'active' });
    expect(node.state()?.drain).toBeUndefined();
    expect(existsSync(intakeFlag)).toBe(false);
    const fresh = node.startWorker('python', 'fresh-worker');
    node.queue.enqueue('after-rearm', 50);
    await waitFor(() => events(node, 'finished').some((e) => e.workerId === 'fresh-worker'), 15_000, () => 'the new worker to take the task');
    expect(fresh.child.exitCode).toBeNull();
    // Re-armed, it takes control messages on the shutdown subscription again.
    await cluster.publish([{ body: { operation: 'graceful-downscale', drainId: 'anon' }, messageId: 'anon/1' }]);
    await waitReport(cluster, 'anon/1', 'drained');
  });
});

describe('what an agent settles without acting', () => {
  it('reports an expired command as expired and changes nothing', async () => {
    const cluster = await clusters.start({ commands: {} });
    const node = await cluster.addNode(['node']);
    await node.agent.waitForEvent('commands-session-accepted');
    const id = await send(cluster, node, command('node-0', 'graceful-downscale', 'late', { notAfter: new Date(Date.now() - 1000).toISOString() }));
    expect((await waitReport(cluster, id, 'expired')).reason).toMatch(/^notAfter .* passed before this node received it$/);
    expect(node.state()?.state).toBe('active');
    expect(node.drainRequested()).toEqual([]);
    expect(await cluster.commandsRemaining()).toEqual([]);
  });

  it('acts once on a command sent twice with the same messageId', async () => {
    // Duplicate detection off, so that the second copy reaches the agent (a re-send after the
    // queue's window): the agent's own dedupe is what is tested.
    const cluster = await clusters.start({ commands: { requiresDuplicateDetection: false } });
    const node = await cluster.addNode(['node'], { workerArgs: ['--intake-signal', 'SIGUSR1'] });
    await node.agent.waitForEvent('commands-session-accepted');
    const stop = await send(cluster, node, command('node-0', 'do-not-accept-new-tasks', 'twice'));
    await waitReport(cluster, stop, 'intake-stopped');
    const resume = await send(cluster, node, command('node-0', 'resume', 'back'));
    await waitReport(cluster, resume, 'resumed');
    await send(cluster, node, command('node-0', 'do-not-accept-new-tasks', 'twice'));
    await node.agent.waitForEvent('message-duplicate', (e) => e['messageId'] === stop);
    expect(node.state()?.state).toBe('active');
    expect(events(node, 'intake-signal')).toHaveLength(1);
    expect(cluster.reports.filter((r) => r.messageId === stop && r.state === 'accepted')).toHaveLength(1);
    expect(await cluster.commandsRemaining()).toEqual([]);
  });

  it('dead-letters a command whose nodeId is not this node', async () => {
    const cluster = await clusters.start({ commands: {} });
    const node = await cluster.addNode(['node']);
    await node.agent.waitForEvent('commands-session-accepted');
    const id = await send(cluster, node, command('node-7', 'graceful-downscale', 'wrong'));
    const dead: Awaited<ReturnType<Cluster['commandDeadLetters']>> = [];
    await waitFor(async () => dead.push(...(await cluster.commandDeadLetters())) > 0, 15_000, () => 'a dead-lettered command');
    expect(dead.map((m) => [m.messageId, m.deadLetterReason])).toEqual([[id, 'InvalidControlMessage']]);
    expect(dead[0]?.deadLetterErrorDescription).toBe('nodeId "node-7" is not this node (node-0)');
    expect((await waitReport(cluster, id, 'rejected')).reason).toMatch(/^InvalidControlMessage: nodeId/);
    expect(node.state()?.state).toBe('active');
    expect(node.drainRequested()).toEqual([]);
  });
});

describe('the session', () => {
  it('is retried while another receiver holds it, then taken, and the command acted on', async () => {
    const cluster = await clusters.start({ commands: {} });
    const holder = await cluster.client.acceptSession(cluster.commandsQueue, 'node-0');
    const node = await cluster.addNode(['node']);
    await node.agent.waitForEvent('commands-session-locked');
    const id = await send(cluster, node, command('node-0', 'graceful-downscale', 'held'));
    await sleep(1500);
    expect(node.state()?.state).toBe('active'); // the holder has it
    await holder.close();
    await waitReport(cluster, id, 'drained');
    expect(node.agent.events().filter((e) => e['event'] === 'commands-unavailable')).toEqual([]);
  });

  it('is held for as long as the agent runs: the SDK renews its lock past the lock duration', async () => {
    const cluster = await clusters.start({ commands: { lockDurationMs: 1500 } });
    const node = await cluster.addNode(['node']);
    await node.agent.waitForEvent('commands-session-accepted');
    await sleep(6000); // four lock durations, idle
    const id = await send(cluster, node, command('node-0', 'graceful-downscale', 'renewed'));
    await waitReport(cluster, id, 'drained');
    const events = node.agent.events().map((e) => e['event']);
    expect(events.filter((e) => e === 'commands-session-lost')).toEqual([]);
    expect(events.filter((e) => e === 'commands-session-accepted')).toHaveLength(1);
  });

  it('is accepted again after its lock was lost (the agent paused past the lock duration), and commands arrive', async () => {
    const cluster = await clusters.start({ commands: { lockDurationMs: 1000 } });
    const node = await cluster.addNode(['node']);
    await node.agent.waitForEvent('commands-session-accepted');
    node.agent.kill('SIGSTOP'); // a paused VM: the connection stays, the lock is not renewed
    await sleep(3000);
    node.agent.kill('SIGCONT');
    await waitFor(() => node.agent.events().filter((e) => e['event'] === 'commands-session-accepted').length >= 2, 30_000, () => 'the session accepted again');
    const id = await send(cluster, node, command('node-0', 'graceful-downscale', 'after-pause'));
    await waitReport(cluster, id, 'drained', 30_000);
  });

  it('is accepted again after the connection is lost (the emulator restarts), and commands sent after that arrive', async () => {
    const cluster = await clusters.start({ commands: {}, dataDir: tempDir('wf-commands-data-') });
    const node = await cluster.addNode(['node']);
    await node.agent.waitForEvent('commands-session-accepted');
    await cluster.restartEmulator(500);
    await waitFor(() => node.agent.events().filter((e) => e['event'] === 'commands-session-accepted').length >= 2, 60_000, () => 'the session accepted again');
    const id = await send(cluster, node, command('node-0', 'graceful-downscale', 'after-outage'));
    await waitReport(cluster, id, 'drained', 30_000);
  });

  it('a missing commands queue is logged once and does not stop the agent draining through shutdown', async () => {
    const cluster = await clusters.start(); // no commands queue: a topic provisioned before commands
    const node = await cluster.addNode(['node']);
    await node.agent.waitForEvent('commands-unavailable');
    await cluster.publish([{ body: { operation: 'graceful-downscale', drainId: 'old' }, messageId: 'old/1' }]);
    await waitReport(cluster, 'old/1', 'drained');
    expect(node.state()?.state).toBe('drained');
    expect(node.agent.events().filter((e) => e['event'] === 'commands-unavailable')).toHaveLength(1);
    expect(node.agent.events().filter((e) => e['event'] === 'commands-session-locked')).toEqual([]);
  });
});
