import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceBusClient, isServiceBusError, type ServiceBusReceivedMessage } from '@azure/service-bus';
import { commandsQueueName } from '@workforce/worker-agent/contract';
import { armClient } from '../../src/adapters/arm.js';
import { SHUTDOWN_SUBSCRIPTION } from '../../src/config.js';
import { presenceReport, sendPresence } from '../support/presence-reports.js';
import { startControlPlane, waitFor, type ControlPlane } from '../support/control-plane.js';

/**
 * Per-node commands through the local host, the emulator and Azurite: provisioning of the
 * commands queue, the policy API, the 400s, the budget's 409 and `force`, dry runs that send
 * nothing, and a targeted drain that puts one command in each named node's session and none
 * elsewhere (each session accepted with the real SDK and looked into).
 */
describe('per-node commands: the API', () => {
  const topic = 'cmd-api';
  const queue = commandsQueueName(topic);
  const fleet = ['node-1', 'node-2', 'node-3', 'node-4'];
  let cp: ControlPlane;
  let impatient: ServiceBusClient;

  beforeAll(async () => {
    cp = await startControlPlane();
    impatient = new ServiceBusClient(cp.bus.emulator.connectionString, { retryOptions: { maxRetries: 0, timeoutInMs: 1_500 } });
    expect((await cp.api('PUT', `topics/${topic}`)).status).toBe(201);
    // Four nodes online (heartbeats of simulated agents), as the inventory will know them.
    await sendPresence(cp.sb, fleet.map((id) => presenceReport(topic, id, { heartbeatSeconds: 600 })));
    await waitFor(async () => (await cp.api('GET', `topics/${topic}/nodes`)).body?.nodes?.length === fleet.length, 'the four nodes in the inventory');
  }, 120_000);
  afterAll(async () => {
    await impatient?.close();
    await cp?.close();
  });

  /** Every message waiting in a session of the commands queue, by session (accepted one by one, completed). */
  async function drainSessions(): Promise<Map<string, ServiceBusReceivedMessage[]>> {
    const found = new Map<string, ServiceBusReceivedMessage[]>();
    for (;;) {
      let receiver;
      try {
        receiver = await impatient.acceptNextSession(queue, { maxAutoLockRenewalDurationInMs: 0 });
      } catch (err) {
        if (isServiceBusError(err) && err.code === 'ServiceTimeout') return found;
        throw err;
      }
      const got = await receiver.receiveMessages(10, { maxWaitTimeInMs: 1_000 });
      for (const m of got) await receiver.completeMessage(m);
      found.set(receiver.sessionId, [...(found.get(receiver.sessionId) ?? []), ...got]);
      await receiver.close();
    }
  }

  async function subscriptionMessages(): Promise<number> {
    const receiver = cp.sb.createReceiver(topic, SHUTDOWN_SUBSCRIPTION, { receiveMode: 'receiveAndDelete' });
    const got = await receiver.receiveMessages(50, { maxWaitTimeInMs: 1_000 });
    await receiver.close();
    return got.length;
  }

  it('provisions the commands queue with sessions and duplicate detection, seen through the real ARM client', async () => {
    const arm = armClient({ subscriptionId: '00000000-0000-0000-0000-000000000000', resourceGroup: 'local', namespace: 'local', endpoint: cp.bus.emulator.armEndpoint, caCertificate: cp.bus.emulator.caCertificate, credential: 'emulator' });
    const q = await arm.queues.get('local', 'local', queue);
    expect(q).toMatchObject({ requiresSession: true, requiresDuplicateDetection: true, lockDuration: 'PT30S', maxDeliveryCount: 10, deadLetteringOnMessageExpiration: false });
    const again = await cp.api('PUT', `topics/${topic}`);
    expect(again.status).toBe(200);
    expect(again.body.entities).toContainEqual({ kind: 'queue', name: queue, outcome: 'existed' });
  });

  it('answers 404 CommandsQueueNotFound for a topic provisioned before commands, until PUT creates its queue', async () => {
    const old = 'cmd-old';
    expect((await cp.api('PUT', `topics/${old}`)).status).toBe(201);
    const arm = armClient({ subscriptionId: '00000000-0000-0000-0000-000000000000', resourceGroup: 'local', namespace: 'local', endpoint: cp.bus.emulator.armEndpoint, caCertificate: cp.bus.emulator.caCertificate, credential: 'emulator' });
    await arm.queues.delete('local', 'local', commandsQueueName(old));
    const res = await cp.api('POST', `topics/${old}/drains`, { nodes: ['node-1'], force: true });
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ code: 'CommandsQueueNotFound', field: 'topic', detail: expect.stringContaining(`PUT /api/topics/${old}`) });
    expect((await cp.api('PUT', `topics/${old}`)).body.entities).toContainEqual({ kind: 'queue', name: commandsQueueName(old), outcome: 'created' });
    expect((await cp.api('POST', `topics/${old}/drains`, { nodes: ['node-1'], force: true, dryRun: true })).status).toBe(200);
  });

  it('refuses a topic named like a commands queue, or too long for its commands queue to fit', async () => {
    const clash = await cp.api('PUT', 'topics/other-commands');
    expect(clash.status).toBe(400);
    expect(clash.body).toMatchObject({ field: 'topic', detail: expect.stringContaining('commands queue of topic "other"') });
    const long = await cp.api('PUT', `topics/${'t'.repeat(252)}`);
    expect(long.status).toBe(400);
    expect(long.body).toMatchObject({ field: 'topic', detail: expect.stringContaining('limited to 251 characters') });
    expect((await cp.api('PUT', `topics/${'t'.repeat(251)}`)).status).toBe(201);
  });

  it.each([
    ['nodes with count', { nodes: ['node-1'], count: 1 }, 'nodes'],
    ['a duplicate id (case-insensitively)', { nodes: ['node-1', 'NODE-1'] }, 'nodes'],
    ['no node', { nodes: [] }, 'nodes'],
    ['1,001 nodes', { nodes: Array.from({ length: 1001 }, (_, i) => `n-${i}`) }, 'nodes'],
    ['an id of 129 characters', { nodes: ['x'.repeat(129)] }, 'nodes[0]'],
    ['an id with a control character', { nodes: ['ok', 'tab\there'] }, 'nodes[1]'],
    ['force that is not a boolean', { count: 1, force: 'yes' }, 'force'],
  ])('answers 400 naming the field for %s', async (_what, body, field) => {
    const res = await cp.api('POST', `topics/${topic}/drains`, body);
    expect(res.status).toBe(400);
    expect(res.contentType).toContain('application/problem+json');
    expect(res.body).toMatchObject({ code: 'InvalidField', field });
  });

  it('refuses node ids the inventory has never seen (400 UnknownNodes) unless forced', async () => {
    const res = await cp.api('POST', `topics/${topic}/drains`, { nodes: ['node-1', 'nod-2'], dryRun: true });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'UnknownNodes', field: 'nodes', unknownNodes: ['nod-2'], detail: expect.stringContaining('"nod-2"') });
    const forced = await cp.api('POST', `topics/${topic}/drains`, { nodes: ['node-1', 'nod-2'], dryRun: true, force: true });
    expect(forced.status).toBe(200);
    expect(forced.body).toMatchObject({ dryRun: true, unknownNodes: ['nod-2'], spec: { forced: true } });
  });

  it('answers 404 PolicyNotFound, 400 for a bad budget, and keeps a policy with the inventory', async () => {
    expect((await cp.api('GET', `topics/${topic}/policy`)).body).toMatchObject({ status: 404, code: 'PolicyNotFound' });
    expect((await cp.api('DELETE', `topics/${topic}/policy`)).body).toMatchObject({ status: 404, code: 'PolicyNotFound' });
    for (const bad of [-1, '101%', 1.5, 'half']) {
      const res = await cp.api('PUT', `topics/${topic}/policy`, { maxUnavailable: bad });
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(res.body.field).toBe('maxUnavailable');
    }
    const set = await cp.api('PUT', `topics/${topic}/policy`, { maxUnavailable: '50%' });
    expect(set.status).toBe(200);
    expect((await cp.api('GET', `topics/${topic}/policy`)).body).toMatchObject({ topic, maxUnavailable: '50%', budget: { online: 4, unavailable: 0, allowed: 2 } });
    const listed = (await cp.api('GET', 'topics')).body.topics.find((t: { name: string }) => t.name === topic);
    expect(listed).toMatchObject({ policy: { maxUnavailable: '50%' }, budget: { online: 4, unavailable: 0, allowed: 2 }, skippedRuns: [] });
    expect((await cp.api('DELETE', `topics/${topic}/policy`)).status).toBe(204);
    expect((await cp.api('GET', `topics/${topic}/policy`)).status).toBe(404);
  });

  it('a dry run answers the plan and the budget verdict, and publishes nothing', async () => {
    expect((await cp.api('PUT', `topics/${topic}/policy`, { maxUnavailable: 1 })).status).toBe(200);
    const targeted = await cp.api('POST', `topics/${topic}/drains`, { nodes: ['node-1', 'node-2'], dryRun: true, drainId: 'dry-1' });
    expect(targeted.status).toBe(200);
    expect(targeted.body).toMatchObject({
      dryRun: true,
      plan: { entity: queue, messages: [{ nodeId: 'node-1', messageId: 'dry-1/1', operation: 'graceful-downscale' }, { nodeId: 'node-2', messageId: 'dry-1/2' }] },
      inventory: { active: 4, total: 4 },
      budget: { online: 4, unavailable: 0, requested: 2, allowed: 1, exceeded: true },
    });
    const anonymous = await cp.api('POST', `topics/${topic}/drains`, { count: 1, dryRun: true });
    expect(anonymous.status).toBe(200);
    expect(anonymous.body.plan.messages).toEqual([expect.objectContaining({ count: 1, operation: 'graceful-downscale' })]);
    const resume = await cp.api('POST', `topics/${topic}/resume`, { nodes: ['node-3'], dryRun: true });
    expect(resume.status).toBe(200);
    expect(resume.body.plan.messages).toEqual([expect.objectContaining({ nodeId: 'node-3', operation: 'resume' })]);
    expect((await drainSessions()).size).toBe(0);
    expect(await subscriptionMessages()).toBe(0);
    expect((await cp.api('GET', 'drains')).body.drains).toEqual([]);
  });

  it('refuses a drain over the budget with 409 BudgetExceeded and its figures; force overrides it and is recorded', async () => {
    const refused = await cp.api('POST', `topics/${topic}/drains`, { nodes: ['node-1', 'node-2'], mode: 'do-not-accept-new-tasks' });
    expect(refused.status).toBe(409);
    expect(refused.contentType).toContain('application/problem+json');
    expect(refused.body).toMatchObject({ code: 'BudgetExceeded', online: 4, unavailable: 0, requested: 2, allowed: 1, maxUnavailable: 1 });
    const anonymous = await cp.api('POST', `topics/${topic}/drains`, { count: 2 });
    expect(anonymous.body).toMatchObject({ status: 409, code: 'BudgetExceeded', requested: 2 });
    expect((await drainSessions()).size).toBe(0);

    const forced = await cp.api('POST', `topics/${topic}/drains`, { nodes: ['node-1', 'node-2'], mode: 'do-not-accept-new-tasks', force: true, requestedBy: 'ops@example', drainId: 'forced-1' });
    expect(forced.status).toBe(202);
    const shown = await waitFor(async () => {
      const d = (await cp.api('GET', 'drains/forced-1')).body;
      return d.status === 'running' && d.counts?.untaken === 2 && d;
    }, 'the forced drain running');
    expect(shown).toMatchObject({ forced: true, forcedBy: 'ops@example', targets: ['node-1', 'node-2'], mode: 'do-not-accept-new-tasks' });
    const listed = (await cp.api('GET', 'drains')).body.drains.find((d: { drainId: string }) => d.drainId === 'forced-1');
    expect(listed).toMatchObject({ forced: true, targets: ['node-1', 'node-2'] });
    // Its two commands are in flight: the budget counts them until the nodes act.
    expect((await cp.api('GET', `topics/${topic}/policy`)).body.budget).toMatchObject({ unavailable: 2, inFlight: 2, allowed: 1 });
  });

  it('a targeted drain puts exactly one command in each named node\'s session and none elsewhere', async () => {
    const sessions = await drainSessions();
    expect([...sessions.keys()].sort()).toEqual(['node-1', 'node-2']);
    for (const [i, nodeId] of ['node-1', 'node-2'].entries()) {
      const [m, ...more] = sessions.get(nodeId)!;
      expect(more).toEqual([]);
      expect(m).toMatchObject({ messageId: `forced-1/${i + 1}`, sessionId: nodeId, subject: 'do-not-accept-new-tasks', contentType: 'application/json' });
      expect(m!.body).toMatchObject({ operation: 'do-not-accept-new-tasks', nodeId, drainId: 'forced-1', requestedBy: 'ops@example' });
    }
    expect(await subscriptionMessages()).toBe(0);
  });

  it('lists a named offline node as unreachable, in the answer and in the drain', async () => {
    await sendPresence(cp.sb, [presenceReport(topic, 'node-4', { presence: 'offline', heartbeatSeconds: 600 })]);
    await waitFor(async () => (await cp.api('GET', `topics/${topic}/nodes?state=offline`)).body?.nodes?.length === 1, 'node-4 offline');
    expect((await cp.api('DELETE', `topics/${topic}/policy`)).status).toBe(204);
    const res = await cp.api('POST', `topics/${topic}/resume`, { nodes: ['node-4'], drainId: 'resume-off', ackTimeout: '10m' });
    expect(res.status).toBe(202);
    expect(res.body.unreachable).toEqual([{ nodeId: 'node-4', why: expect.stringContaining('offline since') }]);
    const shown = await waitFor(async () => {
      const d = (await cp.api('GET', 'drains/resume-off')).body;
      return d.counts?.untaken === 1 && d;
    }, 'the resume running');
    expect(shown).toMatchObject({ mode: 'resume', targets: ['node-4'], unreachable: [{ nodeId: 'node-4' }] });
    expect((await cp.api('POST', `topics/${topic}/resume`, {})).body).toMatchObject({ status: 400, field: 'nodes' });
  });

  it('a cancel withdraws the commands no node has taken from their sessions', async () => {
    const cancel = await cp.api('POST', 'drains/resume-off/cancel', { reason: 'node-4 is gone for good' });
    expect(cancel.status).toBe(202);
    const done = await waitFor(async () => {
      const d = (await cp.api('GET', 'drains/resume-off')).body;
      return d.status === 'cancelled' && d;
    }, 'the resume cancelled');
    expect(done).toMatchObject({ withdrawn: 1, outcome: expect.stringContaining('1 untaken message(s) withdrawn') });
    expect((await drainSessions()).size).toBe(0);
  });

  it('resumes all: every node the inventory lists as intake-stopped, and 400 naming all when none is', async () => {
    expect((await cp.api('POST', `topics/${topic}/resume`, { all: true })).body).toMatchObject({ status: 400, field: 'all' });
    await sendPresence(cp.sb, [presenceReport(topic, 'node-3', { nodeState: 'intake-stopped', heartbeatSeconds: 600 })]);
    await waitFor(async () => (await cp.api('GET', `topics/${topic}/nodes?state=intake-stopped`)).body?.nodes?.length === 1, 'node-3 intake-stopped');
    const plan = await cp.api('POST', `topics/${topic}/resume`, { all: true, dryRun: true });
    expect(plan.status).toBe(200);
    expect(plan.body.plan.messages).toEqual([expect.objectContaining({ nodeId: 'node-3', operation: 'resume' })]);
    expect((await drainSessions()).size).toBe(0);
  });
});
