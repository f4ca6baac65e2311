import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostProcess } from '../../scripts/host-process.js';
import { agentIdentity, APP_IDENTITY } from '../../scripts/local-identities.js';
import { startLocalSystem, type LocalSystem } from '../../scripts/local-system.js';
import { cli, cliProcess } from '../cli/run-cli.js';
import { REPORTS_QUEUE } from '../../src/config.js';
import { callApi, FUNCTION_KEY, sourceAppDir, tempDir, waitFor } from '../support/control-plane.js';
import { buildArtifacts, isRunning, Node, type Artifacts } from '../support/fleet.js';

/**
 * The app's identity without a role it needs: Service Bus refuses the operation (a missing
 * claim), and the request is answered 403, or the drain ends at once, naming the right and the
 * entity, where the SDK's retries (UnauthorizedAccess is retryable for it) took minutes.
 * The app has Data Sender on two topics only (not the namespace) and Data Receiver on neither.
 */
describe('managed identities: a missing role is named at once, by the API, the CLI and the agent', () => {
  const SENDS = 'mi-sends';
  const DENIED = 'mi-denied';
  /** Its agents' identity holds no role at all. */
  const ROLELESS = 'mi-roleless';
  let system: LocalSystem<HostProcess>;
  let artifacts: Artifacts;
  const nodes: Node[] = [];
  const appDir = sourceAppDir();
  const dataDir = tempDir('workforce-mi-refused-');

  beforeAll(async () => {
    [system, artifacts] = await Promise.all([startLocalSystem({
      appDir,
      dataDir,
      inMemory: true,
      functionKey: FUNCTION_KEY,
      identities: {
        agentTopics: [ROLELESS],
        adjustRoles: (assignments, objectIdOf) => {
          const app = objectIdOf(APP_IDENTITY);
          const agent = objectIdOf(agentIdentity(ROLELESS));
          return [
            ...assignments.filter((a) => !(a.principalId === app && a.role === 'Azure Service Bus Data Sender') && a.principalId !== agent),
            { principalId: app, role: 'Azure Service Bus Data Sender', scope: `topics/${SENDS}` },
          ];
        },
      },
      settings: { NODE_OPTIONS: '--conditions=source' },
    }), buildArtifacts()]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.close()));
    await system?.close();
    for (const dir of [appDir, dataDir]) rmSync(dir, { recursive: true, force: true });
  });

  const api = (method: string, route: string, body?: unknown) => callApi(system.host.url, method, route, body);
  // Bounded well below what the retries took (the SDK's 3 × 30 s in each of the activity's 5 attempts).
  const drainEnded = (drainId: string) =>
    waitFor(async () => {
      const d = (await api('GET', `drains/${drainId}`)).body;
      return d.status !== 'running' && d;
    }, `drain ${drainId} to end`, 45_000);

  it('without Send on the topic, a drain is answered 403 at once, naming the right, the topic and the role; the CLI says so', async () => {
    expect((await api('PUT', `topics/${DENIED}`)).status).toBe(201);
    const post = await api('POST', `topics/${DENIED}/drains`, { count: 1, gracePeriod: '10m', ackTimeout: '5m', requestedBy: 'tester' });
    expect(post.status, JSON.stringify(post.body)).toBe(403);
    expect(post.body).toMatchObject({
      code: 'ServiceBusAccessDenied',
      detail: `this drain cannot be published: the app's identity lacks Send on topic '${DENIED}' (assign it Azure Service Bus Data Sender on it or on the namespace)`,
    });
    // Nothing was started.
    expect((await api('GET', `drains?topic=${DENIED}`)).body.drains ?? []).toEqual([]);

    const drain = await cli(['drain', DENIED, '--count', '1'], { WORKFORCE_API_URL: system.host.url, WORKFORCE_API_KEY: FUNCTION_KEY });
    expect(drain.code, drain.stderr).toBe(6); // EXIT.refused
    expect(drain.stderr).toContain(`the app's identity lacks Send on topic '${DENIED}' (assign it Azure Service Bus Data Sender`);
    expect(drain.stderr).toContain('Service Bus roles');
    expect(drain.stderr).not.toMatch(/function key|--key/);
  });

  it('workforce send with an identity lacking Send on the topic fails at once, naming the right, the topic and the role', async () => {
    const env = { ...system.identities!.environmentFor(APP_IDENTITY), NODE_EXTRA_CA_CERTS: system.bus.caFile };
    const sent = await cliProcess(['send', DENIED, '--operation', 'do-not-accept-new-tasks', '--count', '1', '--namespace', system.bus.namespace], env);
    expect(sent.code, sent.stderr).toBe(6); // EXIT.refused
    expect(sent.stderr).toContain(`send to ${DENIED} refused: your identity lacks Send on topic '${DENIED}' (assign it Azure Service Bus Data Sender on it or on the namespace)`);
  });

  it("without Listen on the topic's subscription, a cancel ends the drain and says its untaken messages stay", async () => {
    expect((await api('PUT', `topics/${SENDS}`)).status).toBe(201);
    const post = await api('POST', `topics/${SENDS}/drains`, { count: 1, mode: 'do-not-accept-new-tasks' });
    expect(post.status, JSON.stringify(post.body)).toBe(202);
    // Taken after the publish, which the identity may do.
    expect((await api('POST', `drains/${post.body.drainId}/cancel`, { reason: 'e2e', requestedBy: 'tester' })).status).toBe(202);
    const done = await drainEnded(post.body.drainId);
    expect(done).toMatchObject({ status: 'cancelled', withdrawn: 0 });
    expect(done.outcome).toContain(`untaken messages not withdrawn: the app's identity lacks Listen on subscription '${SENDS}/shutdown' (assign it Azure Service Bus Data Receiver on it or on the namespace)`);
  });

  it("a resume whose topic's commands queue the app cannot send to is answered 403, naming the queue", async () => {
    const post = await api('POST', `topics/${SENDS}/resume`, { nodes: ['node-1'] });
    expect(post.status, JSON.stringify(post.body)).toBe(403);
    expect(post.body).toMatchObject({
      code: 'ServiceBusAccessDenied',
      detail: `this resume cannot be published: the app's identity lacks Send on queue '${SENDS}-commands' (assign it Azure Service Bus Data Sender on it or on the namespace)`,
    });
  });

  it('an agent whose identity holds no role keeps running, and says once per entity which right it lacks and the role that gives it', async () => {
    expect((await api('PUT', `topics/${ROLELESS}`)).status).toBe(201);
    const node = new Node('mi-roleless-1', ROLELESS);
    nodes.push(node);
    await node.start(artifacts, '', 1, 600_000, {
      ...system.identities!.environmentFor(agentIdentity(ROLELESS)),
      NODE_EXTRA_CA_CERTS: system.bus.caFile,
      WORKFORCE_BACK_CHANNEL_CONNECTION_STRING: '',
      WORKFORCE_BACK_CHANNEL_FULLY_QUALIFIED_NAMESPACE: system.bus.namespace,
      WORKFORCE_LOG_LEVEL: 'debug',
    });
    const refused = () => node.agent.events().filter((e) => e['event'] === 'bus-refused');
    const lacks = (claim: string, entity: string, role: string) =>
      `this node's identity lacks ${claim} on ${entity}: assign it ${role} on it (or on the namespace); retrying until then`;
    const expected = [
      lacks('Listen', `queue '${ROLELESS}-commands' (session 'mi-roleless-1')`, 'Azure Service Bus Data Receiver'),
      lacks('Listen', `subscription '${ROLELESS}/shutdown'`, 'Azure Service Bus Data Receiver'),
      lacks('Send', `queue '${REPORTS_QUEUE}'`, 'Azure Service Bus Data Sender'),
    ];
    await waitFor(() => refused().length >= expected.length, 'a refusal logged for each entity', 30_000);
    // Retried meanwhile (presence, at its back-off), without another line at warn or above.
    await waitFor(() => node.agent.events().filter((e) => e['event'] === 'presence-not-sent').length >= 3, 'presence retried', 30_000);
    expect(refused().map((e) => e['reason']).sort()).toEqual(expected);
    const loud = node.agent.events().filter((e) => (e['level'] === 'warn' || e['level'] === 'error') && e['event'] !== 'bus-refused');
    expect(loud).toEqual([]);
    expect(isRunning(node.agent)).toBe(true);
    // And `workforce-agent status` says so.
    const status = await node.cli(['status']);
    expect(status.code, status.output).toBe(0);
    for (const reason of expected) expect(status.output).toContain(`refused     ${reason}`);
  });
});

