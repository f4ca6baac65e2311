// The ARM endpoint through the public @azure/arm-servicebus API: the management client is given
// the emulator's URL as `endpoint`, a static token and the emulator's CA through the pipeline's
// `tlsOptions`, and provisions with no other change.
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { ServiceBusManagementClient } from '@azure/arm-servicebus';
import { ServiceBusClient } from '@azure/service-bus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../src/index.js';
import { unique } from './support/sdk.js';

const SUBSCRIPTION = '00000000-0000-0000-0000-000000000000';
const RG = 'workforce-local';
const NS = 'sbemulatorns';

/** Any bearer token is accepted by the emulator. */
const staticToken: TokenCredential = {
  getToken: async (): Promise<AccessToken> => ({ token: 'emulator', expiresOnTimestamp: Date.now() + 3_600_000 }),
};

let emulator: RunningEmulator;
let arm: ServiceBusManagementClient;

beforeAll(async () => {
  emulator = await startEmulator({ port: 0 });
  arm = new ServiceBusManagementClient(staticToken, SUBSCRIPTION, {
    endpoint: emulator.armEndpoint!,
    tlsOptions: { ca: emulator.caCertificate! },
  });
});

afterAll(async () => {
  await emulator?.close();
});

async function statusOf(promise: Promise<unknown>): Promise<number | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return (error as { statusCode?: number }).statusCode;
  }
}

describe('ARM endpoint: queues', () => {
  it('creates, reads, updates, lists and deletes a queue', async () => {
    const name = unique('orders');
    const created = await arm.queues.createOrUpdate(RG, NS, name, { lockDuration: 'PT30S', maxDeliveryCount: 5 });
    expect(created).toMatchObject({
      name,
      type: 'Microsoft.ServiceBus/Namespaces/Queues',
      id: `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RG}/providers/Microsoft.ServiceBus/namespaces/${NS}/queues/${name}`,
      lockDuration: 'PT30S',
      maxDeliveryCount: 5,
      defaultMessageTimeToLive: 'P10675199DT2H48M5.4775807S',
      duplicateDetectionHistoryTimeWindow: 'PT10M',
      messageCount: 0,
      countDetails: { activeMessageCount: 0, deadLetterMessageCount: 0, scheduledMessageCount: 0 },
      status: 'Active',
    });
    expect(created.createdAt).toBeInstanceOf(Date);

    const updated = await arm.queues.createOrUpdate(RG, NS, name, { lockDuration: 'PT1M', deadLetteringOnMessageExpiration: true });
    expect(updated).toMatchObject({ lockDuration: 'PT1M', maxDeliveryCount: 5, deadLetteringOnMessageExpiration: true });

    expect(await arm.queues.get(RG, NS, name)).toMatchObject({ name, lockDuration: 'PT1M' });
    const names: string[] = [];
    for await (const queue of arm.queues.listByNamespace(RG, NS)) names.push(queue.name!);
    expect(names).toContain(name);

    await arm.queues.delete(RG, NS, name);
    expect(await statusOf(arm.queues.get(RG, NS, name))).toBe(404);
    // Deleting what is already gone succeeds (ARM answers 204).
    await arm.queues.delete(RG, NS, name);
  });

  it('treats a repeated PUT as idempotent', async () => {
    const name = unique('idem');
    const first = await arm.queues.createOrUpdate(RG, NS, name, { maxDeliveryCount: 3 });
    const second = await arm.queues.createOrUpdate(RG, NS, name, { maxDeliveryCount: 3 });
    expect(second.createdAt).toEqual(first.createdAt);
    expect(second).toMatchObject({ maxDeliveryCount: 3, lockDuration: first.lockDuration });
  });

  it('answers 404 for a missing queue', async () => {
    expect(await statusOf(arm.queues.get(RG, NS, unique('missing')))).toBe(404);
  });

  it('answers 400 naming the field for invalid properties', async () => {
    const name = unique('bad');
    const error = await arm.queues.createOrUpdate(RG, NS, name, { lockDuration: 'PT10M' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ statusCode: 400, code: 'BadRequest' });
    expect((error as Error).message).toContain("'properties.lockDuration'");
    const forward = await arm.queues.createOrUpdate(RG, NS, name, { forwardTo: 'elsewhere' }).catch((e: unknown) => e);
    expect(forward).toMatchObject({ statusCode: 400 });
    expect((forward as Error).message).toMatch(/forwardTo.*auto-forwarding is not supported/);
    expect(await statusOf(arm.queues.get(RG, NS, name))).toBe(404);
  });

  it('creates a session-enabled queue, and refuses to change requiresSession afterwards (as Azure does)', async () => {
    const name = unique('sessions');
    const created = await arm.queues.createOrUpdate(RG, NS, name, { requiresSession: true });
    expect(created.requiresSession).toBe(true);
    expect((await arm.queues.get(RG, NS, name)).requiresSession).toBe(true);
    const change = await arm.queues.createOrUpdate(RG, NS, name, { requiresSession: false }).catch((e: unknown) => e);
    expect(change).toMatchObject({ statusCode: 400 });
    expect((change as Error).message).toMatch(/requiresSession.*cannot be changed on an existing queue/);
  });
});

