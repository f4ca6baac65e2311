// `workforce send --websockets`: the CLI publishes over AMQP over WebSockets (the emulator's TLS
// listener), through an HTTP CONNECT proxy when one is set, as from a network where only 443
// leaves; and the options' refusals.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ServiceBusClient } from '@azure/service-bus';
import { type RunningEmulator, startEmulator } from '@workforce/servicebus-emulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectProxy } from '../../worker-agent/test/connect-proxy.js';
import { removeTempDirs, tempDir } from '../../worker-agent/test/helpers.js';
import { EXIT } from '../../src/cli/errors.js';
import { cli, cliProcess } from './run-cli.js';

describe('workforce send over WebSockets', () => {
  let emulator: RunningEmulator;
  let proxy: ConnectProxy;
  let proxyUrl: string;
  let tlsPort: number;
  let caFile: string;
  beforeAll(async () => {
    emulator = await startEmulator({ port: 0, armPort: false, amqpsPort: 0 });
    emulator.catalogue.putTopic('ws-cli', {});
    emulator.catalogue.putSubscription('ws-cli', 'shutdown', {});
    tlsPort = Number(/Endpoint=sb:\/\/localhost:(\d+)/.exec(emulator.amqpsConnectionString!)![1]);
    caFile = join(tempDir('wf-ca-'), 'ca.pem');
    writeFileSync(caFile, emulator.caCertificate!);
    proxy = new ConnectProxy(new Set([`localhost:${tlsPort}`]));
    proxyUrl = await proxy.listen();
  });
  afterAll(async () => {
    await proxy?.close();
    await emulator?.close();
    removeTempDirs();
  });

  async function received(count: number): Promise<unknown[]> {
    const client = new ServiceBusClient(emulator.connectionString);
    try {
      const receiver = client.createReceiver('ws-cli', 'shutdown', { receiveMode: 'receiveAndDelete' });
      return (await receiver.receiveMessages(count, { maxWaitTimeInMs: 5_000 })).map((m) => m.messageId);
    } finally {
      await client.close();
    }
  }

  it('publishes through an HTTP CONNECT proxy (--websockets, HTTPS_PROXY)', async () => {
    const r = await cliProcess(['send', 'ws-cli', '--operation', 'graceful-downscale', '--count', '2', '--drain-id', 'ws-1', '--websockets'], {
      WORKFORCE_SERVICEBUS_CONNECTION_STRING: emulator.amqpsConnectionString!,
      HTTPS_PROXY: proxyUrl,
      NO_PROXY: '',
      NODE_EXTRA_CA_CERTS: caFile,
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(proxy.requests).toContain(`localhost:${tlsPort}`);
    expect((await received(2)).sort()).toEqual(['ws-1/1', 'ws-1/2']);
  });

  it('turns WebSockets on with WORKFORCE_WEBSOCKETS=1, and takes the proxy from --proxy', async () => {
    const before = proxy.requests.length;
    const r = await cliProcess(['send', 'ws-cli', '--operation', 'do-not-accept-new-tasks', '--count', '1', '--drain-id', 'ws-2', '--proxy', proxyUrl], {
      WORKFORCE_SERVICEBUS_CONNECTION_STRING: emulator.amqpsConnectionString!,
      WORKFORCE_WEBSOCKETS: '1',
      NODE_EXTRA_CA_CERTS: caFile,
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(proxy.requests.length).toBeGreaterThan(before);
    expect(await received(1)).toEqual(['ws-2/1']);
  });

  it('goes around the HTTPS_PROXY for a host NO_PROXY lists', async () => {
    const before = proxy.requests.length;
    const r = await cliProcess(['send', 'ws-cli', '--operation', 'do-not-accept-new-tasks', '--count', '1', '--drain-id', 'ws-3', '--websockets'], {
      WORKFORCE_SERVICEBUS_CONNECTION_STRING: emulator.amqpsConnectionString!,
      HTTPS_PROXY: proxyUrl,
      NO_PROXY: 'example.com,localhost',
      NODE_EXTRA_CA_CERTS: caFile,
    });
    expect(r.code).toBe(0);
    expect(proxy.requests.length).toBe(before);
    expect(await received(1)).toEqual(['ws-3/1']);
  });

  it('refuses --proxy without --websockets, and a proxy that is not an http(s) URL', async () => {
    const cs = emulator.amqpsConnectionString!;
    const without = await cli(['send', 'ws-cli', '--operation', 'graceful-downscale', '--count', '1', '--connection-string', cs, '--proxy', proxyUrl]);
    expect(without.code).toBe(EXIT.usage);
    expect(without.stderr).toContain('--proxy applies to AMQP over WebSockets only: add --websockets');
    const bad = await cli(['send', 'ws-cli', '--operation', 'graceful-downscale', '--count', '1', '--connection-string', cs, '--websockets', '--proxy', 'socks5://127.0.0.1:1080']);
    expect(bad.code).toBe(EXIT.usage);
    expect(bad.stderr).toContain('--proxy must be an http:// or https:// URL, got "socks5://127.0.0.1:1080"');
    const env = await cli(['send', 'ws-cli', '--operation', 'graceful-downscale', '--count', '1', '--connection-string', cs], { WORKFORCE_WEBSOCKETS: 'maybe' });
    expect(env.code).toBe(EXIT.usage);
    expect(env.stderr).toContain('WORKFORCE_WEBSOCKETS must be true or false, got "maybe"');
  });
});
