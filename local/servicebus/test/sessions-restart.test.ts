// Sessions across a kill -9 and restart on the same --data directory: session state and the
// messages of each session survive, in order; the session lock held by the dead process does not
// (locks are not persisted), so the session can be accepted at once.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ServiceBusClient, isServiceBusError } from '@azure/service-bus';
import { afterEach, describe, expect, it } from 'vitest';
import { type EmulatorChildProcess, spawnEmulator } from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const cli = join(here, '../src/cli.ts');
const children: EmulatorChildProcess[] = [];

async function startCli(dir: string): Promise<EmulatorChildProcess> {
  const child = await spawnEmulator({
    cli,
    cwd: resolve(here, '../../..'),
    args: ['--port', '0', '--arm-port', 'off', '--amqps-port', 'off', '--data', dir],
    config: { queues: [{ name: 'commands', requiresSession: true }] },
  });
  children.push(child);
  return child;
}

afterEach(async () => {
  for (const c of children.splice(0)) await c.stop('SIGKILL');
});

describe('sessions: kill -9 and restart on the same --data directory', () => {
  it('keeps session state and each session’s messages in order; the dead holder’s lock is gone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-sessions-kill-'));
    try {
      const first = await startCli(dir);
      const client = new ServiceBusClient(first.connectionString, { retryOptions: { maxRetries: 0 } });
      await client.createSender('commands').sendMessages([
        { body: 'a', sessionId: 'node-1' },
        { body: 'x', sessionId: 'node-2' },
        { body: 'b', sessionId: 'node-1' },
        { body: 'c', sessionId: 'node-1' },
      ]);
      const holder = await client.acceptSession('commands', 'node-1');
      await holder.setSessionState({ applied: 'a' });
      const [a, b] = await holder.receiveMessages(2, { maxWaitTimeInMs: 2000 });
      expect([a!.body, b!.body]).toEqual(['a', 'b']);
      await holder.completeMessage(a!);
      // The process dies with node-1 locked and b delivered but not settled.
      first.child.kill('SIGKILL');
      expect((await first.exited).signal).toBe('SIGKILL');
      await client.close().catch(() => {});

      const second = await startCli(dir);
      const again = new ServiceBusClient(second.connectionString, { retryOptions: { maxRetries: 0 } });
      try {
        const node1 = await again.acceptSession('commands', 'node-1');
        expect(await node1.getSessionState()).toEqual({ applied: 'a' });
        const got = await node1.receiveMessages(2, { maxWaitTimeInMs: 2000 });
        expect(got.map((m) => m.body)).toEqual(['b', 'c']);
        for (const m of got) await node1.completeMessage(m);
        const node2 = await again.acceptSession('commands', 'node-2');
        const [x] = await node2.receiveMessages(1, { maxWaitTimeInMs: 2000 });
        expect(x!.body).toBe('x');
        const refused = await again.createSender('commands').sendMessages({ body: 'no session' }).catch((e: unknown) => e);
        expect(isServiceBusError(refused) && refused.message).toMatch(/SessionId was not set/);
      } finally {
        await again.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
