// How the control message reaches the node, end to end with real processes: ai4s-jobq's own
// sender (Python azure-servicebus on uamqp, which negotiates SASL MSSBCBS) over AMQP on TLS
// port 5671; an agent over AMQP over WebSockets; and an agent and that sender over WebSockets
// through an HTTP CONNECT proxy. In each, a real worker process is told to drain.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate } from 'selfsigned';
import { describe, expect, it } from 'vitest';
import { ConnectProxy } from '../connect-proxy.js';
import { startProcess, tempDir, waitFor } from '../helpers.js';
import { type Cluster, useClusters } from './cluster.js';

const clusters = useClusters();
const SENDER = fileURLToPath(new URL('./python/send_control.py', import.meta.url));
// Debian's python3-azure installs for the system interpreter, not for a python3 earlier on PATH.
const PYTHON = '/usr/bin/python3';

/** ai4s-jobq's control message: a JSON string as the body, nothing else. */
const DRAIN = '{"operation": "graceful-downscale"}';

function pythonSdk(): string {
  try {
    return execFileSync(PYTHON, ['-c', 'import azure.servicebus, uamqp; print(azure.servicebus.__version__)'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(`${PYTHON} cannot import azure.servicebus on uamqp: apt-get install python3-azure (.ci/run does)`);
  }
}

/** Runs the Python sender; resolves when it exits 0, else fails with its output. */
async function pythonSend(cluster: Cluster, env: Record<string, string>, extra: string[] = []): Promise<void> {
  const sender = startProcess(PYTHON, [SENDER, cluster.topic, DRAIN, ...extra], env);
  // uamqp retries a failing connection for minutes: the output says more than a test timeout.
  const watchdog = setTimeout(() => sender.child.kill('SIGKILL'), 30_000);
  const { code } = await sender.exited.finally(() => clearTimeout(watchdog));
  if (code !== 0) throw new Error(`the Python sender ${code === null ? 'was stopped after 30 s' : `exited with ${code}`}:\n${sender.output()}`);
}

/** A certificate for `ip` (uamqp checks the name), as PEM files for --cert/--key. */
async function certificateFor(ip: string): Promise<{ certFile: string; keyFile: string }> {
  const pems = await generate([{ name: 'commonName', value: ip }], {
    keyType: 'rsa',
    keySize: 2048,
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip }] }],
  });
  const dir = tempDir('wf-cert-');
  writeFileSync(join(dir, 'cert.pem'), pems.cert);
  writeFileSync(join(dir, 'key.pem'), pems.private);
  return { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') };
}

function caFile(pem: string): string {
  const file = join(tempDir('wf-ca-'), 'ca.pem');
  writeFileSync(file, pem);
  return file;
}

/** The node drained: its worker was told (SIGTERM) and exited, and the agent reported it. */
async function expectDrained(cluster: Cluster, node: Awaited<ReturnType<Cluster['addNode']>>): Promise<void> {
  await waitFor(() => cluster.drainedNodes().includes(node.id), 30_000, () => `node ${node.id} to drain; agent log:\n${node.agent.output()}`);
  expect(node.drainRequested()).toEqual(node.workerIds);
  for (const w of node.workers) expect((await w.exited).code).toBe(0);
}

describe('the Python sender (azure-servicebus on uamqp)', () => {
  it('publishes over AMQP on TLS port 5671 (SASL MSSBCBS, then $cbs) and an agent drains on it', async () => {
    expect(pythonSdk()).toMatch(/^7\./);
    // uamqp connects to 5671 whatever the connection string says. A loopback address of this
    // test's own keeps that port free of other runs: all of 127.0.0.0/8 is loopback on Linux.
    const host = `127.${1 + Math.floor(Math.random() * 254)}.${1 + Math.floor(Math.random() * 254)}.${1 + Math.floor(Math.random() * 254)}`;
    const cluster = await clusters.start({ emulator: { host, amqpsPort: 5671, ...(await certificateFor(host)) } });
    const node = await cluster.addNode(['node']);
    await pythonSend(cluster, {
      SERVICEBUS_CONNECTION_STRING: cluster.emulator.amqpsConnectionString!.replace(/Endpoint=sb:\/\/[^;]+/, `Endpoint=sb://${host}/`),
      SERVICEBUS_CA_FILE: caFile(cluster.emulator.caCertificate!),
    });
    await expectDrained(cluster, node);
  });
});

describe('AMQP over WebSockets (--websockets)', () => {
  it('an agent over WebSockets on the TLS listener drains a real worker', async () => {
    const log: string[] = [];
    const logger = { debug: (m: string) => log.push(m), info: (m: string) => log.push(m), warn: (m: string) => log.push(m), error: (m: string) => log.push(m) };
    const cluster = await clusters.start({ emulator: { amqpsPort: 0, logger } });
    const node = await cluster.addNode(['node'], {
      env: {
        WORKFORCE_BACK_CHANNEL_CONNECTION_STRING: cluster.emulator.amqpsConnectionString!,
        WORKFORCE_WEBSOCKETS: '1',
        NODE_EXTRA_CA_CERTS: caFile(cluster.emulator.caCertificate!),
      },
    });
    // The agent is the only client on the TLS listener: its connection is a WebSocket.
    await waitFor(() => log.includes('websocket connection accepted'), 15_000, () => `a WebSocket connection; agent log:\n${node.agent.output()}`);
    await cluster.publish([{ body: DRAIN }]);
    await expectDrained(cluster, node);
  });

  it('an agent and the Python sender reach the bus through an HTTP CONNECT proxy', async () => {
    const cluster = await clusters.start({ emulator: { amqpsPort: 0 } });
    const tlsPort = Number(/Endpoint=sb:\/\/localhost:(\d+)/.exec(cluster.emulator.amqpsConnectionString!)![1]);
    const proxy = new ConnectProxy(new Set([`localhost:${tlsPort}`]));
    const proxyUrl = await proxy.listen();
    try {
      const ca = caFile(cluster.emulator.caCertificate!);
      const node = await cluster.addNode(['node'], {
        env: {
          WORKFORCE_BACK_CHANNEL_CONNECTION_STRING: cluster.emulator.amqpsConnectionString!,
          WORKFORCE_WEBSOCKETS: 'true',
          HTTPS_PROXY: proxyUrl,
          NO_PROXY: '',
          NODE_EXTRA_CA_CERTS: ca,
        },
      });
      await waitFor(() => proxy.requests.includes(`localhost:${tlsPort}`), 15_000, () => `a CONNECT through the proxy; agent log:\n${node.agent.output()}`);
      const before = proxy.requests.length;

      pythonSdk();
      await pythonSend(
        cluster,
        {
          SERVICEBUS_CONNECTION_STRING: cluster.emulator.amqpsConnectionString!,
          SERVICEBUS_CA_FILE: ca,
          SERVICEBUS_PROXY: proxyUrl,
        },
        ['--websockets'],
      );
      expect(proxy.requests.length).toBeGreaterThan(before);
      await expectDrained(cluster, node);
      expect(new Set(proxy.requests)).toEqual(new Set([`localhost:${tlsPort}`]));
    } finally {
      await proxy.close();
    }
  });
});