describe('ARM endpoint: topics, subscriptions and rules', () => {
  it('provisions a topic with a subscription and a correlation rule', async () => {
    const topic = unique('control');
    const t = await arm.topics.createOrUpdate(RG, NS, topic, { defaultMessageTimeToLive: 'P1D', requiresDuplicateDetection: true });
    expect(t).toMatchObject({ name: topic, type: 'Microsoft.ServiceBus/Namespaces/Topics', defaultMessageTimeToLive: 'P1D', requiresDuplicateDetection: true, subscriptionCount: 0 });

    const sub = await arm.subscriptions.createOrUpdate(RG, NS, topic, 'shutdown', { lockDuration: 'PT45S', maxDeliveryCount: 4 });
    expect(sub).toMatchObject({ name: 'shutdown', lockDuration: 'PT45S', maxDeliveryCount: 4, messageCount: 0 });
    expect((await arm.topics.get(RG, NS, topic)).subscriptionCount).toBe(1);

    const defaults = [];
    for await (const rule of arm.rules.listBySubscriptions(RG, NS, topic, 'shutdown')) defaults.push(rule);
    expect(defaults).toMatchObject([{ name: '$Default', filterType: 'SqlFilter', sqlFilter: { sqlExpression: '1=1' } }]);

    const rule = await arm.rules.createOrUpdate(RG, NS, topic, 'shutdown', 'eu-only', {
      filterType: 'CorrelationFilter',
      correlationFilter: { label: 'graceful-downscale', properties: { region: 'eu-west' } },
    });
    expect(rule).toMatchObject({
      name: 'eu-only',
      type: 'Microsoft.ServiceBus/Namespaces/Topics/Subscriptions/Rules',
      filterType: 'CorrelationFilter',
      correlationFilter: { label: 'graceful-downscale', properties: { region: 'eu-west' } },
    });
    await arm.rules.delete(RG, NS, topic, 'shutdown', '$Default');
    const names: string[] = [];
    for await (const r of arm.rules.listBySubscriptions(RG, NS, topic, 'shutdown')) names.push(r.name!);
    expect(names).toEqual(['eu-only']);
    expect(await arm.rules.get(RG, NS, topic, 'shutdown', 'eu-only')).toMatchObject({ filterType: 'CorrelationFilter' });

    const subs: string[] = [];
    for await (const s of arm.subscriptions.listByTopic(RG, NS, topic)) subs.push(s.name!);
    expect(subs).toEqual(['shutdown']);

    await arm.subscriptions.delete(RG, NS, topic, 'shutdown');
    expect(await statusOf(arm.subscriptions.get(RG, NS, topic, 'shutdown'))).toBe(404);
    await arm.topics.delete(RG, NS, topic);
    expect(await statusOf(arm.topics.get(RG, NS, topic))).toBe(404);
  });

  it('answers 404 when the parent is missing', async () => {
    const topic = unique('nope');
    expect(await statusOf(arm.subscriptions.createOrUpdate(RG, NS, topic, 's', {}))).toBe(404);
    expect(await statusOf(arm.subscriptions.get(RG, NS, topic, 's'))).toBe(404);
    expect(await statusOf(arm.rules.createOrUpdate(RG, NS, topic, 's', 'r', { filterType: 'SqlFilter', sqlFilter: { sqlExpression: '1=1' } }))).toBe(404);
  });

  it('keeps SQL filters and actions, and refuses bad SQL naming the field', async () => {
    const topic = unique('sql');
    await arm.topics.createOrUpdate(RG, NS, topic, {});
    await arm.subscriptions.createOrUpdate(RG, NS, topic, 's', {});
    const rule = await arm.rules.createOrUpdate(RG, NS, topic, 's', 'r', {
      filterType: 'SqlFilter',
      sqlFilter: { sqlExpression: "region = 'eu'" },
      action: { sqlExpression: "SET routed = 'yes'" },
    });
    expect(rule).toMatchObject({ sqlFilter: { sqlExpression: "region = 'eu'" }, action: { sqlExpression: "SET routed = 'yes'" } });
    expect(emulator.catalogue.getRule(topic, 's', 'r')).toEqual({
      name: 'r',
      filter: { kind: 'sql', sqlExpression: "region = 'eu'" },
      action: { sqlExpression: "SET routed = 'yes'" },
    });
    const error = await arm.rules
      .createOrUpdate(RG, NS, topic, 's', 'bad', { filterType: 'SqlFilter', sqlFilter: { sqlExpression: "region = = 'eu'" } })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ statusCode: 400 });
    expect((error as Error).message).toContain('properties.sqlFilter.sqlExpression');
  });
});

