// The ARM endpoint with Entra ID settings, through @azure/arm-servicebus and the real
// ManagedIdentityCredential (one child process per principal, local/identity): a token must be
// valid for ARM (401 otherwise, with ARM's codes), and the principal's role at namespace scope
// decides what it may do (403 AuthorizationFailed otherwise, in Azure's words).
import { request } from 'node:https';
import type { TokenCredential } from '@azure/core-auth';
import { ServiceBusManagementClient } from '@azure/arm-servicebus';
import { ServiceBusClient } from '@azure/service-bus';
import { newPrincipal, startProcessCredential, startTokenIssuer, type ProcessCredential, type TokenIssuer } from '@workforce/identity-emulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startEmulator, type RunningEmulator } from '../src/index.js';

const SUBSCRIPTION = '00000000-0000-0000-0000-000000000000';
const RG = 'workforce-local';
const NS = 'sbemulatorns';
const ARM = 'https://management.azure.com/';
const NAMESPACE_SCOPE = `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RG}/providers/Microsoft.ServiceBus/namespaces/${NS}`;

let issuer: TokenIssuer;
let emulator: RunningEmulator;
const credentials = new Map<string, ProcessCredential>();
const clients: ServiceBusClient[] = [];
const oid = (name: string) => issuer.principals.find((p) => p.name === name)!.objectId;

/** A management client for the emulator; ARM's audience, since a custom endpoint would be asked for `<endpoint>/.default`. */
function arm(credential: TokenCredential, scopes: 'arm' | 'sdk default' = 'arm'): ServiceBusManagementClient {
  return new ServiceBusManagementClient(credential, SUBSCRIPTION, {
    endpoint: emulator.armEndpoint!,
    tlsOptions: { ca: emulator.caCertificate! },
    ...(scopes === 'arm' ? { credentialScopes: ['https://management.azure.com/.default'] } : {}),
    retryOptions: { maxRetries: 0 },
  });
}
const as = (name: string) => arm(credentials.get(name)!);
const fixed = (token: string): TokenCredential => ({ getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3_600_000 }) });

async function failure(promise: Promise<unknown>): Promise<{ statusCode?: number; code?: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    return error as { statusCode?: number; code?: string; message: string };
  }
  throw new Error('expected the request to be refused');
}

beforeAll(async () => {
  issuer = await startTokenIssuer({ principals: ['owner', 'sender', 'contributor', 'queue-owner'].map(newPrincipal) });
  emulator = await startEmulator({
    port: 0,
    entra: {
      issuer: issuer.issuer,
      keys: issuer.jwks.keys,
      roleAssignments: [
        { principalId: oid('owner'), role: 'Azure Service Bus Data Owner', scope: '/' },
        { principalId: oid('sender'), role: 'Azure Service Bus Data Sender', scope: '/' },
        { principalId: oid('contributor'), role: 'Contributor', scope: '/' },
        { principalId: oid('queue-owner'), role: 'Azure Service Bus Data Owner', scope: 'queues/existing' },
      ],
    },
  });
  emulator.catalogue.putQueue('existing');
  await Promise.all(issuer.principals.map(async (p) => credentials.set(p.name, await startProcessCredential(issuer.environmentFor(p.name)))));
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all([...credentials.values()].map((c) => c.close()));
  await emulator?.close();
  await issuer?.close();
});

