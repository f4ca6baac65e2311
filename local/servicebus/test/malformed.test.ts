// Bad input never crashes the server: garbage on the socket, malformed messages, unknown
// operations and bad requests get AMQP errors, and the emulator keeps serving the SDK.
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import net from 'node:net';
import { ServiceBusClient } from '@azure/service-bus';
import rhea, { type Connection, type Delivery, type EventContext, type Receiver, type Sender } from 'rhea';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSasToken } from '../src/auth/sas.js';
import { DEVELOPMENT_KEY, DEVELOPMENT_KEY_NAME, type RunningEmulator, startEmulator } from '../src/index.js';

let emulator: RunningEmulator;
const queue = `malformed-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  emulator = await startEmulator({ port: 0, armPort: false, amqpsPort: false });
  emulator.catalogue.putQueue(queue);
});

afterAll(async () => {
  await emulator?.close();
});

async function stillServes(): Promise<void> {
  const client = new ServiceBusClient(emulator.connectionString);
  try {
    await client.createSender(queue).sendMessages({ body: 'still alive' });
    const [m] = await client.createReceiver(queue, { receiveMode: 'receiveAndDelete' }).receiveMessages(1, { maxWaitTimeInMs: 3000 });
    expect(m?.body).toBe('still alive');
  } finally {
    await client.close();
  }
}

/** Writes bytes on a raw socket and waits for the server to close it (or `giveUpMs`). */
function rawExchange(bytes: Buffer, giveUpMs = 5000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(emulator.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', () => resolve(Buffer.concat(chunks)));
    socket.on('close', () => resolve(Buffer.concat(chunks)));
    socket.on('connect', () => socket.write(bytes));
    setTimeout(() => {
      socket.destroy();
      reject(new Error('the server did not close the connection'));
    }, giveUpMs);
  });
}

/** A bare rhea connection that has put a valid token for the namespace on $cbs. */
async function authorisedConnection(): Promise<Connection> {
  const container = rhea.create_container();
  const connection = container.connect({ port: emulator.port, host: '127.0.0.1', reconnect: false } as never);
  await new Promise<void>((r) => connection.once('connection_open', () => r()));
  const reply = await request(connection, '$cbs', {
    application_properties: { operation: 'put-token', type: 'servicebus.windows.net:sastoken', name: 'sb://localhost/' },
    body: createSasToken(DEVELOPMENT_KEY_NAME, DEVELOPMENT_KEY, 'sb://localhost/', Math.floor(Date.now() / 1000) + 600),
  });
  expect(reply.application_properties?.['status-code']).toBe(202);
  return connection;
}

/** Sends one request on a request/response pair of links and resolves with the reply. */
async function request(connection: Connection, address: string, message: Record<string, unknown>) {
  const replyTo = `reply-${randomUUID()}`;
  const receiver: Receiver = connection.open_receiver({ source: { address }, target: { address: replyTo }, name: replyTo });
  const sender: Sender = connection.open_sender({ target: { address } });
  await new Promise<void>((r) => sender.once('sendable', () => r()));
  const reply = new Promise<rhea.Message>((resolve) => receiver.once('message', (ctx: EventContext) => resolve(ctx.message!)));
  sender.send({ message_id: randomUUID(), reply_to: replyTo, ...message } as never);
  return reply;
}

/** Sends raw bytes as one transfer with the given message format; resolves with the outcome. */
async function sendRaw(connection: Connection, address: string, bytes: Buffer, format: number) {
  const sender = connection.open_sender({ target: { address } });
  await new Promise<void>((r) => sender.once('sendable', () => r()));
  return new Promise<{ outcome: string; condition?: string }>((resolve) => {
    const done = (outcome: string) => (ctx: EventContext) => {
      const d = ctx.delivery as Delivery & { remote_state?: { error?: { condition?: string } } };
      resolve({ outcome, condition: d.remote_state?.error?.condition });
    };
    sender.once('accepted', done('accepted'));
    sender.once('rejected', done('rejected'));
    sender.send(bytes, Buffer.from('t'), format);
  });
}

describe('bad input', () => {
  it('closes a connection that sends garbage instead of an AMQP header', async () => {
    await rawExchange(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await stillServes();
  });

  it('closes a connection that sends a malformed frame after a valid header', async () => {
    const header = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0x00, 0x01, 0x00, 0x00]);
    const frame = Buffer.from([0x00, 0x00, 0x00, 0x10, 0x02, 0x00, 0x00, 0x00, 0x00, 0x53, 0x10, 0xff, 0xff, 0xff, 0xff, 0xff]);
    await rawExchange(Buffer.concat([header, frame]));
    await stillServes();
  });

  it('drops a connection whose frame announces more than the max-frame-size, without buffering it', async () => {
    const header = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0x00, 0x01, 0x00, 0x00]);
    // 2 GB announced, then a little of it: rawExchange rejects unless the server closes the socket.
    const hugeFrame = Buffer.concat([Buffer.from([0x7f, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00]), Buffer.alloc(1024)]);
    await rawExchange(Buffer.concat([header, hugeFrame]));
    // Also when the header arrives split over the SASL header and after it.
    const sasl = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0x03, 0x01, 0x00, 0x00]);
    await rawExchange(Buffer.concat([sasl, Buffer.from([0x00, 0x10, 0x00, 0x00, 0x02, 0x01, 0x00, 0x00])]));
    await stillServes();
  });

  it('closes a connection whose frame announces billions of zero-width array elements, without decoding them', async () => {
    // Found by the AMQP fuzz test: rhea built one value per announced element, out of no bytes,
    // until the heap ran out (the whole emulator died with it).
    const header = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0x00, 0x01, 0x00, 0x00]);
    const nulls = Buffer.from([0xf0, 0x00, 0x00, 0x00, 0x05, 0xc0, 0x00, 0x00, 0x00, 0x40]); // array32: 3 billion × null
    const list = Buffer.concat([Buffer.from([0xd0, 0x00, 0x00, 0x00, 4 + nulls.length, 0x00, 0x00, 0x00, 0x01]), nulls]);
    const body = Buffer.concat([Buffer.from([0x00, 0x53, 0x10]), list]); // an open performative holding it
    const frameHeader = Buffer.from([0x00, 0x00, 0x00, 8 + body.length, 0x02, 0x00, 0x00, 0x00]);
    await rawExchange(Buffer.concat([header, frameHeader, body]));
    expect(emulator.state).toBe('running');
    await stillServes();
  });

  it('keeps serving after a disposition whose range spans every delivery id', async () => {
    const client = new ServiceBusClient(emulator.connectionString);
    await client.createSender(queue).sendMessages({ body: 'to settle', messageId: 'wide-range' });
    await client.close();
    const connection = await authorisedConnection();
    try {
      // One credit only, so this receiver does not compete for the messages stillServes sends.
      const receiver = connection.open_receiver({ source: { address: queue }, autoaccept: false, credit_window: 0 } as never);
      await new Promise<void>((r) => receiver.once('receiver_open', () => r()));
      const delivered = new Promise<void>((r) => receiver.once('message', () => r()));
      receiver.add_credit(1);
      await delivered;
      // What a hostile or broken peer may send: first 0, last 2^32-1 (rhea visits every id in it).
      const frames = createRequire(import.meta.url)('rhea/lib/frames.js') as { disposition(f: object): unknown };
      const session = (receiver as unknown as { session: { output(frame: unknown): void } }).session;
      session.output(frames.disposition({ role: true, first: 0, last: 0xffffffff, settled: true, state: (rhea.message as unknown as { accepted(): unknown }).accepted() }));
      await stillServes(); // without the range clamp (patches/rhea+3.0.5.patch) this waits out the block
    } finally {
      connection.close();
    }
  });

  it('rejects malformed messages and unknown message formats on a sender link', async () => {
    const connection = await authorisedConnection();
    try {
      expect(await sendRaw(connection, queue, Buffer.from([0x00, 0x53, 0x77, 0xb1, 0x7f, 0xff, 0xff, 0xff]), 0)).toEqual({
        outcome: 'rejected',
        condition: 'com.microsoft:argument-error',
      });
      expect(await sendRaw(connection, queue, Buffer.from([1, 2, 3]), 0x1234)).toMatchObject({ outcome: 'rejected' });
      expect(await sendRaw(connection, queue, Buffer.from([0x00, 0x53, 0x75, 0xa0, 0x01]), 0x80013700)).toMatchObject({ outcome: 'rejected' });
      expect(await sendRaw(connection, queue, rhea.message.encode({ body: 'ok' } as never), 0)).toEqual({ outcome: 'accepted', condition: undefined });
    } finally {
      connection.close();
    }
    const [m] = await new ServiceBusClient(emulator.connectionString).createReceiver(queue, { receiveMode: 'receiveAndDelete' }).receiveMessages(1, { maxWaitTimeInMs: 3000 });
    expect(m?.body).toBe('ok');
    await stillServes();
  });

  it('answers unknown management operations and bad request bodies with error statuses', async () => {
    const connection = await authorisedConnection();
    try {
      const unknown = await request(connection, `${queue}/$management`, { application_properties: { operation: 'com.microsoft:frobnicate' }, body: {} });
      expect(unknown.application_properties).toMatchObject({ statusCode: 501, errorCondition: 'amqp:not-implemented' });
      const bad = await request(connection, `${queue}/$management`, { application_properties: { operation: 'com.microsoft:renew-lock' }, body: { 'lock-tokens': 'nope' } });
      expect(bad.application_properties).toMatchObject({ statusCode: 400 });
      const lost = await request(connection, `${queue}/$management`, {
        application_properties: { operation: 'com.microsoft:renew-lock' },
        body: { 'lock-tokens': rhea.types.wrap_array([Buffer.alloc(16)], 0x98, undefined) },
      });
      expect(lost.application_properties).toMatchObject({ statusCode: 410, errorCondition: 'com.microsoft:message-lock-lost' });
      const noBody = await request(connection, `${queue}/$management`, { application_properties: { operation: 'com.microsoft:peek-message' }, body: 'text' });
      expect(noBody.application_properties).toMatchObject({ statusCode: 400 });
      const cbs = await request(connection, '$cbs', { application_properties: { operation: 'put-token', type: 'jwt', name: 'x' }, body: 'abc' });
      expect(cbs.application_properties).toMatchObject({ 'status-code': 401 });
    } finally {
      connection.close();
    }
    await stillServes();
  });

  it('refuses links without a token, and links to unknown entities, with the right conditions', async () => {
    const container = rhea.create_container();
    const connection = container.connect({ port: emulator.port, host: '127.0.0.1', reconnect: false } as never);
    const refused = (link: Sender | Receiver) =>
      new Promise<string | undefined>((r) => link.once(link.is_sender() ? 'sender_error' : 'receiver_error', (ctx: EventContext) => r((ctx.sender ?? ctx.receiver)?.error && ((ctx.sender ?? ctx.receiver)!.error as { condition?: string }).condition)));
    try {
      expect(await refused(connection.open_sender({ target: { address: queue } }))).toBe('amqp:unauthorized-access');
    } finally {
      connection.close();
    }
    const authorised = await authorisedConnection();
    try {
      expect(await refused(authorised.open_receiver({ source: { address: 'no-such-queue' } }))).toBe('amqp:not-found');
    } finally {
      authorised.close();
    }
    await stillServes();
  });
});
