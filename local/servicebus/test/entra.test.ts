// Entra ID on `$cbs`, through the real SDKs: @azure/service-bus with `fullyQualifiedNamespace`
// and a TokenCredential, over TLS (AMQP over WebSockets on the TLS listener, which lets this
// process trust the emulator's certificate per client), with tokens from the local issuer
// (local/identity) fetched by the real ManagedIdentityCredential in a child process per
// principal. Each role gives exactly its rights, scopes do not reach other entities, refused
// tokens fail as Azure fails them, and a token's expiry ends the links it authorised.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { TokenCredential } from '@azure/core-auth';
import { ServiceBusClient, type ServiceBusError } from '@azure/service-bus';
import { newPrincipal, startProcessCredential, startTokenIssuer, type ProcessCredential, type TokenIssuer } from '@workforce/identity-emulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { spawnEmulator, startEmulator, type EmulatorOptions, type RunningEmulator } from '../src/index.js';
import type { RoleAssignment } from '../src/auth/rbac.js';

const SERVICE_BUS = 'https://servicebus.azure.net/';

let issuer: TokenIssuer;
let emulator: RunningEmulator;
const closers: Array<() => Promise<void>> = [];
const credentials = new Map<string, ProcessCredential>();
const oid = (name: string) => issuer.principals.find((p) => p.name === name)!.objectId;

function tlsPort(e: RunningEmulator): number {
  return Number(/Endpoint=sb:\/\/localhost:(\d+)/.exec(e.amqpsConnectionString!)![1]);
}

/** A client for `localhost:<tls port>` with `credential`, trusting the emulator's certificate. */
function client(credential: TokenCredential, on: RunningEmulator = emulator): ServiceBusClient {
  const c = new ServiceBusClient(`localhost:${tlsPort(on)}`, credential, {
    webSocketOptions: { webSocket: WebSocket, webSocketConstructorOptions: { ca: on.caCertificate } },
    retryOptions: { maxRetries: 0, timeoutInMs: 10_000 },
  });
  closers.push(() => c.close());
  return c;
}

/** A client whose tokens come from the principal's ManagedIdentityCredential. */
const as = (name: string) => client(credentials.get(name)!);

/** A credential that hands out one fixed token (tests of refused tokens). */
const fixed = (token: string, expiresOnTimestamp = Date.now() + 3_600_000): TokenCredential => ({
  getToken: async () => ({ token, expiresOnTimestamp }),
});

async function failure(promise: Promise<unknown>): Promise<ServiceBusError> {
  try {
    await promise;
  } catch (error) {
    return error as ServiceBusError;
  }
  throw new Error('expected the operation to be refused');
}

function entraOptions(assignments: RoleAssignment[], extra: Partial<NonNullable<EmulatorOptions['entra']>> = {}): EmulatorOptions['entra'] {
  return { issuer: issuer.issuer, keys: issuer.jwks.keys, roleAssignments: assignments, ...extra };
}

beforeAll(async () => {
  issuer = await startTokenIssuer({ principals: ['sender', 'receiver', 'owner', 'scoped', 'stranger'].map(newPrincipal) });
  emulator = await startEmulator({
    port: 0,
    entra: entraOptions([
      { principalId: oid('sender'), role: 'Azure Service Bus Data Sender', scope: '/' },
      { principalId: oid('receiver'), role: 'Azure Service Bus Data Receiver', scope: '/' },
      { principalId: oid('owner'), role: 'Azure Service Bus Data Owner', scope: '/' },
      { principalId: oid('scoped'), role: 'Azure Service Bus Data Sender', scope: 'queues/q-a' },
      { principalId: oid('scoped'), role: 'Azure Service Bus Data Receiver', scope: 'topics/t/subscriptions/s1' },
      { principalId: oid('stranger'), role: 'Contributor', scope: '/' },
    ]),
  });
  emulator.catalogue.putQueue('q-a');
  emulator.catalogue.putQueue('q-b');
  emulator.catalogue.putQueue('q-mi');
  emulator.catalogue.putTopic('t');
  emulator.catalogue.putSubscription('t', 's1');
  emulator.catalogue.putSubscription('t', 's2');
  await Promise.all(issuer.principals.map(async (p) => credentials.set(p.name, await startProcessCredential(issuer.environmentFor(p.name)))));
});

afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => {});
  await Promise.all([...credentials.values()].map((c) => c.close()));
  await emulator?.close();
  await issuer?.close();
});

