import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type ControlPlane } from '../support/control-plane.js';

/** A port that was free a moment ago: nothing listens there. */
async function closedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

/**
 * The hint is an extra: with the fleet inventory's storage unreachable (the real Table Storage
 * SDK against a port nobody serves), a waiting drain is still shown, without a hint.
 */
describe('a drain read while the fleet inventory is unreachable', () => {
  const topic = 'hint-down';
  let cp: ControlPlane;
  beforeAll(async () => {
    const port = await closedPort();
    const storage = `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${Buffer.from('not-a-key').toString('base64')};TableEndpoint=http://127.0.0.1:${port}/devstoreaccount1;`;
    cp = await startControlPlane({ settings: { WORKFORCE_INVENTORY_STORAGE: storage } });
    expect((await cp.api('PUT', `topics/${topic}`)).status).toBe(201);
  }, 60_000);
  afterAll(async () => {
    await cp?.close();
  });

  it('refuses a drain it cannot check against the budget unless forced (503 InventoryUnavailable)', async () => {
    const post = await cp.api('POST', `topics/${topic}/drains`, { count: 2, reason: 'inventory down' });
    expect(post.status).toBe(503);
    expect(post.body).toMatchObject({ code: 'InventoryUnavailable', detail: expect.stringContaining('force: true') });
    expect((await cp.api('GET', 'drains')).body.drains).toEqual([]);
  });

  it('is shown without a hint, never as an error', async () => {
    const post = await cp.api('POST', `topics/${topic}/drains`, { count: 2, reason: 'inventory down', force: true });
    expect(post.status).toBe(202);
    expect(post.body.warnings).toEqual([expect.stringContaining('not checked (force)')]);
    const res = await cp.api('GET', `drains/${post.body.drainId}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ status: 'running', counts: { untaken: 2 } });
    expect(res.body).not.toHaveProperty('hint');
  });
});
