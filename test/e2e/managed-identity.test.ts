import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostProcess } from '../../scripts/host-process.js';
import { agentIdentity, OPERATOR_IDENTITY } from '../../scripts/local-identities.js';
import { startLocalSystem, type LocalSystem } from '../../scripts/local-system.js';
import { cliProcess } from '../cli/run-cli.js';
import { callApi, FUNCTION_KEY, sourceAppDir, tempDir, waitFor } from '../support/control-plane.js';
import { buildArtifacts, Node, type Artifacts } from '../support/fleet.js';
import { probeReceive } from '../support/probe-receive.js';

/**
 * Every part authenticated as in Azure, by managed identity: tokens of the local issuer, checked
 * by the emulator on AMQPS and on its ARM endpoint against the role assignments of
 * scripts/local-identities.ts (the README's least-privilege table). The app (its own host
 * process) provisions through ARM and publishes; real agents with their own identity drain real
 * workers and report to the app's trigger; `workforce send --namespace` publishes as the
 * operator. No process is given a SAS key.
 */
describe('managed identities end to end', () => {
  const TOPIC = 'mi-west';
  const OTHER = 'mi-east';
  let system: LocalSystem<HostProcess>;
  let artifacts: Artifacts;
  const appDir = sourceAppDir();
  const dataDir = tempDir('workforce-mi-');
  const nodes: Node[] = [];

  beforeAll(async () => {
    [system, artifacts] = await Promise.all([
      startLocalSystem({
        appDir,
        dataDir,
        inMemory: true,
        functionKey: FUNCTION_KEY,
        identities: { agentTopics: [TOPIC, OTHER] },
        // The language worker runs our TypeScript sources.
        settings: { NODE_OPTIONS: '--conditions=source' },
      }),
      buildArtifacts(),
    ]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.close()));
    await system?.close();
    for (const dir of [appDir, dataDir]) rmSync(dir, { recursive: true, force: true });
  });

  const api = (method: string, route: string, body?: unknown) => callApi(system.host.url, method, route, body);
  /** What makes a process one identity, and trust the emulator's certificate for AMQPS. */
  const identity = (name: string): Record<string, string> => ({ ...system.identities!.environmentFor(name), NODE_EXTRA_CA_CERTS: system.bus.caFile });
  /** An agent's environment: its topic's identity and the namespace; the connection string empty (none). */
  const agentEnv = (topic: string): Record<string, string> => ({
    ...identity(agentIdentity(topic)),
    WORKFORCE_BACK_CHANNEL_CONNECTION_STRING: '',
    WORKFORCE_BACK_CHANNEL_FULLY_QUALIFIED_NAMESPACE: system.bus.namespace,
  });
  const startNode = async (id: string): Promise<Node> => {
    const node = new Node(id, TOPIC);
    nodes.push(node);
    await node.start(artifacts, '', 100, 300, agentEnv(TOPIC));
    return node;
  };
  const drainEnded = (drainId: string) =>
    waitFor(async () => {
      const d = (await api('GET', `drains/${drainId}`)).body;
      return d.status !== 'running' && d;
    }, `drain ${drainId} to end`, 60_000);

  it('the app provisions topics through ARM with its own identity', async () => {
    // In memory: the issuer's key and secrets are not written to the data folder.
    expect(existsSync(path.join(dataDir, 'identity'))).toBe(false);
    for (const topic of [TOPIC, OTHER]) {
      const put = await api('PUT', `topics/${topic}`);
      expect(put.status, JSON.stringify(put.body)).toBe(201);
      expect(put.body.entities.map((e: { kind: string; outcome: string }) => `${e.kind} ${e.outcome}`)).toEqual(['topic created', 'subscription created', 'queue created', 'queue existed']);
    }
  });

  it('a drain the app publishes is taken by an agent with its own identity, which drains its worker; its reports complete the drain', async () => {
    const node = await startNode('mi-node-a');
    // Its Receiver role on its topic's commands queue: the agent holds its node's session there.
    await node.agent.waitForEvent('commands-session-accepted');
    // The app (host and language worker) and the agent hold an identity and no SAS key.
    const host = system.host.pid;
    for (const pid of [host, ...descendants(host), node.agent.pid]) expect(environmentOf(pid), `process ${pid}`).not.toMatch(/SharedAccessKey|AccountKey/i);
    expect(environmentOf(host)).toMatch(/^IDENTITY_ENDPOINT=http/m);
    expect(environmentOf(host)).toContain(`ServiceBusConnection__fullyQualifiedNamespace=${system.bus.namespace}`);
    expect(environmentOf(host)).toContain(`AzureWebJobsStorage__tableServiceUri=${system.storage.tableServiceUri}`);

    const post = await api('POST', `topics/${TOPIC}/drains`, { count: 1, gracePeriod: '10m', ackTimeout: '5m', requestedBy: 'tester' });
    expect(post.status, JSON.stringify(post.body)).toBe(202);
    const done = await drainEnded(post.body.drainId);
    expect(done).toMatchObject({ status: 'completed', counts: { requested: 1, drained: 1, shortfall: 0 } });
    expect(Object.keys(done.progress.nodes)).toEqual(['mi-node-a']);
    expect(await node.worker.exited).toEqual({ code: 0, signal: null });
    // Its roles were enough for everything it did.
    expect(node.agent.output()).not.toMatch(/Unauthorized/);
    // The app wrote its reports to the fleet inventory with its identity's tokens (Azurite over HTTPS, OAuth).
    await waitFor(async () => (await api('GET', `topics/${TOPIC}/nodes`)).body?.nodes?.some((n: { nodeId: string }) => n.nodeId === 'mi-node-a'), 'the node in the inventory');
  });

  it('workforce send --namespace publishes as the operator, and an agent acts on it', async () => {
    const node = await startNode('mi-node-b');
    const drainId = 'mi-send-1';
    const sent = await cliProcess(
      ['send', TOPIC, '--operation', 'graceful-downscale', '--count', '1', '--deadline', '30m', '--drain-id', drainId, '--namespace', system.bus.namespace],
      identity(OPERATOR_IDENTITY),
    );
    expect(sent.code, sent.stderr).toBe(0);
    expect(await node.worker.exited).toEqual({ code: 0, signal: null });
    expect(node.agent.events().some((e) => e['event'] === 'message-accepted' && e['messageId'] === `${drainId}/1`)).toBe(true);
  });

  it("the app withdraws a cancelled drain's untaken messages with its Receiver role on the topic's subscription", async () => {
    const post = await api('POST', `topics/${OTHER}/drains`, { count: 2, mode: 'do-not-accept-new-tasks' });
    expect(post.status, JSON.stringify(post.body)).toBe(202);
    const cancel = await api('POST', `drains/${post.body.drainId}/cancel`, { reason: 'e2e', requestedBy: 'tester' });
    expect(cancel.status, JSON.stringify(cancel.body)).toBe(202);
    expect(await drainEnded(post.body.drainId)).toMatchObject({ status: 'cancelled', withdrawn: 2 });
  });

  it("least privilege: an agent's identity cannot publish a control message, nor receive from another topic's subscription", async () => {
    const publish = await cliProcess(
      ['send', TOPIC, '--operation', 'graceful-downscale', '--count', '1', '--deadline', '30m', '--namespace', system.bus.namespace],
      identity(agentIdentity(TOPIC)),
    );
    expect(publish.code, publish.stderr).toBe(6); // EXIT.refused
    expect(publish.stderr).toContain(`send to ${TOPIC} refused: your identity lacks Send on topic '${TOPIC}' (assign it Azure Service Bus Data Sender on it or on the namespace)`);

    const agent = { ...identity(agentIdentity(TOPIC)), WORKFORCE_SERVICEBUS_NAMESPACE: system.bus.namespace };
    expect(await probeReceive(agent, TOPIC)).toEqual({ ok: true }); // its own subscription: the probe works
    expect(await probeReceive(agent, OTHER)).toMatchObject({ ok: false, code: 'UnauthorizedAccess', message: expect.stringContaining("'Listen' claim(s) are required") });
  });
});

/** The environment a process runs with (Linux: /proc/<pid>/environ). */
function environmentOf(pid: number): string {
  return readFileSync(`/proc/${pid}/environ`, 'utf8').replaceAll('\0', '\n');
}

/** Every process below `pid` (the host's language worker). */
function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const found: number[] = [];
  for (let frontier = [pid]; frontier.length > 0; ) {
    frontier = [...parentOf].filter(([, ppid]) => frontier.includes(ppid)).map(([child]) => child);
    found.push(...frontier);
  }
  return found;
}
