import { spawnSync } from 'node:child_process';
import { chmodSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { ServiceBusClient } from '@azure/service-bus';
import { startProcessCredential } from '@workforce/identity-emulator';
import { startEmulator } from '@workforce/servicebus-emulator';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { agentIdentity, startLocalIdentities, type LocalIdentities } from '../../scripts/local-identities.js';
import { freePort } from '../../scripts/local-storage.js';
import { startLocalBus } from '../../scripts/local-system.js';
import { REPORTS_QUEUE, SHUTDOWN_SUBSCRIPTION } from '../../src/config.js';
import { tempDir } from '../support/control-plane.js';
import { probeReceive } from '../support/probe-receive.js';

const SERVICE_BUS = 'https://servicebus.azure.net/';

/**
 * `npm start -- --identities` keeps the issuer's key and the identities in its data folder: an
 * agent configured from one run (its IDENTITY_ENDPOINT, IDENTITY_HEADER, AZURE_CLIENT_ID) still
 * gets its tokens after a restart, and a token minted before the restart still verifies.
 */
describe('local identities across a restart', () => {
  const dataDir = tempDir('workforce-identity-restart-');
  const stateDir = path.join(dataDir, 'identity');
  const open: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    for (const o of open.splice(0).reverse()) await o.close().catch(() => {});
    await rm(dataDir, { recursive: true, force: true });
  });
  const start = async (options: Parameters<typeof startLocalIdentities>[0]): Promise<LocalIdentities> => {
    const identities = await startLocalIdentities(options);
    open.push(identities);
    return identities;
  };

  it('keeps principal ids, secrets and the signing key: an agent configured before the restart gets tokens after it, and an old token verifies', async () => {
    const first = await start({ agentTopics: ['eu-west'], stateDir });
    const port = Number(new URL(first.issuer.endpoint).port);
    const agentEnv = first.environmentFor(agentIdentity('eu-west'));
    const before = first.issuer.mint(agentIdentity('eu-west'), SERVICE_BUS);
    const principals = first.principals.map((p) => ({ ...p }));
    // Only its owner reads the key and the secrets.
    expect(statSync(path.join(stateDir, 'issuer.json')).mode & 0o777).toBe(0o600);
    expect(statSync(stateDir).mode & 0o777).toBe(0o700);
    await first.close();

    const second = await start({ agentTopics: ['eu-west', 'eu-north'], stateDir, port });
    expect(second.principals.filter((p) => p.name !== agentIdentity('eu-north'))).toEqual(principals);
    expect(second.issuer.issuer).toBe(first.issuer.issuer);
    expect(second.environmentFor(agentIdentity('eu-west'))).toEqual(agentEnv);

    // The agent's environment from the first run, unchanged, through the real ManagedIdentityCredential.
    const credential = await startProcessCredential(agentEnv);
    open.push(credential);
    const after = await credential.getToken(`${SERVICE_BUS}/.default`);
    expect(after?.token).toBeTruthy();

    // The emulator trusts the restarted issuer's keys: both tokens pass, with the agent's role.
    const emulator = await startEmulator({
      port: 0,
      armPort: false,
      entra: { issuer: second.issuer.issuer, keys: second.issuer.jwks.keys, roleAssignments: [...second.roleAssignments] },
    });
    open.push(emulator);
    emulator.catalogue.putQueue(REPORTS_QUEUE);
    const tls = Number(/Endpoint=sb:\/\/localhost:(\d+)/.exec(emulator.amqpsConnectionString!)![1]);
    for (const token of [before, after!.token]) {
      const client = new ServiceBusClient(`localhost:${tls}`, { getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3_000_000 }) }, {
        webSocketOptions: { webSocket: WebSocket, webSocketConstructorOptions: { ca: emulator.caCertificate } },
        retryOptions: { maxRetries: 0, timeoutInMs: 10_000 },
      });
      open.push(client);
      await client.createSender(REPORTS_QUEUE).sendMessages({ body: 'report' });
    }
  });

  it('keeps an identity left out of one run for the next; without a state folder every start is new', async () => {
    const first = await start({ agentTopics: ['eu-west', 'eu-north'], stateDir });
    const north = first.principals.find((p) => p.name === agentIdentity('eu-north'))!;
    await first.close();
    await (await start({ agentTopics: ['eu-west'], stateDir })).close();
    const third = await start({ agentTopics: ['eu-north'], stateDir });
    expect(third.principals.find((p) => p.name === agentIdentity('eu-north'))).toEqual(north);

    const a = await start({ agentTopics: ['eu-west'] });
    const b = await start({ agentTopics: ['eu-west'] });
    expect(a.principals[0]!.clientId).not.toBe(b.principals[0]!.clientId);
    expect(a.issuer.issuer).not.toBe(b.issuer.issuer);
  });

  // Root only: the attacker runs as `nobody`, which needs root to spawn (CI runs as root).
  it.runIf(process.getuid?.() === 0)("another local user (nobody) cannot read the issuer's key or the identities' secrets", async () => {
    await start({ agentTopics: ['eu-west'], stateDir });
    // The data folder open to all, as a checkout's is: only the state's own modes protect it.
    chmodSync(dataDir, 0o755);
    const attacker = spawnSync(process.execPath, ['-e', `process.stdout.write(require('fs').readFileSync(${JSON.stringify(path.join(stateDir, 'issuer.json'))}, 'utf8'))`], {
      uid: 65534,
      gid: 65534,
      encoding: 'utf8',
    });
    expect(attacker.status).not.toBe(0);
    expect(attacker.stderr).toContain('EACCES');
    expect(attacker.stdout).not.toContain('PRIVATE KEY');
  });

  it('refuses a state file that is not one, naming it and what to do', async () => {
    const { mkdir, writeFile } = await import('node:fs/promises');
    await mkdir(stateDir, { recursive: true });
    await writeFile(path.join(stateDir, 'issuer.json'), '{"tenantId": "t", "signingKey": "nope", "principals": []}');
    await expect(start({ agentTopics: ['eu-west'], stateDir })).rejects.toThrow(
      `${path.join(stateDir, 'issuer.json')}: signingKey: expected a PEM private key; remove the file to start with new identities`,
    );
  });
});