describe('ARM endpoint with Entra ID', () => {
  it('Data Owner creates a queue through ARM and uses it over AMQP, on the same identity', async () => {
    const created = await as('owner').queues.createOrUpdate(RG, NS, 'made-by-owner', { maxDeliveryCount: 3 });
    expect(created).toMatchObject({ name: 'made-by-owner', maxDeliveryCount: 3 });
    const tlsPort = Number(/Endpoint=sb:\/\/localhost:(\d+)/.exec(emulator.amqpsConnectionString!)![1]);
    const sb = new ServiceBusClient(`localhost:${tlsPort}`, credentials.get('owner')!, {
      webSocketOptions: { webSocket: WebSocket, webSocketConstructorOptions: { ca: emulator.caCertificate } },
      retryOptions: { maxRetries: 0, timeoutInMs: 10_000 },
    });
    clients.push(sb);
    await sb.createSender('made-by-owner').sendMessages({ body: 'provisioned and sent' });
    const [m] = await sb.createReceiver('made-by-owner', { receiveMode: 'receiveAndDelete' }).receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    expect(m?.body).toBe('provisioned and sent');
  });

  it('refuses a request without a token (401)', async () => {
    const url = new URL(`${NAMESPACE_SCOPE}/queues?api-version=2021-11-01`, emulator.armEndpoint);
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      request(url, { ca: emulator.caCertificate }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body: text }));
      })
        .on('error', reject)
        .end();
    });
    expect(status).toBe(401);
    expect(JSON.parse(body)).toEqual({ error: { code: 'AuthenticationFailed', message: "Authentication failed. The 'Authorization' header is missing." } });
  });

  it('lets Data Sender read but not write (403, in Azure words)', async () => {
    const sender = as('sender');
    const names: string[] = [];
    for await (const q of sender.queues.listByNamespace(RG, NS)) names.push(q.name!);
    expect(names).toContain('existing');
    const refused = await failure(sender.queues.createOrUpdate(RG, NS, 'by-sender', {}));
    expect(refused).toMatchObject({ statusCode: 403, code: 'AuthorizationFailed' });
    expect(refused.message).toBe(
      `The client '${oid('sender')}' with object id '${oid('sender')}' does not have authorization to perform action 'Microsoft.ServiceBus/namespaces/queues/write' over scope '${NAMESPACE_SCOPE}/queues/by-sender' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
    );
    expect(await failure(sender.queues.delete(RG, NS, 'existing'))).toMatchObject({ statusCode: 403, message: expect.stringContaining("'Microsoft.ServiceBus/namespaces/queues/delete'") });
  });

  it('lets Contributor write; a role scoped to one queue gives no ARM rights', async () => {
    await as('contributor').topics.createOrUpdate(RG, NS, 'by-contributor', {});
    expect(await failure(as('queue-owner').queues.get(RG, NS, 'existing'))).toMatchObject({ statusCode: 403, code: 'AuthorizationFailed' });
  });

  it("refuses tokens ARM would: expired, for Service Bus's audience, from an untrusted key, and a client's default scope", async () => {
    const expired = await failure(arm(fixed(issuer.mint('owner', ARM, { notBefore: new Date(Date.now() - 7_200_000), lifetimeSeconds: 3_600 }))).queues.get(RG, NS, 'existing'));
    expect(expired).toMatchObject({ statusCode: 401, code: 'ExpiredAuthenticationToken', message: expect.stringMatching(/^The access token expiry UTC time '.+' is earlier than current UTC time '.+'\.$/) });
    const serviceBus = await failure(arm(fixed(issuer.mint('owner', 'https://servicebus.azure.net/'))).queues.get(RG, NS, 'existing'));
    expect(serviceBus).toMatchObject({ statusCode: 401, code: 'InvalidAuthenticationTokenAudience' });
    expect(serviceBus.message).toContain("wrong audience or resource 'https://servicebus.azure.net/'");
    const other = await startTokenIssuer({ principals: [...issuer.principals], tenantId: issuer.tenantId });
    try {
      expect(await failure(arm(fixed(other.mint('owner', ARM))).queues.get(RG, NS, 'existing'))).toMatchObject({ statusCode: 401, code: 'InvalidAuthenticationToken' });
    } finally {
      await other.close();
    }
    // Without credentialScopes, the SDK asks for `<endpoint>/.default`: not an ARM audience.
    const defaultScope = await failure(arm(credentials.get('owner')!, 'sdk default').queues.get(RG, NS, 'existing'));
    expect(defaultScope).toMatchObject({ statusCode: 401, code: 'InvalidAuthenticationTokenAudience' });
    for (const audience of ['https://management.azure.com', 'https://management.core.windows.net/']) {
      expect((await arm(fixed(issuer.mint('owner', audience))).queues.get(RG, NS, 'existing')).name).toBe('existing');
    }
  });
});
