// Black-box durability: the CLI runs as a child process with --data; it is killed with SIGKILL in
// the middle of work and restarted on the same directory. Nothing accepted may be lost, nothing
// completed may come back, and messages locked by the dead process become available again.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ServiceBusClient } from '@azure/service-bus';
import { afterEach, describe, expect, it } from 'vitest';
import { type EmulatorChildProcess, spawnEmulator, startEmulator } from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../../..');
const cli = join(here, '../src/cli.ts');

const children: EmulatorChildProcess[] = [];

/** Starts the CLI and resolves once its `ready` line gave the connection string. */
async function startCli(args: string[]): Promise<EmulatorChildProcess> {
  const child = await spawnEmulator({ cli, args, cwd: repoRoot });
  children.push(child);
  return child;
}

afterEach(async () => {
  for (const c of children.splice(0)) await c.stop('SIGKILL');
});

const args = (dir: string) => ['--port', '0', '--arm-port', 'off', '--amqps-port', 'off', '--auto-create', '--data', dir];

describe('kill -9 and restart on the same --data directory', () => {
  it('loses nothing accepted, brings back nothing completed, and releases the dead process locks', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-kill-'));
    try {
      const first = await startCli(args(dir));
      const client = new ServiceBusClient(first.connectionString);
      const sender = client.createSender('work');
      await sender.sendMessages([...Array(20).keys()].map((i) => ({ body: `m${i}`, messageId: `id-${i}` })));
      const [scheduledSeq] = await sender.scheduleMessages({ body: 'future' }, new Date(Date.now() + 3_600_000));
      const receiver = client.createReceiver('work');
      const got: Awaited<ReturnType<typeof receiver.receiveMessages>> = [];
      while (got.length < 12) got.push(...(await receiver.receiveMessages(12 - got.length, { maxWaitTimeInMs: 1000 })));
      const completed = got.slice(0, 5);
      for (const m of completed) await receiver.completeMessage(m);
      await receiver.deadLetterMessage(got[5]!, { deadLetterReason: 'Bad', deadLetterErrorDescription: 'kept across restart' });
      await receiver.deferMessage(got[6]!);
      const lockedByDeadProcess = got.slice(7, 12).map((m) => m.body);
      // got[7..11] stay locked: the process dies holding them.

      first.child.kill('SIGKILL');
      expect((await first.exited).signal).toBe('SIGKILL');
      await client.close().catch(() => {});

      const second = await startCli(args(dir));
      const again = new ServiceBusClient(second.connectionString);
      try {
        const r = again.createReceiver('work', { receiveMode: 'receiveAndDelete' });
        const peeked = await r.peekMessages(50);
        const bodies = new Set(peeked.map((m) => m.body));
        for (const m of completed) expect(bodies.has(m.body)).toBe(false);
        expect(peeked.find((m) => m.body === 'future')?.state).toBe('scheduled');
        expect(peeked.find((m) => m.sequenceNumber!.equals(got[6]!.sequenceNumber!))?.state).toBe('deferred');

        const available: unknown[] = [];
        for (;;) {
          const batch = await r.receiveMessages(50, { maxWaitTimeInMs: 700 });
          if (batch.length === 0) break;
          available.push(...batch.map((m) => m.body));
        }
        const expected = [...Array(20).keys()].map((i) => `m${i}`).filter((b) => !got.slice(0, 7).some((m) => m.body === b));
        expect([...available].sort()).toEqual(expected.sort());
        for (const b of lockedByDeadProcess) expect(available).toContain(b);

        const [dead] = await again.createReceiver('work', { subQueueType: 'deadLetter', receiveMode: 'receiveAndDelete' }).receiveMessages(1, { maxWaitTimeInMs: 2000 });
        expect(dead).toMatchObject({ body: got[5]!.body, deadLetterReason: 'Bad', deadLetterErrorDescription: 'kept across restart' });

        const [deferred] = await again.createReceiver('work').receiveDeferredMessages(got[6]!.sequenceNumber!);
        expect(deferred!.body).toBe(got[6]!.body);

        // Sequence numbers continue after the restart.
        await again.createSender('work').sendMessages({ body: 'after' });
        const [after] = await r.receiveMessages(1, { maxWaitTimeInMs: 2000 });
        expect(after!.sequenceNumber!.toNumber()).toBeGreaterThan(scheduledSeq!.toNumber());
      } finally {
        await again.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps every acknowledged send when killed under load', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-kill-'));
    try {
      const first = await startCli(args(dir));
      const client = new ServiceBusClient(first.connectionString, { retryOptions: { maxRetries: 0, timeoutInMs: 2000 } });
      const sender = client.createSender('load');
      const acknowledged: string[] = [];
      let stop = false;
      const senders = [0, 1, 2, 3].map(async (w) => {
        for (let i = 0; !stop; i++) {
          const id = `w${w}-${i}`;
          try {
            await sender.sendMessages({ body: id, messageId: id });
            acknowledged.push(id);
          } catch {
            return; // the process is gone
          }
        }
      });
      await new Promise((r) => setTimeout(r, 1500));
      first.child.kill('SIGKILL');
      await first.exited;
      stop = true;
      await Promise.all(senders);
      await client.close().catch(() => {});
      expect(acknowledged.length).toBeGreaterThan(50);

      const second = await startCli(args(dir));
      const again = new ServiceBusClient(second.connectionString);
      try {
        const r = again.createReceiver('load', { receiveMode: 'receiveAndDelete' });
        const seen = new Set<string>();
        for (;;) {
          const batch = await r.receiveMessages(500, { maxWaitTimeInMs: 700 });
          if (batch.length === 0) break;
          for (const m of batch) seen.add(m.body as string);
        }
        const lost = acknowledged.filter((id) => !seen.has(id));
        expect(lost).toEqual([]);
      } finally {
        await again.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a second emulator on a data directory in use', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-lock-'));
    const first = await startEmulator({ port: 0, armPort: false, amqpsPort: false, dataDir: dir });
    try {
      await expect(startEmulator({ port: 0, armPort: false, amqpsPort: false, dataDir: dir })).rejects.toThrow(
        `The data directory ${dir} is in use by another emulator process; stop it or choose another --data directory.`,
      );
    } finally {
      await first.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exits cleanly on SIGTERM, and refuses a bad flag with a message naming it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-term-'));
    try {
      const emulator = await startCli(args(dir));
      emulator.child.kill('SIGTERM');
      expect(await emulator.exited).toEqual({ code: 0, signal: null });

      const bad = spawn(process.execPath, ['--import', 'tsx', '--conditions', 'source', cli, '--port', 'seventy'], { cwd: repoRoot });
      let stderr = '';
      bad.stderr.on('data', (d) => (stderr += String(d)));
      const code = await new Promise<number | null>((r) => bad.on('exit', (c) => r(c)));
      expect(code).toBe(2);
      expect(stderr).toContain("--port: expected a port number from 0 to 65535, got 'seventy'");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