describe('Entra ID roles on $cbs', () => {
  it('Data Sender sends but cannot receive', async () => {
    const sender = as('sender');
    await sender.createSender('q-a').sendMessages({ body: 'from sender', messageId: randomUUID() });
    const refused = await failure(sender.createReceiver('q-a').receiveMessages(1, { maxWaitTimeInMs: 2_000 }));
    expect(refused.code).toBe('UnauthorizedAccess');
    expect(refused.message).toMatch(/^Unauthorized access\. 'Listen' claim\(s\) are required to perform this operation\. Resource: 'sb:\/\/localhost\/q-a'\./);
    expect((await failure(sender.createReceiver('q-a').peekMessages(1))).message).toContain("'Listen' claim(s) are required");
  });

  it('Data Receiver receives and settles but cannot send or schedule', async () => {
    const id = randomUUID();
    await as('owner').createSender('q-b').sendMessages({ body: 'for the receiver', messageId: id });
    const receiver = as('receiver').createReceiver('q-b');
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    expect(m?.messageId).toBe(id);
    await receiver.renewMessageLock(m!);
    await receiver.completeMessage(m!);
    const sender = as('receiver').createSender('q-b');
    const refused = await failure(sender.sendMessages({ body: 'no' }));
    expect(refused.code).toBe('UnauthorizedAccess');
    // Azure's words, with its tracking suffix, refused at the link's attach.
    expect(refused.message).toMatch(
      /^Unauthorized access\. 'Send' claim\(s\) are required to perform this operation\. Resource: 'sb:\/\/localhost\/q-b'\. TrackingId:[0-9a-f-]{36}, SystemTracker:localhost:q-b, Timestamp:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/,
    );
    // Scheduling is a $management operation: checked per operation, not at the link.
    const schedule = await failure(sender.scheduleMessages({ body: 'later' }, new Date(Date.now() + 60_000)));
    expect(schedule.message).toMatch(/'Send' claim\(s\) are required to perform this operation\. Resource: 'sb:\/\/localhost\/q-b\/\$management'\. TrackingId:/);
  });

  it('an entity-scoped role does not reach another entity; a subscription scope does not reach its sibling', async () => {
    const scoped = as('scoped');
    await scoped.createSender('q-a').sendMessages({ body: 'in scope' });
    expect((await failure(scoped.createSender('q-b').sendMessages({ body: 'out of scope' }))).message).toContain("'Send' claim(s) are required");
    expect((await failure(scoped.createSender('t').sendMessages({ body: 'not the topic' }))).message).toContain("'Send' claim(s) are required");

    await as('owner').createSender('t').sendMessages({ body: 'fan-out' });
    const [m] = await scoped.createReceiver('t', 's1', { receiveMode: 'receiveAndDelete' }).receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    expect(m?.body).toBe('fan-out');
    const sibling = await failure(scoped.createReceiver('t', 's2').receiveMessages(1, { maxWaitTimeInMs: 2_000 }));
    expect(sibling.message).toContain("'Listen' claim(s) are required to perform this operation. Resource: 'sb://localhost/t/Subscriptions/s2'");
  });

  it('Data Owner sends, receives, schedules and manages rules; Contributor (no data actions) can do none of it', async () => {
    const owner = as('owner');
    const sender = owner.createSender('t');
    const [seq] = await sender.scheduleMessages({ body: 'later' }, new Date(Date.now() + 3_600_000));
    await sender.cancelScheduledMessages(seq!);
    const rules = owner.createRuleManager('t', 's2');
    await rules.createRule('only-red', { sqlExpression: "color = 'red'" });
    const names: string[] = [];
    for await (const rule of rules.listRules()) names.push(rule.name);
    expect(names.sort()).toEqual(['$Default', 'only-red']);
    await rules.deleteRule('only-red');

    const stranger = as('stranger');
    expect((await failure(stranger.createSender('q-a').sendMessages({ body: 'x' }))).code).toBe('UnauthorizedAccess');
    expect((await failure(stranger.createReceiver('q-a').peekMessages(1))).code).toBe('UnauthorizedAccess');
  });

  it('a SAS key keeps working beside Entra ID', async () => {
    const sas = new ServiceBusClient(emulator.connectionString);
    closers.push(() => sas.close());
    await sas.createSender('q-a').sendMessages({ body: 'sas' });
    expect((await sas.createReceiver('q-a').peekMessages(10)).length).toBeGreaterThan(0);
  });
});

