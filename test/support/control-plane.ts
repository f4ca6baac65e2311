// Runs this Function app the way Azure would, on one machine: the Service Bus emulator (AMQP +
// ARM endpoint) and the local Functions host loading src/functions/*.ts unmodified.

import { copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ServiceBusClient } from '@azure/service-bus';
import { ManualClock, silentLogger, type Host, type Logger } from '@workforce/functions-host';
import type { RunningEmulator } from '@workforce/servicebus-emulator';
import { tempDir, waitFor as poll } from '../../local/functions-host/test/helpers.js';
import { startLocalBus, startLocalSystem } from '../../scripts/local-system.js';
import { NodeInventory } from '../../src/adapters/inventory-table.js';

// The host's test kit polls and makes temporary directories; these tests use the same.
export { tempDir };

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const FUNCTION_KEY = 'test-function-key';

/**
 * An app folder whose package.json `main` lists the TypeScript sources of src/functions, so the
 * host's worker (tsx, with the `source` condition) runs the code under test with no build step.
 */
export function sourceAppDir(extra: { schedules?: unknown } = {}): string {
  const dir = tempDir('workforce-app-');
  copyFileSync(path.join(ROOT, 'host.json'), path.join(dir, 'host.json'));
  const fnDir = path.join(ROOT, 'src', 'functions');
  const main = readdirSync(fnDir).filter((f) => f.endsWith('.ts')).map((f) => path.join(fnDir, f)).join(',');
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'workforce-under-test', type: 'module', main }));
  if (extra.schedules !== undefined) writeFileSync(path.join(dir, 'schedules.json'), JSON.stringify(extra.schedules));
  return dir;
}

export interface Emulator {
  emulator: RunningEmulator;
  caFile: string;
  close(): Promise<void>;
}

/** The emulator in memory, with the reports queue (scripts/local-system.ts). */
export async function startBus(): Promise<Emulator> {
  const dir = tempDir('workforce-bus-');
  const bus = await startLocalBus({ dataDir: dir, inMemory: true });
  return {
    emulator: bus.emulator,
    caFile: bus.caFile,
    async close() {
      await bus.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ControlPlane {
  host: Host;
  clock: ManualClock;
  /** Where the manual clock started (ms); it moves only when a test moves it. */
  clockStart: number;
  bus: Emulator;
  /** Connection string of the app's storage account (Azurite): the fleet inventory's tables. */
  storage: string;
  sb: ServiceBusClient;
  appDir: string;
  dataDir: string;
  api(method: string, route: string, body?: unknown, key?: string | null): Promise<{ status: number; body: any; contentType: string | null }>;
  /** Restarts the host on the same data dir (durable state survives). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startControlPlane(opts: { clock?: ManualClock; schedules?: unknown; settings?: Record<string, string>; logger?: Logger } = {}): Promise<ControlPlane> {
  const clock = opts.clock ?? new ManualClock(new Date());
  const appDir = sourceAppDir({ schedules: opts.schedules });
  const dataDir = tempDir('workforce-host-');
  const system = await startLocalSystem({
    appDir,
    dataDir,
    inMemory: true,
    functionKey: FUNCTION_KEY,
    clock,
    // The worker runs our TypeScript sources; workspace packages resolve to theirs too.
    settings: { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --conditions=source`.trim(), ...opts.settings },
    ...(opts.logger ? { logger: opts.logger } : !process.env.WORKFORCE_TEST_LOGS && { logger: silentLogger() }),
  });
  const bus: Emulator = { emulator: system.bus.emulator, caFile: system.bus.caFile, close: () => system.bus.close() };
  const sb = new ServiceBusClient(bus.emulator.connectionString);
  const plane: ControlPlane = {
    get host() {
      return system.host;
    },
    clock,
    clockStart: clock.now(),
    bus,
    storage: system.storage.connectionString,
    sb,
    appDir,
    dataDir,
    api: (method, route, body, key) => callApi(system.host.url, method, route, body, key),
    restart: () => system.restartHost(),
    async close() {
      await sb.close().catch(() => {});
      await system.close();
      for (const dir of [appDir, dataDir]) rmSync(dir, { recursive: true, force: true });
    },
  };
  return plane;
}

/** The fleet inventory's tables in the control plane's storage account (Azurite), read as the app reads them. */
/** One call to the app's HTTP API at `hostUrl`, with the function key unless `key` is null; a body that is not JSON is kept as text. */
export async function callApi(hostUrl: string, method: string, route: string, body?: unknown, key: string | null = FUNCTION_KEY): Promise<{ status: number; body: any; contentType: string | null }> {
  const res = await fetch(`${hostUrl}/api/${route}`, {
    method,
    headers: { 'content-type': 'application/json', ...(key !== null && { 'x-functions-key': key }) },
    ...(body !== undefined && { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed, contentType: res.headers.get('content-type') };
}

export function inventoryOf(cp: ControlPlane): NodeInventory {
  return new NodeInventory({ kind: 'connectionString', setting: 'AzureWebJobsStorage', connectionString: cp.storage });
}

/** The drain as GET /api/drains/{id} shows it, less the times that change on every read: to compare before and after. */
export async function drainWithoutTimes(cp: ControlPlane, drainId: string): Promise<Record<string, any>> {
  const { updatedAt: _u, lastUpdatedTime: _l, ...rest } = (await cp.api('GET', `drains/${drainId}`)).body;
  return rest;
}

/**
 * The drain's orchestration between generations: an episode that folded reports continues as
 * new, and until the next generation starts its status is `ContinuedAsNew` (still alive, not
 * `Running`). Tests that assert `Running` after reports wait for this to be false first.
 */
export function betweenGenerations(cp: ControlPlane, drainId: string): boolean {
  return cp.host.durable.store.getInstance(drainId)?.status === 'ContinuedAsNew';
}

/** The probe's first value that is neither undefined nor false; a probe that throws is asked again. */
export function waitFor<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs = 20_000): Promise<T> {
  return poll(probe, { what, timeoutMs });
}

export function mkdirp(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}
