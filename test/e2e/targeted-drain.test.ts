import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildArtifacts, isRunning, Node } from '../support/fleet.js';
import { startControlPlane, waitFor, type ControlPlane } from '../support/control-plane.js';

/**
 * Per-node commands with real agents (the agent as it ships, one Node example worker each)
 * through the local host, the emulator and Azurite: a targeted drain reaches the two nodes it
 * names among ten and no other, a node that cannot act refuses, a resume undoes an intake stop (the worker takes
 * tasks again) and re-arms a drained node, the budget refuses and `force` overrides, and a
 * command for an offline node expires and is reported.
 */
describe('per-node commands with real agents', () => {
  const topic = 'tgt-1';
  const ids = ['tgt-a', 'tgt-b', 'tgt-c', 'tgt-d', 'tgt-e', 'tgt-f', 'tgt-g', 'tgt-h', 'tgt-i', 'tgt-j'];
  let cp: ControlPlane;
  const nodes = new Map<string, Node>();
  const node = (id: string) => nodes.get(id)!;

  beforeAll(async () => {
    const [plane, artifacts] = await Promise.all([startControlPlane(), buildArtifacts()]);
    cp = plane;
    expect((await cp.api('PUT', `topics/${topic}`)).status).toBe(201);
    for (const id of ids) nodes.set(id, new Node(id, topic));
    await Promise.all(ids.map((id) => node(id).start(artifacts, cp.bus.emulator.connectionString, 0, 0)));
    let listed: Array<{ nodeId: string; presence?: string }> = [];
    await waitFor(async () => {
      listed = (await cp.api('GET', `topics/${topic}/nodes?state=active`)).body?.nodes ?? [];
      return listed.filter((n) => n.presence !== undefined).length === ids.length;
    }, 'ten agents online in the inventory', 60_000).catch((err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(listed)}; tgt-a's agent said: ${node('tgt-a').agent.output().slice(-2_000)}`);
    });
  }, 180_000);
  afterAll(async () => {
    await Promise.all([...nodes.values()].map((n) => n.close()));
    await cp?.close();
  });

  const drain = async (drainId: string) => (await cp.api('GET', `drains/${drainId}`)).body;
  const ended = (drainId: string, timeoutMs = 60_000) =>
    waitFor(async () => {
      const d = await drain(drainId);
      return d.status !== undefined && d.status !== 'running' && d;
    }, `drain ${drainId} to end`, timeoutMs);
  const standing = async (id: string) => ((await cp.api('GET', `topics/${topic}/nodes`)).body.nodes as Array<{ nodeId: string; state: string; presence?: string }>).find((n) => n.nodeId === id);

  it('a targeted drain of two named nodes drains those two and no other, with eight more idle nodes on the topic', async () => {
    const res = await cp.api('POST', `topics/${topic}/drains`, { nodes: ['tgt-b', 'tgt-d'], drainId: 'tgt-drain', reason: 'two named nodes' });
    expect(res.status).toBe(202);
    const done = await ended('tgt-drain');
    expect(done).toMatchObject({ status: 'completed', counts: { requested: 2, drained: 2 }, targets: ['tgt-b', 'tgt-d'] });
    expect(Object.keys(done.progress.nodes).sort()).toEqual(['tgt-b', 'tgt-d']);
    await Promise.all(['tgt-b', 'tgt-d'].map((id) => node(id).worker.exited));
    for (const id of ids.filter((i) => i !== 'tgt-b' && i !== 'tgt-d')) {
      expect(isRunning(node(id).worker), `${id}'s worker`).toBe(true);
      expect(node(id).queue.events().filter((e) => e.event === 'drain-requested')).toEqual([]);
    }
    await waitFor(async () => (await standing('tgt-d'))?.state === 'drained', 'tgt-d drained in the inventory');
    expect((await standing('tgt-a'))?.state).toBe('active');
  });

  it('a node that cannot act on its command refuses it, and the drain ends at once naming it', async () => {
    const res = await cp.api('POST', `topics/${topic}/drains`, { nodes: ['tgt-d'], drainId: 'tgt-again' });
    expect(res.status).toBe(202);
    const done = await ended('tgt-again');
    expect(done).toMatchObject({ status: 'timed-out', counts: { refused: 1, done: 0 } });
    expect(done.outcome).toContain('refused by: "tgt-d"');
    expect(done.progress.nodes['tgt-d']).toMatchObject({ state: 'refused', reason: expect.stringContaining('resume it first') });
  });

  it('a remote resume after an intake stop lets the example worker take tasks again', async () => {
    const stop = await cp.api('POST', `topics/${topic}/drains`, { nodes: ['tgt-a'], mode: 'do-not-accept-new-tasks', drainId: 'tgt-stop' });
    expect(stop.status).toBe(202);
    expect(await ended('tgt-stop')).toMatchObject({ status: 'completed', counts: { intakeStopped: 1 } });
    const a = node('tgt-a');
    await waitFor(() => a.queue.events().some((e) => e.event === 'idle'), 'tgt-a idle');
    a.queue.enqueue('after-resume', 0);

    const resume = await cp.api('POST', `topics/${topic}/resume`, { nodes: ['tgt-a'], drainId: 'tgt-resume', reason: 'incident over' });
    expect(resume.status).toBe(202);
    expect(await ended('tgt-resume')).toMatchObject({ status: 'completed', mode: 'resume', counts: { requested: 1, done: 1 } });
    const isTask = (e: { event: string }) => e.event === 'started' && (e as { taskId?: string }).taskId === 'after-resume';
    await waitFor(() => a.queue.events().some(isTask), 'tgt-a taking the task queued while it was stopped');
    const events = a.queue.events();
    expect(events.findIndex(isTask)).toBeGreaterThan(events.findIndex((e) => e.event === 'resumed' && e.workerId === 'tgt-a-w0'));
    expect(events.findIndex((e) => e.event === 'resumed')).toBeGreaterThan(events.findIndex((e) => e.event === 'idle'));
    await waitFor(async () => (await standing('tgt-a'))?.state === 'active', 'tgt-a active in the inventory');
  });

  it('a resume re-arms a drained node whose workers are gone', async () => {
    const res = await cp.api('POST', `topics/${topic}/resume`, { nodes: ['tgt-b'], drainId: 'tgt-rearm' });
    expect(res.status).toBe(202);
    const done = await ended('tgt-rearm');
    expect(done).toMatchObject({ status: 'completed', counts: { done: 1 } });
    expect(done.progress.nodes['tgt-b']).toMatchObject({ state: 'resumed', reason: 're-armed' });
    await waitFor(async () => (await standing('tgt-b'))?.state === 'active', 'tgt-b active in the inventory');
  });

  it('the budget refuses a drain and force overrides it, recorded in the drain', async () => {
    // tgt-d is drained: one unavailable of ten online, and one allowed.
    expect((await cp.api('PUT', `topics/${topic}/policy`, { maxUnavailable: 1 })).status).toBe(200);
    const refused = await cp.api('POST', `topics/${topic}/drains`, { nodes: ['tgt-c'] });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ code: 'BudgetExceeded', online: 10, unavailable: 1, requested: 1, allowed: 1 });
    expect(isRunning(node('tgt-c').worker)).toBe(true);

    const forced = await cp.api('POST', `topics/${topic}/drains`, { nodes: ['tgt-c'], force: true, requestedBy: 'oncall', drainId: 'tgt-forced' });
    expect(forced.status).toBe(202);
    expect(await ended('tgt-forced')).toMatchObject({ status: 'completed', forced: true, forcedBy: 'oncall', counts: { drained: 1 } });
    await node('tgt-c').worker.exited;
    expect((await cp.api('DELETE', `topics/${topic}/policy`)).status).toBe(204);
  });

  // Moves the manual clock past the command's notAfter: keep it last.
  it('a command for an offline node expires and is reported', async () => {
    const e = node('tgt-e');
    e.agent.kill('SIGTERM');
    expect((await e.agent.exited).code).toBe(0);
    await waitFor(async () => (await standing('tgt-e'))?.presence === 'offline', 'tgt-e offline in the inventory');

    const res = await cp.api('POST', `topics/${topic}/drains`, { nodes: ['tgt-e'], drainId: 'tgt-offline', ackTimeout: '2m' });
    expect(res.status).toBe(202);
    expect(res.body.unreachable).toEqual([{ nodeId: 'tgt-e', why: expect.stringContaining('offline since') }]);
    expect(await drain('tgt-offline')).toMatchObject({ status: 'running', unreachable: [{ nodeId: 'tgt-e' }] });

    await cp.clock.set(new Date(cp.clock.now() + 4 * 60_000));
    const done = await ended('tgt-offline');
    expect(done.status).toBe('timed-out');
    expect(done.outcome).toContain('1 message expired untaken');
    expect(done.outcome).toContain('never answered: "tgt-e"');
    expect(isRunning(e.worker)).toBe(true);
  });
});
