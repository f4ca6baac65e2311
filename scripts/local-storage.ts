// Azurite's Table service (the npm package `azurite`, Microsoft's Storage emulator) as the local
// Table Storage of the fleet inventory: a child process on a free loopback port, in memory
// (tests) or in a folder (`npm start`, the demo: the inventory survives restarts), answering
// before start resolves, stopped by close(), and ending with its parent (azurite-preload.cjs).

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect, createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Azurite's well-known development account (public, in Microsoft's documentation). */
const ACCOUNT = 'devstoreaccount1';
const KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;
const TRIES = 3;

export interface LocalStorageOptions {
  /** Azurite's workspace (its table database); absent: in memory, nothing survives a restart. */
  location?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  /**
   * Serve HTTPS with this certificate (PEM files) and accept Entra bearer tokens (Azurite's
   * `--oauth basic`, which needs HTTPS) beside the account key.
   */
  oauth?: { certFile: string; keyFile: string };
}

export interface LocalStorage {
  readonly port: number;
  /** Azurite's process id. */
  readonly pid: number;
  readonly connectionString: string;
  /** The account's table endpoint (path-style: `<origin>/devstoreaccount1`), for a token credential. */
  readonly tableServiceUri: string;
  /** Stops Azurite (SIGINT: it saves its database, as it also does every 5 s). Idempotent. */
  close(): Promise<void>;
}

/** A TCP port free on loopback now (Azurite takes its port as a number, not 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.end();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  // Azurite saves its database on SIGINT only (SIGTERM ends it unsaved).
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited(child);
  clearTimeout(timer);
}

async function startOnce(port: number, options: LocalStorageOptions): Promise<LocalStorage> {
  const main = path.join(path.dirname(createRequire(import.meta.url).resolve('azurite/package.json')), 'dist', 'src', 'table', 'main.js');
  const args = ['--tableHost', '127.0.0.1', '--tablePort', String(port), '--silent', '--disableTelemetry', '--skipApiVersionCheck', '--disableProductStyleUrl'];
  if (options.oauth) args.push('--cert', options.oauth.certFile, '--key', options.oauth.keyFile, '--oauth', 'basic');
  if (options.location) {
    mkdirSync(options.location, { recursive: true });
    args.push('--location', options.location);
  } else {
    args.push('--inMemoryPersistence');
  }
  const preload = fileURLToPath(new URL('./azurite-preload.cjs', import.meta.url));
  // stdin: a pipe that ends when this process does (the preload stops Azurite then).
  const child = spawn(process.execPath, ['--require', preload, main, ...args], { stdio: ['pipe', 'pipe', 'pipe'], ...(options.location && { cwd: options.location }) });
  let output = '';
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-2000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const until = Date.now() + START_TIMEOUT_MS;
  while (!(await answers(port))) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`Azurite (table) exited at start (${child.exitCode ?? child.signalCode}): ${output.trim()}`);
    if (Date.now() > until) {
      await stop(child);
      throw new Error(`Azurite (table) did not answer on 127.0.0.1:${port} within ${START_TIMEOUT_MS / 1000} s: ${output.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  let closing: Promise<void> | undefined;
  const scheme = options.oauth ? 'https' : 'http';
  return {
    port,
    pid: child.pid!,
    connectionString: `DefaultEndpointsProtocol=${scheme};AccountName=${ACCOUNT};AccountKey=${KEY};TableEndpoint=${scheme}://127.0.0.1:${port}/${ACCOUNT};`,
    tableServiceUri: `${scheme}://127.0.0.1:${port}/${ACCOUNT}`,
    close: () => (closing ??= stop(child)),
  };
}

export async function startLocalStorage(options: LocalStorageOptions = {}): Promise<LocalStorage> {
  // A port picked free can be taken before Azurite binds it: then it exits, and another is tried.
  for (let attempt = 1; ; attempt++) {
    const port = options.port || (await freePort());
    try {
      return await startOnce(port, options);
    } catch (err) {
      if (options.port || attempt >= TRIES || !/EADDRINUSE/.test(String((err as Error).message))) throw err;
    }
  }
}
