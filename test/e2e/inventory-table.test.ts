import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { PresenceReport } from '@workforce/worker-agent/contract';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStorage, type LocalStorage } from '../../scripts/local-storage.js';
import { NodeInventory, REJECTED_SLOTS } from '../../src/adapters/inventory-table.js';
import type { InventoryStorage } from '../../src/config.js';
import { groupByNode, type ReceivedReport } from '../../src/domain/node-inventory.js';
import type { NodeRow } from '../../src/domain/node-view.js';
import { tempDir, waitFor } from '../support/control-plane.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false; // ESRCH: gone
  }
}

/** The node table's adapter against Azurite (the npm package, as `npm start` and the tests run it). */
describe('the node table in Azurite', () => {
  let storage: LocalStorage;
  let settings: InventoryStorage;
  beforeAll(async () => {
    storage = await startLocalStorage();
    settings = { kind: 'connectionString', setting: 'AzureWebJobsStorage', connectionString: storage.connectionString };
  }, 60_000);
  afterAll(async () => {
    await storage?.close();
  });

  const T0 = Date.now();
  const heartbeat = (topic: string, nodeId: string, s: number, over: Partial<PresenceReport> = {}): ReceivedReport => ({
    report: {
      kind: 'presence',
      presence: 'heartbeat',
      nodeId,
      topic,
      nodeState: 'active',
      since: new Date(T0).toISOString(),
      workers: [],
      workerCount: 0,
      agentVersion: '0.1.0',
      hostName: `host-of-${nodeId}`,
      startedAt: new Date(T0).toISOString(),
      sentAt: new Date(T0 + s * 1000).toISOString(),
      ...over,
    },
    receivedAt: new Date(T0 + s * 1000),
  });
  const write = (inventory: NodeInventory, reports: ReceivedReport[]) => inventory.apply(groupByNode(reports).nodes);
  async function all(inventory: NodeInventory, partition: string): Promise<NodeRow[]> {
    const rows: NodeRow[] = [];
    for await (const r of inventory.standings(partition)) rows.push(r);
    return rows;
  }
  async function row(inventory: NodeInventory, partition: string, nodeId: string): Promise<NodeRow | undefined> {
    let token: string | undefined;
    do {
      const page = await inventory.page(partition, { limit: 1000, keep: () => true, ...(token && { continuationToken: token }) });
      const found = page.rows.find((r) => r.nodeId === nodeId);
      if (found) return found;
      token = page.continuationToken;
    } while (token);
    return undefined;
  }

  it('writes one row for a batch of many heartbeats of one node, from the newest', async () => {
    const inventory = new NodeInventory(settings);
    const batch = Array.from({ length: 50 }, (_, i) => heartbeat('batch-1', 'busy-node', i, { hostName: `h${i}` })).reverse();
    expect(await write(inventory, batch)).toEqual({ written: 1, unchanged: 0, failed: [] });
    expect(await row(inventory, 'batch-1', 'busy-node')).toMatchObject({ hostName: 'h49', lastReportAt: new Date(T0 + 49_000).toISOString() });
    // The same batch again (a redelivery): nothing newer, nothing written.
    expect(await write(inventory, batch)).toEqual({ written: 0, unchanged: 1, failed: [] });
  });

  it('never lets an older report overwrite a newer row, whoever wrote it', async () => {
    const a = new NodeInventory(settings);
    await write(a, [heartbeat('order-1', 'n1', 10, { hostName: 'ten' })]);
    // Another process (no rows known): it reads the stored time and drops the older report.
    const b = new NodeInventory(settings);
    expect(await write(b, [heartbeat('order-1', 'n1', 5, { hostName: 'five' })])).toEqual({ written: 0, unchanged: 1, failed: [] });
    // b writes a newer one; a still holds the ETag of its own write, so its next write (newer
    // than its own, older than b's) fails on the ETag, is read again and dropped.
    await write(b, [heartbeat('order-1', 'n1', 30, { hostName: 'thirty' })]);
    expect(await write(a, [heartbeat('order-1', 'n1', 20, { hostName: 'twenty' })])).toEqual({ written: 0, unchanged: 1, failed: [] });
    expect(await row(a, 'order-1', 'n1')).toMatchObject({ hostName: 'thirty' });
    // A node created by b meanwhile: a's create fails, it reads and merges instead.
    await write(b, [heartbeat('order-1', 'n2', 1)]);
    await write(a, [heartbeat('order-1', 'n1', 40, { hostName: 'forty' }), heartbeat('order-1', 'n2', 2, { hostName: 'two' })]);
    expect(await row(a, 'order-1', 'n1')).toMatchObject({ hostName: 'forty' });
    expect(await row(a, 'order-1', 'n2')).toMatchObject({ hostName: 'two' });
  });

  it('reads a large partition whole in a process that knows none of it, and still drops older reports', async () => {
    const a = new NodeInventory(settings);
    const fleet = (s: number, host: string) => Array.from({ length: 120 }, (_, i) => heartbeat('scan-1', `n${i}`, s, { hostName: host }));
    await write(a, fleet(10, 'ten'));
    const b = new NodeInventory(settings);
    expect(await write(b, fleet(5, 'five'))).toEqual({ written: 0, unchanged: 120, failed: [] });
    expect(await write(b, fleet(20, 'twenty'))).toEqual({ written: 120, unchanged: 0, failed: [] });
    // b read the partition whole, so it takes a node it does not know as new; one that a created
    // meanwhile makes its create fail, and the retry reads the row and drops the older report.
    await write(a, [heartbeat('scan-1', 'late', 30, { hostName: 'from-a' })]);
    expect(await write(b, [heartbeat('scan-1', 'late', 25, { hostName: 'from-b' }), heartbeat('scan-1', 'n0', 25, { hostName: 'b-again' })])).toEqual({ written: 1, unchanged: 1, failed: [] });
    expect(await row(a, 'scan-1', 'late')).toMatchObject({ hostName: 'from-a' });
    expect(await row(a, 'scan-1', 'n0')).toMatchObject({ hostName: 'b-again' });
  });

  it('writes thousands of nodes over partitions in transactions, and pages return every node once', async () => {
    const inventory = new NodeInventory(settings);
    const batch = [...Array.from({ length: 1234 }, (_, i) => heartbeat('Paging-1', `node-${i}`, 1)), ...Array.from({ length: 150 }, (_, i) => heartbeat('paging-2', `other/${i}?#`, 1))];
    expect(await write(inventory, batch)).toEqual({ written: 1384, unchanged: 0, failed: [] });
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await inventory.page('paging-1', { limit: 100, keep: () => true, ...(token && { continuationToken: token }) });
      seen.push(...page.rows.map((r) => r.nodeId));
      token = page.continuationToken;
      pages++;
    } while (token);
    expect(pages).toBe(13);
    expect(seen.sort()).toEqual(Array.from({ length: 1234 }, (_, i) => `node-${i}`).sort());
    expect((await all(inventory, 'paging-2')).map((r) => r.nodeId).sort()).toEqual(Array.from({ length: 150 }, (_, i) => `other/${i}?#`).sort());
    expect([...(await inventory.topics()).entries()]).toEqual(expect.arrayContaining([['paging-1', 'Paging-1'], ['paging-2', 'paging-2']]));
  });

  it('keeps refused reports in a bounded ring: the newest 1,000 by sequence number', async () => {
    const inventory = new NodeInventory(settings);
    const refused = Array.from({ length: 1500 }, (_, i) => ({ sequenceNumber: i, messageId: `bad-${i}`, field: 'body', reason: 'the body must be a JSON object', excerpt: 'x'.repeat(600).slice(0, 512) }));
    for (let i = 0; i < refused.length; i += 250) await inventory.recordRejected(refused.slice(i, i + 250));
    const kept = await inventory.listRejected();
    expect(kept).toHaveLength(REJECTED_SLOTS);
    expect(kept.map((r) => Number(r.messageId.slice(4))).sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => 500 + i));
  });

  it('ends Azurite with the process that started it, even a SIGKILLed one, saving its database first', async () => {
    const dir = tempDir('workforce-azurite-');
    try {
      const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
      const parent = spawn(process.execPath, ['--import', tsx, '--conditions=source', fileURLToPath(new URL('../support/storage-parent.ts', import.meta.url)), dir], { stdio: ['ignore', 'pipe', 'inherit'] });
      const line = await new Promise<string>((resolve, reject) => {
        let out = '';
        parent.stdout!.on('data', (d: Buffer) => (out += d.toString()).includes('\n') && resolve(out.split('\n')[0]!));
        parent.once('exit', (code) => reject(new Error(`the parent exited (${code}) before Azurite started: ${out}`)));
      });
      const { pid, connectionString } = JSON.parse(line) as { pid: number; connectionString: string };
      await write(new NodeInventory({ kind: 'connectionString', setting: 'AzureWebJobsStorage', connectionString }), [heartbeat('orphan-1', 'saved', 1)]);
      parent.kill('SIGKILL');
      await waitFor(() => !alive(pid), 'Azurite to end after its parent', 20_000);
      const again = await startLocalStorage({ location: dir });
      try {
        const inventory = new NodeInventory({ kind: 'connectionString', setting: 'AzureWebJobsStorage', connectionString: again.connectionString });
        expect((await all(inventory, 'orphan-1')).map((r) => r.nodeId)).toEqual(['saved']);
      } finally {
        await again.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps the inventory in its folder across an Azurite restart (npm start, the demo)', async () => {
    const dir = tempDir('workforce-azurite-');
    try {
      let kept = await startLocalStorage({ location: dir });
      await write(new NodeInventory({ kind: 'connectionString', setting: 'AzureWebJobsStorage', connectionString: kept.connectionString }), [heartbeat('kept-1', 'survivor', 1)]);
      await kept.close();
      kept = await startLocalStorage({ location: dir });
      try {
        const inventory = new NodeInventory({ kind: 'connectionString', setting: 'AzureWebJobsStorage', connectionString: kept.connectionString });
        expect((await all(inventory, 'kept-1')).map((r) => r.nodeId)).toEqual(['survivor']);
      } finally {
        await kept.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
