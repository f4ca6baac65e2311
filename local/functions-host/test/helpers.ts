import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger, startHost, type Host, type HostOptions } from '../src/index.js';

export const SAMPLE_APP = fileURLToPath(new URL('./sample-app', import.meta.url));

export function tempDir(prefix = 'functions-host-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Starts the sample app on a free port with a fresh data dir unless one is given. */
export async function startSample(opts: Partial<HostOptions> = {}): Promise<Host> {
  return startHost({
    appDir: SAMPLE_APP,
    port: 0,
    dataDir: opts.dataDir ?? tempDir(),
    logger: process.env.FUNCTIONS_HOST_TEST_LOGS ? undefined : silentLogger(),
    ...opts,
  });
}

export async function waitFor<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  { timeoutMs = 15_000, intervalMs = 50, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export async function getJson<T = any>(url: string, init?: RequestInit): Promise<{ status: number; body: T; headers: Headers }> {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : undefined) as T };
}
