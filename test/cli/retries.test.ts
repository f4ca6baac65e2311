import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/errors.js';
import { FUNCTION_KEY, startControlPlane, waitFor, type ControlPlane } from '../support/control-plane.js';
import { ApiProxy } from './api-proxy.js';
import { cli } from './run-cli.js';

/**
 * The CLI against the local control plane through a proxy that loses answers: a drain POST whose
 * answer never comes is sent again with the same drain id and starts one drain; a 503 with
 * Retry-After is waited out; a hung API ends in a timeout that names the URL; a --drain-id taken
 * before the first attempt stays an error.
 */
describe('workforce: timeouts and retries', () => {
  let cp: ControlPlane;
  let proxy: ApiProxy;
  let env: Record<string, string>;
  beforeAll(async () => {
    cp = await startControlPlane();
  }, 60_000);
  afterAll(async () => {
    await cp?.close();
  });
  const open = async () => {
    proxy = await new ApiProxy(cp.host.url).listen();
    env = { WORKFORCE_API_URL: proxy.url, WORKFORCE_API_KEY: FUNCTION_KEY };
  };
  afterEach(async () => {
    await proxy?.close();
  });

  const drainsOf = async (topic: string) => ((await cp.api('GET', `drains?topic=${topic}`)).body as { drains: Array<{ drainId: string }> }).drains;
  const drainPosts = (topic: string) => proxy.requests('POST', `/api/topics/${topic}/drains`);

  it('a drain POST whose answer is lost after the drain started is sent again with the same id: one drain, exit 0, the drain printed', async () => {
    await open();
    expect((await cli(['topic', 'ensure', 'retry-a'], env)).code).toBe(0);
    proxy.on((m, p) => m === 'POST' && p.endsWith('/drains'), { kind: 'lose-answer' });
    const r = await cli(['drain', 'retry-a', '--count', '1', '--timeout', '3s', '--json'], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(EXIT.ok);
    const printed = JSON.parse(r.stdout) as { drainId: string; topic: string; status: string };
    expect(printed).toMatchObject({ topic: 'retry-a', status: 'running' });
    // The first attempt started the drain; the retry carried the same id and found it.
    const posts = drainPosts('retry-a');
    expect(posts.length).toBeGreaterThanOrEqual(2);
    expect(posts[0]!.upstream).toBe(202);
    expect(posts.map((p) => JSON.parse(p.body).drainId)).toEqual(posts.map(() => printed.drainId));
    expect((await drainsOf('retry-a')).map((d) => d.drainId)).toEqual([printed.drainId]);
  }, 60_000);

  it('in text, the drain read back is printed as started, with a warning that says so', async () => {
    await open();
    expect((await cli(['topic', 'ensure', 'retry-b'], env)).code).toBe(0);
    proxy.on((m, p) => m === 'POST' && p.endsWith('/drains'), { kind: 'lose-answer' });
    const r = await cli(['drain', 'retry-b', '--count', '1', '--timeout', '3s'], env);
    expect(r.code).toBe(EXIT.ok);
    const [drain] = await drainsOf('retry-b');
    expect(r.stdout).toContain(`drain ${drain!.drainId} started: 1 x graceful-downscale on retry-b`);
    expect(r.stdout).toContain('warning: the answer to the first attempt was lost; this is the drain it started');
    expect(await drainsOf('retry-b')).toHaveLength(1);
  }, 60_000);

  it('a 503 with Retry-After is waited out and the request sent again', async () => {
    await open();
    expect((await cli(['topic', 'ensure', 'retry-c'], env)).code).toBe(0);
    proxy.on((m, p) => m === 'POST' && p.endsWith('/drains'), {
      kind: 'answer',
      status: 503,
      headers: { 'retry-after': '2' },
      body: { code: 'Unavailable', status: 503, detail: "the topic's budget could not take this drain now; retry in 2 s" },
    });
    const sleeps: number[] = [];
    const r = await cli(['drain', 'retry-c', '--count', '1', '--json'], env, { sleeps });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(EXIT.ok);
    expect(sleeps).toEqual([2000]);
    const posts = drainPosts('retry-c');
    expect(posts).toHaveLength(2);
    expect(posts[1]!.upstream).toBe(202);
    expect((await drainsOf('retry-c')).map((d) => d.drainId)).toEqual([JSON.parse(r.stdout).drainId]);
  }, 60_000);

  it('a hung API ends in a timeout naming the URL and the timeout, exit 3 (WORKFORCE_API_TIMEOUT)', async () => {
    await open();
    proxy.on(() => true, { kind: 'hang' }, false);
    const r = await cli(['drains'], { ...env, WORKFORCE_API_TIMEOUT: '300ms' });
    expect(r.code).toBe(EXIT.unreachable);
    expect(r.stderr).toBe(`workforce: GET ${proxy.url}/api/drains did not answer within 300ms (4 attempts) — raise --timeout (or WORKFORCE_API_TIMEOUT) if the app is only slow\n`);
    expect(proxy.requests('GET', '/api/drains')).toHaveLength(4);
  }, 60_000);

  it('a drain POST that never got an answer names the drain id to look up', async () => {
    await open();
    proxy.on(() => true, { kind: 'hang' }, false);
    const r = await cli(['drain', 'retry-d', '--count', '1', '--timeout', '300ms'], env);
    expect(r.code).toBe(EXIT.unreachable);
    const id = JSON.parse(proxy.seen[0]!.body).drainId as string;
    expect(r.stderr).toContain(`did not answer within 300ms (4 attempts)`);
    expect(r.stderr).toContain(`drain ${id} may have started: \`workforce status ${id}\` shows it; the same command with --drain-id ${id} cannot start it twice`);
  }, 60_000);

  it('a --drain-id taken before the first attempt is still refused (exit 6), and not sent twice', async () => {
    await open();
    expect((await cli(['topic', 'ensure', 'retry-e'], env)).code).toBe(0);
    expect((await cli(['drain', 'retry-e', '--count', '1', '--drain-id', 'taken-1'], env)).code).toBe(EXIT.ok);
    const r = await cli(['drain', 'retry-e', '--count', '1', '--drain-id', 'taken-1'], env);
    expect(r.code).toBe(EXIT.refused);
    expect(r.stderr).toContain('answered 409: a drain with id taken-1 already exists');
    expect(drainPosts('retry-e')).toHaveLength(2);
  }, 60_000);

  it('a cancel whose answer is lost, retried once the drain ended cancelled, reports the cancel (exit 0)', async () => {
    await open();
    expect((await cli(['topic', 'ensure', 'retry-f'], env)).code).toBe(0);
    expect((await cli(['drain', 'retry-f', '--count', '1', '--drain-id', 'to-cancel'], env)).code).toBe(EXIT.ok);
    const cancelled = async () => (await cp.api('GET', 'drains/to-cancel')).body.status === 'cancelled';
    proxy.on((m, p) => m === 'POST' && p.endsWith('/cancel'), { kind: 'lose-answer' });
    // Retries reach the host only after the first attempt's cancel ended the drain.
    proxy.on((m, p) => m === 'POST' && p.endsWith('/cancel'), { kind: 'forward', before: () => waitFor(cancelled, 'the drain to end cancelled', 30_000).then(() => undefined) }, false);
    const r = await cli(['cancel', 'to-cancel', '--timeout', '5s'], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(EXIT.ok);
    expect(r.stdout).toContain('drain to-cancel: cancel requested');
    const answers = proxy.requests('POST', '/api/drains/to-cancel/cancel').map((s) => s.upstream);
    expect(answers[0]).toBe(202);
    expect(answers).toContain(409);
  }, 60_000);
});
