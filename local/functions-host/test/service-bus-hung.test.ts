import net from 'node:net';
import { ServiceBusClient } from '@azure/service-bus';
import { startEmulator, type RunningEmulator } from '@workforce/servicebus-emulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Host } from '../src/index.js';
import { getJson, startSample, waitFor } from './helpers.js';

/**
 * A TCP proxy whose open connections can be frozen: their bytes are held, never delivered nor
 * refused (a peer that stopped answering, a dead NAT entry), while new connections pass.
 */
class FreezingProxy {
  readonly #server = net.createServer((client) => this.#accept(client));
  readonly #open = new Set<net.Socket>();
  port = 0;

  constructor(readonly targetPort: number) {}

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.port = (this.#server.address() as net.AddressInfo).port;
    return this;
  }

  #accept(client: net.Socket): void {
    const upstream = net.connect(this.targetPort, '127.0.0.1');
    client.pipe(upstream).pipe(client);
    for (const s of [client, upstream]) {
      this.#open.add(s);
      s.on('error', () => {});
      s.on('close', () => this.#open.delete(s));
    }
  }

  /** Freezes every connection open now, for good. */
  freezeOpen(): number {
    for (const s of this.#open) {
      s.unpipe();
      s.pause();
    }
    return this.#open.size / 2;
  }

  async close(): Promise<void> {
    for (const s of this.#open) s.destroy();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}

/**
 * A batch trigger whose connection stops answering mid-receive: the receive never settles, so
 * without its watchdog the trigger would be deaf until the host restarts. It reconnects on a new
 * connection instead and takes the messages sent meanwhile.
 */
describe('a cardinality "many" trigger whose connection hangs', () => {
  let emulator: RunningEmulator;
  let proxy: FreezingProxy;
  let host: Host;
  let client: ServiceBusClient;
  /** The queue's messages, locked or not (a fresh receiver peeks from the start). */
  const queued = async () => {
    const peeker = client.createReceiver('frozen-batches');
    try {
      return await peeker.peekMessages(10);
    } finally {
      await peeker.close();
    }
  };
  const calls = async () => (await getJson<Array<{ messages: Array<{ n: number }> }>>(`${host.url}/api/calls/sbBatch`)).body;

  beforeAll(async () => {
    emulator = await startEmulator({ port: 0 });
    // Short locks: a message the frozen link held comes back soon for the new one. The frozen
    // link stays open at the emulator (the proxy holds its socket), so it keeps its turn in the
    // round-robin and each turn counts a delivery: a high max delivery count keeps message 2 from
    // being dead-lettered before the new link gets it (a loaded machine reconnects slowly).
    emulator.catalogue.putQueue('frozen-batches', { lockDurationMs: 2_000, maxDeliveryCount: 1_000 });
    proxy = await new FreezingProxy(Number(/:(\d+);/.exec(emulator.connectionString)![1])).listen();
    host = await startSample({
      settings: {
        ServiceBusConnection: emulator.connectionString.replace(/:\d+;/, `:${proxy.port};`),
        SB_BATCH_QUEUE: 'frozen-batches',
      },
    });
    client = new ServiceBusClient(emulator.connectionString);
  });
  afterAll(async () => {
    await client?.close();
    await host?.close();
    await proxy?.close();
    await emulator?.close();
  });

  it('gets a new connection and goes on taking batches', async () => {
    const sender = client.createSender('frozen-batches');
    await sender.sendMessages({ body: { n: 1 } });
    await waitFor(async () => (await calls()).length === 1, { what: 'the first batch' });
    // The handler records a batch before the host completes it: freeze only once message 1 is
    // gone from the queue, or the freeze can catch its completion and it comes back.
    await waitFor(async () => (await queued()).length === 0, { what: 'the first batch completed' });
    // The trigger's receive loop is on the one connection through the proxy: freeze it.
    expect(proxy.freezeOpen()).toBeGreaterThan(0);
    await sender.sendMessages({ body: { n: 2 } });
    await sender.close();
    // The watchdog fires 16 s into the frozen receive; until then (and while the frozen link,
    // which the emulator still sees open, keeps taking it for a 2 s lock at a time) message 2
    // waits. Usually 20-50 s; a loaded CI machine took over 60 s once.
    const got = await waitFor(async () => {
      const c = await calls();
      return c.length === 2 && c;
    }, { timeoutMs: 120_000, what: 'the batch sent after the freeze' });
    expect(got[1]!.messages.map((m) => m.n)).toEqual([2]);
  }, 150_000);
});
