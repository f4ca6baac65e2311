// The single-file bundle, copied to a folder outside the repository (no node_modules anywhere
// above it), runs `version`, `status`, `run` and `listen` with nothing installed.
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { expect, it } from 'vitest';
import { PACKAGE_ROOT, startProcess, tempDir } from '../helpers.js';
import { useClusters } from './cluster.js';

const clusters = useClusters();

function hasNodeModulesAbove(dir: string): boolean {
  for (let d = dir; d !== dirname(d); d = dirname(d)) if (existsSync(join(d, 'node_modules'))) return true;
  return false;
}

it('runs from a folder outside the repository with nothing installed', async () => {
  const folder = tempDir('wf-image-');
  expect(folder.startsWith(dirname(PACKAGE_ROOT))).toBe(false);
  expect(hasNodeModulesAbove(folder)).toBe(false);
  const agent = join(folder, 'workforce-agent.cjs');
  copyFileSync(clusters.built.agent, agent);
  expect(readFileSync(agent, 'utf8')).not.toMatch(/require\("@azure\//); // dependencies inlined
  const env = { NODE_PATH: '', WORKFORCE_PID_DIR: join(folder, 'pids'), WORKFORCE_STATE_DIR: join(folder, 'state'), WORKFORCE_CONTROL_TOPIC_NAME: 'eu' };
  const cli = (args: string[], extra: Record<string, string> = {}) => startProcess(process.execPath, [agent, ...args], { ...env, ...extra }, folder);

  const version = cli(['version']);
  expect(await version.exited).toEqual({ code: 0, signal: null });
  expect(version.output().trim()).toMatch(/^\d+\.\d+\.\d+$/);

  const run = cli(['run', '--worker-id', 'w', '--', 'sh', '-c', 'test -n "$WORKFORCE_INTAKE_FLAG" && exit 4']);
  expect((await run.exited).code).toBe(4);

  const status = cli(['status', '--json']);
  expect((await status.exited).code).toBe(0);
  expect(JSON.parse(status.output())).toMatchObject({ topic: 'eu', state: 'active', agent: { running: false }, workers: [] });

  const cluster = await clusters.start();
  const listen = cli(['listen'], { WORKFORCE_BACK_CHANNEL_CONNECTION_STRING: cluster.emulator.connectionString, WORKFORCE_CONTROL_TOPIC_NAME: cluster.topic, WORKFORCE_REPORTS_QUEUE_NAME: cluster.reportsQueue });
  await listen.waitForEvent('listening');
  await cluster.publish([{ body: '{"operation": "graceful-downscale"}' }]);
  await listen.waitForEvent('node-drained');
  listen.kill('SIGTERM');
  expect(await listen.exited).toEqual({ code: 0, signal: null });
});

it('names a missing variable and exits 2', async () => {
  const folder = tempDir('wf-image-');
  const agent = join(folder, 'workforce-agent.cjs');
  copyFileSync(clusters.built.agent, agent);
  const proc = startProcess(process.execPath, [agent, 'listen'], { WORKFORCE_CONTROL_TOPIC_NAME: 't', WORKFORCE_BACK_CHANNEL_FULLY_QUALIFIED_NAMESPACE: '', WORKFORCE_BACK_CHANNEL_CONNECTION_STRING: '' }, folder);
  expect((await proc.exited).code).toBe(2);
  expect(proc.output()).toContain('WORKFORCE_BACK_CHANNEL_FULLY_QUALIFIED_NAMESPACE (--namespace) or WORKFORCE_BACK_CHANNEL_CONNECTION_STRING (--connection-string) is required');
});

/** The base64 of the module the bundle embeds as `name` (the compressed code before its `#name`). */
function packedModule(source: string, name: string): string {
  for (const m of source.matchAll(/Buffer\.from\("([A-Za-z0-9+/=]+)", ?"base64"\)/g)) {
    if (source.slice(m.index + m[0].length, m.index + m[0].length + 400).includes(`#${name}`)) return m[1]!;
  }
  throw new Error(`the bundle embeds no ${name}`);
}

/** Runs `use` (JavaScript with the module as `m.exports`) as the bundle loads an embedded module, in a fresh process with nothing installed. */
async function loadEmbedded(packed: string, use: string): Promise<string> {
  const folder = tempDir('wf-image-');
  const probe = join(folder, 'probe.cjs');
  writeFileSync(
    probe,
    `const code = require('node:zlib').brotliDecompressSync(Buffer.from(${JSON.stringify(packed)}, 'base64')).toString('utf8');
const m = { exports: {} };
require('node:vm').runInThisContext(require('node:module').wrap(code)).call(m.exports, m.exports, require, m, __filename, __dirname);
${use}`,
  );
  const proc = startProcess(process.execPath, [probe], { NODE_PATH: '' }, folder);
  expect(await proc.exited).toEqual({ code: 0, signal: null });
  return proc.output();
}

it('carries @azure/identity compressed and loads it only for a credential', async () => {
  const source = readFileSync(clusters.built.agent, 'utf8');
  expect(source).not.toContain('ManagedIdentityCredential'); // not parsed with the agent's code
  const output = await loadEmbedded(packedModule(source, '@azure/identity'), 'process.stdout.write(typeof new m.exports.DefaultAzureCredential().getToken);');
  expect(output).toBe('function');
});

it('carries ws and https-proxy-agent compressed, for --websockets only', async () => {
  const source = readFileSync(clusters.built.agent, 'utf8');
  expect(source).not.toContain('Sec-WebSocket-Key'); // not parsed with the agent's code
  const output = await loadEmbedded(packedModule(source, 'websocket-modules'), 'process.stdout.write(`${typeof m.exports.WebSocket} ${typeof m.exports.HttpsProxyAgent}`);');
  expect(output).toBe('function function');
});
