// Binding off loopback through the CLI, as an operator would: the development key and the
// token-less ARM endpoint are refused there (exit code 2, a message naming the way out) unless
// --allow-insecure-remote says otherwise, and then each one is warned about.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { emulatorCliPath, spawnEmulator } from '../src/index.js';
import { isLoopback } from '../src/exposure.js';

const run = promisify(execFile);
const cli = emulatorCliPath();

/** Runs the CLI to its exit; resolves with its exit code and stderr. */
async function exitOf(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stderr: string }> {
  try {
    const { stderr } = await run(process.execPath, ['--import', 'tsx', '--conditions', 'source', cli, ...args], { env, timeout: 45_000 });
    return { code: 0, stderr };
  } catch (e) {
    const error = e as { code?: number; stderr?: string };
    return { code: error.code ?? -1, stderr: error.stderr ?? '' };
  }
}

describe('off loopback', () => {
  it('refuses the development key and the ARM endpoint, naming both and the flag', async () => {
    const { code, stderr } = await exitOf(['--host', '0.0.0.0', '--port', '0']);
    expect(code).toBe(2);
    expect(stderr).toContain("--host: '0.0.0.0' is not a loopback address");
    expect(stderr).toContain("the development SAS key 'SAS_KEY_VALUE' is public: give your own with --sas-key NAME=KEY");
    expect(stderr).toContain('the ARM endpoint accepts any bearer token: turn it off with --arm-port off');
    expect(stderr).toContain('--allow-insecure-remote');
  });

  it('refuses either one alone, and a host given through the environment', async () => {
    const key = await exitOf(['--host', '0.0.0.0', '--port', '0', '--arm-port', 'off']);
    expect(key.code).toBe(2);
    expect(key.stderr).toContain('development SAS key');
    expect(key.stderr).not.toContain('ARM endpoint');
    const arm = await exitOf(['--port', '0', '--sas-key', 'mine=a-secret-of-our-own'], { ...process.env, SERVICEBUS_EMULATOR_HOST: '0.0.0.0' });
    expect(arm.code).toBe(2);
    expect(arm.stderr).toContain("SERVICEBUS_EMULATOR_HOST: '0.0.0.0' is not a loopback address");
    expect(arm.stderr).toContain('ARM endpoint');
    expect(arm.stderr).not.toContain('development SAS key');
  });

  it('serves with a key of its own and the ARM endpoint off', async () => {
    const emulator = await spawnEmulator({ args: ['--host', '0.0.0.0', '--port', '0', '--amqps-port', 'off', '--arm-port', 'off', '--sas-key', 'mine=a-secret-of-our-own'] });
    try {
      expect(emulator.connectionString).toContain('SharedAccessKey=a-secret-of-our-own;');
      expect(emulator.output()).not.toContain('insecure');
    } finally {
      await emulator.stop('SIGTERM', 10_000);
    }
  });

  it('serves the development key and the ARM endpoint with --allow-insecure-remote, warning about each', async () => {
    const emulator = await spawnEmulator({ args: ['--host', '0.0.0.0', '--port', '0', '--amqps-port', 'off', '--allow-insecure-remote'] });
    try {
      expect(emulator.ready.armEndpoint).toMatch(/^https:\/\/localhost:\d+$/);
      const warnings = emulator
        .output()
        .split('\n')
        .filter((line) => line.includes('"insecure remote access allowed"'))
        .map((line) => JSON.parse(line) as { level: string; exposure: string });
      expect(warnings.map((w) => w.level)).toEqual(['warn', 'warn']);
      expect(warnings.map((w) => w.exposure).join('\n')).toMatch(/development SAS key[\s\S]*ARM endpoint/);
    } finally {
      await emulator.stop('SIGTERM', 10_000);
    }
  });

  it('on loopback, the defaults stay as they are', async () => {
    const emulator = await spawnEmulator({ args: ['--host', '127.0.0.1', '--port', '0', '--amqps-port', 'off'] });
    try {
      expect(emulator.connectionString).toContain('SharedAccessKey=SAS_KEY_VALUE;');
      expect(emulator.ready.armEndpoint).toBeDefined();
    } finally {
      await emulator.stop('SIGTERM', 10_000);
    }
  });
});

describe('isLoopback', () => {
  it('knows loopback names and addresses from the rest', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', 'LOCALHOST', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) {
      expect(isLoopback(host), host).toBe(true);
    }
    for (const host of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', 'example.com', '::2', 'localhost.example.com']) {
      expect(isLoopback(host), host).toBe(false);
    }
  });
});
