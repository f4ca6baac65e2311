// The server-side behaviours of patches/rhea+3.0.5.patch that the conformance and malformed-input
// tests do not reach on their own, through rhea's API: a plain rhea server and client on port 0.
import type { AddressInfo, Server } from 'node:net';
import rhea, { type Connection, type Container, type EventContext, type Sender } from 'rhea';
import { afterEach, describe, expect, it } from 'vitest';

const accepted = () => (rhea.message as unknown as { accepted(): { described(): unknown } }).accepted().described();

let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** A rhea server with `options`, and a client connected to it. */
async function pair(options: Record<string, unknown>): Promise<{ server: Container; client: Connection }> {
  const server = rhea.create_container({ id: 'patched-server' });
  server.sasl_server_mechanisms.enable_anonymous();
  const listener = server.listen({ port: 0, host: '127.0.0.1', ...options } as never) as unknown as Server;
  await new Promise<void>((resolve) => listener.once('listening', () => resolve()));
  const client = rhea.create_container({ id: 'client' }).connect({ port: (listener.address() as AddressInfo).port, host: '127.0.0.1', reconnect: false } as never);
  cleanups.push(() => {
    client.close();
    listener.close();
  });
  return { server, client };
}

/** Resolves with `value()` once `done()` holds after an event, or rejects saying what was seen. */
function until<T>(what: string, done: () => boolean, value: () => T, seen: () => string): { check(): void; result: Promise<T> } {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const result = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const timer = setTimeout(() => reject(new Error(`${what}: ${seen()}`)), 10_000);
  return {
    check() {
      if (!done()) return;
      clearTimeout(timer);
      resolve(value());
    },
    result,
  };
}

describe('patched rhea, as a server', () => {
  it('forgets a delivery it settled, so a receiver in rcv-settle-mode second does not fill its session buffer', async () => {
    // Four buffer slots, ten messages: each is settled by the server after the client's unsettled
    // "accepted" (what the SDK sends in peek-lock mode); stock rhea keeps all four slots taken.
    const { server, client } = await pair({ session_buffer_size: 4, autosettle: false, autoaccept: false });
    let sent = 0;
    const send = (ctx: EventContext) => {
      while (sent < 10 && ctx.sender!.sendable()) ctx.sender!.send({ body: `m${sent++}` });
    };
    server.on('sendable', send);
    server.on('accepted', (ctx) => {
      ctx.delivery!.update(true, accepted());
      send(ctx);
    });
    const received: string[] = [];
    const all = until('ten messages', () => received.length === 10, () => received, () => `received ${received.length}, sent ${sent}`);
    const receiver = client.open_receiver({ source: { address: 'q' }, rcv_settle_mode: 1, autoaccept: false, credit_window: 10 } as never);
    receiver.on('message', (ctx) => {
      received.push(String(ctx.message!.body));
      ctx.delivery!.accept();
      all.check();
    });
    expect(await all.result).toEqual([...Array(10).keys()].map((i) => `m${i}`));
  });

  it('answers a drain request that arrives when no credit is left', async () => {
    const { server, client } = await pair({});
    let sent = 0;
    server.on('sendable', (ctx) => {
      if (sent === 0) {
        ctx.sender!.send({ body: 'the only one' });
        sent++;
      }
    });
    server.on('sender_draining', (ctx) => ctx.sender!.set_drained(true));
    const receiver = client.open_receiver({ source: { address: 'q' }, credit_window: 0 } as never);
    let drained = false;
    const answer = until('the drain answer', () => drained, () => true, () => 'no flow with drain came back');
    receiver.once('message', () => receiver.drain_credit()); // its one credit is used up: none left
    receiver.on('receiver_drained', () => {
      drained = true;
      answer.check();
    });
    receiver.once('receiver_open', () => receiver.add_credit(1));
    expect(await answer.result).toBe(true);
  });

  it('holds the answer to an attach with hold_attach() until open(), and sends the properties set for it', async () => {
    const { server, client } = await pair({});
    let held: Sender | undefined;
    server.on('sender_open', (ctx) => {
      const link = ctx.sender!;
      link.hold_attach();
      held = link;
    });
    const receiver = client.open_receiver({ source: { address: 'q' } } as never);
    let opened = false;
    receiver.once('receiver_open', () => (opened = true));
    await new Promise((r) => setTimeout(r, 300));
    expect(held).toBeDefined();
    expect(opened).toBe(false); // stock rhea answers at once
    const answer = until('the held attach', () => opened, () => receiver.properties, () => 'no attach came back');
    receiver.once('receiver_open', () => answer.check());
    held!.set_attach_fields({ properties: { 'com.example:answer': 42 } });
    held!.open();
    expect(await answer.result).toEqual({ 'com.example:answer': 42 });
  });

  it('hands format-0 messages over as their bytes with the link option decode: false', async () => {
    const { server, client } = await pair({ receiver_options: { decode: false } });
    const bytes = rhea.message.encode({ body: 'as sent', application_properties: { n: 1 } } as never);
    const got = new Promise<{ message: unknown; format: unknown }>((resolve) =>
      server.on('message', (ctx) => resolve({ message: ctx.message, format: (ctx as unknown as { format?: number }).format })),
    );
    client.open_sender({ target: { address: 'q' } } as never).once('sendable', (ctx: EventContext) => ctx.sender!.send(bytes, undefined, 0));
    const { message, format } = await got;
    expect(Buffer.isBuffer(message) && Buffer.compare(message, bytes) === 0).toBe(true);
    expect(format).toBe(0);
  });
});
