import { rmSync } from 'node:fs';
import { ServiceBusClient } from '@azure/service-bus';
import { silentLogger, startHost, type Host } from '@workforce/functions-host';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topicExists } from '../../src/adapters/service-bus.js';
import { localAppSettings, startLocalBus, type LocalBus } from '../../scripts/local-system.js';
import { AmqpCutProxy, type ClientFrame } from '../support/amqp-cut-proxy.js';
import { FUNCTION_KEY, sourceAppDir, tempDir } from '../support/control-plane.js';

/** What a client such as `workforce drain` waits for an answer; the chaos harness gives up as soon. */
const CLIENT_DEADLINE_MS = 10_000;

/**
 * Drain POSTs when the app's connection to Service Bus drops (chaos finding 10): the app reaches
 * the emulator through a proxy that cuts every connection at a chosen AMQP frame. A POST answers
 * within a client's deadline whatever the app's Service Bus links were doing at the cut.
 */
describe('drain POSTs when the link to Service Bus is cut', () => {
  let bus: LocalBus;
  let proxy: AmqpCutProxy;
  let host: Host;
  const dirs = [tempDir('workforce-bus-'), tempDir('workforce-host-')];

  beforeAll(async () => {
    bus = await startLocalBus({ dataDir: dirs[0]!, inMemory: true });
    proxy = await new AmqpCutProxy(bus.emulator.port).listen();
    const appDir = sourceAppDir();
    dirs.push(appDir);
    host = await startHost({
      appDir,
      port: 0,
      dataDir: dirs[1]!,
      settings: {
        ...localAppSettings(bus, FUNCTION_KEY),
        ServiceBusConnection: proxy.via(bus.emulator.connectionString),
        NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --conditions=source`.trim(),
      },
      ...(!process.env.WORKFORCE_TEST_LOGS && { logger: silentLogger() }),
    });
  }, 120_000);

  afterAll(async () => {
    await host?.close();
    await proxy?.close();
    await bus?.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  /** One API call that gives up after the client's deadline, as a client would. */
  async function api(method: string, route: string, body?: unknown): Promise<{ status: number; body: any }> {
    const res = await fetch(`${host.url}/api/${route}`, {
      method,
      headers: { 'content-type': 'application/json', 'x-functions-key': FUNCTION_KEY },
      ...(body !== undefined && { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(CLIENT_DEADLINE_MS),
    }).catch((err: unknown) => {
      throw new Error(`${method} ${route} got no answer within the client's ${CLIENT_DEADLINE_MS / 1000} s: ${String(err)}`);
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }

  /** Time for the app's clients to take in a drop (their sockets close on their next turns). */
  const settle = () => new Promise((resolve) => setTimeout(resolve, 1_000));

  /** A CBS put-token that authorizes a link to `entity` (its audience ends with the entity). */
  const putToken = (f: ClientFrame, entity: string) => f.performative === 'transfer' && f.text.includes('put-token') && f.text.includes(`/${entity}`);

  it('answers a drain POST whose topic check was closing its link when the connection dropped', async () => {
    expect((await api('PUT', 'topics/cut-close')).status).toBe(201);
    // The check's sender link is named after the topic; cut as its detach goes out.
    const attachedOn = new Set<number>();
    let cut = false;
    void proxy
      .cutBeforeFrame((f) => {
        if (f.performative === 'attach' && f.text.includes('cut-close-')) attachedOn.add(f.connection);
        return f.performative === 'detach' && attachedOn.has(f.connection);
      })
      .then(() => (cut = true));
    const res = await api('POST', 'topics/cut-close/drains', { count: 1 });
    expect(cut).toBe(true);
    expect(res.status).toBe(202);
  }, 30_000);

  it('still checks the topic of a drain POSTed while a publish is caught in the dropped connection', async () => {
    expect((await api('PUT', 'topics/cut-publish')).status).toBe(201);
    // The first put-token for the topic is the POST's check, the second the publish activity's sender.
    let tokens = 0;
    const cut = proxy.cutBeforeFrame((f) => putToken(f, 'cut-publish') && ++tokens === 2);
    expect((await api('POST', 'topics/cut-publish/drains', { count: 1 })).status).toBe(202);
    await cut;
    // The publish's link now waits for an answer that will not come (the SDK gives it 60 s). The
    // next POST comes once the app has taken the drop in, as in the chaos run (a POST at the very
    // moment of the drop is caught in it itself, and its check ends at its 5 s bound).
    await settle();
    const res = await api('POST', 'topics/cut-none/drains', { count: 1 });
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ code: 'TopicNotFound' });
  }, 60_000);

  it('bounds the topic check on a client that is recovering a dropped connection', async () => {
    expect((await api('PUT', 'topics/cut-check')).status).toBe(201);
    const client = new ServiceBusClient(proxy.via(bus.emulator.connectionString));
    try {
      const cut = proxy.cutBeforeFrame((f) => putToken(f, 'cut-check'));
      // A send whose link claim is lost in the cut holds the client's recovery until it gives up.
      const sending = client.createSender('cut-check').sendMessages({ body: 'x' }, { abortSignal: AbortSignal.timeout(15_000) }).catch(() => {});
      await cut;
      // Ask once the client took the drop in, while it recovers.
      await settle();
      const late = new Promise<string>((resolve) => setTimeout(() => resolve('no answer within 10 s'), 10_000));
      expect(await Promise.race([topicExists(client, 'cut-check', 1_000), late])).toBeUndefined();
      await sending;
    } finally {
      await client.close();
    }
  }, 60_000);
});
