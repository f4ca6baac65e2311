// The installed binary, as a team runs it: `npx servicebus-emulator` runs
// node_modules/.bin/servicebus-emulator (the built `dist/`); spawned here directly so that SIGTERM
// reaches the emulator itself rather than npm. An unmodified ServiceBusClient talks to it.
import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ServiceBusClient } from '@azure/service-bus';
import { expect, it } from 'vitest';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

it('the installed `servicebus-emulator` binary serves the SDK and exits cleanly on SIGTERM', async () => {
  const child = spawn(join(repoRoot, 'node_modules/.bin/servicebus-emulator'), ['--port', '0', '--arm-port', 'off', '--amqps-port', 'off', '--auto-create'], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += String(d)));
  try {
    const ready = await new Promise<{ connectionString: string }>((resolveReady, reject) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        const entry = JSON.parse(line) as { msg?: string; connectionString?: string };
        if (entry.msg === 'ready' && entry.connectionString) resolveReady({ connectionString: entry.connectionString });
      });
      void exited.then((code) => reject(new Error(`the emulator exited (${code}) before ready; stderr: ${stderr}`)));
    });
    expect(ready.connectionString).toMatch(/^Endpoint=sb:\/\/localhost:\d+;SharedAccessKeyName=.+;SharedAccessKey=.+;UseDevelopmentEmulator=true$/);

    const client = new ServiceBusClient(ready.connectionString);
    try {
      await client.createSender('first-queue').sendMessages({ body: { hello: 'from npx' }, messageId: 'm-1' });
      const receiver = client.createReceiver('first-queue');
      const [got] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 10_000 });
      expect(got?.body).toEqual({ hello: 'from npx' });
      await receiver.completeMessage(got!);
      expect(await receiver.peekMessages(1)).toEqual([]);
    } finally {
      await client.close();
    }
  } finally {
    child.kill('SIGTERM');
  }
  expect(await exited).toBe(0);
}, 60_000);
