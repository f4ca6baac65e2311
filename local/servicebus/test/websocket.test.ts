// AMQP over WebSockets on the TLS listener, driven by the unmodified @azure/service-bus SDK with
// `webSocketOptions` (the `ws` package), as an application behind a 443-only firewall uses it;
// the listener still serves AMQP over TLS on the same port; and what it refuses.
import { connect as tlsConnect } from 'node:tls';
import { ServiceBusClient, type ServiceBusClientOptions } from '@azure/service-bus';
import rhea from 'rhea';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type RunningEmulator, startEmulator } from '../src/index.js';
import { createSasToken } from '../src/auth/sas.js';
import { DEVELOPMENT_KEY, DEVELOPMENT_KEY_NAME } from '../src/exposure.js';

let emulator: RunningEmulator;
let client: ServiceBusClient;
let tlsPort: number;

/** `webSocketOptions` that trust the emulator's certificate for this client only. */
function overWebSockets(): ServiceBusClientOptions {
  return {
    webSocketOptions: { webSocket: WebSocket, webSocketConstructorOptions: { ca: emulator.caCertificate } },
    retryOptions: { maxRetries: 0, timeoutInMs: 10_000 },
  };
}

beforeAll(async () => {
  emulator = await startEmulator({ port: 0, armPort: false });
  tlsPort = Number(/Endpoint=sb:\/\/localhost:(\d+)/.exec(emulator.amqpsConnectionString!)![1]);
  emulator.catalogue.putQueue('ws-orders', { lockDurationMs: 30_000, maxDeliveryCount: 5 });
  emulator.catalogue.putTopic('ws-control', {});
  emulator.catalogue.putSubscription('ws-control', 'shutdown', {});
  client = new ServiceBusClient(emulator.amqpsConnectionString!, overWebSockets());
});

afterAll(async () => {
  await client?.close();
  await emulator?.close();
});

describe('the SDK over WebSockets', () => {
  it('sends, receives and completes, on a queue and through a topic', async () => {
    const sender = client.createSender('ws-orders');
    await sender.sendMessages({ body: { n: 1 }, messageId: 'ws-1', subject: 'order' });
    const receiver = client.createReceiver('ws-orders');
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    expect(m).toMatchObject({ body: { n: 1 }, messageId: 'ws-1', subject: 'order', deliveryCount: 0 });
    await receiver.completeMessage(m!);
    expect(await receiver.peekMessages(10)).toEqual([]);

    const topicSender = client.createSender('ws-control');
    await topicSender.sendMessages({ body: '{"operation": "graceful-downscale"}' });
    const sub = client.createReceiver('ws-control', 'shutdown', { receiveMode: 'receiveAndDelete' });
    const [c] = await sub.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    expect(c?.body).toBe('{"operation": "graceful-downscale"}');
    await Promise.all([sender.close(), receiver.close(), topicSender.close(), sub.close()]);
  });

  it('abandons, dead-letters, defers and receives deferred messages, renews locks, peeks and schedules', async () => {
    const sender = client.createSender('ws-orders');
    await sender.sendMessages([{ body: 'a', messageId: 'a' }, { body: 'b', messageId: 'b' }, { body: 'c', messageId: 'c' }]);
    const receiver = client.createReceiver('ws-orders');
    const got = await receiver.receiveMessages(3, { maxWaitTimeInMs: 5_000 });
    expect(got.map((m) => m.messageId).sort()).toEqual(['a', 'b', 'c']);
    const byId = new Map(got.map((m) => [m.messageId, m]));

    const lockedUntil = byId.get('a')!.lockedUntilUtc!;
    expect((await receiver.renewMessageLock(byId.get('a')!)).getTime()).toBeGreaterThanOrEqual(lockedUntil.getTime());
    await receiver.abandonMessage(byId.get('a')!);
    await receiver.deadLetterMessage(byId.get('b')!, { deadLetterReason: 'bad', deadLetterErrorDescription: 'over websockets' });
    await receiver.deferMessage(byId.get('c')!);

    const [again] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    expect(again).toMatchObject({ messageId: 'a', deliveryCount: 1 });
    await receiver.completeMessage(again!);
    const [deferred] = await receiver.receiveDeferredMessages(byId.get('c')!.sequenceNumber!);
    expect(deferred?.messageId).toBe('c');
    await receiver.completeMessage(deferred!);

    const dlq = client.createReceiver('ws-orders', { subQueueType: 'deadLetter', receiveMode: 'receiveAndDelete' });
    const [dead] = await dlq.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    expect(dead).toMatchObject({ messageId: 'b', deadLetterReason: 'bad', deadLetterErrorDescription: 'over websockets' });

    const [sequence] = await sender.scheduleMessages({ body: 'later', messageId: 'later' }, new Date(Date.now() + 60_000));
    const [peeked] = await receiver.peekMessages(1);
    expect(peeked?.messageId).toBe('later');
    await sender.cancelScheduledMessages(sequence!);
    expect(await receiver.peekMessages(1)).toEqual([]);
    await Promise.all([sender.close(), receiver.close(), dlq.close()]);
  });

  it('is refused an entity it has no token for, as over TCP', async () => {
    const wrongKey = emulator.amqpsConnectionString!.replace(/SharedAccessKey=[^;]+/, 'SharedAccessKey=not-the-key');
    const other = new ServiceBusClient(wrongKey, overWebSockets());
    try {
      await expect(other.createSender('ws-orders').sendMessages({ body: 'x' })).rejects.toMatchObject({ code: 'UnauthorizedAccess' });
    } finally {
      await other.close();
    }
  });
});