describe("an agent's environment across a restart of the local bus and issuer", () => {
  const dataDir = tempDir('workforce-bus-restart-');
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  /** The issuer and the emulator as `npm start -- --identities` runs them: kept in `dataDir`, on fixed ports. */
  async function startBusWithIdentities(ports: { amqp: number; amqps: number; arm: number; identity: number }) {
    const identities = await startLocalIdentities({ agentTopics: ['eu-west'], stateDir: path.join(dataDir, 'identity'), port: ports.identity });
    const bus = await startLocalBus({
      dataDir,
      ports,
      entra: { options: { issuer: identities.issuer.issuer, keys: identities.issuer.jwks.keys, roleAssignments: [...identities.roleAssignments] }, armCredential: identities.appArmCredential() },
    });
    return { identities, bus, close: async () => (await bus.close(), await identities.close()) };
  }

  it('an agent configured from the first run receives on its subscription after the restart, unchanged', async () => {
    const ports = { amqp: await freePort(), amqps: await freePort(), arm: await freePort(), identity: await freePort() };
    const first = await startBusWithIdentities(ports);
    first.bus.emulator.catalogue.putTopic('eu-west');
    first.bus.emulator.catalogue.putSubscription('eu-west', SHUTDOWN_SUBSCRIPTION);
    const agent = { ...first.identities.environmentFor(agentIdentity('eu-west')), NODE_EXTRA_CA_CERTS: first.bus.caFile, WORKFORCE_SERVICEBUS_NAMESPACE: first.bus.namespace };
    expect(await probeReceive(agent, 'eu-west', SHUTDOWN_SUBSCRIPTION)).toEqual({ ok: true });
    await first.close();

    const second = await startBusWithIdentities(ports);
    try {
      expect(await probeReceive(agent, 'eu-west', SHUTDOWN_SUBSCRIPTION)).toEqual({ ok: true });
    } finally {
      await second.close();
    }
  });
});

