import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildArtifacts, isRunning, Node, type Artifacts } from '../support/fleet.js';
import { startControlPlane, waitFor, type ControlPlane } from '../support/control-plane.js';

/**
 * The whole system: five nodes, each a real agent and a real worker process taking tasks, one
 * control topic provisioned through the API, a drain of two. Exactly two workers finish the task
 * they are on and exit; the other three keep working; the status names the two drained nodes.
 */
describe('a drain of 2 on a fleet of 5 real nodes', () => {
  const topic = 'fleet-1';
  let cp: ControlPlane;
  let artifacts: Artifacts;
  const nodes: Node[] = [];

  beforeAll(async () => {
    [cp, artifacts] = await Promise.all([startControlPlane(), buildArtifacts()]);
    const put = await cp.api('PUT', `topics/${topic}`);
    expect(put.status).toBe(201);
    for (let i = 1; i <= 5; i++) nodes.push(new Node(`node-${i}`, topic));
    await Promise.all(nodes.map((n) => n.start(artifacts, cp.bus.emulator.connectionString, 200, 300)));
  }, 120_000);
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.close()));
    await cp?.close();
  });

  it('drains exactly two nodes, whose workers finish their task and exit', async () => {
    const post = await cp.api('POST', `topics/${topic}/drains`, { count: 2, gracePeriod: '10m', ackTimeout: '5m', reason: 'e2e', requestedBy: 'tester' });
    expect(post.status).toBe(202);
    const { drainId } = post.body;

    const done = await waitFor(async () => {
      const d = (await cp.api('GET', `drains/${drainId}`)).body;
      return d.status !== 'running' && d;
    }, 'the drain to complete', 60_000);
    expect(done).toMatchObject({ status: 'completed', counts: { requested: 2, drained: 2, shortfall: 0 }, requestedBy: 'tester', reason: 'e2e' });
    const drainedIds = Object.values(done.progress.nodes as Record<string, { nodeId: string; state: string }>)
      .filter((n) => n.state === 'drained')
      .map((n) => n.nodeId)
      .sort();
    expect(drainedIds).toHaveLength(2);

    // The drained nodes' workers exited cleanly after finishing the task in flight; the others still work.
    for (const node of nodes) {
      if (drainedIds.includes(node.id)) {
        expect(await node.worker.exited).toEqual({ code: 0, signal: null });
        const events = node.queue.events();
        const started = events.filter((e) => e.event === 'started').map((e) => e.taskId);
        const finished = events.filter((e) => e.event === 'finished').map((e) => e.taskId);
        expect(finished).toEqual(started);
        expect(node.queue.running()).toEqual([]);
      } else {
        expect(isRunning(node.worker)).toBe(true);
      }
    }
    expect(nodes.filter((n) => isRunning(n.worker))).toHaveLength(3);
  });
});