describe('the TLS listener', () => {
  it('still serves AMQP over TLS on the same port (rhea with the certificate as ca)', async () => {
    const container = rhea.create_container();
    const connection = container.connect({ host: 'localhost', port: tlsPort, transport: 'tls', ca: emulator.caCertificate, reconnect: false } as never);
    try {
      const opened = await new Promise<boolean>((resolve, reject) => {
        connection.once('connection_open', () => resolve(true));
        connection.once('connection_error', reject);
        connection.once('disconnected', (ctx) => reject(ctx.error ?? new Error('disconnected')));
      });
      expect(opened).toBe(true);
    } finally {
      connection.close();
    }
  });

  it('answers a WebSocket upgrade on another path with 404, naming the path to use', async () => {
    const answer = await rawHttp(`GET /other HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: AMQPWSB10\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1.1 404 /);
    expect(answer).toContain('use /$servicebus/websocket');
  });

  it('refuses an upgrade without the AMQPWSB10 subprotocol with 400', async () => {
    const answer = await rawHttp(`GET /$servicebus/websocket HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1.1 400 /);
    expect(answer).toContain('subprotocol must be AMQPWSB10');
  });

  it('drops a WebSocket peer that announces a frame larger than the max-frame-size, as on TCP', async () => {
    const ws = new WebSocket(`wss://localhost:${tlsPort}/$servicebus/websocket`, ['AMQPWSB10'], { ca: emulator.caCertificate });
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    // The SASL protocol header, then a frame header announcing 2 GB: rhea would buffer the rest.
    ws.send(Buffer.from([0x41, 0x4d, 0x51, 0x50, 3, 1, 0, 0]));
    ws.send(Buffer.from([0x7f, 0xff, 0xff, 0xff, 2, 1, 0, 0]));
    await closed;
    expect(ws.readyState).toBe(WebSocket.CLOSED);
  });

  it('offers MSSBCBS, the mechanism uamqp and .NET choose, and authorises through $cbs after it', async () => {
    const container = rhea.create_container();
    // A client that offers only MSSBCBS, as uamqp does: an init with an empty response.
    const mssbcbs = { MSSBCBS: () => ({ start: (callback: (e: unknown, response: Buffer) => void) => callback(undefined, Buffer.alloc(0)) }) };
    const connection = container.connect({ host: 'localhost', port: tlsPort, transport: 'tls', ca: emulator.caCertificate, reconnect: false, sasl_mechanisms: mssbcbs } as never);
    try {
      await new Promise((resolve, reject) => {
        connection.once('connection_open', resolve);
        connection.once('connection_error', (ctx) => reject(ctx.connection.error));
        connection.once('disconnected', (ctx) => reject(ctx.error ?? new Error('disconnected: SASL refused?')));
      });
      const status = await putToken(connection, `sb://localhost:${tlsPort}/ws-orders`);
      expect(status).toBe(202);
    } finally {
      connection.close();
    }
  });
});

/** Sends a SAS token on $cbs; resolves with the status code of the answer. */
function putToken(connection: rhea.Connection, audience: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const receiver = connection.open_receiver({ source: { address: '$cbs' }, target: { address: 'cbs-reply' } } as never);
    const sender = connection.open_sender('$cbs');
    receiver.once('message', (ctx) => resolve(Number(ctx.message?.application_properties?.['status-code'])));
    sender.once('sendable', () => {
      sender.send({
        reply_to: 'cbs-reply',
        application_properties: { operation: 'put-token', type: 'servicebus.windows.net:sastoken', name: audience },
        body: createSasToken(DEVELOPMENT_KEY_NAME, DEVELOPMENT_KEY, audience, Math.floor(Date.now() / 1000) + 600),
      });
    });
    sender.once('sender_error', reject);
  });
}

/** One HTTP request over TLS to the listener; the answer as text. */
function rawHttp(request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: 'localhost', port: tlsPort, ca: emulator.caCertificate, servername: 'localhost' }, () => socket.write(request));
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString()));
    socket.on('end', () => resolve(answer));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}
