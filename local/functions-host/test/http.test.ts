import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Host } from '../src/index.js';
import { getJson, startSample, waitFor } from './helpers.js';

describe('HTTP triggers through the unmodified @azure/functions app', () => {
  let host: Host;
  beforeAll(async () => {
    host = await startSample({ settings: { GREETING: 'Howdy' } });
  });
  afterAll(async () => {
    await host?.close();
  });

  it('loads every function the app registers through the core API', () => {
    const names = host.functions.map((f) => f.name);
    expect(names).toEqual(expect.arrayContaining(['hello', 'items', 'tick', 'helloSequence', 'sayHello', 'startOrchestration']));
    expect(host.functions.find((f) => f.name === 'items')).toMatchObject({ route: '/api/items/{id:int}', methods: ['GET', 'PUT', 'DELETE'], authLevel: 'function' });
  });

  it('serves anonymous functions, with optional route parameters and app settings as environment', async () => {
    const res = await fetch(`${host.url}/api/hello/Ada`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('Howdy, Ada!');
    expect(res.headers.get('x-invocation-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(await (await fetch(`${host.url}/api/HELLO?name=Bo`)).text()).toBe('Howdy, Bo!');
  });

  it('checks function keys from the x-functions-key header or the code query parameter', async () => {
    const anon = await getJson(`${host.url}/api/items/7`);
    expect(anon.status).toBe(401);
    expect(anon.headers.get('content-type')).toBe('application/problem+json');
    expect(anon.body).toMatchObject({ status: 401, title: 'Unauthorized' });
    expect((await fetch(`${host.url}/api/items/7?code=wrong`)).status).toBe(401);

    const byHeader = await getJson(`${host.url}/api/items/7?x=1`, { headers: { 'x-functions-key': host.keys.function } });
    expect(byHeader).toMatchObject({ status: 200, body: { id: 7, method: 'GET', query: { x: '1' } } });
    const byQuery = await getJson(`${host.url}/api/items/8?code=${host.keys.function}`);
    expect(byQuery.body.id).toBe(8);
    // The master key opens everything; the function key does not open admin-level functions.
    expect((await fetch(`${host.url}/api/items/9?code=${host.keys.master}`)).status).toBe(200);
    expect((await fetch(`${host.url}/api/admin-only?code=${host.keys.function}`)).status).toBe(401);
    expect(await (await fetch(`${host.url}/api/admin-only?code=${host.keys.master}`)).text()).toBe('secret');
  });

  it('refuses keys of another length (a prefix, an extension) with 401, on functions, admin and webhooks alike', async () => {
    const { master } = host.keys;
    const others = [master.slice(0, -1), `${master}x`, master.slice(0, 1)];
    for (const key of others) {
      const headers = { 'x-functions-key': key };
      expect((await fetch(`${host.url}/api/items/7`, { headers })).status).toBe(401);
      expect((await fetch(`${host.url}/api/admin-only`, { headers })).status).toBe(401);
      expect((await fetch(`${host.url}/admin/host/status`, { headers })).status).toBe(401);
      expect((await fetch(`${host.url}/runtime/webhooks/durabletask/instances`, { headers })).status).toBe(401);
    }
    expect((await fetch(`${host.url}/admin/host/status`, { headers: { 'x-functions-key': master } })).status).toBe(200);
  });

  it('routes by method and route constraints', async () => {
    const key = { 'x-functions-key': host.keys.function };
    const put = await fetch(`${host.url}/api/items/3`, { method: 'PUT', headers: { ...key, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'x' }) });
    expect(put.status).toBe(201);
    expect(await put.json()).toEqual({ id: 3, name: 'x' });
    expect(put.headers.get('set-cookie')).toBe('last=3; Path=/; HttpOnly');
    const del = await fetch(`${host.url}/api/items/3`, { method: 'DELETE', headers: key });
    expect(del.status).toBe(204);
    const wrongMethod = await getJson(`${host.url}/api/items/3`, { method: 'POST', headers: key });
    expect(wrongMethod.status).toBe(405);
    expect((await fetch(`${host.url}/api/items/abc`, { headers: key })).status).toBe(404);
  });

  it('answers host-level errors with application/problem+json', async () => {
    const missing = await getJson(`${host.url}/api/nothing-here`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toBe('application/problem+json');
    const failed = await getJson(`${host.url}/api/boom`);
    expect(failed.status).toBe(500);
    expect(failed.body.detail).toContain('kaboom');
  });

  it('runs the app hooks registered through the core API', async () => {
    const res = await fetch(`${host.url}/api/ping`);
    expect(await res.text()).toBe('pong');
    expect(res.headers.get('x-post-hook')).toBe('seen');
  });

  it('guards the admin API with the master key', async () => {
    expect((await fetch(`${host.url}/admin/host/status`)).status).toBe(401);
    expect((await fetch(`${host.url}/admin/host/status`, { headers: { 'x-functions-key': host.keys.function } })).status).toBe(401);
    const status = await getJson(`${host.url}/admin/host/status`, { headers: { 'x-functions-key': host.keys.master } });
    expect(status.body.state).toBe('Running');
    const manualHttp = await getJson(`${host.url}/admin/functions/hello`, { method: 'POST', headers: { 'x-functions-key': host.keys.master } });
    expect(manualHttp.status).toBe(400);
  });
});

describe('host lifecycle', () => {
  it('restarts a language worker that died and keeps serving', async () => {
    const host = await startSample();
    try {
      const crashed = await getJson(`${host.url}/api/crash`, { method: 'POST' });
      expect(crashed.status).toBe(503);
      expect(crashed.body.detail).toMatch(/language worker exited/);
      const res = await waitFor(async () => {
        const r = await fetch(`${host.url}/api/ping`);
        return r.status === 200 && r;
      }, { what: 'the restarted worker' });
      expect(await res.text()).toBe('pong');
    } finally {
      await host.close();
    }
  });

  it('closes idempotently and refuses requests afterwards', async () => {
    const host = await startSample();
    expect(host.state).toBe('running');
    const url = host.url;
    const a = host.close();
    expect(host.close()).toBe(a);
    await a;
    expect(host.state).toBe('closed');
    await expect(fetch(`${url}/api/ping`)).rejects.toThrow();
  });

  it('reports a missing app folder clearly', async () => {
    await expect(startSample({ appDir: '/nonexistent/app' })).rejects.toThrow(/No host.json/);
  });
});