describe('an application on a managed identity, over AMQP/TLS', () => {
  it('sends and receives with its own role only (DefaultAzureCredential, fullyQualifiedNamespace, NODE_EXTRA_CA_CERTS)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sb-entra-'));
    try {
      const caFile = join(dir, 'ca.pem');
      await writeFile(caFile, emulator.caCertificate!);
      const script = fileURLToPath(new URL('./fixtures/identity-client.mjs', import.meta.url));
      const app = async (principal: string, action: 'send' | 'receive') => {
        const env = { ...process.env, ...issuer.environmentFor(principal), NODE_EXTRA_CA_CERTS: caFile };
        const { stdout } = await promisify(execFile)(process.execPath, [script, `localhost:${tlsPort(emulator)}`, 'q-mi', action], { env, timeout: 45_000 });
        return JSON.parse(stdout.trim().split('\n').pop()!) as { ok: boolean; body?: unknown; code?: string; error?: string };
      };
      expect(await app('sender', 'send')).toEqual({ ok: true });
      expect(await app('sender', 'receive')).toMatchObject({ ok: false, code: 'UnauthorizedAccess', error: expect.stringContaining("'Listen' claim(s)") });
      expect(await app('receiver', 'send')).toMatchObject({ ok: false, code: 'UnauthorizedAccess', error: expect.stringContaining("'Send' claim(s)") });
      expect(await app('receiver', 'receive')).toEqual({ ok: true, body: 'from a managed identity' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('tokens Service Bus refuses', () => {
  const put = (token: string) => failure(client(fixed(token)).createSender('q-a').sendMessages({ body: 'x' }));

  it('refuses an expired token, one not valid yet, and one for another audience', async () => {
    const expired = await put(issuer.mint('owner', SERVICE_BUS, { notBefore: new Date(Date.now() - 7_200_000), lifetimeSeconds: 3_600 }));
    expect(expired.code).toBe('UnauthorizedAccess');
    expect(expired.message).toMatch(/^ExpiredToken: The token is expired\. Expiration time: '\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ'/);
    const early = await put(issuer.mint('owner', SERVICE_BUS, { notBefore: new Date(Date.now() + 3_600_000) }));
    expect(early.message).toMatch(/^TokenNotYetValid: /);
    const storage = await put(issuer.mint('owner', 'https://storage.azure.com/'));
    expect(storage).toMatchObject({ code: 'UnauthorizedAccess', message: expect.stringMatching(/^InvalidAudience: /) });
  });

  it("accepts the SDK's audience with or without the slash, and the namespace's own", async () => {
    for (const audience of ['https://servicebus.azure.net', SERVICE_BUS, 'https://localhost/']) {
      await client(fixed(issuer.mint('owner', audience))).createSender('q-a').sendMessages({ body: audience });
    }
  });

  it('refuses a token from another tenant (trusted key, other iss) and one signed by an untrusted key', async () => {
    const otherTenant = await startTokenIssuer({ principals: [...issuer.principals] });
    const sameTenantOtherKey = await startTokenIssuer({ principals: [...issuer.principals], tenantId: issuer.tenantId });
    // The second emulator trusts both keys of the first two issuers, and the first's issuer name.
    const entra = { ...entraOptions([{ principalId: oid('owner'), role: 'Azure Service Bus Data Owner', scope: '/' }])!, keys: [...issuer.jwks.keys, ...otherTenant.jwks.keys] };
    const trusting = await startEmulator({ port: 0, armPort: false, entra });
    try {
      trusting.catalogue.putQueue('q-a');
      const refuse = (token: string) => failure(client(fixed(token), trusting).createSender('q-a').sendMessages({ body: 'x' }));
      expect((await refuse(otherTenant.mint('owner', SERVICE_BUS))).message).toMatch(/^InvalidIssuer: Token issuer is invalid\./);
      expect((await refuse(sameTenantOtherKey.mint('owner', SERVICE_BUS))).message).toMatch(/^InvalidSignature: The token has an invalid signature\./);
      await client(fixed(issuer.mint('owner', SERVICE_BUS)), trusting).createSender('q-a').sendMessages({ body: 'trusted' });
    } finally {
      await trusting.close();
      await otherTenant.close();
      await sameTenantOtherKey.close();
    }
  });

  it('without Entra ID settings, a JWT is refused with a message that says how to turn them on', async () => {
    const sasOnly = await startEmulator({ port: 0, armPort: false });
    try {
      const refused = await failure(client(fixed(issuer.mint('owner', SERVICE_BUS)), sasOnly).createSender('q').sendMessages({ body: 'x' }));
      expect(refused.message).toContain("needs the emulator's Entra settings");
    } finally {
      await sasOnly.close();
    }
  });
});

describe("a token's expiry", () => {
  /** An emulator without clock skew (Azure allows 5 minutes), and what it logs about detaching. */
  async function strictEmulator(): Promise<{ e: RunningEmulator; detached: string[] }> {
    const detached: string[] = [];
    const logger = { debug() {}, warn() {}, error() {}, info: (msg: string) => void (msg.startsWith('link detached') && detached.push(msg)) };
    const e = await startEmulator({ port: 0, armPort: false, logger, entra: entraOptions([{ principalId: oid('owner'), role: 'Azure Service Bus Data Owner', scope: '/' }], { clockSkewSeconds: 0 }) });
    e.catalogue.putQueue('q');
    closers.push(() => e.close());
    return { e, detached };
  }

  it('detaches the links it authorised when it is not renewed', async () => {
    const { e, detached } = await strictEmulator();
    // Valid for 5 s; the credential claims an hour, so the SDK does not renew it.
    const token = issuer.mint('owner', SERVICE_BUS, { lifetimeSeconds: 5 });
    const sender = client(fixed(token), e).createSender('q');
    await sender.sendMessages({ body: 'while valid' });
    const expiry = Date.now() + 5_000;
    while (detached.length === 0 && Date.now() < expiry + 5_000) await new Promise((r) => setTimeout(r, 200));
    expect(detached).toEqual(['link detached: its token expired']);
    const refused = await failure(sender.sendMessages({ body: 'after expiry' }));
    expect(refused).toMatchObject({ code: 'UnauthorizedAccess', message: expect.stringMatching(/^ExpiredToken: /) });
  });

  it('keeps them when the SDK puts a new token before it expires', async () => {
    const { e, detached } = await strictEmulator();
    // 6 s tokens that the SDK renews 2 s in (it renews 2 minutes before the expiry it is told).
    const renewing: TokenCredential = { getToken: async () => ({ token: issuer.mint('owner', SERVICE_BUS, { lifetimeSeconds: 6 }), expiresOnTimestamp: Date.now() + 122_000 }) };
    const receiver = client(renewing, e).createReceiver('q');
    const sender = client(fixed(issuer.mint('owner', SERVICE_BUS)), e).createSender('q');
    await receiver.peekMessages(1);
    const first = Date.now();
    while (Date.now() < first + 8_000) await new Promise((r) => setTimeout(r, 250));
    await sender.sendMessages({ body: 'after the first token expired' });
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    expect(m?.body).toBe('after the first token expired');
    expect(detached).toEqual([]);
  });
});

describe('Entra ID settings from files', () => {
  const owner = () => ({ principalId: oid('owner'), role: 'Azure Service Bus Data Owner', scope: '/' });

  it('reads "entra" in the config file, and --entra FILE on the command line; refuses both at once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sb-entra-files-'));
    try {
      const entra = { issuer: issuer.issuer, keys: issuer.jwks.keys, roleAssignments: [owner()] };
      const configFile = join(dir, 'config.json');
      await writeFile(configFile, JSON.stringify({ queues: [{ name: 'from-config' }], entra }));
      const fromConfig = await startEmulator({ port: 0, armPort: false, configFile });
      closers.push(() => fromConfig.close());
      await client(fixed(issuer.mint('owner', SERVICE_BUS)), fromConfig).createSender('from-config').sendMessages({ body: 'x' });

      const entraFile = join(dir, 'entra.json');
      await writeFile(entraFile, JSON.stringify(entra));
      await expect(startEmulator({ port: 0, armPort: false, configFile, entraFile })).rejects.toThrow(
        `Entra ID settings are given twice (--entra ${entraFile} and "entra" in ${configFile}): give them in one place.`,
      );

      const cli = await spawnEmulator({ args: ['--port', '0', '--arm-port', 'off', '--auto-create', '--entra', entraFile] });
      try {
        const ca = await readFile(cli.ready.caCertificateFile!, 'utf8');
        const port = Number(/Endpoint=sb:\/\/localhost:(\d+)/.exec(cli.ready.amqpsConnectionString!)![1]);
        const at = (principal: string) => {
          const c = new ServiceBusClient(`localhost:${port}`, fixed(issuer.mint(principal, SERVICE_BUS)), {
            webSocketOptions: { webSocket: WebSocket, webSocketConstructorOptions: { ca } },
            retryOptions: { maxRetries: 0, timeoutInMs: 10_000 },
          });
          closers.push(() => c.close());
          return c;
        };
        await at('owner').createSender('from-cli').sendMessages({ body: 'x' });
        expect((await failure(at('stranger').createSender('from-cli').sendMessages({ body: 'x' }))).code).toBe('UnauthorizedAccess');
      } finally {
        await cli.stop();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
