import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger, type Logger } from '@workforce/functions-host';
import { REPORTS_QUEUE } from '../../src/config.js';
import { groupByNode } from '../../src/domain/node-inventory.js';
import { controlPlaneWithNode, type Node } from '../support/fleet.js';
import { peek, sendRaw } from '../support/agents.js';
import { inventoryOf, waitFor, type ControlPlane } from '../support/control-plane.js';

/**
 * The fleet inventory through the whole control plane: a real agent's presence and drain reports
 * go through the emulator to the reports trigger of the local host, which writes the node table
 * in Azurite; GET /api/topics and GET /api/topics/{topic}/nodes read it.
 */
describe('fleet inventory through the control plane', () => {
  const topic = 'inventory-1';
  const logs: string[] = [];
  const logger: Logger = { ...silentLogger(), functionLog: (e) => logs.push(e.message) };
  let cp: ControlPlane;
  let node: Node;

  beforeAll(async () => {
    ({ cp, node } = await controlPlaneWithNode(topic, 'inv-node', { tasks: 0, taskMs: 0, agentEnv: { WORKFORCE_HEARTBEAT: '1s' }, controlPlane: { logger } }));
  }, 120_000);
  afterAll(async () => {
    await node?.close();
    await cp?.close();
  });

  const nodes = async (query = '') => {
    const res = await cp.api('GET', `topics/${topic}/nodes${query}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body as { topic: string; nodes: Array<Record<string, any>>; continuationToken?: string };
  };
  const mine = async () => (await nodes()).nodes.find((n) => n.nodeId === 'inv-node');
  const counts = async () => ((await cp.api('GET', 'topics')).body.topics as Array<Record<string, any>>).find((t) => t.name === topic);

  it('shows a node once its agent is online, with its workers, and counts it active', async () => {
    const seen = await waitFor(async () => (await mine())?.presence !== undefined && mine(), 'the node in the inventory');
    expect(seen).toMatchObject({ state: 'active', stale: false, workerCount: 1, agentVersion: '0.1.0', heartbeatSeconds: 1 });
    expect(seen!.workers).toEqual([expect.objectContaining({ workerId: 'inv-node-w0', alive: true })]);
    expect(await counts()).toMatchObject({ name: topic, subscriptionCount: 1, nodes: { active: 1, total: 1 }, runningDrains: [] });
  });

  it('follows an intake stop and a drain', async () => {
    const stop = await cp.api('POST', `topics/${topic}/drains`, { count: 1, mode: 'do-not-accept-new-tasks' });
    expect(stop.status).toBe(202);
    const stopped = await waitFor(async () => (await mine())?.state === 'intake-stopped' && mine(), 'the node intake-stopped');
    expect(stopped!.drain).toEqual({ drainId: stop.body.drainId, messageId: `${stop.body.drainId}/1` });
    expect((await nodes('?state=intake-stopped')).nodes.map((n) => n.nodeId)).toEqual(['inv-node']);
    expect((await nodes('?state=active')).nodes).toEqual([]);

    const drain = await cp.api('POST', `topics/${topic}/drains`, { count: 1 });
    expect(drain.status).toBe(202);
    const drained = await waitFor(async () => (await mine())?.state === 'drained' && mine(), 'the node drained', 60_000);
    expect(drained).toMatchObject({ drain: { drainId: drain.body.drainId }, stale: false });
    expect((await counts())!.nodes).toMatchObject({ drained: 1, active: 0, total: 1 });
  });

  it('keeps the inventory across a host restart', async () => {
    const before = await mine();
    await cp.restart();
    expect(await mine()).toMatchObject({ nodeId: 'inv-node', state: before!.state, since: before!.since });
  });

  it('follows a reset back to active', async () => {
    const reset = await node.cli(['reset']);
    expect(reset.output).toContain('is active and takes control messages again');
    const active = await waitFor(async () => (await mine())?.state === 'active' && mine(), 'the node active after reset');
    expect(active!.drain).toBeUndefined();
  });

  it('marks a node offline when its agent stops cleanly', async () => {
    node.agent.kill('SIGTERM');
    expect((await node.agent.exited).code).toBe(0);
    await waitFor(async () => (await mine())?.presence === 'offline', 'the node offline');
    expect(await mine()).toMatchObject({ stale: false });
    expect((await counts())!.nodes).toMatchObject({ offline: 1, active: 0, total: 1 });
    expect((await nodes('?state=offline')).nodes.map((n) => n.nodeId)).toEqual(['inv-node']);
  });

  it('marks a node stale three heartbeats after its agent was killed (kill -9)', async () => {
    await node.restartAgent();
    await waitFor(async () => (await mine())?.presence === 'heartbeat', 'a heartbeat of the restarted agent');
    node.agent.kill('SIGKILL');
    await node.agent.exited;
    // Heartbeats every second: stale once its last report is more than 3 s old.
    const stale = await waitFor(async () => (await mine())?.stale === true && mine(), 'the node stale', 30_000);
    expect(stale!.presence).not.toBe('offline');
    expect((await counts())!.nodes).toMatchObject({ stale: 1, active: 0, offline: 0, total: 1 });
    expect((await nodes('?state=stale')).nodes.map((n) => n.nodeId)).toEqual(['inv-node']);
    expect((await nodes('?state=active')).nodes).toEqual([]);
  });

  it('ignores and logs bad presence reports, keeping them in the rejected reports, never in the node table', async () => {
    const base = { kind: 'presence', presence: 'heartbeat', topic, nodeState: 'active', since: new Date().toISOString(), workers: [], workerCount: 0, agentVersion: '9', hostName: 'h', startedAt: new Date().toISOString() };
    await sendRaw(cp.sb, REPORTS_QUEUE, [
      { messageId: 'bad-workers', body: { ...base, nodeId: 'mallory', workers: 'all of them', sentAt: new Date().toISOString() }, contentType: 'application/json' },
      { messageId: 'bad-future', body: { ...base, nodeId: 'mallory-2', sentAt: new Date(Date.now() + 3_600_000).toISOString() }, contentType: 'application/json' },
      { messageId: 'bad-topic', body: { ...base, nodeId: 'mallory-3', topic: '~topics', sentAt: new Date().toISOString() }, contentType: 'application/json' },
    ]);
    const inventory = inventoryOf(cp);
    const rejected = await waitFor(async () => {
      const rows = await inventory.listRejected();
      return rows.length >= 3 && rows;
    }, 'the three reports in the rejected reports');
    expect(rejected.map((r) => [r.messageId, r.field]).sort()).toEqual([['bad-future', 'sentAt'], ['bad-topic', 'topic'], ['bad-workers', 'workers']]);
    expect(logs).toEqual(expect.arrayContaining([expect.stringMatching(/report bad-workers is malformed \(workers: /), expect.stringMatching(/report bad-future .* not taken into the inventory \(sentAt: /)]));
    expect((await nodes()).nodes.map((n) => n.nodeId)).toEqual(['inv-node']);
    expect((await cp.api('GET', 'topics')).body.topics.map((t: { name: string }) => t.name)).not.toContain('~topics');
    // Completed, not dead-lettered: a bad report does not fail the batch it came in.
    await waitFor(async () => (await peek(cp.sb, REPORTS_QUEUE)).length === 0, 'the reports queue to be empty');
    expect(await peek(cp.sb, REPORTS_QUEUE, { deadLetter: true })).toEqual([]);
  });

  it('pages a topic of 250 nodes: every node once, following the continuation token', async () => {
    const now = Date.now();
    const reports = Array.from({ length: 250 }, (_, i) => ({
      report: { kind: 'presence' as const, presence: 'heartbeat' as const, nodeId: `page-node-${i}`, topic: 'paging-api', nodeState: 'active' as const, since: new Date(now).toISOString(), workers: [], workerCount: 0, agentVersion: '0.1.0', hostName: 'h', startedAt: new Date(now).toISOString(), sentAt: new Date(now).toISOString() },
      receivedAt: new Date(now),
    }));
    await inventoryOf(cp).apply(groupByNode(reports).nodes);
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const res = await cp.api('GET', `topics/paging-api/nodes?limit=100${token ? `&continuationToken=${encodeURIComponent(token)}` : ''}`);
      expect(res.status).toBe(200);
      expect(res.body.nodes.length).toBeLessThanOrEqual(100);
      seen.push(...res.body.nodes.map((n: { nodeId: string }) => n.nodeId));
      token = res.body.continuationToken;
    } while (token);
    expect(seen.sort()).toEqual(reports.map((r) => r.report.nodeId).sort());
    expect((await cp.api('GET', 'topics')).body.topics.find((t: { name: string }) => t.name === 'paging-api')).toMatchObject({ nodes: { active: 250, total: 250 } });
  });

  it('lists a topic\'s running drains with its counts', async () => {
    expect((await cp.api('PUT', 'topics/running-1')).status).toBe(201);
    // No node listens on it: the drain waits for its message to be taken.
    const post = await cp.api('POST', 'topics/running-1/drains', { count: 2, mode: 'do-not-accept-new-tasks', ackTimeout: '10m' });
    expect(post.status).toBe(202);
    const listed = await waitFor(async () => {
      const t = ((await cp.api('GET', 'topics')).body.topics as Array<Record<string, any>>).find((x) => x.name === 'running-1');
      return t?.runningDrains.length > 0 && t;
    }, 'the running drain in GET /api/topics');
    expect(listed).toEqual({ name: 'running-1', subscriptionCount: 1, nodes: { active: 0, 'intake-stopped': 0, draining: 0, drained: 0, stale: 0, offline: 0, total: 0 }, runningDrains: [{ drainId: post.body.drainId, mode: 'do-not-accept-new-tasks', requested: 2, createdAt: expect.any(String) }], skippedRuns: [] });
    expect((await cp.api('POST', `drains/${post.body.drainId}/cancel`)).status).toBe(202);
  });

  it('answers 400 naming a bad state, limit or continuation token', async () => {
    for (const [query, field] of [
      ['?state=gone', 'state'],
      ['?limit=0', 'limit'],
      ['?limit=1001', 'limit'],
      ['?limit=ten', 'limit'],
      ['?continuationToken=%25%25', 'continuationToken'],
      [`?continuationToken=${encodeURIComponent(btoa('{"nextPartitionKey":7}'))}`, 'continuationToken'],
    ] as const) {
      const res = await cp.api('GET', `topics/${topic}/nodes${query}`);
      expect(res.status, query).toBe(400);
      expect(res.contentType).toBe('application/problem+json');
      expect(res.body, query).toMatchObject({ code: 'InvalidField', field });
    }
    expect((await cp.api('GET', 'topics/not%20a%20topic/nodes')).body).toMatchObject({ status: 400, field: 'topic' });
  });
});
