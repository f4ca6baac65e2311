// For the suites that run once per message store: memory, and SQLite in a new temporary directory.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServiceBusClient } from '@azure/service-bus';
import { type RunningEmulator, startEmulator } from '../../src/index.js';

export interface Store {
  name: 'memory' | 'sqlite';
  /** A new data directory for the store; none for memory. */
  dataDir(): string | undefined;
}

export const STORES: Store[] = [
  { name: 'memory', dataDir: () => undefined },
  { name: 'sqlite', dataDir: () => mkdtempSync(join(tmpdir(), 'sb-emulator-')) },
];

export interface StoreEmulator {
  emulator: RunningEmulator;
  client: ServiceBusClient;
  /** Closes the client and the emulator, and removes the data directory. */
  close(): Promise<void>;
}

/** An emulator (AMQP on port 0 only) on the store, and a client that retries once. */
export async function startOnStore(store: Store): Promise<StoreEmulator> {
  const dir = store.dataDir();
  const emulator = await startEmulator({ port: 0, armPort: false, amqpsPort: false, ...(dir ? { dataDir: dir } : {}) });
  const client = new ServiceBusClient(emulator.connectionString, { retryOptions: { maxRetries: 1, retryDelayInMs: 100 } });
  return {
    emulator,
    client,
    close: async () => {
      await client.close();
      await emulator.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