describe('ARM endpoint: namespace, auth and health', () => {
  it('reports the namespace', async () => {
    const ns = await arm.namespaces.get(RG, NS);
    expect(ns).toMatchObject({ name: NS, type: 'Microsoft.ServiceBus/Namespaces', provisioningState: 'Succeeded', status: 'Active' });
    expect(ns.serviceBusEndpoint).toMatch(/^sb:\/\/localhost:\d+\/$/);
  });

  it('answers 401 without an Authorization header, and serves /health without one', async () => {
    const url = `${emulator.armEndpoint}/subscriptions/${SUBSCRIPTION}/resourceGroups/${RG}/providers/Microsoft.ServiceBus/namespaces/${NS}/queues?api-version=2021-11-01`;
    const denied = await get(url);
    expect(denied.status).toBe(401);
    expect(JSON.parse(denied.body)).toMatchObject({ error: { code: 'AuthenticationFailed' } });
    const noVersion = await get(url.replace(/\?.*/, ''), { authorization: 'Bearer x' });
    expect(noVersion.status).toBe(400);
    expect(JSON.parse(noVersion.body)).toMatchObject({ error: { code: 'MissingApiVersionParameter' } });
    const health = await get(emulator.healthUrl!);
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toMatchObject({ status: 'ok', state: 'running', amqpPort: emulator.port });
  });
});

describe('ARM endpoint: malformed requests', () => {
  const base = () => `${emulator.armEndpoint}/subscriptions/${SUBSCRIPTION}/resourceGroups/${RG}/providers/Microsoft.ServiceBus/namespaces/${NS}`;
  const auth = { authorization: 'Bearer anything', 'content-type': 'application/json' };
  const errorOf = (body: string) => (JSON.parse(body) as { error: { code: string; message: string; target?: string } }).error;

  it('answers each in ARM error shape', async () => {
    const badJson = await get(`${base()}/queues/q1?api-version=2021-11-01`, auth, 'PUT', '{ "properties": ');
    expect([badJson.status, errorOf(badJson.body).code]).toEqual([400, 'InvalidRequestContent']);

    const badType = await get(`${base()}/queues/q1?api-version=2021-11-01`, auth, 'PUT', JSON.stringify({ properties: { maxDeliveryCount: 'ten' } }));
    expect(badType.status).toBe(400);
    expect(errorOf(badType.body)).toMatchObject({ code: 'BadRequest', target: 'properties.maxDeliveryCount' });

    const unknown = await get(`${base()}/eventhubs/e1?api-version=2021-11-01`, auth);
    expect([unknown.status, errorOf(unknown.body).code]).toEqual([404, 'InvalidResourceType']);

    const post = await get(`${base()}/queues/q1?api-version=2021-11-01`, auth, 'POST', '{}');
    expect([post.status, errorOf(post.body).code]).toEqual([405, 'MethodNotAllowed']);

    const deleteNamespace = await get(`${base()}?api-version=2021-11-01`, auth, 'DELETE');
    expect(deleteNamespace.status).toBe(405);

    const basic = await get(`${base()}/queues?api-version=2021-11-01`, { authorization: 'Basic abc' });
    expect(basic.status).toBe(401);
  });
});

describe('ARM endpoint and the data plane', () => {
  it('provisions a queue that @azure/service-bus then uses', async () => {
    const name = unique('work');
    await arm.queues.createOrUpdate(RG, NS, name, { lockDuration: 'PT30S' });
    const client = new ServiceBusClient(emulator.connectionString);
    try {
      const sender = client.createSender(name);
      await sender.sendMessages({ body: { hello: 'arm' }, messageId: 'm1' });
      const receiver = client.createReceiver(name);
      const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
      expect(message?.body).toEqual({ hello: 'arm' });
      await receiver.completeMessage(message!);
    } finally {
      await client.close();
    }
  });
});

describe('ARM endpoint with a data directory', () => {
  it('keeps what it provisioned, and its certificate, across a restart', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'sb-arm-'));
    try {
      const first = await startEmulator({ port: 0, dataDir });
      const client = (e: RunningEmulator) =>
        new ServiceBusManagementClient(staticToken, SUBSCRIPTION, { endpoint: e.armEndpoint!, tlsOptions: { ca: e.caCertificate! } });
      await client(first).topics.createOrUpdate(RG, NS, 'kept', {});
      await client(first).subscriptions.createOrUpdate(RG, NS, 'kept', 'sub', { maxDeliveryCount: 2 });
      const ca = first.caCertificate;
      await first.close();

      const second = await startEmulator({ port: 0, dataDir });
      try {
        expect(second.caCertificate).toBe(ca);
        expect(second.caCertificateFile).toBe(join(dataDir, 'tls', 'cert.pem'));
        expect(await client(second).subscriptions.get(RG, NS, 'kept', 'sub')).toMatchObject({ name: 'sub', maxDeliveryCount: 2 });
      } finally {
        await second.close();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

function get(url: string, headers: Record<string, string> = {}, method = 'GET', body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca: emulator.caCertificate!, headers, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
